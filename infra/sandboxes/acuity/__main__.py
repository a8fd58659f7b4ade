"""``python -m infra.sandboxes.acuity --port N``: the Acuity sandbox on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from ..cli import argument_parser, serve
from .sandbox import AcuitySandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argument_parser('acuity', 'A local Acuity Scheduling: GET /api/v1/appointments/{id}.',
                             port_variable='ACUITY_SANDBOX_PORT', default_port=9093)
    parser.add_argument('--user', action='append', default=[], metavar='USER_ID:API_KEY',
                        help='a user and its API key (repeatable; more with PUT /_sandbox/users/{user_id})')
    parser.add_argument('--rate-limit', type=int, default=None,
                        help='API requests per second (Acuity: 10; default: no limit)')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sandbox = AcuitySandbox(host=args.host, port=args.port, rate_limit=args.rate_limit)
    for pair in args.user:
        user_id, _, api_key = pair.partition(':')
        try:
            sandbox.set_user(user_id, api_key)
        except ValueError as exc:
            print(f'--user {user_id}: {exc}', file=sys.stderr)
            return 2
    return serve(sandbox, lambda: (
        f'Acuity sandbox on {sandbox.url}  (API {sandbox.api_base})\n'
        f'  users {", ".join(sandbox.users) or "(none; PUT /_sandbox/users/{user_id})"}'))


if __name__ == '__main__':
    sys.exit(main())
