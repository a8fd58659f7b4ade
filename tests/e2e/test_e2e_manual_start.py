"""A manual start on the local stack: a junior key starts its provider's booking, and only that one."""

import datetime as dt
import json

import pytest
from e2e_support import Booking, Client, request

pytestmark = pytest.mark.e2e

OTHER_PROVIDER = "prov-manual-other"


def _as(stack, key: str, method: str, rest: str):
    return request(f"{stack.api}/v1/tenants/{stack.tenant_id}/{rest}", method, headers={"Authorization": f"Bearer {key}"})


def _book(stack, provider_id: str) -> Booking:
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    booking = Booking(Client.unique(), start=start, provider_id=provider_id)
    assert stack.post_webhook(booking.event()).status == 202
    stack.wait_for_links(booking)
    return booking


def test_a_junior_key_starts_its_providers_booking_and_not_anothers(stack):
    assert stack.admin("PUT", f"providers/{OTHER_PROVIDER}", {"name": "Olga Other"}).status == 200
    made = stack.admin("POST", "keys", {"role": "junior", "providers": ["prov-demo"]})
    assert made.status == 201, made
    junior = made.json()["key"]
    own, others = _book(stack, "prov-demo"), _book(stack, OTHER_PROVIDER)

    started = _as(stack, junior, "POST", f"bookings/{own.id}/start")

    assert started.status == 200, started
    meeting = started.json()["meeting"]
    assert (meeting["status"], meeting["started_by"], meeting["started_by_role"]) == ("started", "manual", "junior")
    # The client's link now opens the meeting (the demo room), two hours before the booked start.
    client_link = started.json()["links"]["clients"][own.client.id]
    opened = stack.click_join(client_link)
    assert opened.status in (302, 303) and opened.headers["location"].endswith("/_local/room/demo"), opened

    refused = _as(stack, junior, "POST", f"bookings/{others.id}/start")
    assert refused.status == 403
    assert refused.json()["error"] == "forbidden" and "its providers' bookings" in refused.json()["message"]
    assert OTHER_PROVIDER not in refused.text
    assert stack.booking_view(others.id).json()["meeting"]["status"] == "scheduled"
    # Nothing but reading and starting bookings: its own key list is not its to see.
    assert _as(stack, junior, "GET", "keys").status == 403
    assert junior not in json.dumps(stack.admin("GET", "keys").json())
