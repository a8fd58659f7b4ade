"""Cal.com, Calendly and Wix Bookings over HTTP against the local stack: each platform's own signed webhook
makes the booking's meeting, moves the same booking (each platform's reschedule model) with the same links,
and cancels it. Their webhooks carry the whole booking: no platform is asked anything."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from e2e_support import iso, request

pytestmark = pytest.mark.e2e

CAL_SECRET = "cal-e2e-secret"
CALENDLY_KEY = "calendly-e2e-key"
WIX_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
WIX_PUBLIC_PEM = WIX_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _post(stack, source: str, body: bytes, headers: dict[str, str]) -> None:
    answer = request(f"{stack.api}/webhooks/{source}/{stack.tenant_id}", "POST", body, headers)
    assert answer.status == 202 and answer.json()["accepted"], answer


def _cal(stack, unique: str, step: int, start: dt.datetime) -> None:
    uid = f"cal{unique}{step}"
    trigger = ("BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED")[step]
    payload = {"uid": uid, "eventTypeId": 1207, "eventTitle": "Video consultation", "startTime": iso(start),
               "endTime": iso(start + dt.timedelta(minutes=45)),
               "organizer": {"id": 31, "name": "Ana Example", "email": "ana@provider.example", "timeZone": "Europe/Oslo"},
               "attendees": [{"name": "Client Example", "email": f"{unique}@example.org", "timeZone": "Asia/Kolkata"}]}
    if step == 1:
        payload["rescheduleUid"] = f"cal{unique}0"
    if step == 2:
        payload["uid"] = f"cal{unique}1"  # the cancel names the booking's newest uid
    body = json.dumps({"triggerEvent": trigger, "createdAt": iso(dt.datetime.now(dt.UTC)), "payload": payload},
                      separators=(",", ":")).encode()
    signature = hmac.new(CAL_SECRET.encode(), body, hashlib.sha256).hexdigest()
    _post(stack, "calcom", body, {"Content-Type": "application/json", "X-Cal-Signature-256": signature})


def _calendly(stack, unique: str, step: int, start: dt.datetime) -> None:
    api = "https://api.calendly.com"
    invitee = f"{api}/scheduled_events/EV{unique}/invitees/INV{unique}{min(step, 1)}"
    payload = {"uri": invitee, "name": "Client Example", "email": f"{unique}@example.org", "timezone": "Asia/Kolkata",
               "scheduled_event": {"name": "Video consultation", "start_time": iso(start),
                                   "end_time": iso(start + dt.timedelta(minutes=45)),
                                   "event_type": f"{api}/event_types/ET{unique}",
                                   "location": {"type": "physical", "location": "Online"},
                                   "event_memberships": [{"user": f"{api}/users/HOST{unique}", "user_name": "Ana Example",
                                                          "user_email": "ana@provider.example"}]}}
    if step == 1:
        payload["old_invitee"] = f"{api}/scheduled_events/EV{unique}/invitees/INV{unique}0"
    event = "invitee.canceled" if step == 2 else "invitee.created"
    body = json.dumps({"created_at": iso(dt.datetime.now(dt.UTC)), "created_by": f"{api}/users/HOST{unique}",
                       "event": event, "payload": payload}, separators=(",", ":"), sort_keys=True).encode()
    t = int(time.time())
    signature = hmac.new(CALENDLY_KEY.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    _post(stack, "calendly", body, {"Content-Type": "application/json", "Calendly-Webhook-Signature": f"t={t},v1={signature}"})


def _wix(stack, unique: str, step: int, start: dt.datetime) -> None:
    booking = {"id": f"wix{unique}", "revision": str(step + 1), "status": ("CONFIRMED", "CONFIRMED", "CANCELED")[step],
               "paymentStatus": "EXEMPT",
               "bookedEntity": {"title": "Video consultation", "slot": {
                   "serviceId": f"svc{unique}", "startDate": iso(start), "endDate": iso(start + dt.timedelta(minutes=45)),
                   "timezone": "Europe/Dublin", "resource": {"id": f"staff{unique}", "name": "Rory Staff"}}},
               "contactDetails": {"contactId": f"contact{unique}", "firstName": "Cleo", "lastName": "Client",
                                  "email": f"{unique}@example.org"}}
    name = ("created", "booking_rescheduled", "booking_canceled")[step]
    event = {"id": f"evt-{unique}-{step}", "slug": name, "eventTime": iso(dt.datetime.now(dt.UTC))}
    event |= {"createdEvent": {"entity": booking}} if step == 0 else {"actionEvent": {"body": {"booking": booking}}}
    envelope = {"eventType": f"wix.bookings.v2.{'booking_created' if step == 0 else name}", "data": json.dumps(event),
                "identity": "{}"}

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"data": json.dumps(envelope), "iat": now, "exp": now + 300}
    signing_input = b64(b'{"alg":"RS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    token = signing_input + "." + b64(WIX_KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))
    _post(stack, "wix", token.encode(), {"Content-Type": "text/plain"})


PLATFORMS = {
    "calcom": ({"secret": CAL_SECRET, "online": "all"}, _cal, lambda unique: f"cal{unique}0"),
    "calendly": ({"signing_key": CALENDLY_KEY, "online": "all"}, _calendly, lambda unique: f"INV{unique}0"),
    "wix": ({"public_key": WIX_PUBLIC_PEM, "online": "all"}, _wix, lambda unique: f"wix{unique}"),
}


@pytest.mark.parametrize("source", list(PLATFORMS))
def test_a_platforms_booking_is_made_moved_with_its_links_and_cancelled(stack, source):
    settings, deliver, first_id = PLATFORMS[source]
    unique = uuid.uuid4().hex[:10]
    assert stack.admin("PUT", f"sources/{source}", settings).status == 200
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2)
    later = start + dt.timedelta(hours=3)

    def view(*, when) -> dict:
        def probe():
            answer = stack.admin("GET", f"sources/{source}/bookings/{first_id(unique)}")
            return answer.status == 200 and when(answer.json()) and answer.json()

        return stack.wait_for(f"the {source} booking {first_id(unique)}", probe)

    try:
        deliver(stack, unique, 0, start)
        created = view(when=lambda v: v["meeting"] and v["meeting"]["status"] == "scheduled" and v["links"]["clients"])
        assert created["booking"]["id"] == f"{source}:{first_id(unique)}"
        assert created["source"] == source and created["external_id"] == first_id(unique)

        deliver(stack, unique, 1, later)
        moved = view(when=lambda v: dt.datetime.fromisoformat(v["booking"]["start"]) == later)
        assert moved["links"] == created["links"] and moved["booking"]["id"] == created["booking"]["id"]

        deliver(stack, unique, 2, later)
        view(when=lambda v: v["booking"]["status"] == "cancelled")
    finally:
        assert stack.admin("DELETE", f"sources/{source}").status == 200
