"""Kiosk bookings (`booking.channel: "kiosk"`): no meeting, no link, no announcement, a problem that is no failure,
through a reschedule and a cancel; against moto and the Zoom sandbox."""

import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from bookings import booking_event
from integration_stack import Queue, connect_zoom, sent_emails

from meetbridge.logic.bookings import KIOSK
from meetbridge.store.models import BookingItem

# What a booking announces: the clients' and providers' notices and the admin's alerts all follow these.
ANNOUNCEMENTS = ['meeting.scheduled', 'meeting.rescheduled', 'meeting.cancelled', 'meeting.failed', 'booking.problem']


@pytest.fixture
def announced(cloud) -> Queue:
    """Every announcement of a booking as the bus carries it: a queue of its own behind a rule."""
    sqs, bus = boto3.client('sqs'), os.environ['EVENT_BUS_NAME']
    url = sqs.create_queue(QueueName='announced')['QueueUrl']
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
    events = boto3.client('events')
    events.put_rule(Name='announced', EventBusName=bus, EventPattern=json.dumps(
        {'source': ['meetbridge'], 'detail-type': ANNOUNCEMENTS}))
    events.put_targets(Rule='announced', EventBusName=bus, Targets=[{'Id': 'announced', 'Arn': arn}])
    return Queue(url, arn)


def kiosk_event(kind: str = 'booking.created', **changes) -> dict:
    event = booking_event(kind, **changes)
    event['booking']['channel'] = 'kiosk'
    return event


def _online_service(stack) -> None:
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
    assert stack.admin('PUT', 'providers/dana', {'name': 'Dana Doe', 'email': 'dana@example.com'})[0] == 200


def _announced(queue: Queue) -> list[str]:
    return [json.loads(record['body'])['detail-type'] for record in queue.receive()]


def _assert_kiosk_view(stack, booking_id: str, status: str = 'active') -> dict:
    code, view = stack.view(booking_id)
    assert code == 200, view
    booking = view['booking']
    assert (booking['channel'], booking['problem'], booking['status']) == ('kiosk', KIOSK, status)
    assert view['meeting'] is None and view['links'] == {'provider': None, 'clients': {}}
    return booking


def test_a_kiosk_booking_gets_no_meeting_and_is_no_failure_through_a_reschedule_and_a_cancel(stack, zoom, announced):
    _online_service(stack)
    connect_zoom(stack, zoom)
    stack.pump()
    zoom.reset_calls()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)

    stack.book(kiosk_event(start=start, version=1))

    assert zoom.meetings == {} and zoom.calls() == []
    booking = _assert_kiosk_view(stack, 'b1')
    assert booking['start'] == start.isoformat().replace('+00:00', 'Z')
    item = BookingItem.get(*BookingItem.key(stack.tenant.tenant_id, 'b1'))
    assert item.channel == 'kiosk' and item.gsi1pk is None and item.gsi1sk is None and item.client_link_sealed is None
    assert _announced(announced) == [] and sent_emails() == []

    # The platform's reschedule need not repeat the channel: the booking stays a kiosk booking.
    moved = start + timedelta(days=1)
    stack.book(booking_event('booking.rescheduled', start=moved, version=2))

    booking = _assert_kiosk_view(stack, 'b1')
    assert booking['start'] == moved.isoformat().replace('+00:00', 'Z')
    assert zoom.meetings == {} and zoom.calls() == []
    assert BookingItem.get(*BookingItem.key(stack.tenant.tenant_id, 'b1')).gsi1pk is None
    assert _announced(announced) == [] and sent_emails() == []

    stack.book(booking_event('booking.cancelled', start=moved, version=3))

    _assert_kiosk_view(stack, 'b1', status='cancelled')
    assert zoom.calls() == [] and _announced(announced) == [] and sent_emails() == []


def test_connecting_an_account_applies_failed_bookings_again_but_not_kiosk_ones(stack, zoom, account_events):
    _online_service(stack)
    stack.book(kiosk_event(booking_id='kiosk-1', client_id='k1'))
    stack.book(booking_event(booking_id='web-1', client_id='w1'))
    tenant_id = stack.tenant.tenant_id
    failed = BookingItem.get(*BookingItem.key(tenant_id, 'web-1'))
    assert failed.problem.startswith('No meeting account') and failed.gsi1pk == f'FAILED#{tenant_id}'
    assert BookingItem.get(*BookingItem.key(tenant_id, 'kiosk-1')).gsi1pk is None

    connect_zoom(stack, zoom)
    stack.pump()  # its connection.connected: the failed booking is applied again

    assert len(zoom.meetings) == 1
    web = stack.view('web-1')[1]
    assert web['booking']['problem'] is None and web['meeting']['status'] == 'scheduled'
    _assert_kiosk_view(stack, 'kiosk-1')
    told = {destination for email in sent_emails() for destination in email.destinations['ToAddresses']}
    assert 'w1@example.org' in told and 'k1@example.org' not in told


def test_a_kiosk_booking_of_a_class_session_never_shows_the_sessions_meeting(stack, zoom):
    _online_service(stack)
    connect_zoom(stack, zoom)
    stack.pump()
    stack.book(booking_event(booking_id='web-1', client_id='w1', session_id='yoga-1'))
    session_meeting = stack.view('web-1')[1]['meeting']
    assert session_meeting['key'] == 'session:yoga-1'

    stack.book(kiosk_event(booking_id='kiosk-1', client_id='k1', session_id='yoga-1'))

    assert _assert_kiosk_view(stack, 'kiosk-1')['session_id'] == 'yoga-1'
    assert len(zoom.meetings) == 1
    assert stack.view('web-1')[1]['meeting'] == session_meeting  # the others' meeting is untouched
    # Whether a booking was made at a kiosk is settled by its first event: a later one saying so changes nothing.
    stack.book(kiosk_event('booking.rescheduled', booking_id='web-1', client_id='w1', session_id='yoga-1'))
    web = stack.view('web-1')[1]
    assert web['booking']['channel'] is None and web['booking']['problem'] is None
    assert web['meeting']['key'] == 'session:yoga-1' and len(zoom.meetings) == 1


def test_a_kiosk_booking_of_a_service_that_is_not_online_is_ignored_as_any_other(stack):
    assert stack.admin('PUT', 'services/svc', {'name': 'Haircut', 'online': False})[0] == 200

    stack.book(kiosk_event())

    assert stack.view('b1')[0] == 404
    assert BookingItem.count(hash_key=f'TENANT#{stack.tenant.tenant_id}',
                             range_key_condition=BookingItem.sk.startswith('BOOKING#')) == 0
