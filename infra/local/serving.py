"""The local stack's HTTP servers (the gateway's, moto's): HTTP/1.1 keep-alive on a bounded pool of threads.

A connection takes a pool thread only while one of its requests is served; between requests it waits in
a selector with every other open connection. So a client that keeps its connections (botocore's pool,
a browser) costs no thread and no TCP handshake per request, and a burst of requests queues for the pool
instead of starting a thread each.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler

log = logging.getLogger("infra.local.serving")


class KeptAliveHandler(BaseHTTPRequestHandler):
    """A connection's handler, kept between its requests: the server calls ``handle_one_request`` for each."""

    protocol_version = "HTTP/1.1"
    # A request that stalls half-way gives its pool thread back after this long (its connection is closed).
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes for some handlers: without this, the body would wait for the
        # client's delayed ACK of the headers.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        """Nothing when the connection opens: its requests are served as they arrive."""

    def finish(self) -> None:
        """Nothing after the first request: the server closes the connection when it ends."""

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def close(self) -> None:
        try:
            self.wfile.flush()
        except OSError:
            pass
        for closable in (self.wfile, self.rfile, self.connection):
            try:
                closable.close()
            except OSError:
                pass


class PooledHTTPServer:
    def __init__(self, address: tuple[str, int], handler_class: type[KeptAliveHandler], *, threads: int, name: str):
        self.handler_class = handler_class
        self.socket = socket.create_server(address, backlog=256)
        self.server_address = self.socket.getsockname()
        self.pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        # Connections whose request was served, to watch again (the selector is the serving thread's alone).
        self._returned: queue.SimpleQueue[KeptAliveHandler] = queue.SimpleQueue()
        self._open: set[KeptAliveHandler] = set()
        self._stop = threading.Event()
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        self._selector.register(self.socket, selectors.EVENT_READ)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(timeout=0.5):
                    if key.fileobj is self.socket:
                        self._accept()
                    elif key.fileobj is self._wake_read:
                        self._wake_read.recv(4096)
                    else:
                        self._selector.unregister(key.fileobj)
                        self.pool.submit(self._serve, key.data)
                while not self._returned.empty():
                    handler = self._returned.get()
                    self._selector.register(handler.connection, selectors.EVENT_READ, handler)
        finally:
            self._stopped.set()

    def _accept(self) -> None:
        try:
            connection, address = self.socket.accept()
        except OSError:
            return
        try:
            handler = self.handler_class(connection, address, self)  # type: ignore[arg-type]
        except OSError:
            connection.close()
            return
        self._open.add(handler)
        self._selector.register(connection, selectors.EVENT_READ, handler)

    def _serve(self, handler: KeptAliveHandler) -> None:
        try:
            handler.handle_one_request()
        except Exception:  # noqa: BLE001 - one connection's failure ends that connection only
            log.exception("serving a request from %s", handler.client_address)
            handler.close_connection = True
        if handler.close_connection or self._stop.is_set():
            handler.close()
            self._open.discard(handler)
            return
        self._returned.put(handler)
        try:
            self._wake_write.send(b"\0")
        except OSError:
            pass

    def shutdown(self) -> None:
        self._stop.set()
        self._wake_write.send(b"\0")
        self._stopped.wait(5)

    def server_close(self) -> None:
        self._stop.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.socket.close()
        for handler in list(self._open):
            handler.close()
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()


__all__ = ["KeptAliveHandler", "PooledHTTPServer"]
