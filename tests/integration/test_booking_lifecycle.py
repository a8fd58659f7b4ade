"""A booking's meeting follows it through create, reschedule, payment and cancel."""

import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from bookings import booking_event
from integration_stack import sent_emails
from helpers import handler, join_event

from meetbridge.scheduling import schedule_name


def _schedule(stack, meeting_key: str) -> dict | None:
    scheduler = boto3.client('scheduler')
    try:
        return scheduler.get_schedule(Name=schedule_name(stack.tenant.tenant_id, meeting_key),
                                      GroupName=os.environ['SCHEDULE_GROUP'])
    except scheduler.exceptions.ResourceNotFoundException:
        return None


def _open(stack, url: str) -> dict:
    return handler('join')(join_event(url.rsplit('/', 1)[1], 'POST'), stack.context)  # the click


def _mail_to(address: str) -> list:
    return [m for m in sent_emails() if address in m.destinations['ToAddresses']]


def test_created_booking_gets_meeting_links_schedule_and_both_notifications(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)

    stack.book(booking_event(start=start))

    status, view = stack.view('b1')
    assert status == 200
    assert view['meeting']['status'] == 'scheduled'
    assert view['meeting']['provider'] == 'custom_link'
    assert view['meeting']['account_id'] == stack.admin('GET', 'accounts/default')[1]['id']
    client_link, provider_link = view['links']['clients']['c1'], view['links']['provider']
    assert client_link.startswith('https://meet.test/j/') and provider_link.startswith('https://meet.test/j/')
    assert client_link != provider_link

    schedule = _schedule(stack, 'booking:b1')
    fire_at = (start - timedelta(seconds=60)).strftime('%Y-%m-%dT%H:%M:%S')
    assert schedule['ScheduleExpression'] == f'at({fire_at})'
    assert schedule['ActionAfterCompletion'] == 'DELETE'
    assert json.loads(schedule['Target']['Input'])['meeting_key'] == 'booking:b1'

    [client_mail] = _mail_to('c1@example.org')
    [provider_mail] = _mail_to('dana@example.com')
    assert client_link in client_mail.body and provider_link not in client_mail.body
    assert provider_link in provider_mail.body
    # Each recipient reads the start in their own time zone, as English writes it (CLDR: 4:05 PM).
    for mail, zone in ((client_mail, 'America/New_York'), (provider_mail, 'Europe/Berlin')):
        local = start.astimezone(__import__('zoneinfo').ZoneInfo(zone))
        assert f"{local.strftime('%I').lstrip('0')}:{local.strftime('%M %p')}" in mail.body


def test_reschedule_moves_the_same_meeting_and_renotifies_with_the_same_links(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    stack.book(booking_event(start=start))
    before = stack.view('b1')[1]

    later = start + timedelta(days=1, hours=3)
    stack.book(booking_event('booking.rescheduled', start=later))

    after = stack.view('b1')[1]
    assert after['links'] == before['links']
    assert after['meeting']['start'].startswith(later.strftime('%Y-%m-%dT%H:%M'))
    fire_at = (later - timedelta(seconds=60)).strftime('%Y-%m-%dT%H:%M:%S')
    assert _schedule(stack, 'booking:b1')['ScheduleExpression'] == f'at({fire_at})'
    client_mails = _mail_to('c1@example.org')
    assert len(client_mails) == 2
    assert 'moved' in client_mails[1].subject and after['links']['clients']['c1'] in client_mails[1].body


def test_cancel_deletes_the_schedule_disables_links_and_notifies(stack):
    stack.setup_online_service()
    stack.book(booking_event())
    links = stack.view('b1')[1]['links']

    stack.book(booking_event('booking.cancelled'))

    view = stack.view('b1')[1]
    assert view['booking']['status'] == 'cancelled'
    assert view['meeting']['status'] == 'cancelled'
    assert _schedule(stack, 'booking:b1') is None
    for url in (links['clients']['c1'], links['provider']):
        page = _open(stack, url)
        assert page['statusCode'] == 410 and 'cancelled' in page['body']
    assert 'Cancelled' in _mail_to('c1@example.org')[-1].subject
    assert 'Cancelled' in _mail_to('dana@example.com')[-1].subject


def test_a_booking_for_a_service_that_is_not_online_creates_nothing(stack):
    stack.setup_online_service()
    assert stack.admin('PUT', 'services/inperson', {'name': 'Haircut'})[0] == 200  # not online unless it says so

    stack.book(booking_event(service_id='inperson'))
    stack.book(booking_event(service_id='unknown-service', booking_id='b2'))

    assert stack.view('b1')[0] == 404 and stack.view('b2')[0] == 404
    assert sent_emails() == []
    assert boto3.client('scheduler').list_schedules(GroupName=os.environ['SCHEDULE_GROUP'])['Schedules'] == []


def test_a_redelivered_queue_message_is_processed_once(stack):
    stack.setup_online_service()
    stack.post(booking_event())
    [record] = stack.cloud.queues['meetings'].receive()
    from helpers import sqs_event

    for _ in range(2):
        assert handler('meetings')(sqs_event([record]), stack.context) == {'batchItemFailures': []}
    stack.pump()

    assert len(_mail_to('c1@example.org')) == 1


def test_events_out_of_order_never_resurrect_or_rewind_a_booking(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    created = booking_event(start=start, version=1)
    moved = booking_event('booking.rescheduled', start=start + timedelta(hours=5), version=2)

    # The reschedule arrives first; the older "created", retried and so signed later, must not move it back.
    import time
    from helpers import sign
    raw = json.dumps(moved).encode()
    stack.post(raw, signature=sign(stack.tenant.webhook_secret, raw, int(time.time()) - 60))
    stack.pump()
    stack.post(created)
    stack.pump()
    assert stack.view('b1')[1]['meeting']['start'].startswith((start + timedelta(hours=5)).strftime('%Y-%m-%dT%H'))

    # A cancel of a booking never seen is remembered: its late "created" makes nothing.
    stack.book(booking_event('booking.cancelled', booking_id='b9'))
    stack.book(booking_event(booking_id='b9'))
    view = stack.view('b9')[1]
    assert view['booking']['status'] == 'cancelled' and view['meeting'] is None


def test_no_meeting_account_is_a_failure_the_admin_can_see(stack):
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200

    stack.book(booking_event())

    view = stack.view('b1')[1]
    assert view['meeting'] is None and view['links'] == {'provider': None, 'clients': {}}
    assert 'No meeting account' in view['booking']['problem']
    assert sent_emails() == []


def test_a_providers_own_account_hosts_their_bookings(stack):
    stack.setup_online_service()
    own = {'type': 'custom_link', 'url': 'https://rooms.example.net/dana'}
    assert stack.admin('PUT', 'providers/dana/account', own)[0] == 200

    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))

    view = stack.view('b1')[1]
    assert view['meeting']['account_id'] == stack.admin('GET', 'providers/dana/account')[1]['id']
    assert _open(stack, view['links']['clients']['c1'])['headers']['Location'] == 'https://rooms.example.net/dana'


def test_a_class_session_has_one_meeting_and_a_link_per_client(stack):
    stack.setup_online_service()
    assert stack.admin('PUT', 'services/yoga', {'name': 'Yoga class', 'online': True, 'kind': 'class'})[0] == 200
    start = datetime.now(UTC) - timedelta(minutes=5)
    for booking_id, client_id in (('b1', 'anna'), ('b2', 'ben')):
        stack.book(booking_event(booking_id=booking_id, client_id=client_id, session_id='yoga-mon',
                                 service_id='yoga', start=start))

    first, second = stack.view('b1')[1], stack.view('b2')[1]
    assert first['meeting']['key'] == second['meeting']['key'] == 'session:yoga-mon'
    assert first['links']['provider'] == second['links']['provider']
    anna, ben = first['links']['clients']['anna'], second['links']['clients']['ben']
    assert anna != ben
    assert _open(stack, anna)['statusCode'] == _open(stack, ben)['statusCode'] == 303

    # One client cancelling removes only that client.
    stack.book(booking_event('booking.cancelled', booking_id='b1', client_id='anna', session_id='yoga-mon',
                             service_id='yoga', start=start))
    assert _open(stack, anna)['statusCode'] == 410
    assert _open(stack, ben)['statusCode'] == 303
    assert stack.view('b2')[1]['meeting']['status'] != 'cancelled'

    # The last one out removes the meeting.
    stack.book(booking_event('booking.cancelled', booking_id='b2', client_id='ben', session_id='yoga-mon',
                             service_id='yoga', start=start))
    assert stack.view('b2')[1]['meeting']['status'] == 'cancelled'


@pytest.mark.parametrize('paid_first', [False, True])
def test_a_paid_booking_opens_only_once_payment_is_approved(stack, paid_first):
    stack.setup_online_service()
    start = datetime.now(UTC) - timedelta(minutes=1)
    unpaid = booking_event(start=start, payment={'required': True, 'status': 'pending'})
    paid = booking_event('booking.paid', start=start, payment={'required': True, 'status': 'paid'})
    for body in ([paid, unpaid] if paid_first else [unpaid]):
        stack.book(body)
    link = stack.view('b1')[1]['links']['clients']['c1']

    if not paid_first:
        page = _open(stack, link)
        assert page['statusCode'] == 402 and 'Payment' in page['body']
        stack.book(paid)

    assert _open(stack, link)['statusCode'] == 303
    assert stack.view('b1')[1]['booking']['payment'] == {'required': True, 'status': 'paid'}


def test_moving_a_booking_back_and_forth_notifies_every_time(stack):
    stack.setup_online_service()
    ten = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    eleven = ten + timedelta(hours=1)
    stack.book(booking_event(start=ten))
    for start in (eleven, ten, eleven):
        stack.book(booking_event('booking.rescheduled', start=start))

    assert len(_mail_to('c1@example.org')) == 4
