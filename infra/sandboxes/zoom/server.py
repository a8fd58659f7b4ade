"""The HTTP side: a ThreadingHTTPServer whose handler turns each request into ``ZoomSandbox.handle``."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from .sandbox import MAX_BODY, Request, Response

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'ZoomSandbox/1.0'
    timeout = 30  # an idle keep-alive connection is closed after this
    disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall per request

    def _read_body(self) -> bytes:
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024).split(b';')[0].strip()
                try:
                    size = int(line, 16)
                except ValueError:
                    raise _BadRequest(400, 'Malformed chunked body.') from None
                if size == 0:
                    while self.rfile.readline(1024).strip():  # trailers
                        pass
                    return b''.join(chunks)
                total += size
                if total > MAX_BODY:
                    raise _BadRequest(413, 'Request body too large.')
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        length = self.headers.get('Content-Length')
        if length is None:
            return b''
        if not (length.strip().isascii() and length.strip().isdigit()):
            raise _BadRequest(400, 'Invalid Content-Length.')
        if int(length) > MAX_BODY:
            raise _BadRequest(413, 'Request body too large.')
        return self.rfile.read(int(length))

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except _BadRequest as exc:
            self.close_connection = True
            self._send(Response(exc.status, json.dumps({'code': exc.status, 'message': exc.message}).encode(),
                                {'Content-Type': 'application/json;charset=UTF-8'}))
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

    def log_message(self, format: str, *args: object) -> None:  # the calls log replaces the access log
        pass


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sandbox: 'ZoomSandbox', host: str, port: int):
        self.sandbox = sandbox
        super().__init__((host, port), _Handler)


def make_server(sandbox: 'ZoomSandbox', host: str, port: int) -> SandboxServer:
    return SandboxServer(sandbox, host, port)
