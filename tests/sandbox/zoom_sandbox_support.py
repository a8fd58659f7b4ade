"""Helpers for the Zoom sandbox tests: the OAuth dance without a browser, and authorised REST calls."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

# Allowed on every test sandbox; nothing listens there, the tests only read the redirect's Location.
REDIRECT_URI = 'http://127.0.0.1:9/oauth/zoom/callback'


def client_auth(zoom) -> tuple[str, str]:
    return zoom.client_id, zoom.client_secret


def exchange(http, zoom, code: str, redirect_uri: str = REDIRECT_URI, **extra: str):
    return http.post(zoom.url + '/oauth/token', auth=client_auth(zoom),
                     data={'grant_type': 'authorization_code', 'code': code, 'redirect_uri': redirect_uri, **extra})


def refresh(http, zoom, refresh_token: str):
    return http.post(zoom.url + '/oauth/token', auth=client_auth(zoom),
                     data={'grant_type': 'refresh_token', 'refresh_token': refresh_token})


def connect(http, zoom, user_id: str, shared_access: bool = True) -> dict[str, Any]:
    """Tokens for ``user_id``, as a connected app holds them."""
    response = exchange(http, zoom, zoom.authorize(user_id, shared_access=shared_access))
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str | dict) -> dict[str, str]:
    return {'Authorization': 'Bearer ' + (token['access_token'] if isinstance(token, dict) else token)}


def api(http, zoom, token, method: str, path: str, **kwargs: Any):
    return http.request(method, zoom.api_base + path, headers=bearer(token), **kwargs)


def meeting_body(**overrides: Any) -> dict[str, Any]:
    return {'topic': 'Consultation', 'type': 2, 'start_time': '2030-03-04T09:30:00Z', 'duration': 30,
            'timezone': 'Europe/Berlin', **overrides}


class Receiver:
    """A tiny webhook endpoint on 127.0.0.1 that records raw requests; ``answer(headers, body)`` replies."""

    def __init__(self, answer: Callable[[dict[str, str], bytes], tuple[int, bytes]] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.answer = answer or (lambda headers, body: (200, b'{}'))
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append({'path': self.path, 'headers': headers, 'body': body})
                status, payload = receiver.answer(headers, body)
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/webhooks/zoom'
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    def last_json(self) -> dict[str, Any]:
        return json.loads(self.requests[-1]['body'])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
