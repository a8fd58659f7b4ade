"""``python -m infra.sandboxes.simplybook --port N``: the SimplyBook sandbox on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys

from ..cli import serve
from .sandbox import SimplyBookSandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m infra.sandboxes.simplybook',
                                     description='A local SimplyBook.me: JSON-RPC getToken and getBookingDetails.')
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=int(os.environ.get('SIMPLYBOOK_SANDBOX_PORT', '9093')),
                        help='port (env SIMPLYBOOK_SANDBOX_PORT, default 9093; 0 picks a free port)')
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
