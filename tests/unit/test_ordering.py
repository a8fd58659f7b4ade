"""The source's order of a booking's changes: version, else occurred_at; never signing or arrival."""

import itertools
from datetime import UTC, datetime, timedelta

from meetbridge.domain.model import Booking, BookingEvent
from meetbridge.domain.ordering import SourceOrder, change_digest, is_older, merged

from .payloads import booking_payload

T0 = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)


def event(kind='booking.rescheduled', version=None, occurred_at=None, start='2030-05-04T09:00:00+02:00'):
    end = (datetime.fromisoformat(start) + timedelta(minutes=30)).isoformat()
    booking = Booking.model_validate(booking_payload(version=version, start=start, end=end))
    return BookingEvent(tenant_id='t1', source='generic', event_id=f'e-{kind}-{version}-{start}', type=kind,
                        occurred_at=occurred_at, booking=booking)


def final_start(events):
    """Applies the events in the given order as the meetings function does; returns the winner's start."""
    applied, start = None, None
    for change in events:
        if applied is None or not is_older(change.order, applied):
            applied = change.order if applied is None else merged(applied, change.order)
            start = change.booking.start
    return start


def test_a_higher_version_wins_whatever_the_times_say():
    newer = event(version=3, occurred_at=T0, start='2030-05-04T11:00:00+02:00')
    older = event(version=2, occurred_at=T0 + timedelta(hours=1))

    assert is_older(older.order, newer.order) and not is_older(newer.order, older.order)


def test_without_versions_occurred_at_orders_to_the_microsecond():
    first = event(occurred_at=T0)
    second = event(occurred_at=T0 + timedelta(microseconds=1), start='2030-05-04T10:00:00+02:00')

    assert is_older(first.order, second.order) and not is_older(second.order, first.order)


def test_every_delivery_order_ends_on_the_sources_newest_change():
    changes = [event(version=v, start=f'2030-05-04T{9 + v:02d}:00:00+02:00') for v in range(1, 5)]
    timed = [event(occurred_at=T0 + timedelta(milliseconds=v), start=f'2030-05-04T{9 + v:02d}:00:00+02:00')
             for v in range(1, 5)]

    for series in (changes, timed):
        assert {final_start(order) for order in itertools.permutations(series)} == {series[-1].booking.start}


def test_different_changes_that_tie_settle_the_same_way_in_either_order():
    moved_a = event(version=5, start='2030-05-04T10:00:00+02:00')
    moved_b = event(version=5, start='2030-05-04T12:00:00+02:00')
    cancel = event('booking.cancelled', version=5)

    assert final_start([moved_a, moved_b]) == final_start([moved_b, moved_a])
    # A cancel ranks above any other change of the same version.
    assert is_older(moved_a.order, cancel.order) and not is_older(cancel.order, moved_a.order)
    same_time = [event(occurred_at=T0, start='2030-05-04T10:00:00+02:00'), event(occurred_at=T0)]
    assert final_start(same_time) == final_start(same_time[::-1])


def test_the_same_change_again_is_applied_again():
    change = event(version=4, occurred_at=T0)

    assert not is_older(change.order, change.order)
    assert not is_older(event(occurred_at=T0).order, event(occurred_at=T0).order)


def test_a_change_without_any_order_never_rewinds_an_ordered_one():
    ordered = event(version=1).order
    unordered = event().order

    assert is_older(unordered, ordered)
    assert not is_older(ordered, unordered)  # a sender that starts ordering its changes
    assert not is_older(unordered, unordered)  # senders that never order: the last processed wins
    assert not is_older(unordered, SourceOrder(None, None, None))  # a booking stored before changes had an order


def test_versioned_and_unversioned_changes_mix_by_what_both_carry():
    applied = merged(merged(event(version=2).order, event(occurred_at=T0).order),
                     event(occurred_at=T0 + timedelta(seconds=5)).order)

    assert applied.version == 2 and applied.occurred_at == T0 + timedelta(seconds=5)
    assert is_older(event(occurred_at=T0 + timedelta(seconds=1)).order, applied)
    assert not is_older(event(occurred_at=T0 + timedelta(seconds=6)).order, applied)
    assert is_older(event(version=1, occurred_at=T0 + timedelta(days=1)).order, applied)  # version decides
    assert not is_older(event(version=3).order, applied)


def test_the_digest_ranks_the_type_then_the_content():
    booking = booking_payload()

    assert change_digest('booking.created', booking) < change_digest('booking.rescheduled', booking)
    assert change_digest('booking.paid', booking) < change_digest('booking.cancelled', booking)
    assert change_digest('booking.paid', booking) == change_digest('booking.paid', dict(reversed(booking.items())))
