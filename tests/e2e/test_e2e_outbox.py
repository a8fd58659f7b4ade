"""The outbox on the local stack: an event a function wrote with its change but never put on the bus (it
died right after the write) is published by the sweeper, whose rate(1 minute) rule the stack fires."""

import datetime as dt
import json

import pytest
from e2e_support import Booking, Client

pytestmark = pytest.mark.e2e

# The sweeper fires a minute after the stack started and every minute after; allow one more for the way.
SWEEP_WAIT_SECONDS = 150


def test_an_event_left_in_the_outbox_is_published_by_the_sweeper(stack):
    booking = Booking(Client.unique(), start=(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).replace(
        second=0, microsecond=0))
    assert stack.post_webhook(booking.event("booking.created")).status == 202
    view = stack.wait_for_links(booking)
    stack.wait_for_emails(1, to=booking.client.email)

    # What the meetings function writes with a move, in the same transaction, and publishes right after.
    written = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=2)
    pk, sk = f"TENANT#{stack.tenant_id}", f"OUTBOX#booking#{booking.id}"
    notice_id = f"{stack.tenant_id}/{booking.id}/rescheduled/v9"
    detail = {"notice_id": notice_id, "tenant_id": stack.tenant_id, "booking_id": booking.id,
              "meeting_key": view["meeting"]["key"], "change": "rescheduled",
              "start": booking.start.isoformat(), "end": booking.end.isoformat(), "problem": None,
              "event_id": notice_id}
    table = stack.aws("dynamodb")
    table.put_item(TableName=stack.info["table_name"], Item={
        "pk": {"S": pk}, "sk": {"S": sk}, "gsi1pk": {"S": "OUTBOX"},
        "gsi1sk": {"S": f"{written:%Y-%m-%dT%H:%M:%S.%fZ}#{pk}#{sk}"}, "event_id": {"S": notice_id},
        "detail_type": {"S": "meeting.rescheduled"}, "detail": {"S": json.dumps(detail)},
        "written_at": {"S": f"{written:%Y-%m-%dT%H:%M:%S.%f}+0000"}})

    moved = stack.wait_for("the sweeper to publish the notice and the client to be emailed",
                           lambda: (lambda mails: mails[1:] or None)(stack.emails(to=booking.client.email)),
                           timeout=SWEEP_WAIT_SECONDS)
    assert len(moved) == 1
    # Deleted after the bus took it, which may be a moment after the email went out.
    stack.wait_for("the published entry to be deleted", lambda: "Item" not in table.get_item(
        TableName=stack.info["table_name"], Key={"pk": {"S": pk}, "sk": {"S": sk}}))
    health = stack.get("/_local/health").json()
    assert health["functions"]["OutboxSweeperFunction"]["invocations"] >= 1
