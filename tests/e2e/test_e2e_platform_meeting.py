"""Over HTTP: a booking carrying the platform's own meeting gets our links, which lead to the platform's
latest URL; the local stack's Zoom sandbox is never asked for a meeting."""

import datetime as dt

import pytest
from e2e_support import Booking, Client, request

pytestmark = pytest.mark.e2e

FIRST_URL = "https://app.cal.example/video/first-call"
NEW_URL = "https://app.cal.example/video/new-call"


def _event(booking: Booking, type_: str, url: str, version: int) -> dict:
    event = booking.event(type_)
    event["booking"].update(platform_meeting_url=url, version=version)
    return event


def _zoom_meetings_made(stack) -> int:
    calls = request(stack.info["zoom_sandbox_url"] + "/_sandbox/calls").json()["calls"]
    return sum(1 for call in calls if call["operation"] == "create_meeting")


def test_the_platforms_meeting_is_wrapped_and_follows_its_latest_url(stack):
    start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).replace(microsecond=0)
    booking = Booking(Client.unique(), start=start, minutes=45)
    zoom_meetings_before = _zoom_meetings_made(stack)

    assert stack.post_webhook(_event(booking, "booking.created", FIRST_URL, 1)).status == 202
    view = stack.wait_for_links(booking)
    assert (view["meeting"]["provider"], view["meeting"]["account_id"]) == ("platform", None)
    client_link = view["links"]["clients"][booking.client.id]

    opened = stack.click_join(client_link)
    assert opened.status == 303 and opened.headers["location"] == FIRST_URL

    assert stack.post_webhook(_event(booking, "booking.rescheduled", NEW_URL, 2)).status == 202
    moved = stack.wait_for("the link to lead to the new URL",
                           lambda: (answer := stack.click_join(client_link)).headers.get("location") == NEW_URL and answer)
    assert moved.status == 303
    assert stack.booking_view(booking.id).json()["links"] == view["links"]
    assert stack.click_join(view["links"]["provider"]).headers["location"] == NEW_URL
    assert _zoom_meetings_made(stack) == zoom_meetings_before
