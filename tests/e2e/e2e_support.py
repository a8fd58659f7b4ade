"""Talking to the local stack from e2e tests: HTTP (no redirects followed), signed webhooks, waits.

Only the stack's public surface is used: its HTTP API, its ``/_local/`` dev endpoints, and moto
(through ``aws_endpoint_url``) to look at schedules and queues.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import html.parser
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from zoneinfo import ZoneInfo

import boto3

WAIT_SECONDS = 20.0
STARTUP_SECONDS = 60.0
REPO_ROOT = Path(__file__).resolve().parents[2]


class StartupFailed(Exception):
    pass


@contextlib.contextmanager
def running_stack(tmp: Path, *extra_args: str, expected_denial: str | None = None) -> Iterator[Stack]:
    """A stack for a fixture: a failed start fails the tests that need it, and it always stops. Once
    stopped, any call a function's role did not allow fails the tests (but the one a test expects)."""
    try:
        running = launch(tmp, *extra_args)
    except StartupFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        running.stop()
    # A function's worker logs every call its execution role does not allow, even one the function swallowed.
    denied = [line for line in running.log_path.read_text(errors="replace").splitlines()
              if "is not authorized to perform:" in line and not (expected_denial and expected_denial in line)]
    if denied:
        pytest.fail("calls the functions' roles do not allow:\n" + "\n".join(denied), pytrace=False)


def launch(tmp: Path, *extra_args: str) -> Stack:
    """Starts ``python -m infra.local`` as a developer would, on free ports; returns once it is ready."""
    tmp.mkdir(parents=True, exist_ok=True)
    ready = tmp / "ready.json"
    log_path = tmp / "stack.log"
    # A clean AWS environment: the stack sets its own (moto) endpoint and fake credentials.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable, "-m", "infra.local",
        "--port", "0", "--aws-port", "0",
        "--state-dir", str(tmp / "state"), "--ready-file", str(ready),
        # Schedules fire on their second, so no test waits up to a minute for one; a test that measures the
        # start path asks for AWS's jitter with its own option (the last one given wins).
        "--scheduler-jitter-seconds", "0",
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)

    def tail() -> str:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-80:])

    deadline = time.monotonic() + STARTUP_SECONDS
    while not ready.exists():
        if process.poll() is not None:
            raise StartupFailed(f"python -m infra.local exited with {process.returncode} before it was ready:\n{tail()}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait(10)
            raise StartupFailed(f"python -m infra.local was not ready within {STARTUP_SECONDS:.0f} s:\n{tail()}")
        time.sleep(0.1)
    info = json.loads(Path(json.loads(ready.read_text())["dev_json"]).read_text())
    return Stack(info, process, log_path)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.text[:300]!r}>"


def request(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


@dataclass
class Form:
    """An HTML form as a browser sees it: where it goes, and what it sends besides its buttons."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (label, name, value)
    options: dict[str, list[str]] = field(default_factory=dict)  # a select's name -> its option values

    def choose(self, name: str, value: str) -> Form:
        """The form with another option picked in the select ``name``, as a person would pick it."""
        assert value in self.options.get(name, []), f"no option {value!r} in select {name!r}: {self.options}"
        return Form(self.action, self.method, [(k, value if k == name else v) for k, v in self.fields],
                    list(self.buttons), dict(self.options))

    def submission(self, page_url: str, button: str | None) -> tuple[str, str, bytes]:
        """(method, absolute URL, urlencoded body) of a click on the button labelled ``button``, or of a
        script's ``form.submit()`` (``button=None``), which sends no button."""
        pairs = list(self.fields)
        if button is not None:
            chosen = [b for b in self.buttons if b[0] == button]
            assert chosen, f"no {button!r} button in the form; buttons: {[b[0] for b in self.buttons]}"
            _, name, value = chosen[0]
            pairs += [(name, value)] if name else []
        return self.method, urllib.parse.urljoin(page_url, self.action), urllib.parse.urlencode(pairs).encode()


class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._button: list[Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), (a.get("method") or "get").upper()))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name") and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.forms[-1].fields.append((a["name"], a.get("value", "on")))
            elif kind == "submit":
                self.forms[-1].buttons.append((a.get("value", ""), a["name"], a.get("value", "")))
            elif kind not in ("button", "reset", "file", "image"):
                self.forms[-1].fields.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], [])
            self.forms[-1].options[a["name"]] = []
        elif tag == "option" and self._select is not None:
            self._select[1].append((a.get("value", ""), "selected" in a))
            self.forms[-1].options[self._select[0]].append(a.get("value", ""))
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self._button = ["", a.get("name", ""), a.get("value", "")]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            name, options = self._select
            chosen = next((value for value, selected in options if selected), options[0][0] if options else None)
            if chosen is not None:
                self.forms[-1].fields.append((name, chosen))
            self._select = None
        elif tag == "button" and self._button is not None:
            label, name, value = self._button
            self.forms[-1].buttons.append((label.strip(), name, value))
            self._button = None


def forms(page: str) -> list[Form]:
    """The forms of an HTML page, each with the values a browser would submit by default."""
    parser = _FormParser()
    parser.feed(page)
    parser.close()
    return parser.forms


def submit(page_url: str, page: Response, button: str | None, **choices: str) -> Response:
    """Submit the page's form as a browser would (no redirect followed): a click on ``button`` after
    picking ``choices`` in its selects, or, with ``button=None``, the page's own script submitting its
    only form on load (response_mode=form_post)."""
    if button is None:
        assert "document.forms[0].submit()" in page.text, f"the page does not submit its form by itself: {page}"
        (form,) = forms(page.text)
    else:
        (form,) = [f for f in forms(page.text) if any(b[0] == button for b in f.buttons)]
    for name, value in choices.items():
        form = form.choose(name, value)
    method, url, body = form.submission(page_url, button)
    return request(url, method, body, {"Content-Type": "application/x-www-form-urlencoded"})


def sign(secret: str, body: bytes, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()


def parse_at(expression: str, timezone: str | None) -> dt.datetime:
    m = re.fullmatch(r"at\((.+)\)", expression)
    assert m, f"not a one-time schedule: {expression}"
    return dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=ZoneInfo(timezone or "UTC"))


@dataclass
class Client:
    id: str
    name: str
    email: str
    timezone: str = "America/New_York"

    @classmethod
    def unique(cls, timezone: str = "America/New_York") -> Client:
        tag = uuid.uuid4().hex[:10]
        return cls(id=f"cl-{tag}", name=f"Casey {tag}", email=f"casey-{tag}@example.com", timezone=timezone)

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "email": self.email, "timezone": self.timezone}


@dataclass
class Booking:
    client: Client
    start: dt.datetime
    minutes: int = 30
    service_id: str = "svc-demo"
    provider_id: str = "prov-demo"
    id: str = field(default_factory=lambda: f"bk-{uuid.uuid4().hex[:12]}")
    timezone: str = "Europe/Berlin"

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.minutes)

    def event(self, type_: str = "booking.created", event_id: str | None = None) -> dict[str, Any]:
        return {
            "event_id": event_id or f"evt-{uuid.uuid4().hex}",
            "type": type_,
            "booking": {
                "id": self.id,
                "service_id": self.service_id,
                "provider_id": self.provider_id,
                "start": iso(self.start),
                "end": iso(self.end),
                "timezone": self.timezone,
                "session_id": None,
                "payment": {"required": False, "status": "pending"},
                "client": self.client.as_dict(),
            },
        }


class Stack:
    """A running ``python -m infra.local`` (subprocess) and what its dev.json says."""

    def __init__(self, info: dict[str, Any], process: subprocess.Popen[bytes], log_path: Path):
        self.info = info
        self.process = process
        self.log_path = log_path
        self.api = info["api_url"]
        self.tenant_id = info["tenant_id"]
        self.api_key = info["api_key"]
        self.secret = info["webhook_secret"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    # --- diagnostics ------------------------------------------------------------------------------

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float = WAIT_SECONDS, interval: float = 0.25) -> Any:
        """Polls ``probe`` until it returns something truthy; fails with the stack's log otherwise."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            last = probe()
            if last:
                return last
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}\n"
                    f"--- local stack log (tail) ---\n{self.log_tail()}"
                )
            time.sleep(interval)

    # --- HTTP -------------------------------------------------------------------------------------

    def get(self, path_or_url: str, **headers: str) -> Response:
        url = path_or_url if path_or_url.startswith("http") else self.api + path_or_url
        return request(url, headers=headers)

    def click_join(self, link: str) -> Response:
        """A person opening a join link: its page, then a click on the page's one button (a form POST,
        no redirect followed). A page without a button (waiting, cancelled, ...) is the answer."""
        page = self.get(link)
        buttons = [label for form in forms(page.text) for label, _, _ in form.buttons] if page.status == 200 else []
        if not buttons:
            return page
        (button,) = buttons
        return submit(link, page, button)

    def post_webhook(
        self,
        payload: dict[str, Any] | bytes,
        *,
        tenant_id: str | None = None,
        secret: str | None = None,
        t: int | None = None,
    ) -> Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Meetbridge-Signature": sign(secret or self.secret, body, t),
        }
        return request(f"{self.api}/webhooks/generic/{tenant_id or self.tenant_id}", "POST", body, headers)

    def admin(self, method: str, rest: str, body: dict[str, Any] | None = None) -> Response:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return request(f"{self.api}/v1/tenants/{self.tenant_id}/{rest}", method, data, headers)

    def booking_view(self, booking_id: str) -> Response:
        return self.admin("GET", f"bookings/{booking_id}")

    def wait_for_links(self, booking: Booking) -> dict[str, Any]:
        """GET the booking until it has its meeting and both links."""

        def ready() -> dict[str, Any] | None:
            resp = self.booking_view(booking.id)
            if resp.status != 200:
                return None
            view = resp.json()
            links = view.get("links") or {}
            if view.get("meeting") and links.get("provider") and (links.get("clients") or {}).get(booking.client.id):
                return view
            return None

        return self.wait_for(f"meeting and links of booking {booking.id}", ready)

    # --- the local outbox -------------------------------------------------------------------------

    def emails(self, to: str | None = None, mentioning: str | None = None) -> list[dict[str, Any]]:
        resp = self.get("/_local/outbox?channel=email")
        assert resp.status == 200, resp
        items = resp.json()
        if to:
            items = [m for m in items if to.lower() in " ".join(m["to"] + m["cc"] + m["bcc"]).lower()]
        if mentioning:
            items = [m for m in items if mentioning in _content(m)]
        return items

    def wait_for_emails(self, count: int, *, to: str, mentioning: str | None = None) -> list[dict[str, Any]]:
        return self.wait_for(
            f"{count} email(s) to {to}" + (f" mentioning {mentioning!r}" if mentioning else ""),
            lambda: (lambda found: found if len(found) >= count else None)(self.emails(to, mentioning)),
        )

    # --- moto, for what has no HTTP surface -------------------------------------------------------

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.info["aws_endpoint_url"],
            region_name=self.info.get("region", "us-east-1"),
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def schedules_for(self, *identifiers: str, prefix: str = "meeting-") -> list[dict[str, Any]]:
        """Schedules of the stack's group whose name starts with ``prefix`` (start schedules unless told,
        ``reminder-`` for reminders) and whose name or target input mentions one of ``identifiers``."""
        scheduler = self.aws("scheduler")
        group = self.info["schedule_group"]
        found = []
        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group, NamePrefix=prefix):
            for summary in page["Schedules"]:
                try:
                    schedule = scheduler.get_schedule(GroupName=group, Name=summary["Name"])
                except scheduler.exceptions.ResourceNotFoundException:
                    continue
                haystack = schedule["Name"] + " " + (schedule["Target"].get("Input") or "")
                if any(i and i in haystack for i in identifiers):
                    found.append(schedule)
        return found

    def queues_idle(self) -> bool:
        """The booking and notification queues hold nothing, in flight or waiting (read in pipeline order)."""
        sqs = self.aws("sqs")
        resources = self.info["resources"]
        for logical_id in ("MeetingsQueue", "NotificationsQueue"):
            attrs = sqs.get_queue_attributes(QueueUrl=resources[logical_id], AttributeNames=["All"])["Attributes"]
            busy = sum(int(attrs.get(k, 0)) for k in (
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"))
            if busy:
                return False
        return True

    def wait_until_drained(self) -> None:
        """Both queues idle on two reads in a row."""
        def twice() -> bool:
            if not self.queues_idle():
                return False
            time.sleep(0.4)
            return self.queues_idle()

        self.wait_for("the queues to drain", twice)


def content(message: dict[str, Any]) -> str:
    return " ".join(str(message.get(k) or "") for k in ("subject", "html", "text"))


_content = content
