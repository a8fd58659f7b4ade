"""Overload at the local gateway, as API Gateway and Lambda answer it: 429 with Retry-After before any work.

The stage's throttle is the template's (``DefaultRouteSettings``, a token bucket per route, which the
deployed HTTP API applies too); a route whose function has every worker busy and a full waiting line is
refused at once as well. The flood over HTTP is tests/e2e/test_e2e_overload.py."""

import json

from infra.local.gateway import Gateway, TokenBucket, compile_route, route_throttle, routes_from_functions
from infra.local.lambdas import FunctionEvent, TooManyRequests


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


def test_a_token_bucket_lets_its_burst_through_then_refills_at_its_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token back at 2 a second
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 60  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_a_route_is_throttled_by_the_stage_default_unless_its_own_settings_say_otherwise():
    stage = {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}
    default = route_throttle(stage, {})
    assert (default.rate, default.burst) == (50.0, 100)
    own = route_throttle(stage, {"ThrottlingBurstLimit": 5})
    assert (own.rate, own.burst) == (50.0, 5)
    assert route_throttle({}, {}) is None  # no limits: API Gateway's account limits only
    fn = Function(events=[FunctionEvent("Webhook", "HttpApi", {"Method": "POST", "Path": "/webhooks/{source}"})])
    (route,) = routes_from_functions([fn], stage)
    assert route.throttle is not None and route.throttle.burst == 100


def test_the_template_throttles_every_route_of_its_http_api(sam_template):
    (api,) = [r for r in sam_template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
    settings = api["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] >= settings["ThrottlingRateLimit"]


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


def test_a_function_with_every_worker_busy_and_its_line_full_is_refused_with_429():
    fn = Function(refuse=True)
    gateway = Gateway([compile_route("POST", "/webhooks/{source}", fn)], port=0)
    try:
        status, headers, body = _post(gateway)
    finally:
        gateway.stop()
    assert (status, headers["retry-after"], body) == (429, "1", {"message": "Too Many Requests"})
    assert fn.max_waiting == [2 * fn.max_workers]  # a short line: two invocations a worker
