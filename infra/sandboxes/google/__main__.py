"""``python -m infra.sandboxes.google --port N``: the Google sandbox on its own, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import sys

from ..cli import oauth_argument_parser, serve
from .sandbox import GoogleSandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = oauth_argument_parser('google', 'A local Google: OAuth 2.0 endpoints and Calendar events with Meet.',
                                   port_variable='GOOGLE_SANDBOX_PORT', default_port=9095,
                                   client_id='sandbox-google-client-id',
                                   client_secret='sandbox-google-client-secret')
    parser.add_argument('--no-seed', action='store_true', help='start without the seed users')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sandbox = GoogleSandbox(client_id=args.client_id, client_secret=args.client_secret,
                            redirect_uris=tuple(args.redirect_uri), host=args.host, port=args.port,
                            seed=not args.no_seed)
    return serve(sandbox, lambda: (
        f'Google sandbox on {sandbox.url}  (authorize {sandbox.authorize_url}, token {sandbox.token_url}, '
        f'revoke {sandbox.revoke_url}, Calendar {sandbox.calendar_base})\n'
        f'  client_id {sandbox.client_id}  client_secret {sandbox.client_secret}\n'
        f'  redirect URIs {", ".join(sandbox.redirect_uris) or "(none; POST /_sandbox/redirect-uris)"}\n'
        f'  users {", ".join(u["email"] for u in sandbox.users.values()) or "(none)"}'))


if __name__ == '__main__':
    sys.exit(main())
