"""On the local stack, a booking written in its own zone's offset starts on its second, not hours off."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from e2e_support import Booking, Client

pytestmark = pytest.mark.e2e


def test_a_booking_written_in_a_quarter_hour_offset_is_started_by_its_schedule_on_the_booked_second(stack):
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=15)).replace(microsecond=0)
    booking = Booking(Client.unique(timezone="Pacific/Chatham"), start=start, timezone="Asia/Kathmandu")
    body = booking.event("booking.created")
    zone = ZoneInfo(booking.timezone)  # +05:45: the platform writes its own wall time
    body["booking"]["start"] = start.astimezone(zone).isoformat()
    body["booking"]["end"] = booking.end.astimezone(zone).isoformat()

    assert stack.post_webhook(body).status == 202
    view = stack.wait_for_links(booking)
    assert dt.datetime.fromisoformat(view["booking"]["start"]) == start

    def started():
        meeting = stack.booking_view(booking.id).json()["meeting"]
        return meeting if meeting["status"] == "started" else None

    meeting = stack.wait_for("the schedule to start the meeting", started,
                             timeout=(start - dt.datetime.now(dt.timezone.utc)).total_seconds() + 15)
    assert meeting["started_by"] == "schedule"
    assert start <= dt.datetime.fromisoformat(meeting["started_at"]) < start + dt.timedelta(seconds=5)
