"""``python -m infra.sandboxes.square --port N``: the Square sandbox on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from ..cli import argument_parser, serve
from .sandbox import SquareSandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argument_parser('square', 'A local Square: the Customers and Team reads, with bearer tokens.',
                             port_variable='SQUARE_SANDBOX_PORT', default_port=9094)
    parser.add_argument('--access-token', action='append', default=[], metavar='TOKEN',
                        help='an access token the API accepts, with both read scopes (repeatable)')
    parser.add_argument('--default-version', default='2025-10-16',
                        help='the Square-Version used when a request sends none')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sandbox = SquareSandbox(host=args.host, port=args.port, default_version=args.default_version)
    for token in args.access_token:
        sandbox.add_access_token(token)
    return serve(sandbox, lambda: (
        f'Square sandbox on {sandbox.url}  (API {sandbox.url}/v2, Square-Version {sandbox.default_version})\n'
        f'  access tokens: {len(args.access_token) or "(none; PUT /_sandbox/access-tokens/TOKEN {})"}'))


if __name__ == '__main__':
    sys.exit(main())
