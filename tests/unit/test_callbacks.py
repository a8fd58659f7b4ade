from datetime import UTC, datetime, timedelta

import pytest
from helpers import TEMPLATE

from infra.local import iam
from meetbridge.logic import callbacks
from meetbridge.security.signatures import SignatureError, verify_timestamped
from meetbridge.store.models import BookingItem, ClientMap, MeetingItem

AT = datetime(2026, 3, 9, 9, 30, 12, tzinfo=UTC)
RAW = b'{"type":"meeting.started","event_id":"cb-1"}'


def test_a_signature_carries_one_v1_per_secret_the_new_one_first():
    header = callbacks.signature([b'cbsec_new', b'cbsec_old'], 1_800_000_000, RAW)
    timestamp, new, old = header.split(',')
    assert timestamp == 't=1800000000' and new.startswith('v1=') and old.startswith('v1=') and new != old
    for secret in (b'cbsec_new', b'cbsec_old'):
        assert verify_timestamped([secret], header, RAW, 1_800_000_010, 300) == 1_800_000_000
    with pytest.raises(SignatureError):
        verify_timestamped([b'cbsec_other'], header, RAW, 1_800_000_010, 300)
    with pytest.raises(SignatureError):  # the body as signed, byte for byte
        verify_timestamped([b'cbsec_new'], header, RAW + b' ', 1_800_000_010, 300)
    # One secret: the alert webhook's header exactly.
    assert callbacks.signature([b'cbsec_new'], 1_800_000_000, RAW) == f'{timestamp},{new}'


def test_the_retries_span_24_hours_before_the_dead_letter_queue():
    delays = [callbacks.retry_delay(count) for count in range(1, callbacks.MAX_RECEIVES)]
    assert delays[:3] == [30, 60, 120] and max(delays) == 3600
    assert timedelta(seconds=sum(delays)) >= callbacks.RETRY_SPAN
    assert timedelta(seconds=sum(delays[:-1])) < callbacks.RETRY_SPAN  # no receive more than it takes
    assert timedelta(seconds=sum(delays)) == timedelta(hours=24, minutes=3, seconds=30)  # as the docs say
    queue = iam.sam_template(TEMPLATE)['Resources']['CallbacksQueue']['Properties']
    assert queue['RedrivePolicy']['maxReceiveCount'] == callbacks.MAX_RECEIVES
    # Every receive happens while the message is kept, the last one's delay included.
    assert queue['MessageRetentionPeriod'] > sum(delays) + callbacks.LONGEST_RETRY_SECONDS


def _booking(booking_id: str = 'b1', source: str = 'generic', status: str = 'active') -> BookingItem:
    return BookingItem('TENANT#t1', f'BOOKING#{booking_id}', booking_id=booking_id, source=source, service_id='svc',
                       provider_id='dana', start=AT, end=AT + timedelta(minutes=45), timezone='Europe/Berlin',
                       client=ClientMap(id='c1', name='C', email='c@example.org'), status=status,
                       meeting_key=f'booking:{booking_id}', version=3, updated_at=AT)


def _meeting(status: str = 'scheduled') -> MeetingItem:
    return MeetingItem('TENANT#t1', 'MEETING#booking:b1', meeting_key='booking:b1', service_id='svc',
                       provider_id='dana', provider_type='zoom', start=AT, end=AT + timedelta(minutes=45),
                       timezone='Europe/Berlin', status=status, updated_at=AT)


def test_a_body_names_the_booking_its_version_and_the_meeting():
    body = callbacks.body_of('t1', 'meeting.cancelled', 'cb-x', AT, _booking(status='cancelled'), _meeting('cancelled'),
                            {})
    assert body == {
        'type': 'meeting.cancelled', 'event_id': 'cb-x', 'tenant_id': 't1', 'occurred_at': '2026-03-09T09:30:12Z',
        'booking': {'id': 'b1', 'version': 3, 'source': 'generic', 'external_id': None,
                    'start': '2026-03-09T09:30:12Z', 'end': '2026-03-09T10:15:12Z', 'timezone': 'Europe/Berlin',
                    'status': 'cancelled'},
        'meeting': {'status': 'cancelled', 'provider_type': 'zoom'},
        'links': None,
    }


def test_a_platform_booking_carries_its_platform_id_and_a_booking_without_a_meeting_none():
    body = callbacks.body_of('t1', 'meeting.failed', 'cb-x', AT, _booking('calcom:Zt6yH1', 'calcom'), None, {})
    assert body['booking']['external_id'] == 'Zt6yH1' and body['meeting'] is None and body['links'] is None


def test_only_scheduled_and_rescheduled_carry_the_links():
    for event_type in callbacks.EVENT_TYPES:
        body = callbacks.body_of('t1', event_type, 'cb-x', AT, _booking(), _meeting(), {})
        # No link was minted for these items: the keys are there, empty.
        expected = {'provider': None, 'client': None} if event_type in callbacks.WITH_LINKS else None
        assert body['links'] == expected, event_type


def test_a_body_says_what_its_event_announced_not_what_the_booking_became_since():
    """A meeting.scheduled handled after the cancellation: the version, times and status of the scheduling."""
    moved = AT + timedelta(days=1)
    detail = {'booking_id': 'b1', 'version': 1, 'start': AT.isoformat(),
              'end': (AT + timedelta(minutes=45)).isoformat()}
    cancelled = _booking(status='cancelled')
    cancelled.start, cancelled.end = moved, moved + timedelta(minutes=45)
    body = callbacks.body_of('t1', 'meeting.scheduled', 'cb-x', AT, cancelled, _meeting('cancelled'), detail)
    assert body['booking'] == {
        'id': 'b1', 'version': 1, 'source': 'generic', 'external_id': None, 'start': '2026-03-09T09:30:12Z',
        'end': '2026-03-09T10:15:12Z', 'timezone': 'Europe/Berlin', 'status': 'active'}
    assert body['links'] is None  # a cancelled booking's links are never handed out
    # Another booking's detail (a class session's event) is not taken for this booking's.
    other = callbacks.body_of('t1', 'meeting.started', 'cb-x', AT, _booking(), _meeting(), {**detail, 'booking_id': 'b2'})
    assert other['booking']['version'] == 3 and other['booking']['status'] == 'active'


def test_a_delivery_id_is_the_same_for_one_event_and_booking_whenever_it_is_published():
    first = callbacks.delivery_id('t1', 'evt-1', 'b1')
    assert first == callbacks.delivery_id('t1', 'evt-1', 'b1')
    assert len({first, callbacks.delivery_id('t1', 'evt-1', 'b2'), callbacks.delivery_id('t1', 'evt-2', 'b1'),
                callbacks.delivery_id('t2', 'evt-1', 'b1')}) == 4
    assert first.startswith('cb-') and len(first) == 35


def test_the_callbacks_are_posted_at_most_ten_at_once():
    function = iam.sam_template(TEMPLATE)['Resources']['CallbacksFunction']['Properties']
    assert function['Events']['Callbacks']['Properties']['ScalingConfig'] == {'MaximumConcurrency': 10}
