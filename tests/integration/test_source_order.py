"""A booking's changes apply in the source's order (booking.version, else occurred_at), whatever
the signature's time and whatever order they are delivered in."""

import json
import os
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from bookings import booking_event
from helpers import sign

from infra.local.scheduler import fire_time
from meetbridge.scheduling import schedule_name

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


def _post_signed_at(stack, body: dict, signed_at: int) -> None:
    raw = json.dumps(body).encode()
    assert stack.post(raw, signature=sign(stack.tenant.webhook_secret, raw, signed_at))[0] == 202
    stack.pump()


def _start_of(stack, booking_id: str = 'b1') -> datetime:
    view = stack.view(booking_id)[1]
    assert view['booking']['start'] == view['meeting']['start']
    return datetime.fromisoformat(view['booking']['start'])


def _schedule_instant(stack, meeting_key: str = 'booking:b1') -> datetime:
    schedule = boto3.client('scheduler').get_schedule(Name=schedule_name(stack.tenant.tenant_id, meeting_key),
                                                      GroupName=os.environ['SCHEDULE_GROUP'])
    return fire_time(schedule['ScheduleExpression'], schedule['ScheduleExpressionTimezone'])


def _order(kind: str, value: int) -> dict:
    """The same change ordered by a version, or by an occurred_at `value` milliseconds into the minute."""
    if kind == 'version':
        return {'version': value}
    return {'occurred_at': datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
            + timedelta(milliseconds=value)}


@pytest.mark.parametrize('kind', ['version', 'occurred_at'])
def test_an_older_change_retried_late_does_not_rewind_a_newer_one(stack, kind):
    stack.setup_online_service()
    created = booking_event(start=START, **_order(kind, 1))
    moved = booking_event('booking.rescheduled', start=START + timedelta(hours=2), **_order(kind, 2))
    now = int(time.time())

    _post_signed_at(stack, moved, now - 200)
    # The platform's first delivery of "created" failed; its retry is signed later than the reschedule.
    _post_signed_at(stack, created, now)

    assert _start_of(stack) == START + timedelta(hours=2)
    assert _schedule_instant(stack) == START + timedelta(hours=2) - timedelta(seconds=60)


@pytest.mark.parametrize('kind', ['version', 'occurred_at'])
@pytest.mark.parametrize('delivered', [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_changes_signed_in_the_same_second_apply_in_the_sources_order(stack, kind, delivered):
    stack.setup_online_service()
    changes = [booking_event(start=START, **_order(kind, 10))]
    changes += [booking_event('booking.rescheduled', start=START + timedelta(hours=h), **_order(kind, 10 + h))
                for h in (1, 2)]
    signed_at = int(time.time())

    for index in delivered:
        _post_signed_at(stack, changes[index], signed_at)

    assert _start_of(stack) == START + timedelta(hours=2)
    assert _schedule_instant(stack) == START + timedelta(hours=2) - timedelta(seconds=60)


def test_a_version_wins_over_occurred_at_and_unordered_changes_never_rewind_ordered_ones(stack):
    stack.setup_online_service()
    now = datetime.now(UTC)
    # A sender that does not order its changes: they apply in the order they are processed, as before.
    stack.book(booking_event(start=START))
    stack.book(booking_event('booking.rescheduled', start=START + timedelta(hours=1)))
    assert _start_of(stack) == START + timedelta(hours=1)

    # It starts sending versions: a versioned change applies over the unordered ones.
    stack.book(booking_event('booking.rescheduled', start=START + timedelta(hours=3), version=5,
                             occurred_at=now - timedelta(seconds=30)))
    assert _start_of(stack) == START + timedelta(hours=3)

    # A late change without any order, a lower version with a later occurred_at, and one with only an
    # earlier occurred_at are all older than what was applied.
    stack.book(booking_event('booking.rescheduled', start=START + timedelta(hours=4)))
    stack.book(booking_event('booking.rescheduled', start=START + timedelta(hours=5), version=4, occurred_at=now))
    stack.book(booking_event('booking.rescheduled', start=START + timedelta(hours=6),
                             occurred_at=now - timedelta(seconds=40)))
    assert _start_of(stack) == START + timedelta(hours=3)

    # A later occurred_at without a version, then a higher version, move it on.
    stack.book(booking_event('booking.rescheduled', start=START + timedelta(hours=7), occurred_at=now))
    assert _start_of(stack) == START + timedelta(hours=7)
    stack.book(booking_event('booking.rescheduled', start=START + timedelta(hours=8), version=6,
                             occurred_at=now - timedelta(minutes=5)))
    assert _start_of(stack) == START + timedelta(hours=8)
    assert _schedule_instant(stack) == START + timedelta(hours=8) - timedelta(seconds=60)


def test_a_cancel_older_than_the_applied_change_is_ignored_and_a_newer_one_is_final(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=START, version=3))

    stack.book(booking_event('booking.cancelled', start=START, version=2))
    assert stack.view('b1')[1]['booking']['status'] == 'active'

    stack.book(booking_event('booking.cancelled', start=START, version=4))
    stack.book(booking_event('booking.rescheduled', start=START + timedelta(hours=1), version=9))
    view = stack.view('b1')[1]
    assert view['booking']['status'] == 'cancelled' and view['meeting']['status'] == 'cancelled'
