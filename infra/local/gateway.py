"""A local API Gateway HTTP API: routes from the template's HttpApi events, payload format 2.0.

Requests become the same event API Gateway would send (payload v2.0) and the handler's return is
mapped back by API Gateway's rules. Paths under ``/_local/`` are dev-only endpoints of this process,
never part of the deployed API.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import secrets
import threading
import time
import traceback
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

from .lambdas import FunctionError, LocalFunction, TooManyRequests
from .provision import LOCAL_API_ID
from .serving import KeptAliveHandler, PooledHTTPServer
from .template import ACCOUNT_ID

log = logging.getLogger("infra.local.gateway")

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_PARAM = re.compile(r"^\{([A-Za-z0-9_.\-]+)(\+?)\}$")

_SECRET_QUERY = re.compile(r"([?&](?:intent|code|state)=)([^&#]{0,4})[^&#]*")



def shown(target: str) -> str:
    """A request target for the console. A join link's token opens the meeting, and a connect link's
    intent (or an OAuth code or state) connects an account: only their first characters are shown."""
    return _SECRET_QUERY.sub(r"\1\2…", re.sub(r"^/j/([^/?]{4})[^/?]*", r"/j/\1…", target))


LocalEndpoint = Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]
# A POST: the rest of the path after the action's prefix, and the request's body.
LocalAction = Callable[[str, bytes], tuple[int, dict[str, str], bytes]]


@dataclass
class Route:
    method: str  # GET, POST, ... or ANY
    path: str  # /j/{token}
    function: LocalFunction
    regex: re.Pattern[str]
    params: list[str]
    specificity: tuple[int, ...]
    throttle: TokenBucket | None = None

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


class TokenBucket:
    """API Gateway's throttle of a route: ``burst`` requests at once, refilled at ``rate`` a second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def route_throttle(default_route_settings: dict[str, Any], route_settings: dict[str, Any]) -> TokenBucket | None:
    """The bucket of a route: the stage's ``DefaultRouteSettings``, overridden by the route's ``RouteSettings``
    (an HttpApi event's); none without both limits."""
    settings = {**default_route_settings, **route_settings}
    rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
    if rate is None or burst is None:
        return None
    return TokenBucket(float(rate), int(burst))


def compile_route(method: str, path: str, function: LocalFunction) -> Route:
    method = method.upper()
    if method not in (*METHODS, "ANY"):
        raise ValueError(f"{function.logical_id}: unsupported HttpApi method {method}")
    if not path.startswith("/"):
        raise ValueError(f"{function.logical_id}: HttpApi path {path!r} must start with /")
    parts, params, kinds = [], [], []
    segments = path.strip("/").split("/") if path != "/" else []
    for i, segment in enumerate(segments):
        m = _PARAM.match(segment)
        if m is None:
            parts.append(re.escape(segment))
            kinds.append(0)
        elif m.group(2):
            if i != len(segments) - 1:
                raise ValueError(f"{function.logical_id}: greedy {segment} must be the last segment of {path}")
            parts.append(f"(?P<p{len(params)}>.+)")
            params.append(m.group(1))
            kinds.append(2)
        else:
            parts.append(f"(?P<p{len(params)}>[^/]+)")
            params.append(m.group(1))
            kinds.append(1)
    regex = re.compile("^/" + "/".join(parts) + "$")
    # API Gateway picks the most specific route: literal segments before {param} before {proxy+},
    # compared left to right, then a concrete method before ANY.
    specificity = (*kinds, 3, 1 if method == "ANY" else 0)
    return Route(method, path, function, regex, params, specificity)


def routes_from_functions(
    functions: list[LocalFunction],
    default_route_settings: dict[str, Any] | None = None,
    route_settings: dict[str, dict[str, Any]] | None = None,
) -> list[Route]:
    """The routes of the functions' HttpApi events. Each route's throttle: the stage's ``DefaultRouteSettings``,
    overridden by the HttpApi's ``RouteSettings`` for its route key, then by the event's own ``RouteSettings``."""
    routes = []
    for fn in functions:
        for ev in fn.events:
            if ev.type == "HttpApi":
                method = str(ev.properties.get("Method", "ANY"))
                path = str(ev.properties.get("Path", "/{proxy+}"))
                route = compile_route(method, path, fn)
                route.throttle = route_throttle(
                    {**(default_route_settings or {}), **(route_settings or {}).get(route.route_key, {})},
                    ev.properties.get("RouteSettings") or {},
                )
                routes.append(route)
            elif ev.type == "Api":
                log.warning("%s: REST API (Api) events are not served locally, only HttpApi", fn.logical_id)
    seen: dict[str, Route] = {}
    for route in routes:
        if route.route_key in seen:
            raise ValueError(
                f"route {route.route_key} is declared by both {seen[route.route_key].function.logical_id} "
                f"and {route.function.logical_id}"
            )
        seen[route.route_key] = route
    return sorted(routes, key=lambda r: r.specificity)


def match_route(routes: list[Route], method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        if route.method not in (method, "ANY"):
            continue
        m = route.regex.match(raw_path)
        if m:
            return route, {
                name: urllib.parse.unquote(m.group(f"p{i}")) for i, name in enumerate(route.params)
            }
    return None


def _is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def build_event(
    *,
    route: Route,
    path_params: dict[str, str],
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    host: str,
    request_id: str,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    now = dt.datetime.now(dt.timezone.utc)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": LOCAL_API_ID,
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
        "stageVariables": None,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        params: dict[str, str] = {}
        for key, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    if path_params:
        event["pathParameters"] = path_params
    if body:
        if _is_text(body):
            event["body"] = body.decode("utf-8")
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


class BadLambdaResponse(Exception):
    pass


def map_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """API Gateway's payload 2.0 response rules."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # No statusCode: the whole return value is a 200 JSON body.
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, [("content-type", "application/json")], body.encode("utf-8")
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        raise BadLambdaResponse(f"statusCode {result['statusCode']!r} is not a number") from None
    if not 100 <= status <= 599:
        raise BadLambdaResponse(f"statusCode {status} out of range")
    out_headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        out_headers.append((str(name), _header_value(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            out_headers.append((str(name), _header_value(value)))
    for cookie in result.get("cookies") or []:
        out_headers.append(("set-cookie", str(cookie)))
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise BadLambdaResponse(f"body must be a string, got {type(body).__name__}")
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except ValueError:
            raise BadLambdaResponse("isBase64Encoded but body is not base64") from None
    else:
        payload = body.encode("utf-8")
    return status, out_headers, payload


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def _json_message(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("content-type", "application/json")], json.dumps({"message": message}).encode()


def _too_many_requests() -> tuple[int, list[tuple[str, str]], bytes]:
    status, headers, body = _json_message(429, "Too Many Requests")
    return status, [*headers, ("retry-after", str(RETRY_AFTER_SECONDS))], body


# Requests that may wait for a route's function when all its workers are busy, per worker: beyond that the
# request is refused at once (429), as Lambda refuses an invocation beyond its concurrency.
WAITING_PER_WORKER = 2
RETRY_AFTER_SECONDS = 1
# Threads beyond what the routes' functions can hold: /_local/*, 404s and throttled requests never wait for a
# function, and must find a thread while every function is full.
SPARE_THREADS = 8
# Requests waiting for a thread of the gateway's pool: beyond that the accepting thread answers 429 itself.
MAX_BACKLOG = 64


def gateway_threads(routes: list[Route]) -> int:
    """Enough threads for every request the routes' functions admit (their workers busy and their waiting
    lines full) and the spare ones: a flooded route is refused by its function, never by a pool it emptied."""
    functions = {id(route.function): route.function for route in routes}.values()
    return sum((1 + WAITING_PER_WORKER) * fn.max_workers for fn in functions) + SPARE_THREADS


def _too_many_requests_message() -> bytes:
    """The 429 as bytes on the wire, for the accepting thread to send on a connection it then closes."""
    status, headers, body = _too_many_requests()
    lines = [f"HTTP/1.1 {status} Too Many Requests", *(f"{name}: {value}" for name, value in headers),
             f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Gateway:
    def __init__(
        self,
        routes: list[Route],
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        local_endpoints: dict[str, LocalEndpoint] | None = None,
        local_actions: dict[str, LocalAction] | None = None,
    ):
        self.routes = routes
        self.local_endpoints = dict(local_endpoints or {})
        # POSTs under a path prefix; the action gets the rest of the path and the body.
        self.local_actions = dict(local_actions or {})
        self.server = PooledHTTPServer((host, port), self._handler_class(), threads=gateway_threads(routes),
                                       name="gateway", max_backlog=MAX_BACKLOG, overloaded=_too_many_requests_message())
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # The routes may have been set after construction (the stack binds the port before it knows its functions).
        self.server.threads = gateway_threads(self.routes)
        self._thread = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(5)
        self.server.server_close()

    # --- one request -----------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes, str]:
        """Returns (status, headers, body, what handled it) for one request."""
        raw_path, _, raw_query = target.partition("?")
        raw_query = raw_query.partition("#")[0]
        if raw_path.startswith("/_local/") or raw_path == "/_local":
            return (*self._local(method, raw_path, raw_query, body), "local")
        found = match_route(self.routes, method, raw_path)
        if found is None:
            return (*_json_message(404, "Not Found"), "-")
        route, path_params = found
        if route.throttle is not None and not route.throttle.take():
            return (*_too_many_requests(), "throttled")
        request_id = base64.b64encode(secrets.token_bytes(12)).decode().rstrip("=")
        host = next((v for k, v in headers if k.lower() == "host"), f"127.0.0.1:{self.port}")
        extra = [
            ("x-forwarded-for", source_ip),
            ("x-forwarded-port", str(self.port)),
            ("x-forwarded-proto", "http"),
            ("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"),
        ]
        present = {k.lower() for k, _ in headers}
        event = build_event(
            route=route, path_params=path_params, method=method, raw_path=raw_path, raw_query=raw_query,
            headers=headers + [h for h in extra if h[0] not in present], body=body, source_ip=source_ip,
            host=host, request_id=request_id,
        )
        try:
            result = route.function.invoke(event, max_waiting=WAITING_PER_WORKER * route.function.max_workers)
        except TooManyRequests:
            return (*_too_many_requests(), route.function.logical_id)
        except Exception as exc:  # noqa: BLE001 - as API Gateway: the caller sees a bare 500
            # A function error's traceback is in the function's own log lines, above.
            log.error("%s failed on %s %s: %s", route.function.logical_id, method, shown(raw_path), exc,
                      exc_info=not isinstance(exc, FunctionError))
            status, out_headers, payload = _json_message(500, "Internal Server Error")
        else:
            try:
                status, out_headers, payload = map_response(result)
            except BadLambdaResponse as exc:
                log.error("%s returned a malformed response: %s", route.function.logical_id, exc)
                status, out_headers, payload = _json_message(500, "Internal Server Error")
        out_headers = [(k, v) for k, v in out_headers if k.lower() not in _HOP_BY_HOP]
        out_headers.append(("apigw-requestid", request_id))
        return status, out_headers, payload, route.function.logical_id

    def _local(self, method: str, raw_path: str, raw_query: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        action = next(((prefix, act) for prefix, act in self.local_actions.items() if raw_path.startswith(prefix)), None)
        endpoint = self.local_endpoints.get(raw_path)
        if endpoint is None and action is None:
            return _json_message(404, "Not Found")
        if method not in (("POST",) if action else ("GET", "HEAD")):
            return _json_message(405, "Method Not Allowed")
        try:
            if action:
                status, headers, payload = action[1](raw_path.removeprefix(action[0]), body)
            else:
                status, headers, payload = endpoint(dict(urllib.parse.parse_qsl(raw_query)))
        except Exception as exc:  # noqa: BLE001
            log.error("local endpoint %s failed:\n%s", raw_path, "".join(traceback.format_exception(exc)).rstrip())
            return _json_message(500, "Internal Server Error")
        return status, list(headers.items()), payload

    def _handler_class(self) -> type[KeptAliveHandler]:
        gateway = self

        class Handler(KeptAliveHandler):
            def version_string(self) -> str:
                return "meetbridge-local"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                log.debug("%s - " + format, self.address_string(), *args)

            def _serve(self) -> None:
                started = time.monotonic()
                body = self.read_body()
                if body is None:
                    return
                status, headers, payload, by = gateway.handle(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD" and payload:
                    self.wfile.write(payload)
                log.info("%s %s -> %d %s %d ms", self.command, shown(self.path), status, by,
                         (time.monotonic() - started) * 1000)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        return Handler
