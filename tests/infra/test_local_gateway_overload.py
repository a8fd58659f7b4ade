"""Overload in the local stack, as API Gateway and Lambda answer it: 429 with Retry-After before any work.

The webhook routes' throttle is the template's (the HttpApi's ``RouteSettings``, a token bucket per route,
which the deployed HTTP API applies too); a route whose function has every worker busy and a full waiting
line is refused at once as well, and so is a request the gateway's pool could not take soon. Also here, in
process and without timing: the pooled server's handling of bad bodies, pipelining and clients that go
away, the functions' waiting line, and the SQS pollers' scaling. The flood over HTTP is
tests/e2e/test_e2e_overload.py."""

from __future__ import annotations

import json
import logging
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from infra.local.gateway import (
    MAX_BACKLOG, SPARE_THREADS, WAITING_PER_WORKER, Gateway, TokenBucket, compile_route, gateway_threads,
    route_throttle, routes_from_functions,
)
from infra.local.lambdas import FunctionEvent, LocalFunction, TooManyRequests, WorkerRuntime
from infra.local.serving import KeptAliveHandler, PooledHTTPServer
from infra.local.sqs_poller import SqsPoller

WAIT = 10  # seconds at most for another thread to reach the state a test waits for (never asserted on)


def eventually(condition, what: str) -> None:
    done = threading.Event()
    for _ in range(WAIT * 100):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError(f"never happened: {what}")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Function:
    """A stand-in for LocalFunction: its invocations and what they do."""

    logical_id = "WebhookFunction"
    max_workers = 2

    def __init__(self, *, refuse: bool = False, events: list[FunctionEvent] | None = None) -> None:
        self.refuse = refuse
        self.events = events or []
        self.invoked: list[dict] = []
        self.max_waiting: list[int | None] = []

    def invoke(self, event: dict, *, max_waiting: int | None = None) -> dict:
        self.max_waiting.append(max_waiting)
        if self.refuse:
            raise TooManyRequests(self.logical_id)
        self.invoked.append(event)
        return {"statusCode": 202, "body": "{}"}


# --- throttles -------------------------------------------------------------------------------------


def test_a_token_bucket_lets_its_burst_through_then_refills_at_its_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token back at 2 a second
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 60  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_a_routes_throttle_is_the_stage_default_then_the_apis_route_settings_then_the_events_own():
    stage = {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}
    default = route_throttle(stage, {})
    assert (default.rate, default.burst) == (50.0, 100)
    own = route_throttle(stage, {"ThrottlingBurstLimit": 5})
    assert (own.rate, own.burst) == (50.0, 5)
    assert route_throttle({}, {}) is None  # no limits: API Gateway's account limits only
    webhook = Function(events=[FunctionEvent("Webhook", "HttpApi", {"Method": "POST", "Path": "/webhooks/{source}"})])
    join = Function(events=[FunctionEvent("Join", "HttpApi", {"Method": "GET", "Path": "/j/{token}"})])
    by_key = {"POST /webhooks/{source}": {"ThrottlingBurstLimit": "500", "ThrottlingRateLimit": "200"}}
    routes = {r.route_key: r for r in routes_from_functions([webhook, join], {}, by_key)}
    assert (routes["POST /webhooks/{source}"].throttle.rate, routes["POST /webhooks/{source}"].throttle.burst) == (200, 500)
    assert routes["GET /j/{token}"].throttle is None
    routes = {r.route_key: r for r in routes_from_functions([webhook, join], stage, by_key)}
    assert routes["GET /j/{token}"].throttle.burst == 100  # a stage default still applies where present


def test_the_template_throttles_its_webhook_routes_only_by_parameters(sam_template):
    (api,) = [r for r in sam_template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
    assert "DefaultRouteSettings" not in api["Properties"]  # people's routes keep the account's limit
    settings = api["Properties"]["RouteSettings"]
    route_keys = {f"{e['Properties']['Method']} {e['Properties']['Path']}"
                  for r in sam_template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
                  for e in (r["Properties"].get("Events") or {}).values() if e["Type"] == "HttpApi"}
    assert set(settings) == {"POST /webhooks/{source}/{tenant_id}", "POST /providers/zoom/events"} <= route_keys
    parameters = sam_template["Parameters"]
    for throttle in settings.values():
        assert throttle == {"ThrottlingBurstLimit": {"Ref": "WebhookThrottleBurstLimit"},
                            "ThrottlingRateLimit": {"Ref": "WebhookThrottleRateLimit"}}
    assert parameters["WebhookThrottleBurstLimit"]["Default"] >= parameters["WebhookThrottleRateLimit"]["Default"] > 30


def _post(gateway: Gateway) -> tuple[int, dict[str, str], dict]:
    status, headers, body, _ = gateway.handle("POST", "/webhooks/generic", [("Host", "127.0.0.1")], b"{}", "127.0.0.1")
    return status, {k.lower(): v for k, v in headers}, json.loads(body)


def test_beyond_the_routes_throttle_the_gateway_answers_429_with_retry_after_and_invokes_nothing():
    fn = Function()
    route = compile_route("POST", "/webhooks/{source}", fn)
    route.throttle = TokenBucket(rate=1, burst=2, clock=Clock())
    gateway = Gateway([route], port=0)
    try:
        answers = [_post(gateway) for _ in range(4)]
    finally:
        gateway.stop()
    assert [status for status, _, _ in answers] == [202, 202, 429, 429]
    assert all(headers["retry-after"] == "1" and body == {"message": "Too Many Requests"}
               for status, headers, body in answers if status == 429)
    assert len(fn.invoked) == 2


def test_a_function_refusing_the_invocation_makes_a_429_with_a_line_of_two_a_worker():
    fn = Function(refuse=True)
    gateway = Gateway([compile_route("POST", "/webhooks/{source}", fn)], port=0)
    try:
        status, headers, body = _post(gateway)
    finally:
        gateway.stop()
    assert (status, headers["retry-after"], body) == (429, "1", {"message": "Too Many Requests"})
    assert fn.max_waiting == [WAITING_PER_WORKER * fn.max_workers]


def test_the_gateways_pool_holds_every_request_its_functions_admit_and_spare_threads():
    webhook, admin = Function(), Function()
    admin.max_workers = 3
    routes = [compile_route("POST", "/webhooks/{source}", webhook), compile_route("GET", "/a", admin),
              compile_route("POST", "/a", admin)]
    assert gateway_threads(routes) == (1 + WAITING_PER_WORKER) * (2 + 3) + SPARE_THREADS
    gateway = Gateway([], port=0)
    gateway.routes = routes
    gateway.start()
    try:
        assert gateway.server.pool._max_workers == gateway_threads(routes)
    finally:
        gateway.stop()


# --- the pooled server -------------------------------------------------------------------------------


class Held:
    """A handler's requests, held until the test lets them go."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()


def _server(held: Held | None = None, *, raise_on_get: BaseException | None = None, **kwargs: Any) -> PooledHTTPServer:
    class Handler(KeptAliveHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:
            body = self.read_body()
            if body is None:
                return
            if held is not None:
                held.entered.release()
                held.release.wait(WAIT)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if raise_on_get is not None:
                raise raise_on_get
            self.send_response(204)
            self.end_headers()

    server = PooledHTTPServer(("127.0.0.1", 0), Handler, threads=kwargs.pop("threads", 4), name="test", **kwargs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _connect(server: PooledHTTPServer) -> socket.socket:
    return socket.create_connection(server.server_address[:2], timeout=WAIT)


def _answers(connection: socket.socket, count: int) -> list[bytes]:
    """The status lines of the next ``count`` answers (each with a Content-Length or none)."""
    reader = connection.makefile("rb")
    statuses = []
    for _ in range(count):
        statuses.append(reader.readline().strip())
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        reader.read(length)
    return statuses


@pytest.fixture
def stopping():
    servers: list[PooledHTTPServer] = []
    yield servers.append
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_content_length_that_is_no_number_is_answered_400_and_the_connection_closed(stopping):
    server = _server()
    stopping(server)
    with _connect(server) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello")
        assert _answers(connection, 1)[0].startswith(b"HTTP/1.1 400")
        assert connection.recv(1) == b""  # closed


def test_a_body_cut_short_by_the_client_is_answered_400_not_served(stopping):
    server = _server()
    stopping(server)
    with _connect(server) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        connection.shutdown(socket.SHUT_WR)
        assert _answers(connection, 1)[0].startswith(b"HTTP/1.1 400")


def test_pipelined_requests_are_each_answered(stopping):
    server = _server()
    stopping(server)
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
    with _connect(server) as connection:
        connection.sendall(request * 3)
        assert _answers(connection, 3) == [b"HTTP/1.1 200 OK"] * 3


def test_a_client_gone_is_logged_at_debug_not_as_an_error(stopping, caplog):
    server = _server(raise_on_get=ConnectionResetError(104, "Connection reset by peer"))
    stopping(server)
    with caplog.at_level(logging.DEBUG, logger="infra.local.serving"), _connect(server) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(1) == b""  # the server ended the connection
        eventually(lambda: any("ended" in r.getMessage() for r in caplog.records), "the debug line")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_request_that_would_wait_behind_a_full_backlog_is_refused_by_the_accepting_thread(stopping):
    held = Held()
    server = _server(held, threads=1, max_backlog=1, overloaded=b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n")
    stopping(server)
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
    with _connect(server) as first, _connect(server) as second, _connect(server) as third:
        first.sendall(request)
        assert held.entered.acquire(timeout=WAIT)  # the pool's one thread is busy
        second.sendall(request)
        eventually(lambda: server._backlog == 1, "the second request waiting for a thread")
        third.sendall(request)
        assert _answers(third, 1) == [b"HTTP/1.1 429 Too Many Requests"]
        held.release.set()
        assert _answers(first, 1) == _answers(second, 1) == [b"HTTP/1.1 200 OK"]
    assert MAX_BACKLOG > 0


# --- a function's waiting line ----------------------------------------------------------------------


class FakeWorker:
    def __init__(self, name: str) -> None:
        self.name = name

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def kill(self) -> None:
        pass


def _function(max_workers: int) -> LocalFunction:
    fn = LocalFunction(
        logical_id="WebhookFunction", name="webhook", arn="arn:aws:lambda:us-east-1:123456789012:function:webhook",
        role_arn="arn:aws:iam::123456789012:role/webhook", code_dir=Path("."), handler="handler.lambda_handler",
        module_name="handler", runtime_id="python3.13", timeout=3, memory=128, reserved_concurrency=None,
        environment={}, events=[], event_invoke_config={}, dead_letter_queue=None,
    )
    fn.runtime = WorkerRuntime(sys_path=[], metrics=None, max_workers=max_workers)  # type: ignore[arg-type]
    return fn


def _busy(fn: LocalFunction, *names: str) -> list[FakeWorker]:
    """Workers that exist and are all busy, without processes."""
    workers = [FakeWorker(name) for name in names]
    fn._workers.update(workers)  # type: ignore[arg-type]
    return workers


def _waiting(fn: LocalFunction, got: dict[str, Any], name: str, **kwargs: Any) -> threading.Thread:
    def acquire() -> None:
        try:
            got[name] = fn._acquire(**kwargs)
        except TooManyRequests as exc:
            got[name] = exc

    count = len(fn._waiters)
    thread = threading.Thread(target=acquire, daemon=True)
    thread.start()
    eventually(lambda: len(fn._waiters) == count + 1, f"{name} waiting")
    return thread


def test_with_every_worker_busy_and_its_line_full_an_invocation_is_refused_and_not_counted():
    fn = _function(max_workers=1)
    (busy,) = _busy(fn, "busy")
    got: dict[str, Any] = {}
    first = _waiting(fn, got, "first", max_waiting=1)
    with pytest.raises(TooManyRequests):
        fn._acquire(max_waiting=1)
    assert fn.invocations == 1  # the waiting one only
    fn._release(busy)  # type: ignore[arg-type]
    first.join(WAIT)
    assert got["first"] is busy


def test_a_released_worker_goes_to_the_oldest_waiting_invocation():
    fn = _function(max_workers=1)
    (busy,) = _busy(fn, "busy")
    got: dict[str, Any] = {}
    older = _waiting(fn, got, "older", max_waiting=2)
    newer = _waiting(fn, got, "newer", max_waiting=2)
    fn._release(busy)  # type: ignore[arg-type]
    older.join(WAIT)
    assert got == {"older": busy} and len(fn._waiters) == 1 and not fn._idle
    fn._release(busy)  # type: ignore[arg-type]
    newer.join(WAIT)
    assert got["newer"] is busy


def test_a_stopping_function_refuses_new_and_waiting_invocations():
    fn = _function(max_workers=1)
    _busy(fn, "busy")
    got: dict[str, Any] = {}
    waiting = _waiting(fn, got, "waiting")
    fn.stop_accepting()
    waiting.join(WAIT)
    assert isinstance(got["waiting"], TooManyRequests)
    with pytest.raises(TooManyRequests):
        fn._acquire()


# --- the SQS pollers' scaling -------------------------------------------------------------------------


class FakeSqs:
    """Receives scripted by the test; notes how many batches were in flight at each receive."""

    def __init__(self, poller_ref: list[SqsPoller], answers: list[int], stop: threading.Event) -> None:
        self.poller_ref = poller_ref
        self.answers = list(answers)  # messages per receive; the receive after the last sets stop
        self.stop = stop
        self.in_flight_at_receive: list[int] = []
        self.deleted: list[str] = []
        self.sent = 0

    def get_queue_url(self, **_: Any) -> dict[str, str]:
        return {"QueueUrl": "http://sqs/queue"}

    def receive_message(self, **_: Any) -> dict[str, Any]:
        self.in_flight_at_receive.append(self.poller_ref[0].busy)
        if not self.answers:
            self.stop.set()
            return {}
        messages = []
        for _ in range(self.answers.pop(0)):
            self.sent += 1
            messages.append({"MessageId": f"m{self.sent}", "ReceiptHandle": f"r{self.sent}", "Body": "{}"})
        return {"Messages": messages}

    def delete_message_batch(self, *, Entries: list[dict[str, str]], **_: Any) -> None:  # noqa: N803 - boto3's name
        self.deleted += [entry["ReceiptHandle"] for entry in Entries]


class HeldFunction:
    logical_id = "MeetingsFunction"

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()
        self.release = threading.Event()

    def invoke(self, event: dict) -> dict:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(WAIT)
        with self.lock:
            self.running -= 1
        return {}


def _poller(fn: HeldFunction, answers: list[int], concurrency: int) -> tuple[SqsPoller, FakeSqs]:
    stop = threading.Event()
    ref: list[SqsPoller] = []
    sqs = FakeSqs(ref, answers, stop)
    poller = SqsPoller(fn, event_name="Queue", queue_arn="arn:aws:sqs:us-east-1:123456789012:queue",  # type: ignore[arg-type]
                       batch_size=10, report_batch_item_failures=False, stop=stop, concurrency=concurrency, sqs=sqs)
    ref.append(poller)
    return poller, sqs


def test_a_poller_never_has_more_than_its_concurrency_of_batches_in_flight():
    fn = HeldFunction()
    poller, sqs = _poller(fn, [1, 1, 1, 1, 1], concurrency=2)
    poller.start()
    eventually(lambda: fn.running == 2, "two batches in flight")
    fn.release.set()
    poller.join(WAIT)
    assert not poller.is_alive() and poller.busy == 0  # its batches settled before it ended
    assert fn.most == 2
    assert max(sqs.in_flight_at_receive) < 2  # a receive only with a free slot
    assert sorted(sqs.deleted) == [f"r{n}" for n in range(1, 6)]


def test_an_empty_receive_gives_its_slot_back():
    fn = HeldFunction()
    fn.release.set()
    poller, sqs = _poller(fn, [0, 0, 0, 1], concurrency=1)
    poller.start()
    poller.join(WAIT)
    assert not poller.is_alive()
    assert len(sqs.in_flight_at_receive) == 5 and sqs.deleted == ["r1"]
