"""``python -m infra.sandboxes.zoom --port N``: the Zoom sandbox on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from ..cli import oauth_argument_parser, serve
from .sandbox import ZoomSandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = oauth_argument_parser('zoom', 'A local Zoom: OAuth, the meetings REST API and a webhook sender.',
                             port_variable='ZOOM_SANDBOX_PORT', default_port=9090, client_id='sandbox-client-id',
                             client_secret='sandbox-client-secret')
    parser.add_argument('--webhook-secret-token', default='sandbox-webhook-secret')
    parser.add_argument('--daily-limit', type=int, default=100,
                        help='meeting create/update requests per host user per UTC day (default 100)')
    parser.add_argument('--qps-limit', type=int, default=None,
                        help='REST requests per second per account (default: no limit)')
    parser.add_argument('--no-seed', action='store_true', help='start without the demo account and its three users')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sandbox = ZoomSandbox(client_id=args.client_id, client_secret=args.client_secret,
                          webhook_secret_token=args.webhook_secret_token, redirect_uris=tuple(args.redirect_uri),
                          host=args.host, port=args.port, daily_limit=args.daily_limit, qps_limit=args.qps_limit,
                          seed=not args.no_seed)
    return serve(sandbox, lambda: (
        f'Zoom sandbox on {sandbox.url}  (REST {sandbox.api_base})\n'
        f'  client_id {sandbox.client_id}  client_secret {sandbox.client_secret}\n'
        f'  webhook secret token {sandbox.webhook_secret_token}\n'
        f'  redirect URIs {", ".join(sandbox.redirect_uris) or "(none; POST /_sandbox/redirect-uris)"}\n'
        f'  users {", ".join(sandbox.users) or "(none)"}'))


if __name__ == '__main__':
    sys.exit(main())
