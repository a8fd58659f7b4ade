"""Reminders on the local stack: the tenant's offsets, the reminder's schedule, its firing onto the
notifications queue, and the reminder emails it sends."""

import datetime as dt
import json

import pytest
from e2e_support import Booking, Client, content, parse_at

pytestmark = pytest.mark.e2e

# The shortest offset; a reminder less than a minute away when the meeting is made is skipped, so the booking
# starts far enough ahead for its one-minute reminder to be more than a minute away.
OFFSET = "PT1M"
LEAD = dt.timedelta(seconds=140)
PROVIDER_EMAIL = "dana@example.com"
REMINDER = "Reminder"


@pytest.fixture
def one_minute_reminders(stack):
    before = stack.admin("GET", "settings/reminders").json()
    resp = stack.admin("PUT", "settings/reminders", {"offsets": [OFFSET]})
    assert (resp.status, resp.json()) == (200, {"offsets": [OFFSET]}), resp
    yield
    # The stack is shared by the session's tests: they keep the offsets they had.
    assert stack.admin("PUT", "settings/reminders", before).status == 200


def _fired_to_notifications(stack, name: str) -> bool:
    queue_arn = stack.aws("sqs").get_queue_attributes(
        QueueUrl=stack.info["resources"]["NotificationsQueue"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return f"/{name} fired: message sent to {queue_arn}" in stack.log_path.read_text(errors="replace")


def test_a_reminder_reaches_the_client_and_the_provider_its_offset_before_the_start(stack, one_minute_reminders):
    booking = Booking(Client.unique(), start=(dt.datetime.now(dt.timezone.utc) + LEAD).replace(microsecond=0))
    resp = stack.post_webhook(booking.event("booking.created"))
    assert resp.status == 202, resp
    view = stack.wait_for_links(booking)
    meeting_key = view["meeting"]["key"]
    links = view["links"]

    [schedule] = stack.wait_for("the reminder's schedule",
                                lambda: stack.schedules_for(meeting_key, prefix="reminder-"))
    assert parse_at(schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == \
        booking.start - dt.timedelta(minutes=1)
    start = booking.start.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert json.loads(schedule["Target"]["Input"]) == {
        "source": "meetbridge",
        "detail-type": "meeting.reminder",
        "detail": {
            "notice_id": f"{stack.tenant_id}/{meeting_key}/reminder/{OFFSET}/{start}",
            "tenant_id": stack.tenant_id,
            "meeting_key": meeting_key,
            "change": "reminder",
            "start": start,
            "offset": OFFSET,
        },
    }

    # It fires once, onto the notifications queue, and deletes itself; the notifications function sends the
    # reminders, each with its reader's own link.
    due = booking.start - dt.timedelta(minutes=1)
    until_due = (due - dt.datetime.now(dt.timezone.utc)).total_seconds()
    stack.wait_for("the reminder to fire onto the notifications queue",
                   lambda: _fired_to_notifications(stack, schedule["Name"]), timeout=until_due + 30)
    [client_mail] = stack.wait_for("the client's reminder", lambda: [
        m for m in stack.emails(to=booking.client.email) if m["subject"].startswith(REMINDER)])
    [provider_mail] = stack.wait_for("the provider's reminder", lambda: [
        m for m in stack.emails(to=PROVIDER_EMAIL, mentioning=links["provider"]) if m["subject"].startswith(REMINDER)])
    assert links["clients"][booking.client.id] in (client_mail["html"] or "")
    assert links["provider"] not in content(client_mail)
    assert links["provider"] in (provider_mail["html"] or "")
    for mail in (client_mail, provider_mail):
        assert due <= dt.datetime.fromisoformat(mail["sent_at"].replace("Z", "+00:00")) < booking.start
    assert not stack.schedules_for(meeting_key, prefix="reminder-")
    stack.wait_until_drained()
    assert len([m for m in stack.emails(to=booking.client.email) if m["subject"].startswith(REMINDER)]) == 1
