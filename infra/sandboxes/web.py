"""What every sandbox shares on the HTTP side: the request and response types, a few answer
builders, and a ThreadingHTTPServer that turns each request into ``sandbox.handle(Request)``.

A sandbox is any object with ``handle(request: Request) -> Response``. The server reads the body
itself (Content-Length or chunked, at most ``MAX_BODY`` bytes); when that fails it answers with
``body_error(status, message)`` so that each sandbox words it as its provider would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping
import urllib.error
import urllib.request
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MAX_BODY = 1024 * 1024
JSON_TYPE = 'application/json;charset=UTF-8'
HTML_TYPE = 'text/html; charset=utf-8'


class Request:
    """One HTTP request as the server read it; ``headers`` needs a case-insensitive ``get``."""

    def __init__(self, method: str, target: str, headers: Any, body: bytes = b''):
        self.method = method.upper()
        self.target = target
        self.headers = headers
        self.body = body
        parts = urlsplit(target)
        self.path = parts.path or '/'
        self.segments = [unquote(s) for s in self.path.strip('/').split('/')] if self.path.strip('/') else []
        self.query = first_values(parts.query)

    def header(self, name: str) -> str:
        return self.headers.get(name) or ''


@dataclass
class Response:
    status: int
    body: bytes = b''
    headers: dict[str, str] = field(default_factory=dict)


def first_values(query: str) -> dict[str, str]:
    """A query string (or form body) as a dict; a repeated name keeps its first value."""
    out: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        out.setdefault(key, value)
    return out


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None, *,
                  content_type: str = JSON_TYPE) -> Response:
    return Response(status, json.dumps(payload).encode(), {'Content-Type': content_type, **(headers or {})})


def html_response(status: int, text: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, text.encode(), {'Content-Type': HTML_TYPE, **(headers or {})})


def redirect(location: str) -> Response:
    return Response(302, b'', {'Location': location, 'Cache-Control': 'no-store'})


def with_query(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` added to whatever query it already has."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f'{parts.query}&{extra}' if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, dict[str, str], bytes]:
    """A sandbox's outgoing POST (a webhook it sends), without proxies or redirects: (status, lower-cased
    headers, body), also for 4xx/5xx answers."""
    if urlsplit(url).scheme not in ('http', 'https'):
        raise ValueError(f'not an http(s) URL: {url!r}')
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    request = urllib.request.Request(url, data=body, headers=headers, method='POST')
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def _default_body_error(status: int, message: str) -> Response:
    return json_response(status, {'error': message})


class _BadBody(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    timeout = 30  # an idle keep-alive connection is closed after this
    disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall per request

    def version_string(self) -> str:
        return f'{self.server.server_version} {self.sys_version}'

    def _read_body(self) -> bytes:
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024).split(b';')[0].strip()
                try:
                    size = int(line, 16)
                except ValueError:
                    raise _BadBody(400, 'Malformed chunked body.') from None
                if size < 0:
                    raise _BadBody(400, 'Malformed chunked body.')
                if size == 0:
                    while self.rfile.readline(1024).strip():  # trailers
                        pass
                    return b''.join(chunks)
                total += size
                if total > MAX_BODY:
                    raise _BadBody(413, 'Request body too large.')
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        length = self.headers.get('Content-Length')
        if length is None:
            return b''
        if not (length.strip().isascii() and length.strip().isdigit()):
            raise _BadBody(400, 'Invalid Content-Length.')
        if int(length) > MAX_BODY:
            raise _BadBody(413, 'Request body too large.')
        return self.rfile.read(int(length))

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except _BadBody as exc:
            self.close_connection = True
            self._send(self.server.body_error(exc.status, exc.message))
            return
        self._send(self.server.sandbox.handle(Request(self.command, self.path, self.headers, body)))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        no_body = response.status in (204, 304) or response.status < 200
        if not no_body:
            self.send_header('Content-Length', str(len(response.body)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if not no_body and self.command != 'HEAD':
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: object) -> None:  # each sandbox's calls log replaces the access log
        pass


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sandbox: Any, host: str, port: int, *, server_version: str = 'Sandbox/1.0',
                 body_error: Callable[[int, str], Response] | None = None):
        self.sandbox = sandbox
        self.server_version = server_version
        self.body_error = body_error or _default_body_error
        super().__init__((host, port), _Handler)
