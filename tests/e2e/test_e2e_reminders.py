"""Reminders on the local stack: the tenant's offsets, the reminder's schedule, and its firing onto the
notifications queue, which the notifications function takes."""

import datetime as dt
import json

import pytest
from e2e_support import Booking, Client, parse_at

pytestmark = pytest.mark.e2e

# The shortest offset; a reminder less than a minute away when the meeting is made is skipped, so the booking
# starts far enough ahead for its one-minute reminder to be more than a minute away.
OFFSET = "PT1M"
LEAD = dt.timedelta(seconds=140)


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


def test_a_reminder_is_put_on_the_notifications_queue_its_offset_before_the_start(stack, one_minute_reminders):
    booking = Booking(Client.unique(), start=(dt.datetime.now(dt.timezone.utc) + LEAD).replace(microsecond=0))
    resp = stack.post_webhook(booking.event("booking.created"))
    assert resp.status == 202, resp
    view = stack.wait_for_links(booking)
    meeting_key = view["meeting"]["key"]

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

    # It fires once, onto the notifications queue, and deletes itself; the notifications function takes the
    # notice without a failure (nothing is left on the queue or sent to its dead-letter queue).
    until_due = (booking.start - dt.timedelta(minutes=1) - dt.datetime.now(dt.timezone.utc)).total_seconds()
    stack.wait_for("the reminder to fire onto the notifications queue",
                   lambda: _fired_to_notifications(stack, schedule["Name"]), timeout=until_due + 30)
    stack.wait_for("the reminder's schedule to delete itself",
                   lambda: not stack.schedules_for(meeting_key, prefix="reminder-"))
    stack.wait_until_drained()
    dead = stack.aws("sqs").get_queue_attributes(QueueUrl=stack.info["resources"]["NotificationsDeadLetterQueue"],
                                                 AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert dead["ApproximateNumberOfMessages"] == "0"
