"""``python -m infra.sandboxes.microsoft --port N``: the Microsoft sandbox on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from ..cli import oauth_argument_parser, serve
from .sandbox import MicrosoftSandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = oauth_argument_parser('microsoft', 'A local Microsoft: Entra ID v2.0 endpoints and Graph online meetings.',
                             port_variable='MICROSOFT_SANDBOX_PORT', default_port=9091,
                             client_id='sandbox-ms-client-id', client_secret='sandbox-ms-client-secret')
    parser.add_argument('--allow-personal-accounts-on-organizations', action='store_true',
                        help='let the personal account sign in through /organizations (to test the app\'s backstop)')
    parser.add_argument('--no-seed', action='store_true', help='start without the seed users')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sandbox = MicrosoftSandbox(client_id=args.client_id, client_secret=args.client_secret,
                               redirect_uris=tuple(args.redirect_uri), host=args.host, port=args.port,
                               seed=not args.no_seed)
    sandbox.allow_personal_accounts_on_organizations = args.allow_personal_accounts_on_organizations
    return serve(sandbox, lambda: (
        f'Microsoft sandbox on {sandbox.url}  (authority {sandbox.authority} -> {sandbox.url}, '
        f'Graph {sandbox.graph_base})\n'
        f'  client_id {sandbox.client_id}  client_secret {sandbox.client_secret}\n'
        f'  redirect URIs {", ".join(sandbox.redirect_uris) or "(none; POST /_sandbox/redirect-uris)"}\n'
        f'  users {", ".join(u["email"] for u in sandbox.users.values()) or "(none)"}'))


if __name__ == '__main__':
    sys.exit(main())
