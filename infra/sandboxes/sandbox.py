"""What every provider sandbox is besides its provider: a server on a loopback port with its own
clock, a redirect-URI allow list, access tokens that expire by that clock, injected faults, a log of
the calls it answered, and the dispatch of a request to a route or to ``/_sandbox/`` control.

A provider subclasses ``Sandbox`` and names itself (``NAME``), its fault targets (``OPERATIONS``),
its routes (``ROUTES``: method, path pattern with ``*`` parameters, operation, handler method name)
and its control endpoints (``CONTROL_ROUTES``), and words its own answers: ``_run`` (authenticate
and call a handler), ``_unrouted``, ``_plain_error``, ``_injected_error`` and ``_index``.

State lives in memory behind one lock, which a request holds while it is answered.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable, ClassVar, Mapping, Self

from .control import handle_control
from .web import JSON_TYPE, Request, Response, SandboxServer, json_response


class Reject(Exception):
    """A handler's early answer."""

    def __init__(self, response: Response):
        self.response = response


@dataclass
class Fault:
    """An answer injected for the next ``times`` requests of one operation (see ``Sandbox.fail``)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    after: bool = False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


Route = tuple[str, tuple[str, ...], str, str]


class Sandbox:
    """The lifecycle, clock, faults, calls log and dispatch shared by the provider sandboxes."""

    NAME: ClassVar[str]  # "Zoom": in messages, the server version and the thread name
    OPERATIONS: ClassVar[tuple[str, ...]]  # what fail() can target
    ROUTES: ClassVar[tuple[Route, ...]]
    CONTROL_ROUTES: ClassVar[Mapping[tuple[str, str], Callable[[Any, Request], Response]]]
    HEAD_AS_GET: ClassVar[bool] = False  # whether HEAD takes a GET route (else the path answers 405)

    def __init__(self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...], host: str, port: int):
        self.client_id = client_id
        self.client_secret = client_secret
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._offset = 0.0
        self._redirect_uris: list[str] = list(redirect_uris)
        self._access_tokens: dict[str, dict[str, Any]] = {}  # each with 'expires_at' on the sandbox clock
        self._faults: dict[str, deque[Fault]] = {}
        self._calls: list[dict[str, Any]] = []
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f'the {self.NAME} sandbox is already running')
        self._server = SandboxServer(self, self.host, self.port, server_version=f'{self.NAME}Sandbox/1.0',
                                     body_error=self._plain_error)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.05},
                                        name=f'{self.NAME.lower()}-sandbox-{self.port}', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f'start() the {self.NAME} sandbox first')
        host = '127.0.0.1' if self.host in ('', '0.0.0.0') else self.host
        return f'http://{host}:{self.port}'

    # --- clock ---

    def _clock(self) -> float:
        return time.time() + self._offset

    def now(self) -> datetime:
        """The sandbox clock."""
        return datetime.fromtimestamp(self._clock(), UTC)

    def advance(self, seconds: float) -> None:
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError('advance() takes a non-negative number of seconds')
        with self._lock:
            self._offset += seconds

    # --- set-up and inspection ---

    def allow_redirect_uri(self, uri: str) -> None:
        with self._lock:
            if uri not in self._redirect_uris:
                self._redirect_uris.append(uri)

    @property
    def redirect_uris(self) -> list[str]:
        with self._lock:
            return list(self._redirect_uris)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is now expired (a client's own token cache does not know)."""
        with self._lock:
            now = self._clock()
            for record in self._access_tokens.values():
                record['expires_at'] = min(record['expires_at'], now)

    def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._calls if operation is None or c['operation'] == operation]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def fail(self, operation: str, status: int, body: Any = None, headers: Mapping[str, str] | None = None,
             times: int = 1, after: bool = False) -> None:
        """The next ``times`` requests of ``operation`` answer ``status``/``body``/``headers`` instead.

        ``after=True`` lets the request take effect first and only replaces its answer: a lost response
        (e.g. a refresh that issued new tokens, or a meeting created, whose reply never arrived).
        """
        if operation not in self.OPERATIONS:
            raise ValueError(f'unknown operation {operation!r}; one of {self.OPERATIONS}')
        if not _is_int(status) or not 100 <= status <= 599:
            raise ValueError('status must be an HTTP status code')
        if not _is_int(times) or times < 1:
            raise ValueError('times must be a positive integer')
        if headers is not None and not (isinstance(headers, Mapping) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
            raise ValueError('headers must map strings to strings')
        with self._lock:
            self._faults.setdefault(operation, deque()).append(
                Fault(status, body, dict(headers or {}), times, bool(after)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{'operation': op, 'status': f.status, 'times': f.times, 'after': f.after}
                    for op, queue in self._faults.items() for f in queue]

    # --- dispatch ---

    @classmethod
    def _route(cls, segments: list[str], method: str) -> tuple[Route | None, list[str], bool]:
        """(the route, its path parameters, whether the path matched another method)."""
        path_known = False
        for route in cls.ROUTES:
            pattern = route[1]
            if len(pattern) != len(segments):
                continue
            params = []
            for want, got in zip(pattern, segments):
                if want == '*' and got:
                    params.append(got)
                elif want != got:
                    break
            else:
                if route[0] == method or (cls.HEAD_AS_GET and route[0] == 'GET' and method == 'HEAD'):
                    return route, params, True
                path_known = True
        return None, [], path_known

    def handle(self, request: Request) -> Response:
        """Answer one request (what the HTTP server calls; usable without a socket too)."""
        operation = None
        try:
            segments = request.segments
            if segments[:1] == ['_sandbox']:  # control: neither logged nor subject to faults
                return handle_control(self, request)
            if not segments and request.method in ('GET', 'HEAD'):
                return self._index()
            route, params, path_known = self._route(segments, request.method)
            if route is None:
                response = self._unrouted(request, path_known)
                with self._lock:
                    self._log(request, None, response.status)
                return response
            operation = route[2]
            with self._lock:
                queue = self._faults.get(operation)
                fault = queue[0] if queue else None
                if fault is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.popleft()
                if fault is None or fault.after:
                    try:
                        response = self._run(route, request, params)
                    except Reject as reject:
                        response = reject.response
                if fault is not None:
                    response = self._fault_response(fault, operation, request)
                self._log(request, operation, response.status)
            return response
        except Exception:  # a sandbox bug: say so, and show the traceback on the console
            traceback.print_exc(file=sys.stderr)
            with self._lock:
                self._log(request, operation, 500)
            return self._plain_error(500, f'{self.NAME} sandbox internal error (a bug in the sandbox, see its '
                                          'console).')

    def _log(self, request: Request, operation: str | None, status: int) -> None:
        self._calls.append({'method': request.method, 'path': request.path, 'operation': operation, 'status': status})

    def _fault_response(self, fault: Fault, operation: str, request: Request) -> Response:
        headers = dict(fault.headers)
        if fault.status in (204, 304) or fault.status < 200:
            return Response(fault.status, b'', headers)
        body = fault.body
        if body is None:
            answer = self._injected_error(fault.status, operation, request)
            answer.headers.update(headers)
            return answer
        if isinstance(body, (dict, list)):
            return json_response(fault.status, body, headers, content_type=self._json_type(operation))
        if isinstance(body, str):
            kind = 'text/html; charset=utf-8' if body.lstrip().startswith('<') else 'text/plain; charset=utf-8'
            return Response(fault.status, body.encode(), {'Content-Type': kind, **headers})
        return Response(fault.status, bytes(body), headers)

    # --- what each provider words its own way ---

    def _run(self, route: Route, request: Request, params: list[str]) -> Response:
        """Call the route's handler (authenticating first where the provider's API wants a token)."""
        raise NotImplementedError

    def _unrouted(self, request: Request, path_known: bool) -> Response:
        """The answer to a path no route has (or, with ``path_known``, not for this method)."""
        raise NotImplementedError

    def _plain_error(self, status: int, message: str) -> Response:
        """An error in the provider's API format: for unreadable bodies and the sandbox's own bugs."""
        raise NotImplementedError

    def _injected_error(self, status: int, operation: str, request: Request) -> Response:
        """What a fault given no body answers for ``operation``."""
        raise NotImplementedError

    def _json_type(self, operation: str) -> str:
        """The Content-Type of a fault's JSON body for ``operation``."""
        return JSON_TYPE

    def _index(self) -> Response:
        """The HTML page at ``/``."""
        raise NotImplementedError
