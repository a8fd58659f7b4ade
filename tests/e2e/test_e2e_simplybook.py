"""SimplyBook.me over HTTP through the local stack, as the README shows it: the sandbox seeded through its control
endpoints, the source configured, unsigned callbacks posted; the meetings function reads each booking from the
sandbox behind the webhook's answer."""

import json

import pytest
from e2e_support import request

pytestmark = pytest.mark.e2e

COMPANY, API_KEY, SECRET_KEY = "e2esimplybookflow", "e2e-flow-api-key", "e2e-flow-secret-key"
BOOKING_HASH = "9c1e4b0a5d2f8e7c6b3a1d0e9f8c7b6a"
DETAILS = {"id": "7301", "event_id": "31", "event_name": "Video consultation", "unit_id": "4",
           "unit_name": "Dana Reyes", "unit_email": "dana@clinic.example", "client_id": "88",
           "client_name": "Zoë Nakamura", "client_email": "zoe@client.example",
           "start_date_time": "2030-03-04 09:30:00", "end_date_time": "2030-03-04 10:00:00", "is_confirm": "1"}


def _put(url: str, body: dict) -> None:
    answer = request(url, "PUT", json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert answer.status in (200, 201), answer


def _callback(stack, notification_type: str, booking_hash: str = BOOKING_HASH):
    body = json.dumps({"booking_id": "7301", "booking_hash": booking_hash, "company": COMPANY,
                       "notification_type": notification_type}).encode()
    return request(stack.info["webhook_urls"]["simplybook"], "POST", body, {"Content-Type": "application/json"})


def _booking_at(stack, start: str, status: str = "active"):
    def found():
        answer = stack.admin("GET", "sources/simplybook/bookings/7301")
        booking = answer.json()["booking"] if answer.status == 200 else {}
        return answer.json() if booking.get("start", "").startswith(start) and booking["status"] == status else None

    return stack.wait_for(f"SimplyBook booking 7301 {status} at {start}", found)


def test_simplybook_callbacks_create_move_and_cancel_one_booking_with_one_api_call_each(stack):
    sandbox = stack.info["simplybook_sandbox_url"]
    _put(f"{sandbox}/_sandbox/companies/{COMPANY}", {"api_key": API_KEY, "secret_key": SECRET_KEY})
    _put(f"{sandbox}/_sandbox/companies/{COMPANY}/bookings/7301", {"hash": BOOKING_HASH, "details": DETAILS})
    configured = stack.admin("PUT", "sources/simplybook", {"company": COMPANY, "api_key": API_KEY,
                                                          "secret_key": SECRET_KEY, "timezone": "Europe/Berlin",
                                                          "online": "all"})
    assert configured.status == 200 and API_KEY not in configured.text, configured
    try:
        assert _callback(stack, "create").status == 202
        created = _booking_at(stack, "2030-03-04T08:30:00")
        assert created["booking"]["service_id"] == "simplybook:31" and created["meeting"]["status"] == "scheduled"

        forged = _callback(stack, "cancel", booking_hash="0" * 32)
        assert forged.status == 202  # answered at once; SimplyBook refuses its lookup, which changes nothing

        _put(f"{sandbox}/_sandbox/companies/{COMPANY}/bookings/7301",
             {"hash": BOOKING_HASH, "details": {**DETAILS, "start_date_time": "2030-03-05 11:00:00",
                                                "end_date_time": "2030-03-05 11:30:00"}})
        assert _callback(stack, "change").status == 202
        moved = _booking_at(stack, "2030-03-05T10:00:00")
        assert moved["links"] == created["links"]

        assert _callback(stack, "cancel").status == 202
        _booking_at(stack, "2030-03-05T10:00:00", "cancelled")

        calls = request(f"{sandbox}/_sandbox/calls").json()["calls"]
        mine = [call["operation"] for call in calls if call["company"] == COMPANY]
        assert mine == ["get_token"] + ["get_booking_details"] * 4, mine
    finally:
        assert stack.admin("DELETE", "sources/simplybook").status == 200
