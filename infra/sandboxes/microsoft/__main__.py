"""``python -m infra.sandboxes.microsoft --port N``: the Microsoft sandbox on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .sandbox import MicrosoftSandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m infra.sandboxes.microsoft',
                                     description='A local Microsoft: Entra ID v2.0 endpoints and Graph online meetings.')
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=int(os.environ.get('MICROSOFT_SANDBOX_PORT', '9091')),
                        help='port (env MICROSOFT_SANDBOX_PORT, default 9091; 0 picks a free port)')
    parser.add_argument('--client-id', default='sandbox-ms-client-id')
    parser.add_argument('--client-secret', default='sandbox-ms-client-secret')
    parser.add_argument('--redirect-uri', action='append', default=[], metavar='URI',
                        help='an allowed redirect URI, exactly (repeatable)')
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
    try:
        sandbox.start()
    except OSError as exc:
        print(f'cannot listen on {args.host}:{args.port}: {exc.strerror or exc}', file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f'Microsoft sandbox on {sandbox.url}  (authority {sandbox.authority} -> {sandbox.url}, '
          f'Graph {sandbox.graph_base})\n'
          f'  client_id {sandbox.client_id}  client_secret {sandbox.client_secret}\n'
          f'  redirect URIs {", ".join(sandbox.redirect_uris) or "(none; POST /_sandbox/redirect-uris)"}\n'
          f'  users {", ".join(u["email"] for u in sandbox.users.values()) or "(none)"}', flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
