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

    def read_body(self) -> bytes | None:
        """The request's body; None when it is malformed or cut short (answered 400, the connection closed)."""
        try:
            return self._read_body()
        except ValueError:
            self.send_error(400, "Bad Request")  # also closes the connection: where the next request starts is unknown
            return None

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while (line := self.rfile.readline()) not in (b"\r\n", b"\n"):
                        if not line:
                            raise ValueError("body cut short")
                    break
                chunks.append(self._read_exactly(size))
                if self.rfile.readline() not in (b"\r\n", b"\n"):
                    raise ValueError("chunk not followed by its line end")
            return b"".join(chunks)
        length_header = (self.headers.get("Content-Length") or "0").strip()
        if not length_header.isdigit():
            raise ValueError(f"Content-Length {length_header!r}")
        return self._read_exactly(int(length_header))

    def _read_exactly(self, length: int) -> bytes:
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise ValueError("body cut short")
        return body

    def holds_next_request(self) -> bool:
        """Whether bytes of a next request (pipelined) are already read from the socket: the selector would
        never wake for them."""
        self.connection.settimeout(0)
        try:
            return bool(self.rfile.peek(1))
        except OSError:
            return False
        finally:
            self.connection.settimeout(self.timeout)

    def close(self) -> None:
        """Idempotent: a serving thread and ``server_close`` may both close a connection."""
        try:
            self.wfile.flush()
        except (OSError, ValueError):  # ValueError: already closed
            pass
        for closable in (self.wfile, self.rfile, self.connection):
            try:
                closable.close()
            except OSError:
                pass


class PooledHTTPServer:
    """``threads`` serve requests; ``threads`` may change until ``serve_forever`` starts (the gateway sizes its
    pool once its routes are known). With ``overloaded``, a connection whose request would wait behind more
    than ``max_backlog`` others for a thread gets that answer at once from the accepting thread, and is closed."""

    def __init__(
        self,
        address: tuple[str, int],
        handler_class: type[KeptAliveHandler],
        *,
        threads: int,
        name: str,
        max_backlog: int | None = None,
        overloaded: bytes | None = None,
    ):
        self.handler_class = handler_class
        self.socket = socket.create_server(address, backlog=256)
        self.server_address = self.socket.getsockname()
        self.threads = threads
        self.name = name
        self.max_backlog = max_backlog
        self.overloaded = overloaded
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._backlog = 0  # requests handed to the pool that no thread has taken yet
        self._backlog_lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        # Connections whose request was served, to watch again (the selector is the serving thread's alone).
        self._returned: queue.SimpleQueue[KeptAliveHandler] = queue.SimpleQueue()
        self._open: set[KeptAliveHandler] = set()
        self._stop = threading.Event()
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        self.pool = concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix=self.name)
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
                        self._dispatch(key.data)
                while not self._returned.empty():
                    handler = self._returned.get()
                    self._selector.register(handler.connection, selectors.EVENT_READ, handler)
        finally:
            self._stopped.set()

    def _dispatch(self, handler: KeptAliveHandler) -> None:
        with self._backlog_lock:
            refuse = self.overloaded is not None and self.max_backlog is not None and self._backlog >= self.max_backlog
            if not refuse:
                self._backlog += 1
        if refuse:
            self._refuse(handler)
        else:
            assert self.pool is not None
            self.pool.submit(self._serve, handler)

    def _refuse(self, handler: KeptAliveHandler) -> None:
        """The overload answer, without reading the request beyond what has arrived (which is discarded, so the
        close does not reset the connection before the client reads the answer)."""
        assert self.overloaded is not None
        try:
            handler.connection.setblocking(False)
            while handler.connection.recv(1 << 16):
                pass
        except OSError:
            pass  # nothing more to read now
        try:
            handler.connection.setblocking(True)
            handler.connection.settimeout(1)
            handler.connection.sendall(self.overloaded)
        except OSError:
            pass
        handler.close()
        self._open.discard(handler)

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
        with self._backlog_lock:
            self._backlog -= 1
        while True:
            try:
                handler.handle_one_request()
            except (ConnectionError, TimeoutError) as exc:
                # The client went away (or a worker killed at its Timeout took its connection with it).
                log.debug("connection from %s ended: %r", handler.client_address, exc)
                handler.close_connection = True
            except Exception:  # noqa: BLE001 - one connection's failure ends that connection only
                if self._stop.is_set():  # server_close() closed the connection under its request
                    log.debug("stopped while serving %s", handler.client_address, exc_info=True)
                else:
                    log.exception("serving a request from %s", handler.client_address)
                handler.close_connection = True
            if handler.close_connection or self._stop.is_set():
                handler.close()
                self._open.discard(handler)
                return
            if not handler.holds_next_request():
                break
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
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.socket.close()
        for handler in list(self._open):
            handler.close()
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()


__all__ = ["KeptAliveHandler", "PooledHTTPServer"]
