"""Square over HTTP against the local stack: a signed booking.created is answered before Square is asked
anything; the meetings function then reads the customer and the team member from the Square sandbox, and the
booking gets its meeting; a move at a higher version keeps the links; a cancellation cancels."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

import pytest
from e2e_support import iso, request

pytestmark = pytest.mark.e2e

SIGNATURE_KEY = "sq-e2e-signature-key"


def _seed(sandbox: str, path: str, body: dict) -> None:
    answer = request(f"{sandbox}/_sandbox/{path}", "PUT", json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert answer.status == 200, answer


def test_a_square_booking_is_looked_up_in_the_sandbox_made_moved_and_cancelled(stack):
    sandbox = stack.info["square_sandbox_url"]
    unique = uuid.uuid4().hex[:10]
    token, customer_id, member_id, booking_id = f"EAAA-{unique}", f"CUST{unique}", f"TM{unique}", f"bk{unique}"
    _seed(sandbox, f"access-tokens/{token}", {})
    _seed(sandbox, f"customers/{customer_id}", {"given_name": "Amelia", "email_address": f"{unique}@example.org"})
    _seed(sandbox, f"team-members/{member_id}", {"given_name": "Sandy", "status": "ACTIVE"})
    # Square signs the URL registered with it (https, in front of the stack), not the address the request reached.
    url = f"https://hooks.example.com/webhooks/square/{stack.tenant_id}"
    settings = {"signature_key": SIGNATURE_KEY, "notification_url": url, "access_token": token, "online": "all"}
    assert stack.admin("PUT", "sources/square", settings).status == 200
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2)

    def deliver(event_type: str, version: int, status: str, start_at: dt.datetime) -> None:
        booking = {"id": booking_id, "version": version, "status": status, "start_at": iso(start_at),
                   "customer_id": customer_id, "location_id": "L1",
                   "appointment_segments": [{"duration_minutes": 30, "service_variation_id": f"VAR{unique}",
                                             "team_member_id": member_id}]}
        body = json.dumps({"merchant_id": "M1", "location_id": "L1", "type": event_type,
                           "event_id": f"evt-{unique}-{version}", "created_at": iso(dt.datetime.now(dt.UTC)),
                           "data": {"type": "booking", "id": f"{booking_id}:{version}",
                                    "object": {"booking": booking}}}).encode()
        signature = base64.b64encode(hmac.new(SIGNATURE_KEY.encode(), url.encode() + body, hashlib.sha256).digest())
        answer = request(f"{stack.api}/webhooks/square/{stack.tenant_id}", "POST", body,
                         {"Content-Type": "application/json", "x-square-hmacsha256-signature": signature.decode()})
        assert answer.status == 202 and answer.json() == {"accepted": [f"square:evt-{unique}-{version}"]}, answer

    def view(*, when) -> dict:
        def probe():
            answer = stack.admin("GET", f"sources/square/bookings/{booking_id}")
            return answer.status == 200 and when(answer.json()) and answer.json()

        return stack.wait_for(f"the Square booking {booking_id}", probe)

    def calls() -> list[str]:
        logged = request(f"{sandbox}/_sandbox/calls").json()["calls"]
        return [call["operation"] for call in logged if unique in call["path"]]

    try:
        deliver("booking.created", 0, "ACCEPTED", start)
        created = view(when=lambda v: v["meeting"] and v["meeting"]["status"] == "scheduled" and v["links"]["clients"])
        assert created["booking"]["client"]["email"] == f"{unique}@example.org"
        assert calls() == ["retrieve_customer", "retrieve_team_member"]

        deliver("booking.updated", 1, "ACCEPTED", start + dt.timedelta(hours=3))
        later = start + dt.timedelta(hours=3)
        moved = view(when=lambda v: dt.datetime.fromisoformat(v["booking"]["start"]) == later)
        assert moved["links"] == created["links"]

        deliver("booking.updated", 2, "CANCELLED_BY_SELLER", start + dt.timedelta(hours=3))
        view(when=lambda v: v["booking"]["status"] == "cancelled")
        # At most one read per booking event (fewer when a meetings function instance reuses its read); the team
        # member once, while it was not yet a provider.
        assert calls().count("retrieve_team_member") == 1 and 1 <= calls().count("retrieve_customer") <= 3
    finally:
        assert stack.admin("DELETE", "sources/square").status == 200
