"""``python -m infra.sandboxes.zoom --port N``: the Zoom sandbox on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .sandbox import ZoomSandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m infra.sandboxes.zoom',
                                     description='A local Zoom: OAuth, the meetings REST API and a webhook sender.')
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=int(os.environ.get('ZOOM_SANDBOX_PORT', '9090')),
                        help='port (env ZOOM_SANDBOX_PORT, default 9090; 0 picks a free port)')
    parser.add_argument('--client-id', default='sandbox-client-id')
    parser.add_argument('--client-secret', default='sandbox-client-secret')
    parser.add_argument('--webhook-secret-token', default='sandbox-webhook-secret')
    parser.add_argument('--redirect-uri', action='append', default=[], metavar='URI',
                        help='an allowed OAuth redirect URI, exactly (repeatable)')
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
    try:
        sandbox.start()
    except OSError as exc:
        print(f'cannot listen on {args.host}:{args.port}: {exc.strerror or exc}', file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f'Zoom sandbox on {sandbox.url}  (REST {sandbox.api_base})\n'
          f'  client_id {sandbox.client_id}  client_secret {sandbox.client_secret}\n'
          f'  webhook secret token {sandbox.webhook_secret_token}\n'
          f'  redirect URIs {", ".join(sandbox.redirect_uris) or "(none; POST /_sandbox/redirect-uris)"}\n'
          f'  users {", ".join(sandbox.users) or "(none)"}', flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())

