"""``python -m infra.sandboxes.simplybook --port N``: the SimplyBook sandbox on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from ..cli import argument_parser, serve
from .sandbox import SimplyBookSandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argument_parser('simplybook', 'A local SimplyBook.me: JSON-RPC getToken and getBookingDetails.',
                             port_variable='SIMPLYBOOK_SANDBOX_PORT', default_port=9092)
    parser.add_argument('--token-ttl', type=float, default=3600, help='seconds a getToken token lives (default 3600)')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sandbox = SimplyBookSandbox(host=args.host, port=args.port, token_ttl=args.token_ttl)
    return serve(sandbox, lambda: (
        f'SimplyBook sandbox on {sandbox.url}  (getToken at {sandbox.url}/login, getBookingDetails at {sandbox.url}/)\n'
        '  no companies yet: PUT /_sandbox/companies/{company} {"api_key", "secret_key"}'))


if __name__ == '__main__':
    sys.exit(main())
