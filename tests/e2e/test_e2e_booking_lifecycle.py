"""A booking's life as the people involved see it: links, emails, the join page, the start, changes."""

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from e2e_support import Booking, Client, content, parse_at

pytestmark = pytest.mark.e2e

DEMO_ROOM_PATH = "/_local/room/demo"  # the seeded custom link: a room page the stack serves
PROVIDER_EMAIL = "dana@example.com"


def _later(days: int = 1) -> dt.datetime:
    """A start far enough ahead that nothing fires during the test; whole minutes."""
    now = dt.datetime.now(dt.timezone.utc)
    return (now + dt.timedelta(days=days)).replace(second=0, microsecond=0)


def _create(stack, booking: Booking) -> dict:
    resp = stack.post_webhook(booking.event("booking.created"))
    assert resp.status == 202, resp
    return stack.wait_for_links(booking)


def _assert_schedule_before(schedule: dict, start: dt.datetime) -> None:
    fires = parse_at(schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone"))
    # Scheduler fires within the minute after its time, so it is set a minute or two early.
    assert start - dt.timedelta(seconds=180) <= fires <= start, (fires, start)


def _identifiers(booking: Booking, view: dict) -> list[str]:
    meeting = view.get("meeting") or {}
    return [booking.id, *(str(meeting[k]) for k in ("key", "id", "meeting_key") if meeting.get(k))]


def test_created_booking_gets_a_meeting_links_emails_and_a_schedule(stack):
    booking = Booking(Client.unique(), start=_later())
    view = _create(stack, booking)

    assert view["booking"]["id"] == booking.id
    assert view["booking"]["status"] == "active"
    assert view["meeting"]["status"] in ("scheduled", "started")
    assert view["meeting"]["provider"] == "custom_link"
    provider_link = view["links"]["provider"]
    client_link = view["links"]["clients"][booking.client.id]
    assert provider_link.startswith(stack.api) and client_link.startswith(stack.api)
    assert provider_link != client_link

    client_mail = stack.wait_for_emails(1, to=booking.client.email)
    assert any(client_link in (m["html"] or "") for m in client_mail)
    assert not any(provider_link in content(m) for m in client_mail), "the client must never see the provider link"
    provider_mail = stack.wait_for_emails(1, to=PROVIDER_EMAIL, mentioning=provider_link)
    assert any(provider_link in (m["html"] or "") for m in provider_mail)

    schedules = stack.wait_for("the meeting's start schedule", lambda: stack.schedules_for(*_identifiers(booking, view)))
    assert len(schedules) == 1, schedules
    _assert_schedule_before(schedules[0], booking.start)


def test_join_link_waits_before_the_start_then_opens_the_meeting(stack):
    client = Client.unique(timezone="America/New_York")
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=12)).replace(microsecond=0)
    booking = Booking(client, start=start)
    view = _create(stack, booking)
    link = view["links"]["clients"][client.id]

    early = stack.get(link)
    assert dt.datetime.now(dt.timezone.utc) < start, "setting up took longer than the lead time of this test"
    assert early.status == 200, early
    assert "text/html" in early.headers.get("content-type", "")
    assert "Online consultation" in early.text
    assert "Dana Demo" in early.text
    local = start.astimezone(ZoneInfo(client.timezone))
    shown = {local.strftime("%H:%M"), f"{local.hour % 12 or 12}:{local.minute:02d}"}
    assert any(s in early.text for s in shown), f"start time in the client's zone ({shown}) not on the page"

    def redirected():
        resp = stack.click_join(link)
        return resp if resp.status == 303 else None

    opened = stack.wait_for("the join link to open the meeting", redirected, timeout=start.timestamp() - dt.datetime.now(dt.timezone.utc).timestamp() + 8)
    assert dt.datetime.now(dt.timezone.utc) >= start - dt.timedelta(seconds=1)
    assert opened.headers["location"] == stack.api + DEMO_ROOM_PATH

    started = stack.wait_for(
        "the meeting to be started by its schedule",
        lambda: (lambda v: v if v["meeting"]["status"] == "started" else None)(stack.booking_view(booking.id).json()),
        timeout=10,
    )
    assert started["booking"]["status"] == "active"


def test_reschedule_keeps_the_links_renotifies_and_moves_the_schedule(stack):
    booking = Booking(Client.unique(), start=_later())
    view = _create(stack, booking)
    links = view["links"]
    stack.wait_for_emails(1, to=booking.client.email)
    stack.wait_for_emails(1, to=PROVIDER_EMAIL, mentioning=booking.client.name)

    booking.start = _later(days=2) + dt.timedelta(hours=1)
    resp = stack.post_webhook(booking.event("booking.rescheduled"))
    assert resp.status == 202, resp

    client_mail = stack.wait_for_emails(2, to=booking.client.email)
    assert links["clients"][booking.client.id] in (client_mail[-1]["html"] or "")
    assert links["provider"] not in content(client_mail[-1])
    provider_mail = stack.wait_for_emails(2, to=PROVIDER_EMAIL, mentioning=booking.client.name)
    assert links["provider"] in (provider_mail[-1]["html"] or "")

    after = stack.booking_view(booking.id).json()
    assert after["links"] == links
    assert after["booking"]["status"] == "active"
    assert dt.datetime.fromisoformat(after["booking"]["start"]) == booking.start

    def moved():
        found = stack.schedules_for(*_identifiers(booking, after))
        if len(found) != 1:
            return None
        fires = parse_at(found[0]["ScheduleExpression"], found[0].get("ScheduleExpressionTimezone"))
        return found if fires > booking.start - dt.timedelta(seconds=180) else None

    _assert_schedule_before(stack.wait_for("the schedule to move", moved)[0], booking.start)


def test_cancel_closes_the_link_removes_the_schedule_and_tells_both(stack):
    booking = Booking(Client.unique(), start=_later())
    view = _create(stack, booking)
    link = view["links"]["clients"][booking.client.id]
    stack.wait_for_emails(1, to=booking.client.email)
    stack.wait_for_emails(1, to=PROVIDER_EMAIL, mentioning=booking.client.name)
    ids = _identifiers(booking, view)
    assert stack.wait_for("the start schedule", lambda: stack.schedules_for(*ids))

    resp = stack.post_webhook(booking.event("booking.cancelled"))
    assert resp.status == 202, resp

    client_mail = stack.wait_for_emails(2, to=booking.client.email)
    assert "cancel" in content(client_mail[-1]).lower()
    provider_mail = stack.wait_for_emails(2, to=PROVIDER_EMAIL, mentioning=booking.client.name)
    assert "cancel" in content(provider_mail[-1]).lower()

    page = stack.get(link)
    assert 400 <= page.status < 500, page
    assert "text/html" in page.headers.get("content-type", "")
    assert "cancel" in page.text.lower()
    stack.wait_for("the schedule to be deleted", lambda: not stack.schedules_for(*ids))


def test_a_service_that_is_not_online_gets_no_meeting(stack):
    resp = stack.admin("PUT", "services/svc-in-person",
                       {"name": "In-person visit", "online": False, "kind": "appointment"})
    assert resp.status in (200, 201), resp
    booking = Booking(Client.unique(), start=_later(), service_id="svc-in-person")

    resp = stack.post_webhook(booking.event("booking.created"))
    assert resp.status == 202, resp
    stack.wait_until_drained()

    assert stack.booking_view(booking.id).status == 404
    assert stack.emails(to=booking.client.email) == []
    assert stack.schedules_for(booking.id) == []


def test_the_same_event_twice_is_processed_once(stack):
    booking = Booking(Client.unique(), start=_later())
    event = booking.event("booking.created")
    first = stack.post_webhook(event)
    assert first.status == 202, first
    view = stack.wait_for_links(booking)
    stack.wait_for_emails(1, to=booking.client.email)
    stack.wait_for_emails(1, to=PROVIDER_EMAIL, mentioning=view["links"]["provider"])

    # The first publish is not marked (the webhook's path stays at two calls), so a redelivery within the claim's
    # lease is answered 503 with Retry-After, as a platform's retry would be; the one after the lease publishes the
    # event again, and the meetings function applies it once.
    again = stack.post_webhook(event)
    deadline = time.monotonic() + 60
    while again.status == 503 and time.monotonic() < deadline:
        assert int(again.headers["retry-after"]) >= 1, again
        time.sleep(int(again.headers["retry-after"]))
        again = stack.post_webhook(event)
    assert again.status in (200, 202), again
    stack.wait_until_drained()

    assert len(stack.emails(to=booking.client.email)) == 1
    assert len(stack.emails(to=PROVIDER_EMAIL, mentioning=view["links"]["provider"])) == 1
    assert stack.booking_view(booking.id).json()["links"] == view["links"]
