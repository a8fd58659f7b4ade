"""Over HTTP through the generic webhook: a kiosk booking gets no meeting, no link and no email, and says why; a
reschedule keeps it so, a cancel cancels it; an unknown channel is refused."""

import datetime as dt

import pytest
from e2e_support import Booking, Client, iso, request

pytestmark = pytest.mark.e2e

KIOSK = "online meetings are not available for kiosk bookings"


def _kiosk_event(booking: Booking, type_: str, version: int) -> dict:
    event = booking.event(type_)
    event["booking"].update(channel="kiosk", version=version)
    return event


def _zoom_meetings_made(stack) -> int:
    calls = request(stack.info["zoom_sandbox_url"] + "/_sandbox/calls").json()["calls"]
    return sum(1 for call in calls if call["operation"] == "create_meeting")


def _view_at(stack, booking: Booking, status: str) -> dict:
    def shown() -> dict | None:
        answer = stack.booking_view(booking.id)
        view = answer.json() if answer.status == 200 else None
        if view and view["booking"]["status"] == status and \
                dt.datetime.fromisoformat(view["booking"]["start"]) == booking.start:
            return view
        return None

    return stack.wait_for(f"booking {booking.id} {status} at {iso(booking.start)}", shown)


def _assert_kiosk(view: dict) -> None:
    assert (view["booking"]["channel"], view["booking"]["problem"]) == ("kiosk", KIOSK)
    assert view["meeting"] is None and view["links"] == {"provider": None, "clients": {}}


def test_a_kiosk_booking_gets_no_meeting_through_a_reschedule_and_a_cancel(stack):
    booking = Booking(Client.unique(), start=(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).replace(
        microsecond=0))
    zoom_meetings_before = _zoom_meetings_made(stack)

    assert stack.post_webhook(_kiosk_event(booking, "booking.created", 1)).status == 202
    _assert_kiosk(_view_at(stack, booking, "active"))

    booking.start += dt.timedelta(hours=3)
    rescheduled = booking.event("booking.rescheduled")  # without the channel: the booking stays a kiosk booking
    rescheduled["booking"]["version"] = 2
    assert stack.post_webhook(rescheduled).status == 202
    _assert_kiosk(_view_at(stack, booking, "active"))

    assert stack.post_webhook(_kiosk_event(booking, "booking.cancelled", 3)).status == 202
    _assert_kiosk(_view_at(stack, booking, "cancelled"))

    stack.wait_until_drained()
    assert _zoom_meetings_made(stack) == zoom_meetings_before
    assert stack.emails(to=booking.client.email) == []


def test_an_unknown_channel_is_refused_naming_the_field(stack):
    event = Booking(Client.unique(), start=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).event()
    event["booking"]["channel"] = "phone"

    answer = stack.post_webhook(event)

    assert answer.status == 400, answer
    assert (answer.json()["error"], answer.json()["field"]) == ("invalid_request", "booking.channel")
