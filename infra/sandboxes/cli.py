"""What ``python -m infra.sandboxes.<provider>`` shares: the common options, and running a sandbox
in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Callable

from .sandbox import Sandbox


def argument_parser(provider: str, description: str, *, port_variable: str, default_port: int) -> argparse.ArgumentParser:
    """A parser with --host and --port; the provider adds its own options."""
    parser = argparse.ArgumentParser(prog=f'python -m infra.sandboxes.{provider}', description=description)
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=int(os.environ.get(port_variable, str(default_port))),
                        help=f'port (env {port_variable}, default {default_port}; 0 picks a free port)')
    return parser


def oauth_argument_parser(provider: str, description: str, *, port_variable: str, default_port: int, client_id: str,
                          client_secret: str) -> argparse.ArgumentParser:
    """The common parser plus an OAuth provider's --client-id, --client-secret and --redirect-uri."""
    parser = argument_parser(provider, description, port_variable=port_variable, default_port=default_port)
    parser.add_argument('--client-id', default=client_id)
    parser.add_argument('--client-secret', default=client_secret)
    parser.add_argument('--redirect-uri', action='append', default=[], metavar='URI',
                        help='an allowed OAuth redirect URI, exactly (repeatable)')
    return parser


def serve(sandbox: Sandbox, describe: Callable[[], str]) -> int:
    """Start ``sandbox``, print ``describe()`` (it can use the sandbox's url), and serve until stopped: 0,
    or 1 with a one-line message when the port cannot be had."""
    try:
        sandbox.start()
    except OSError as exc:
        print(f'cannot listen on {sandbox.host}:{sandbox.port}: {exc.strerror or exc}', file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(describe(), flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
