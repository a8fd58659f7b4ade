"""The "starting now" and reminder messages, and templates switched off.

A meeting's start (meeting.started from the bus) and its reminders (meeting.reminder, put on the
notifications queue by a one-time schedule) are told to the client of each active booking on the
meeting and to its provider, through the tenant's templates, once each, and only while the meeting
still starts at the time the notice is about."""

import json
from datetime import UTC, datetime, timedelta

import boto3
from bookings import booking_event
from helpers import handler, sqs_event
from integration_stack import sent_emails

from meetbridge.logic import starting
from meetbridge.store import repository

PROVIDER = 'dana@example.com'
CLASS_CLIENTS = ('anna', 'ben', 'cara')


def _book_class(stack, start: datetime) -> None:
    stack.setup_online_service()
    assert stack.admin('PUT', 'services/yoga', {'name': 'Yoga class', 'online': True, 'kind': 'class'})[0] == 200
    for number, client_id in enumerate(CLASS_CLIENTS, 1):
        stack.book(booking_event(booking_id=f'b{number}', client_id=client_id, session_id='yoga-mon',
                                 service_id='yoga', start=start))


def _start(stack, meeting_key: str = 'session:yoga-mon', by: str = 'schedule') -> None:
    """The meeting is marked started as its schedule (or a person) does: meeting.started goes to the bus."""
    meeting = repository.get_meeting(stack.tenant.tenant_id, meeting_key)
    assert starting.mark_started(stack.tenant.tenant_id, meeting, by, datetime.now(UTC))


def _emails(subject_start: str) -> dict[str, list[str]]:
    """The bodies of the emails whose subject starts so, by address."""
    found: dict[str, list[str]] = {}
    for message in sent_emails():
        if message.subject.startswith(subject_start):
            for address in message.destinations['ToAddresses']:
                found.setdefault(address, []).append(message.body)
    return found


def _links(stack, booking_id: str) -> dict:
    return stack.view(booking_id)[1]['links']


def _reminder(stack, start: datetime, meeting_key: str = 'session:yoga-mon', offset: str = 'PT1H') -> None:
    """A reminder as its schedule puts it on the notifications queue: in the bus's shape."""
    tenant_id = stack.tenant.tenant_id
    start_iso = start.astimezone(UTC).isoformat().replace('+00:00', 'Z')
    detail = {'notice_id': f'{tenant_id}/{meeting_key}/reminder/{offset}/{start_iso}', 'tenant_id': tenant_id,
              'meeting_key': meeting_key, 'change': 'reminder', 'start': start_iso, 'offset': offset}
    boto3.client('sqs').send_message(QueueUrl=stack.cloud.queues['notifications'].url, MessageBody=json.dumps(
        {'source': 'meetbridge', 'detail-type': 'meeting.reminder', 'detail': detail}))


def _failures(reports: dict) -> list:
    return [failure for report in reports['notifications'] for failure in report['batchItemFailures']]


def test_a_start_tells_only_the_provider_by_default_with_the_provider_link(stack):
    _book_class(stack, datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))

    _start(stack)
    assert _failures(stack.pump()) == []

    emails = _emails('Starting now')
    assert list(emails) == [PROVIDER] and len(emails[PROVIDER]) == 1
    assert _links(stack, 'b1')['provider'] in emails[PROVIDER][0]
    # The provider's message about a class names every client in it.
    assert all(f'Client {client_id}' in emails[PROVIDER][0] for client_id in CLASS_CLIENTS)


def test_with_starting_client_on_each_client_of_the_class_gets_one_with_their_own_link(stack):
    _book_class(stack, datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    status, template = stack.admin('PUT', 'templates/starting_client', {'enabled': True})
    assert status == 200 and template['enabled'] is True and template['default'] is True

    _start(stack)
    stack.pump()

    emails = _emails('Starting now')
    assert sorted(emails) == sorted([PROVIDER] + [f'{client_id}@example.org' for client_id in CLASS_CLIENTS])
    for number, client_id in enumerate(CLASS_CLIENTS, 1):
        [body] = emails[f'{client_id}@example.org']
        links = _links(stack, f'b{number}')
        assert links['clients'][client_id] in body and links['provider'] not in body


def test_a_cancelled_client_is_not_told_and_the_others_are(stack):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    _book_class(stack, start)
    stack.admin('PUT', 'templates/starting_client', {'enabled': True})
    stack.book(booking_event('booking.cancelled', booking_id='b2', client_id='ben', session_id='yoga-mon',
                             service_id='yoga', start=start))

    _start(stack)
    stack.pump()

    assert sorted(_emails('Starting now')) == ['anna@example.org', 'cara@example.org', PROVIDER]


def test_a_switched_off_provider_template_sends_nothing(stack):
    _book_class(stack, datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    assert stack.admin('PUT', 'templates/starting_provider', {'enabled': False})[0] == 200

    _start(stack)
    assert _failures(stack.pump()) == []

    assert _emails('Starting now') == {}


def test_a_provider_who_started_the_meeting_is_not_told_but_the_clients_are(stack):
    _book_class(stack, datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5))
    stack.admin('PUT', 'templates/starting_client', {'enabled': True})

    _start(stack, by='provider')
    stack.pump()

    assert sorted(_emails('Starting now')) == sorted(f'{client_id}@example.org' for client_id in CLASS_CLIENTS)


def test_a_start_cancelled_or_moved_before_its_notice_is_read_tells_nobody(stack):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.setup_online_service()
    for booking_id in ('b1', 'b2'):
        stack.book(booking_event(booking_id=booking_id, client_id=f'c-{booking_id}', start=start))

    _start(stack, 'booking:b1')
    _start(stack, 'booking:b2')
    stack.post(booking_event('booking.cancelled', booking_id='b1', client_id='c-b1', start=start))
    stack.post(booking_event('booking.rescheduled', booking_id='b2', client_id='c-b2',
                             start=start + timedelta(days=1)))
    assert _failures(stack.pump()) == []

    assert _emails('Starting now') == {}
    assert stack.view('b2')[1]['meeting']['status'] == 'scheduled'


def test_a_redelivered_start_sends_nothing_twice(stack):
    _book_class(stack, datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    stack.admin('PUT', 'templates/starting_client', {'enabled': True})
    _start(stack)
    records = stack.cloud.queues['notifications'].receive()

    for _ in range(2):
        assert handler('notifications')(sqs_event(records), stack.context) == {'batchItemFailures': []}

    emails = _emails('Starting now')
    assert len(emails) == 4 and all(len(bodies) == 1 for bodies in emails.values())


def test_a_reminder_tells_every_client_and_the_provider_once_with_their_links(stack):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    _book_class(stack, start)

    _reminder(stack, start)
    _reminder(stack, start)  # the schedule delivered twice
    assert _failures(stack.pump()) == []

    emails = _emails('Reminder')
    assert sorted(emails) == sorted([PROVIDER] + [f'{client_id}@example.org' for client_id in CLASS_CLIENTS])
    assert all(len(bodies) == 1 for bodies in emails.values())
    assert _links(stack, 'b1')['provider'] in emails[PROVIDER][0]
    assert _links(stack, 'b3')['clients']['cara'] in emails['cara@example.org'][0]
    assert _links(stack, 'b3')['provider'] not in emails['cara@example.org'][0]


def test_each_offset_is_its_own_reminder(stack):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    _book_class(stack, start)

    _reminder(stack, start, offset='PT24H')
    _reminder(stack, start, offset='PT1H')
    stack.pump()

    assert len(_emails('Reminder')[PROVIDER]) == 2


def test_a_stale_reminder_sends_nothing(stack):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    stack.setup_online_service()
    stack.book(booking_event(booking_id='b1', client_id='moved', start=start))
    stack.book(booking_event('booking.rescheduled', booking_id='b1', client_id='moved', start=start + timedelta(hours=3)))
    stack.book(booking_event(booking_id='b2', client_id='gone', start=start))
    stack.book(booking_event('booking.cancelled', booking_id='b2', client_id='gone', start=start))
    stack.book(booking_event(booking_id='b3', client_id='late', start=start - timedelta(hours=1, minutes=30)))

    _reminder(stack, start, 'booking:b1')  # set for the start before the reschedule
    _reminder(stack, start, 'booking:b2')  # the booking was cancelled
    _reminder(stack, start - timedelta(hours=1, minutes=30), 'booking:b3')  # its start has passed
    _reminder(stack, start, 'booking:never-booked')  # no such meeting
    assert _failures(stack.pump()) == []

    assert _emails('Reminder') == {}


def test_a_switched_off_template_sends_nothing_for_a_booking_change_too(stack):
    stack.setup_online_service()
    assert stack.admin('PUT', 'templates/client_created', {'enabled': False})[0] == 200

    stack.book(booking_event())

    created = [message for message in sent_emails() if message.subject.startswith('Your online meeting')
               or message.subject.startswith('New online booking')]
    assert [message.destinations['ToAddresses'] for message in created] == [[PROVIDER]]


def test_enabled_is_switched_without_touching_the_text_and_kept_when_the_text_changes(stack):
    status, template = stack.admin('GET', 'templates/starting_client')
    assert status == 200 and template['enabled'] is False and template['default'] is True

    status, template = stack.admin('PUT', 'templates/reminder_provider', {'enabled': False})
    assert status == 200 and template['enabled'] is False and template['default'] is True
    assert template['subject'].startswith('Reminder: ')

    text = {'subject': 'Soon: [service_name]', 'body': '<p>[online_meeting_provider_link]</p>'}
    status, template = stack.admin('PUT', 'templates/reminder_provider', text)
    assert status == 200 and template['enabled'] is False and template['default'] is False
    assert stack.admin('GET', 'templates/reminder_provider')[1] == template

    status, template = stack.admin('PUT', 'templates/reminder_provider', {'enabled': True})
    assert status == 200 and template['enabled'] is True and template['subject'] == 'Soon: [service_name]'


def test_a_put_must_change_something_and_give_the_whole_text(stack):
    for body, field in (({}, None), ({'subject': 'Only a subject'}, 'body'), ({'body': '<p>x</p>', 'enabled': True},
                                                                               'subject')):
        status, answer = stack.admin('PUT', 'templates/starting_provider', body)
        assert status == 400 and answer['error'] == 'invalid_request' and answer['field'] == field
    status, answer = stack.admin('PUT', 'templates/starting_client', {'enabled': 'yes please'})
    assert status == 400
    status, answer = stack.admin('PUT', 'templates/starting_client',
                                 {'subject': 'x', 'body': '[online_meeting_provider_link]'})
    assert status == 400 and answer['field'] == 'body'
    assert stack.admin('GET', 'templates/starting_provider')[1]['default'] is True
