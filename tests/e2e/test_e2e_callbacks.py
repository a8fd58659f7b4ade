"""Callbacks through the local stack: the admin sets a callback URL on loopback, a booking is scheduled (the
callback carries its links, signed) and cancelled (refused once by the receiver, then replayed)."""

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from e2e_support import Booking, Client

from meetbridge.security.signatures import verify_timestamped

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver():
    """Takes callbacks on 127.0.0.1 (the local stack allows plain http to this machine), answering 204, or 410
    once to a callback whose (booking id, type) is in `refused`: the demo tenant is shared, so other tests'
    callbacks may arrive meanwhile and must not take the refusal; joined after."""
    received: list[tuple[dict, bytes]] = []
    refused: set[tuple[str, str]] = set()

    class Handle(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            callback = json.loads(body)
            try:
                refused.remove((callback["booking"]["id"], callback["type"]))  # atomic: one refusal each
                self.send_response(410)
            except KeyError:
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/meetbridge/callbacks", received, refused
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def _bodies_of(received: list, booking: Booking, event_type: str) -> list[tuple[dict, bytes]]:
    return [(headers, raw) for headers, raw in list(received)
            if json.loads(raw)["booking"]["id"] == booking.id and json.loads(raw)["type"] == event_type]


def test_a_booking_is_called_back_signed_with_its_links_and_a_refused_callback_is_replayed(stack, receiver):
    url, received, refused = receiver
    answer = stack.admin("PUT", "settings/callbacks", {"url": url, "events": ["meeting.scheduled", "meeting.cancelled"]})
    assert answer.status == 200, answer
    secret = answer.json()["secret"]
    try:
        booking = Booking(Client.unique(), dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=2))
        assert stack.post_webhook(booking.event()).status == 202
        view = stack.wait_for_links(booking)
        [(headers, raw)] = stack.wait_for("the scheduled callback", lambda: _bodies_of(received, booking,
                                                                                       "meeting.scheduled"))
        verify_timestamped([secret.encode()], headers["x-meetbridge-signature"], raw, time.time(), 300)
        body = json.loads(raw)
        assert body["links"] == {"provider": view["links"]["provider"],
                                 "client": view["links"]["clients"][booking.client.id]}
        assert (body["booking"]["status"], body["meeting"]["status"]) == ("active", "scheduled")

        refused.add((booking.id, "meeting.cancelled"))  # the platform refuses it once: failed at once, not retried
        assert stack.post_webhook(booking.event("booking.cancelled")).status == 202

        def failed() -> dict | None:
            items = stack.admin("GET", "callbacks/deliveries").json()["items"]
            found = [item for item in items if item["booking_id"] == booking.id and item["type"] == "meeting.cancelled"]
            return found[0] if found and found[0]["status"] == "failed" else None

        refused = stack.wait_for("the refused cancellation", failed)
        assert (refused["attempts"], refused["last_status_code"]) == (1, 410)
        assert stack.admin("POST", f"callbacks/deliveries/{refused['id']}/replay").status == 200
        cancelled = stack.wait_for("the replayed cancellation",
                                   lambda: len(_bodies_of(received, booking, "meeting.cancelled")) == 2 and
                                   _bodies_of(received, booking, "meeting.cancelled"))
        assert json.loads(cancelled[0][1]) == json.loads(cancelled[1][1])
        assert json.loads(cancelled[1][1])["event_id"] == refused["id"]
        stack.wait_for("the replay delivered", lambda: any(
            item["id"] == refused["id"] and item["status"] == "delivered"
            for item in stack.admin("GET", "callbacks/deliveries").json()["items"]))
        assert secret not in stack.log_tail(10_000)
    finally:
        assert stack.admin("DELETE", "settings/callbacks").status == 200
