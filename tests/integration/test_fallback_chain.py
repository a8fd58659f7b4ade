"""The hosting chain (the provider's own account, the company account, the tenant's fallback custom link), the
booking view's hosting account, the accounts dashboard and the bookings applied again once an account is
connected: against moto and the Zoom sandbox."""

import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from bookings import booking_event
from helpers import handler, sqs_event
from integration_stack import Queue, sent_emails
from integration_stack import connect_zoom as connect_zoom_only

from meetbridge.domain.model import BookingEvent
from meetbridge.logic import bookings, failed_bookings
from meetbridge.store.models import BookingItem, MeetingItem

pytestmark = pytest.mark.usefixtures('account_events')

# connection.connected reaches the meetings function, as deployed.

COMPANY_ROOM = {'type': 'custom_link', 'url': 'https://meet.example.com/company-room', 'description': 'Company'}
FALLBACK_ROOM = {'type': 'custom_link', 'url': 'https://meet.example.com/fallback-room', 'password': 'fallback-secret-9'}
DANAS_ROOM = {'type': 'custom_link', 'url': 'https://rooms.example.net/dana'}
INVALID_GRANT = {'reason': 'Invalid Token!', 'error': 'invalid_grant'}


@pytest.fixture
def problems(cloud) -> Queue:
    """booking.problem as the admin's alerts receive it: a queue of its own behind a rule on the bus."""
    sqs, bus = boto3.client('sqs'), os.environ['EVENT_BUS_NAME']
    url = sqs.create_queue(QueueName='problems')['QueueUrl']
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
    events = boto3.client('events')
    events.put_rule(Name='problems', EventBusName=bus, EventPattern=json.dumps(
        {'source': ['meetbridge'], 'detail-type': ['booking.problem']}))
    events.put_targets(Rule='problems', EventBusName=bus, Targets=[{'Id': 'problems', 'Arn': arn}])
    return Queue(url, arn)


def connect_zoom(stack, zoom, **kwargs) -> None:
    connect_zoom_only(stack, zoom, **kwargs)
    stack.pump()  # its connection.connected, and what it leads to


def _service(stack) -> None:
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
    assert stack.admin('PUT', 'providers/dana', {'name': 'Dana Doe', 'email': 'dana@example.com'})[0] == 200


def _put(stack, rest: str, body: dict) -> dict:
    status, account = stack.admin('PUT', rest, body)
    assert status == 200, account
    stack.pump()  # its connection.connected
    return account


def _refresh_refused(zoom) -> None:
    """The next refresh of a Zoom token is refused for good (the user revoked the app at Zoom)."""
    zoom.expire_access_tokens()
    zoom.fail('token', 400, body=INVALID_GRANT)


def _meeting(stack, booking_id: str = 'b1') -> dict:
    status, view = stack.view(booking_id)
    assert status == 200 and view['booking']['problem'] is None, view
    return view['meeting']


def _published(queue: Queue) -> list[dict]:
    return [json.loads(record['body']) for record in queue.receive()]


def test_the_providers_own_account_hosts_first_with_no_fallback_reason(stack, problems):
    _service(stack)
    own = _put(stack, 'providers/dana/account', DANAS_ROOM)
    _put(stack, 'accounts/default', COMPANY_ROOM)
    _put(stack, 'accounts/fallback', FALLBACK_ROOM)

    stack.book(booking_event())

    meeting = _meeting(stack)
    assert meeting['account'] == {'id': own['id'], 'slot': 'provider:dana', 'type': 'custom_link'}
    assert meeting['account_id'] == own['id'] and meeting['fallback_reason'] is None
    assert _published(problems) == []


def test_own_zoom_refused_mid_create_falls_back_to_the_company_once_and_says_why(stack, zoom, problems):
    _service(stack)
    connect_zoom(stack, zoom, user_id='zoom-dana', provider_id='dana')
    own = stack.admin('GET', 'providers/dana/account')[1]
    company = _put(stack, 'accounts/default', COMPANY_ROOM)
    _refresh_refused(zoom)

    start = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
    stack.book(booking_event(start=start))

    meeting = _meeting(stack)
    assert meeting['account'] == {'id': company['id'], 'slot': 'company', 'type': 'custom_link'}
    assert meeting['fallback_reason'].startswith("The provider's own Zoom account (")
    assert 'needs reconnecting' in meeting['fallback_reason'] and zoom.meetings == {}
    assert stack.admin('GET', 'providers/dana/account')[1]['status'] == 'needs_reconnect'
    [problem] = _published(problems)
    assert problem['detail-type'] == 'booking.problem'
    detail = problem['detail']
    assert (detail['kind'], detail['account_id'], detail['booking_id'], detail['meeting_key']) == \
        ('fell_back', own['id'], 'b1', 'booking:b1')
    assert detail['event_id'] and meeting['fallback_reason'] in detail['problem']
    # The client and the provider have our links, as always.
    links = stack.view('b1')[1]['links']
    assert links['provider'] and list(links['clients']) == ['c1']
    # A redelivery of the same booking event changes nothing and announces nothing again.
    stack.book(booking_event(start=start))
    assert _meeting(stack) == meeting and _published(problems) == []


def test_an_account_the_admin_disconnected_is_passed_over_with_a_reason_but_no_alert(stack, problems):
    _service(stack)
    _put(stack, 'providers/dana/account', DANAS_ROOM)
    company = _put(stack, 'accounts/default', COMPANY_ROOM)
    assert stack.admin('DELETE', 'providers/dana/account')[0] == 200
    stack.pump()  # its reconciliation: nothing to re-home

    stack.book(booking_event())

    meeting = _meeting(stack)
    assert meeting['account']['id'] == company['id'] and 'disconnected' in meeting['fallback_reason']
    assert _published(problems) == []  # the admin's own choice is not an alert at every booking


def test_the_company_account_broken_falls_back_to_the_fallback_link(stack, zoom, problems):
    _service(stack)
    connect_zoom(stack, zoom)
    company = stack.admin('GET', 'accounts/default')[1]
    fallback = _put(stack, 'accounts/fallback', FALLBACK_ROOM)
    _refresh_refused(zoom)

    stack.book(booking_event())

    meeting = _meeting(stack)
    assert meeting['account'] == {'id': fallback['id'], 'slot': 'fallback', 'type': 'custom_link'}
    assert meeting['fallback_reason'].startswith('The company Zoom account (')
    [problem] = _published(problems)
    assert problem['detail']['account_id'] == company['id'] and problem['detail']['kind'] == 'fell_back'
    # The next booking skips the account marked broken without calling Zoom, and says so again.
    zoom.reset_calls()
    stack.book(booking_event(booking_id='b2', client_id='c2'))
    assert _meeting(stack, 'b2')['account']['slot'] == 'fallback' and zoom.calls() == []
    assert [p['detail']['booking_id'] for p in _published(problems)] == ['b2']


def test_a_mapped_company_user_that_no_longer_exists_falls_back(stack, zoom, problems):
    _service(stack)
    connect_zoom(stack, zoom)
    assert stack.admin('PUT', 'providers/dana/company-user', {'user_id': 'zoom-dana'})[0] == 200
    _put(stack, 'accounts/fallback', FALLBACK_ROOM)
    zoom.fail('create_meeting', 404, body={'code': 1001, 'message': 'User does not exist: zoom-dana.'})

    stack.book(booking_event())

    meeting = _meeting(stack)
    assert meeting['account']['slot'] == 'fallback'
    assert 'refused' in meeting['fallback_reason'] and 'does not exist' in meeting['fallback_reason']
    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'active'  # the account itself still works
    assert len(_published(problems)) == 1


def test_a_transient_failure_does_not_fall_back_it_is_retried(stack, zoom, problems):
    _service(stack)
    connect_zoom(stack, zoom)
    _put(stack, 'accounts/fallback', FALLBACK_ROOM)
    zoom.fail('create_meeting', 503, body={'code': 503, 'message': 'unavailable'}, times=10)

    stack.post(booking_event())
    reports = stack.pump()

    assert reports['meetings'][0]['batchItemFailures']  # retried by the queue
    assert stack.view('b1')[1]['meeting'] is None and _published(problems) == []
    stored = MeetingItem.get(*MeetingItem.key(stack.tenant.tenant_id, 'booking:b1'))
    assert stored.account_slot == 'company' and stored.fallback_reason is None


def test_nothing_usable_fails_the_booking_naming_each_account_and_announces_meeting_failed(stack, zoom, problems):
    _service(stack)
    connect_zoom(stack, zoom)
    _refresh_refused(zoom)

    stack.post(booking_event())
    assert handler('meetings')(sqs_event(stack.cloud.queues['meetings'].receive()), stack.context) == \
        {'batchItemFailures': []}

    view = stack.view('b1')[1]
    assert view['meeting'] is None
    assert view['booking']['problem'].startswith('No meeting account can host the meeting')
    assert 'The company Zoom account (' in view['booking']['problem']
    kinds = [json.loads(r['body'])['detail-type'] for r in stack.cloud.queues['notifications'].receive()]
    assert 'meeting.failed' in kinds and _published(problems) == []
    # The claim given back hosts nothing: the refusing account counts no future meeting.
    zoom_account = stack.admin('GET', 'accounts/default')[1]
    listed = {a['id']: a for a in stack.admin('GET', 'accounts')[1]['accounts']}
    assert listed[zoom_account['id']]['future_meetings'] == 0


def test_a_crash_between_the_fallback_claim_and_the_save_is_adopted_by_the_retry(stack, zoom, problems, monkeypatch):
    """Dana's own Zoom refuses; the company's Zoom makes the meeting, and the invocation dies before saving it.
    The retry (past the claim's lease) finds it at Zoom by its reference: one meeting, never two."""
    _service(stack)
    connect_zoom(stack, zoom, user_id='zoom-dana', provider_id='dana')
    connect_zoom(stack, zoom)  # the company: zoom-owner
    _refresh_refused(zoom)
    record_made = bookings._record_made
    crashes = []

    def dies_once(tenant_id, meeting, made):
        if not crashes:
            crashes.append(made.external_id)
            raise RuntimeError('the invocation died')
        return record_made(tenant_id, meeting, made)

    monkeypatch.setattr(bookings, '_record_made', dies_once)
    event = BookingEvent.model_validate({**booking_event(), 'tenant_id': stack.tenant.tenant_id, 'source': 'generic'})
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError):
        bookings.apply(event, now)
    claim = MeetingItem.get(*MeetingItem.key(stack.tenant.tenant_id, 'booking:b1'))
    assert (claim.status, claim.account_slot, claim.attempts) == ('creating', 'company', 2)
    assert len(zoom.meetings) == 1

    zoom.reset_calls()
    bookings.apply(event, now + bookings.CLAIM_LEASE + timedelta(seconds=1))

    assert [str(key) for key in zoom.meetings] == crashes and 'create_meeting' not in [c['operation'] for c in zoom.calls()]
    meeting = _meeting(stack)
    assert meeting['account']['slot'] == 'company' and 'needs reconnecting' in meeting['fallback_reason']
    assert len(_published(problems)) == 1  # announced before the claim that records it, once


def test_make_meeting_again_remakes_a_live_meeting_on_the_chain_with_the_same_links(stack):
    _service(stack)
    own = _put(stack, 'providers/dana/account', DANAS_ROOM)
    company = _put(stack, 'accounts/default', COMPANY_ROOM)
    stack.book(booking_event())
    before = stack.view('b1')[1]
    tenant_id = stack.tenant.tenant_id
    assert stack.admin('DELETE', 'providers/dana/account')[0] == 200

    meeting = MeetingItem.get(*MeetingItem.key(tenant_id, 'booking:b1'))
    booking = BookingItem.get(*BookingItem.key(tenant_id, 'b1'))
    remade = bookings.make_meeting_again(tenant_id, meeting, booking, 'Dana\'s own room was disconnected',
                                         datetime.now(UTC))

    assert remade.generation == 1 and remade.status == 'scheduled'
    after = stack.view('b1')[1]
    assert after['links'] == before['links'] and after['meeting']['account']['id'] == company['id'] != own['id']
    assert after['meeting']['fallback_reason'] == 'Dana\'s own room was disconnected'
    assert stack.admin('DELETE', 'accounts/default')[0] == 200
    assert bookings.make_meeting_again(tenant_id, remade, booking, 'gone', datetime.now(UTC)) is None


def test_the_fallback_account_takes_only_a_custom_link(stack):
    assert stack.admin('GET', 'accounts/fallback')[0] == 404
    for body in ({'type': 'zoom', 'url': 'https://zoom.us/j/1'}, {'type': 'custom_link', 'url': 'javascript:x'},
                 {'type': 'custom_link', 'url': 'https://a.example', 'extra': 1}, {}):
        status, answer = stack.admin('PUT', 'accounts/fallback', body)
        assert status == 400 and answer['error'], answer
    put = _put(stack, 'accounts/fallback', FALLBACK_ROOM)
    got = stack.admin('GET', 'accounts/fallback')[1]
    assert got['id'] == put['id'] and got['url'] == FALLBACK_ROOM['url'] and 'fallback-secret-9' not in json.dumps(got)
    assert got['has_password'] is True
    status, gone = stack.admin('DELETE', 'accounts/fallback')
    assert status == 200 and gone['status'] == 'disconnected'


def test_the_accounts_dashboard_lists_each_slot_and_accounts_still_hosting(stack, zoom):
    _service(stack)
    connect_zoom(stack, zoom)
    zoom_company = stack.admin('GET', 'accounts/default')[1]
    danas = _put(stack, 'providers/dana/account', DANAS_ROOM)
    fallback = _put(stack, 'accounts/fallback', FALLBACK_ROOM)
    assert stack.admin('PUT', 'providers/eli', {'name': 'Eli'})[0] == 200
    stack.book(booking_event(provider_id='eli'))  # on the company's Zoom
    stack.book(booking_event(booking_id='b2', client_id='c2', provider_id='eli',
                             start=datetime.now(UTC) - timedelta(days=1)))  # past: not counted
    # Eli's own room, replaced at once: retired with no meeting, not listed.
    _put(stack, 'providers/eli/account', DANAS_ROOM)
    elis = _put(stack, 'providers/eli/account', {**DANAS_ROOM, 'url': 'https://rooms.example.net/eli'})
    _put(stack, 'providers/eli/account', {'type': 'custom_link', 'url': 'https://rooms.example.net/eli2'})

    # The company switches to a room: its Zoom account is revoked, and hosts b1's meeting until its
    # reconciliation (not run yet) moves it.
    company_room = stack.admin('PUT', 'accounts/default', COMPANY_ROOM)[1]

    status, answer = stack.admin('GET', 'accounts')

    assert status == 200
    listed = {account['id']: account for account in answer['accounts']}
    assert [a['slot'] for a in answer['accounts']] == ['company', 'provider:dana', 'provider:eli', 'fallback', None]
    assert listed[company_room['id']] == {
        'id': company_room['id'], 'slot': 'company', 'type': 'custom_link', 'connected_as': None,
        'status': 'active', 'last_checked_at': None, 'problem': None, 'future_meetings': 0,
        'url': COMPANY_ROOM['url']}
    assert listed[zoom_company['id']]['slot'] is None and listed[zoom_company['id']]['status'] == 'revoked'
    assert listed[zoom_company['id']]['future_meetings'] == 1 and listed[zoom_company['id']]['url'] is None
    assert listed[zoom_company['id']]['connected_as'] == zoom.users['zoom-owner']['email']
    assert listed[danas['id']]['slot'] == 'provider:dana' and listed[fallback['id']]['url'] == FALLBACK_ROOM['url']
    assert elis['id'] == listed[elis['id']]['id']  # a custom link is edited in place: one account for Eli
    # Reconciled: b1's meeting moved to the first account of Eli's chain (his own room); the Zoom account hosts
    # nothing and is not listed.
    stack.pump()
    listed = {account['id']: account for account in stack.admin('GET', 'accounts')[1]['accounts']}
    assert zoom_company['id'] not in listed and listed[elis['id']]['future_meetings'] == 1
    # A disconnected slot stays listed, with its status.
    assert stack.admin('DELETE', 'providers/dana/account')[0] == 200
    assert {a['id']: a['status'] for a in stack.admin('GET', 'accounts')[1]['accounts']}[danas['id']] == \
        'disconnected'


def test_the_accounts_dashboard_refuses_what_is_not_it(stack):
    from meetbridge.logic.keys import KeyIn, create_key

    senior = create_key(stack.tenant.tenant_id, KeyIn(role='senior')).key
    for method, rest, key in (('GET', 'accounts', senior), ('GET', 'accounts', None), ('POST', 'accounts', ''),
                              ('GET', 'accounts/..%2fkeys', ''), ('GET', 'accounts/nope', ''),
                              ('DELETE', 'accounts', '')):
        status, answer = stack.admin(method, rest, api_key=key)
        assert 400 <= status < 500 and answer['error'], (method, rest, status, answer)
    status, answer = stack.admin('GET', 'accounts')
    assert status == 200 and answer == {'accounts': []}


def test_connecting_an_account_gives_future_failed_bookings_their_meetings_once(stack, zoom, monkeypatch):
    monkeypatch.setattr(failed_bookings, 'PER_MESSAGE', 2)  # three messages for these bookings
    # Long ids, as platforms send them: the ids of later messages must not grow with each page.
    long_id = 'b{}-' + 'x' * 60
    _service(stack)
    now = datetime.now(UTC).replace(microsecond=0)
    for number in range(1, 6):
        stack.book(booking_event(booking_id=long_id.format(number), client_id=f'c{number}', version=3,
                                 start=now + timedelta(days=number)))
    stack.book(booking_event(booking_id='past', client_id='cp', start=now - timedelta(hours=2)))
    tenant_id = stack.tenant.tenant_id
    orders = {}
    for booking_id in [long_id.format(number) for number in range(1, 6)] + ['past']:
        item = BookingItem.get(*BookingItem.key(tenant_id, booking_id))
        assert item.problem.startswith('No meeting account') and item.gsi1pk == f'FAILED#{tenant_id}'
        orders[booking_id] = (item.source_version, item.source_occurred_at, item.source_change)
    stack.cloud.queues['notifications'].receive()

    connect_zoom(stack, zoom)  # pumps its connection.connected and what it leads to

    assert len(zoom.meetings) == 5
    for booking_id in [long_id.format(number) for number in range(1, 6)]:
        meeting = _meeting(stack, booking_id)
        assert meeting['account']['slot'] == 'company' and meeting['fallback_reason'] is None
        item = BookingItem.get(*BookingItem.key(tenant_id, booking_id))
        assert item.gsi1pk is None and (item.source_version, item.source_occurred_at, item.source_change) == \
            orders[booking_id]
    assert stack.view('past')[1]['meeting'] is None and stack.view('past')[1]['booking']['problem']
    # A redelivery of the connected event makes nothing twice.
    zoom.reset_calls()
    detail = {'event_id': 'again', 'tenant_id': tenant_id, 'account_id': 'x', 'holder': 'company', 'type': 'zoom'}
    envelope = {'source': 'meetbridge', 'detail-type': 'connection.connected', 'detail': detail}
    record = {'messageId': 'm1', 'receiptHandle': 'r1', 'body': json.dumps(envelope), 'attributes': {},
              'messageAttributes': {}, 'md5OfBody': '', 'eventSource': 'aws:sqs',
              'eventSourceARN': stack.cloud.queues['meetings'].arn, 'awsRegion': 'us-east-1'}
    assert handler('meetings')(sqs_event([record]), stack.context) == {'batchItemFailures': []}
    assert len(zoom.meetings) == 5 and [c for c in zoom.calls() if c['operation'] == 'create_meeting'] == []
    # Each client was told of their meeting once; the one whose booking is past was not.
    told = Counter(destination for email in sent_emails() for destination in email.destinations['ToAddresses'])
    assert [told[f'c{number}@example.org'] for number in range(1, 6)] == [1] * 5 and told['cp@example.org'] == 0
