"""Notifications by email and SMS, in the client's language, with the links hidden where the business wants,
each message sent once however often its notice is delivered, and nothing lost when SES or SNS is down for
hours: retried, then kept rendered and sealed on the dead-letter queue until a replay sends it as written."""

import contextlib
import importlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from bookings import booking_event
from botocore.awsrequest import AWSResponse
from helpers import handler, sqs_event
from integration_stack import sent_emails

from infra.local import outbox
from meetbridge import aws
from meetbridge.logic import dead_letters, notices
from meetbridge.notify import defaults, render

PHONE = '+447700900123'
# A start in the winter, seen from Paris (UTC+01:00): 10:30 there.
START = datetime(2027, 3, 9, 9, 30, tzinfo=UTC)


@pytest.fixture
def stack(stack):
    stack.setup_online_service()
    return stack


def sent_sms() -> list[tuple[str, str]]:
    from moto.sns.models import sns_backends

    return list(sns_backends['123456789012']['us-east-1'].sms_messages.values())


def created(booking_id: str = 'b1', client: dict | None = None, start: datetime = START, **more) -> dict:
    """A booking of client `client['id']` (c1 unless given), at <id>@example.org, in Paris."""
    client = client or {}
    event = booking_event(booking_id=booking_id, start=start, client_id=client.get('id', 'c1'), **more)
    event['booking']['client'].update({'timezone': 'Europe/Paris', **client})
    return event


def notify(stack, event: dict) -> list[dict]:
    """Applies the booking event and returns the notices it queued, not yet handled."""
    assert stack.post(event)[0] == 202
    [record] = stack.cloud.queues['meetings'].receive()
    assert handler('meetings')(sqs_event([record]), stack.context) == {'batchItemFailures': []}
    return stack.cloud.queues['notifications'].receive()


def settings(stack, **values) -> None:
    status, body = stack.admin('PUT', 'settings/notifications', values)
    assert status == 200, body


def client_email(address: str = 'c1@example.org'):
    return [message for message in sent_emails() if address in message.destinations['ToAddresses']]


@contextlib.contextmanager
def refusing(service: str, operation: str, code: str, status: int) -> Iterator[list[str]]:
    """Every `operation` call in the block is answered with an error `code` after the role allowed it."""
    client = aws.client(service)
    event = f'before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}'
    refused = []

    def refuse(**_) -> tuple:
        refused.append(code)
        error = {'Error': {'Code': code, 'Message': 'refused by the test'}, 'ResponseMetadata': {'HTTPStatusCode': status}}
        return AWSResponse(url='', status_code=status, headers={}, raw=None), error

    client.meta.events.register(event, refuse)
    try:
        yield refused
    finally:
        client.meta.events.unregister(event, refuse)


def test_a_client_with_a_number_gets_an_sms_beside_the_email_once_the_tenant_sends_sms(stack):
    assert stack.admin('GET', 'settings/notifications')[1]['sms'] is False
    stack.book(created('b0', {'phone': PHONE}))
    assert sent_sms() == []  # SMS is off until the tenant switches it on
    settings(stack, sms=True)
    stack.book(created('b1', {'id': 'c2', 'phone': PHONE}))
    [(number, text)] = sent_sms()
    link = stack.view('b1')[1]['links']['clients']['c2']
    assert number == PHONE and link in text and '<' not in text
    assert client_email(address='c2@example.org')


def test_redelivered_notices_send_each_message_once_on_each_channel(stack):
    settings(stack, sms=True)
    records = notify(stack, created(client={'phone': PHONE}))
    for _ in range(3):
        assert handler('notifications')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    assert len(sent_sms()) == 1
    assert len(client_email()) == 1
    assert len([m for m in sent_emails() if 'dana@example.com' in m.destinations['ToAddresses']]) == 1


def test_a_french_client_gets_the_builtin_french_when_the_tenant_customised_only_english(stack):
    assert stack.admin('PUT', 'templates/client_created', {'subject': 'Booked: [service_name]',
                                                           'body': '<p>Booked for [start_time]</p>'})[0] == 200
    settings(stack, sms=True)
    stack.book(created(client={'locale': 'fr-FR', 'phone': PHONE}))
    [email] = client_email()
    french_subject = defaults.builtin('client_created', 'email', 'fr')[0]
    assert email.subject != 'Booked: Consultation'
    assert email.subject.split(' ')[0] == french_subject.split(' ')[0]
    assert 'mars' in email.body and '10:30' in email.body  # CLDR French, in the client's zone
    [(_, text)] = sent_sms()
    assert 'mars' in text or '09/03' in text or '9 mars' in text
    # An English client of the same tenant gets the tenant's own English text.
    stack.book(created('b2', {'id': 'c3', 'locale': 'en-GB'}))
    [english] = client_email(address='c3@example.org')
    assert english.subject == 'Booked: Consultation'


def test_the_provider_is_written_to_in_the_tenants_default_language(stack):
    settings(stack, default_locale='da')
    stack.book(created(client={'locale': 'uk'}))
    [provider] = [m for m in sent_emails() if 'dana@example.com' in m.destinations['ToAddresses']]
    danish_subject = render.render(*defaults.builtin('provider_created', 'email', 'da'), {
        'service_name': 'Consultation', 'client_name': 'Client c1', 'start_date': '', 'company_name': 'Acme Clinic'})[0]
    assert provider.subject.split(' ')[0] == danish_subject.split(' ')[0]
    [client] = client_email()
    assert client.subject.split(' ')[0] == defaults.builtin('client_created', 'email', 'uk')[0].split(' ')[0]


@pytest.mark.parametrize('change', ['created', 'rescheduled', 'reminder', 'starting', 'details_changed'])
def test_hidden_links_never_reach_a_client_message_and_the_provider_keeps_theirs(stack, change):
    settings(stack, sms=True, links_in_messages=False, hidden_link_text='Find your link under My bookings.')
    for channel in ('email', 'sms'):  # each channel's switch is its own
        assert stack.admin('PUT', 'templates/starting_client', {'enabled': True}, query={'channel': channel})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    stack.book(created(client={'phone': PHONE}, start=start))
    booking = stack.view('b1')[1]
    client_link, provider_link = booking['links']['clients']['c1'], booking['links']['provider']
    messages = _messages_of(stack, change, start)
    client_messages = [m for m in messages if m.recipient.startswith('client:')]
    assert {m.channel for m in client_messages} == {'email', 'sms'}, change
    for message in client_messages:
        assert client_link not in message.body and '/j/' not in message.body, (change, message.channel)
        assert 'Find your link under My bookings.' in message.body
    for message in messages:
        if message.recipient == 'provider':
            assert provider_link in message.body


def _messages_of(stack, change: str, start: datetime) -> list[notices.Message]:
    tenant_id = stack.tenant.tenant_id
    key = _meeting_key(tenant_id)
    if change in ('created', 'rescheduled'):
        notice = {'notice_id': f'{tenant_id}/b1/{change}/test', 'tenant_id': tenant_id, 'booking_id': 'b1',
                  'change': change, 'meeting_key': key}
        return notices.compose(notice)
    if change == 'starting':
        from meetbridge.store.models import MeetingItem
        from meetbridge.store.repository import find

        meeting = find(MeetingItem, MeetingItem.key(tenant_id, key))
        meeting.update(actions=[MeetingItem.status.set('started')])
        now = start + timedelta(minutes=1)
    else:
        now = start - timedelta(hours=1)
    notice = {'notice_id': f'{tenant_id}/{key}/{change}/test', 'tenant_id': tenant_id, 'meeting_key': key,
              'change': change, 'start': start.isoformat()}
    return notices.compose(notice, now)


def _meeting_key(tenant_id: str) -> str:
    from meetbridge.store.models import BookingItem
    from meetbridge.store.repository import find

    return find(BookingItem, BookingItem.key(tenant_id, 'b1')).meeting_key


def test_a_service_shows_its_links_when_the_tenant_hides_them_and_the_other_way_round(stack):
    settings(stack, links_in_messages=False)
    assert stack.admin('PUT', 'services/open', {'name': 'Open day', 'online': True, 'links_in_messages': True})[0] == 200
    stack.book(created('b1', service_id='open'))
    stack.book(created('b2', {'id': 'c2'}))
    shown = stack.view('b1')[1]['links']['clients']['c1']
    [open_day] = client_email()
    assert shown in open_day.body
    [hidden] = client_email(address='c2@example.org')
    assert '/j/' not in hidden.body
    assert defaults.hidden_link_text('en') in hidden.body


def test_a_tenant_link_around_a_hidden_link_becomes_plain_text(stack):
    settings(stack, links_in_messages=False, hidden_link_text="Votre lien : l'espace client")
    assert stack.admin('PUT', 'templates/client_created', {
        'subject': 'Booked', 'body': '<p><a href="[online_meeting_link]">Join</a></p>'})[0] == 200
    stack.book(created())
    [email] = client_email()
    assert '<a' not in email.body and 'l&#39;espace client' in email.body


def test_a_provider_outage_is_retried_then_kept_rendered_and_replayed_once(stack):
    settings(stack, sms=True)
    records = notify(stack, created(client={'phone': PHONE}))
    with refusing('ses', 'SendEmail', 'ServiceUnavailable', 503):
        report = handler('notifications')(sqs_event(records), stack.context)
        assert [failure['itemIdentifier'] for failure in report['batchItemFailures']] == [records[0]['messageId']]
        assert len(sent_sms()) == 1  # the SMS went out; only the emails wait
        # The last receive: the unsent emails are kept on the dead-letter queue, the notice is done.
        last = [{**record, 'attributes': {**record['attributes'],
                                           'ApproximateReceiveCount': str(notices.NOTIFICATIONS_QUEUE_RECEIVES)}}
                for record in records]
        assert handler('notifications')(sqs_event(last), stack.context) == {'batchItemFailures': []}
    assert sent_emails() == []
    dlq = stack.cloud.queues['notifications-dlq'].url
    [letter] = dead_letters.list_letters(dlq)
    assert letter.detail_type == notices.NOTIFICATION_RENDERED and letter.booking_id == 'b1'
    client_link = stack.view('b1')[1]['links']['clients']['c1']
    assert client_link not in letter.body and 'c1@example.org' not in letter.body  # sealed
    # SES is back: the replay sends the emails as they were written, and only those.
    dead_letters.replay(dlq, stack.cloud.queues['notifications'].url, letter.message_id)
    replayed = stack.cloud.queues['notifications'].receive()
    for _ in range(2):  # a redelivered replay sends nothing twice
        assert handler('notifications')(sqs_event(replayed), stack.context) == {'batchItemFailures': []}
    assert len(client_email()) == 1 and client_link in client_email()[0].body
    assert len(sent_emails()) == 2 and len(sent_sms()) == 1


def test_a_failed_record_waits_longer_each_time_for_about_five_hours_before_it_is_kept():
    retry_delay = importlib.import_module('functions.notifications.handler').retry_delay
    delays = [retry_delay(receive) for receive in range(1, notices.NOTIFICATIONS_QUEUE_RECEIVES)]
    assert delays[:3] == [30, 60, 120] and max(delays) == 3600
    assert 4 * 3600 < sum(delays) < 6 * 3600


def test_a_message_refused_for_good_is_shown_on_the_booking_and_not_retried(stack):
    records = notify(stack, created())
    with refusing('ses', 'SendEmail', 'MessageRejected', 400):
        assert handler('notifications')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    problem = stack.view('b1')[1]['booking']['notice_problem']
    assert 'email to the client was refused (MessageRejected)' in problem


def test_an_opted_out_number_gets_no_sms_and_the_admin_sees_why(stack):
    settings(stack, sms=True)
    status, _, _ = outbox.sms_reply('', json.dumps({'from': PHONE, 'body': 'STOP'}).encode())
    assert status == 200
    stack.book(created(client={'phone': PHONE}))
    assert sent_sms() == []
    assert client_email()
    assert 'replied STOP' in stack.view('b1')[1]['booking']['notice_problem']


def test_a_provider_with_a_number_gets_their_sms_with_the_host_link(stack):
    settings(stack, sms=True)
    provider = {'name': 'Dana Doe', 'email': 'dana@example.com', 'phone': '+447700900456', 'timezone': 'Europe/Berlin'}
    status, shown = stack.admin('PUT', 'providers/dana', provider)
    assert status == 200 and shown['phone'] == '+447700900456'
    assert stack.admin('PUT', 'providers/eli', {**provider, 'phone': '07700 900456'})[0] == 400  # not E.164
    stack.book(created())
    provider_link = stack.view('b1')[1]['links']['provider']
    [(number, text)] = [sms for sms in sent_sms() if sms[0] == '+447700900456']
    assert provider_link in text


def test_dates_are_written_in_the_clients_own_variant_of_the_templates_language(stack):
    stack.book(created('b1', {'id': 'c1', 'locale': 'en-GB'}))
    stack.book(created('b2', {'id': 'c2', 'locale': 'en-US'}))
    stack.book(created('b3', {'id': 'c3', 'locale': 'de-DE'}))  # no German: English, as the tenant's default writes it
    assert 'Tuesday, 9 March 2027, 10:30' in client_email('c1@example.org')[0].body
    assert 'Tuesday, March 9, 2027, 10:30 AM' in client_email('c2@example.org')[0].body
    assert 'Tuesday, March 9, 2027, 10:30 AM' in client_email('c3@example.org')[0].body



def test_a_message_sent_before_sms_existed_is_not_sent_again(stack):
    """Its dedupe record, written by the code of before, holds a message id and no status."""
    records = notify(stack, created())
    assert handler('notifications')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    table = boto3.resource('dynamodb').Table(os.environ['IDEMPOTENCY_TABLE_NAME'])
    sent = [item for item in table.scan()['Items'] if '"status"' in (item.get('data') or '')]
    assert len(sent) == 2
    for item in sent:
        table.update_item(Key={'id': item['id']}, UpdateExpression='SET #d = :d',
                          ExpressionAttributeNames={'#d': 'data'}, ExpressionAttributeValues={':d': '{"message_id": "m"}'})
    assert handler('notifications')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    assert len(sent_emails()) == 2


def test_a_send_is_not_started_without_time_for_its_slowest_answer(stack):
    records = notify(stack, created())

    class Late:
        def get_remaining_time_in_millis(self) -> int:
            return 9_000

        def __getattr__(self, name):
            return getattr(stack.context, name)

    report = handler('notifications')(sqs_event(records), Late())
    assert report['batchItemFailures'] and sent_emails() == []
    assert handler('notifications')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    assert len(sent_emails()) == 2


def test_a_failing_regional_template_falls_back_to_the_builtin_of_its_language(stack):
    status, _ = stack.admin('PUT', 'templates/client_created', {
        'subject': 'Réservé', 'body': '{{ 100 / (client_name|length - 9) }}'}, query={'locale': 'fr-CA'})
    assert status == 200
    stack.book(created(client={'locale': 'fr-CA'}))
    [email] = client_email()
    french = defaults.builtin('client_created', 'email', 'fr')[0]
    assert email.subject.split(' ')[0] == french.split(' ')[0] and '10 h 30' in email.body
    assert 'could not be used' in stack.view('b1')[1]['booking']['notice_problem']


def test_a_single_quoted_link_around_a_hidden_link_becomes_text(stack):
    settings(stack, links_in_messages=False)
    assert stack.admin('PUT', 'templates/client_created', {
        'subject': 'Booked', 'body': "<p><a href='[online_meeting_link]?utm=mail'>Join</a></p>"})[0] == 200
    stack.book(created())
    [email] = client_email()
    assert '<a' not in email.body and defaults.hidden_link_text('en').split(' ')[0] in email.body
