"""Acuity Scheduling over HTTP through the local stack, as the README's example runs it: the source
configured, the Acuity sandbox seeded, Acuity's signed form webhook posted; the meetings function reads the
appointment from the sandbox and makes the meeting, moves it and cancels it."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from e2e_support import request

pytestmark = pytest.mark.e2e

USER_ID, API_KEY = "7123457", "acuity-e2e-key"


def _put(url: str, body: dict):
    return request(url, "PUT", json.dumps(body).encode(), {"Content-Type": "application/json"})


def test_an_acuity_appointment_gets_its_meeting_moves_with_the_same_links_and_is_cancelled(stack):
    acuity = stack.info["acuity_sandbox_url"]
    appointment_id = int(time.time() * 1000) % 10**12
    appointment = {"id": appointment_id, "firstName": "Ada", "lastName": "Acuity", "email": "ada.acuity@example.com",
                   "datetime": "2030-03-04T09:30:00-0500", "duration": "45", "type": "E2E consultation",
                   "appointmentTypeID": 61234567, "calendar": "Dana Reyes", "calendarID": 9123456,
                   "calendarTimezone": "America/New_York", "timezone": "Europe/London", "price": "0.00"}
    assert _put(f"{acuity}/_sandbox/users/{USER_ID}", {"api_key": API_KEY}).status == 204
    assert _put(f"{acuity}/_sandbox/appointments/{appointment_id}", appointment).status == 204
    configured = stack.admin("PUT", "sources/acuity", {"user_id": USER_ID, "api_key": API_KEY, "online": "all"})
    assert configured.status == 200 and API_KEY not in configured.text, configured

    def post(action: str):
        body = f"action={action}&id={appointment_id}&calendarID=9123456&appointmentTypeID=61234567".encode()
        signature = base64.b64encode(hmac.new(API_KEY.encode(), body, hashlib.sha256).digest()).decode()
        answer = request(configured.json()["webhook_url"], "POST", body,
                         {"Content-Type": "application/x-www-form-urlencoded", "X-Acuity-Signature": signature})
        assert answer.status == 202, answer

    def booking_when(condition):
        def probe():
            found = stack.admin("GET", f"sources/acuity/bookings/{appointment_id}")
            return found.status == 200 and condition(found.json()) and found.json()
        return stack.wait_for(f"Acuity appointment {appointment_id}", probe)

    try:
        post("scheduled")
        created = booking_when(lambda view: (view.get("links") or {}).get("provider") and view["links"]["clients"])
        assert created["booking"]["id"] == f"acuity:{appointment_id}"
        assert created["booking"]["start"].startswith("2030-03-04T14:30:00")

        _put(f"{acuity}/_sandbox/appointments/{appointment_id}", {**appointment, "datetime": "2030-03-06T11:00:00-0500"})
        post("rescheduled")
        moved = booking_when(lambda view: view["booking"]["start"].startswith("2030-03-06T16:00:00"))
        assert moved["links"] == created["links"]

        _put(f"{acuity}/_sandbox/appointments/{appointment_id}", {**appointment, "canceled": True})
        post("canceled")
        booking_when(lambda view: view["booking"]["status"] == "cancelled")

        calls = request(f"{acuity}/_sandbox/calls?operation=get_appointment").json()["calls"]
        mine = [call for call in calls if call["path"].endswith(f"/appointments/{appointment_id}")]
        assert len(mine) == 3, mine  # one read of the appointment per delivery
    finally:
        assert stack.admin("DELETE", "sources/acuity").status == 200
