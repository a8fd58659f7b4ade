"""Zoom meetings follow their bookings, through the account that made them, against the Zoom sandbox."""

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import httpx2
import pytest
from bookings import booking_event
from helpers import handler, join_event
from integration_stack import book_in_parallel, connect_zoom

from meetbridge.store.models import AccountItem
from meetbridge.store.repository import account_used_by



def _open(stack, url: str) -> dict:
    return handler('join')(join_event(url.rsplit('/', 1)[1], 'POST'), stack.context)  # the click


def _zoom_calls(sandbox) -> list[str]:
    return [call['operation'] for call in sandbox.calls() if call['operation'] not in ('authorize', 'token')]


def _ready(stack, zoom, **kwargs) -> None:
    stack.setup_online_service()
    connect_zoom(stack, zoom, **kwargs)
    zoom.reset_calls()


def test_a_booking_gets_one_zoom_meeting_that_follows_reschedules_and_cancel(stack, zoom):
    _ready(stack, zoom)
    start = datetime(2030, 5, 6, 7, 30, tzinfo=UTC)

    stack.book(booking_event(start=start, minutes=45))
    assert _zoom_calls(zoom) == ['create_meeting']
    [(meeting_id, meeting)] = zoom.meetings.items()
    assert meeting['start_time'] == '2030-05-06T07:30:00Z' and meeting['duration'] == 45
    assert meeting['timezone'] == 'Europe/Berlin' and meeting['host_id'] == 'zoom-owner'
    view = stack.view('b1')[1]
    assert (view['meeting']['provider'], view['meeting']['account_id']) == ('zoom', stack.admin('GET', 'accounts/default')[1]['id'])

    zoom.reset_calls()
    for hours in range(1, 11):
        stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=hours), minutes=45))
    assert _zoom_calls(zoom) == ['update_meeting'] * 10
    assert list(zoom.meetings) == [meeting_id]
    assert zoom.meetings[meeting_id]['start_time'] == '2030-05-06T17:30:00Z'
    assert stack.view('b1')[1]['links'] == view['links']

    zoom.reset_calls()
    stack.book(booking_event('booking.cancelled', start=start + timedelta(hours=10), minutes=45))
    assert _zoom_calls(zoom) == ['delete_meeting'] and zoom.meetings == {}


def test_links_open_the_zoom_meeting_and_the_host_gets_a_fresh_start_url_each_click(stack, zoom):
    _ready(stack, zoom)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    links = stack.view('b1')[1]['links']
    [meeting] = zoom.meetings.values()

    client = _open(stack, links['clients']['c1'])
    assert client['statusCode'] == 303 and client['headers']['Location'] == meeting['join_url']

    first, second = (_open(stack, links['provider'])['headers']['Location'] for _ in range(2))
    assert '/s/' in first and 'zak=' in first and first != second
    assert _zoom_calls(zoom).count('get_meeting') == 2
    # A start URL is a host credential: nothing stored holds one.
    from meetbridge.logic.bookings import details_of
    from meetbridge.store.models import MeetingItem
    stored = MeetingItem.get(*MeetingItem.key(stack.tenant.tenant_id, 'booking:b1'))
    assert 'zak' not in json.dumps(details_of(stack.tenant.tenant_id, stored).to_dict())


def test_a_provider_mapped_to_a_company_user_hosts_as_that_user(stack, zoom):
    _ready(stack, zoom)
    status, users = stack.admin('GET', 'accounts/default/users')
    assert status == 200 and {u['id'] for u in users} == {'zoom-owner', 'zoom-dana', 'zoom-eli'}
    assert stack.admin('PUT', 'providers/dana/company-user', {'user_id': 'nobody'})[0] == 400
    assert stack.admin('PUT', 'providers/dana/company-user', {'user_id': 'zoom-dana'})[1]['company_user'] == 'zoom-dana'

    stack.book(booking_event())

    [meeting] = zoom.meetings.values()
    assert meeting['host_id'] == 'zoom-dana'


def test_the_users_list_reads_every_page(stack, zoom):
    _ready(stack, zoom)
    for n in range(320):
        zoom.add_user(f'zoom-u{n}', f'u{n}@zoom.example')

    status, users = stack.admin('GET', 'accounts/default/users')

    assert status == 200 and len(users) == 323
    assert [c['operation'] for c in zoom.calls()].count('list_users') == 2


def test_a_providers_own_zoom_wins_and_keeps_hosting_what_it_made(stack, zoom):
    _ready(stack, zoom)
    connect_zoom(stack, zoom, user_id='zoom-eli', provider_id='dana')
    stack.book(booking_event())
    [meeting] = zoom.meetings.values()
    assert meeting['host_id'] == 'zoom-eli'
    assert stack.view('b1')[1]['meeting']['account_id'] == stack.admin('GET', 'providers/dana/account')[1]['id']

    # After the provider disconnects, the cancel still goes through the account that made the meeting.
    zoom.reset_calls()
    stack.book(booking_event('booking.cancelled'))
    assert _zoom_calls(zoom) == ['delete_meeting'] and zoom.meetings == {}


def test_a_class_has_one_meeting_and_a_registrant_link_per_client(stack, zoom):
    _ready(stack, zoom)
    assert stack.admin('PUT', 'services/yoga', {'name': 'Yoga', 'online': True, 'kind': 'class'})[0] == 200
    start = datetime.now(UTC) - timedelta(minutes=2)
    for booking_id, client_id in (('b1', 'anna'), ('b2', 'ben'), ('b3', 'cleo')):
        stack.book(booking_event(booking_id=booking_id, client_id=client_id, session_id='yoga-1', service_id='yoga',
                                 start=start))

    [(meeting_id, meeting)] = zoom.meetings.items()
    assert meeting['settings']['approval_type'] == 0
    registrants = zoom.registrants(meeting_id)
    assert len(registrants) == 3 and len({r['join_url'] for r in registrants}) == 3
    locations = {client: _open(stack, stack.view(b)[1]['links']['clients'][client])['headers']['Location']
                 for b, client in (('b1', 'anna'), ('b2', 'ben'), ('b3', 'cleo'))}
    assert set(locations.values()) == {r['join_url'] for r in registrants}

    stack.book(booking_event('booking.cancelled', booking_id='b2', client_id='ben', session_id='yoga-1',
                             service_id='yoga', start=start))
    statuses = {r['email']: r['status'] for r in zoom.registrants(meeting_id)}
    assert statuses['ben@example.org'] == 'cancelled' and statuses['anna@example.org'] == 'approved'
    assert meeting_id in zoom.meetings


def test_zoom_errors_are_told_apart_by_code_not_message(stack, zoom):
    _ready(stack, zoom)
    zoom.fail('create_meeting', 404, body={'code': 1001, 'message': 'Пользователь не существует.'})

    stack.book(booking_event())

    view = stack.view('b1')[1]
    assert view['meeting'] is None and 'Zoom user does not exist' in view['booking']['problem']


def test_per_second_limits_are_retried_after_a_pause(stack, zoom):
    _ready(stack, zoom)
    zoom.fail('create_meeting', 429, body={'code': 429, 'message': 'Too many requests'},
              headers={'X-RateLimit-Type': 'QPS'}, times=2)

    stack.book(booking_event())

    assert _zoom_calls(zoom) == ['create_meeting'] * 3
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'


def test_the_daily_limit_waits_for_midnight_utc_without_hammering_zoom(stack, zoom):
    _ready(stack, zoom)
    zoom.fail('create_meeting', 429, body={'code': 429, 'message': 'daily'},
              headers={'X-RateLimit-Type': 'Daily-limit', 'Retry-After': '2030-01-01T00:00:00Z'})

    stack.book(booking_event())
    stack.book(booking_event(booking_id='b2'))

    assert _zoom_calls(zoom) == ['create_meeting']  # the second booking did not ask Zoom again today
    for booking_id in ('b1', 'b2'):
        view = stack.view(booking_id)[1]
        assert view['meeting'] is None and '100 meeting changes a day' in view['booking']['problem']
    midnight = (datetime.now(UTC) + timedelta(days=1)).strftime('%Y-%m-%dT00:0')
    retries = [s for s in boto3.client('scheduler').list_schedules(GroupName='meetbridge-test-meetings')['Schedules']
               if s['Name'].startswith('retry-')]
    assert len(retries) == 2
    for summary in retries:
        schedule = boto3.client('scheduler').get_schedule(Name=summary['Name'], GroupName='meetbridge-test-meetings')
        assert schedule['ScheduleExpression'].startswith(f'at({midnight}')
        assert schedule['Target']['Arn'].endswith(':meetings')
        assert json.loads(schedule['Target']['Input'])['detail']['booking']['id'] in ('b1', 'b2')


def test_an_expired_access_token_is_refreshed_once(stack, zoom):
    _ready(stack, zoom)
    zoom.expire_access_tokens()

    stack.book(booking_event())

    assert zoom.refresh_count() == 1 and len(zoom.meetings) == 1


def test_a_token_zoom_rejects_early_is_refreshed_and_the_call_retried(stack, zoom):
    _ready(stack, zoom)
    zoom.fail('create_meeting', 401, body={'code': 124, 'message': 'Access token is expired.'})

    stack.book(booking_event())

    assert zoom.refresh_count() == 1 and len(zoom.meetings) == 1


@pytest.mark.parametrize('expired_at', ['zoom', 'store'])
def test_twenty_parallel_creations_at_token_expiry_refresh_exactly_once(stack, zoom, expired_at):
    from meetbridge.store import tokens
    _ready(stack, zoom)
    zoom.expire_access_tokens()
    if expired_at == 'store':  # our own record says so too: every thread sets out to refresh
        item = account_used_by(stack.tenant.tenant_id, 'company')
        stale = {**tokens.open_state(item, stack.tenant.tenant_id), 'expires_at': time.time()}
        item.update(actions=[AccountItem.secret_sealed.set(
            tokens.seal_state(stale, stack.tenant.tenant_id, item.account_id))])
    failures = book_in_parallel(stack, 20)

    assert failures == []
    assert zoom.refresh_count() == 1
    assert len(zoom.meetings) == 20
    connection = account_used_by(stack.tenant.tenant_id, 'company')
    assert connection.status == 'active' and connection.refresh_lease_until is None


def test_an_invalid_grant_after_a_lost_race_is_retried_from_the_store(stack, zoom):
    from meetbridge.store import tokens
    from meetbridge.providers import zoom as zoom_provider

    _ready(stack, zoom)
    zoom.expire_access_tokens()
    tenant_id = stack.tenant.tenant_id
    item = account_used_by(tenant_id, 'company')
    old = tokens.open_state(item, tenant_id)

    class RenewsAfterSomeoneElse(zoom_provider.ZoomKeeper):
        def renew(self, state):
            # Another invocation, whose lease we outlived, rotated the token and stored the new pair first.
            theirs = zoom_provider.refresh(state['refresh_token'])
            item.refresh()
            item.update(actions=[AccountItem.secret_sealed.set(tokens.seal_state(theirs, tenant_id, item.account_id))])
            return super().renew(state)  # our own attempt: the token is dead by now

    # Zoom has just refused the stored token; two invocations go to refresh it.
    token = tokens.access_token(tenant_id, item.account_id, RenewsAfterSomeoneElse(), rejected=old['access_token'])

    assert token != old['access_token']
    assert account_used_by(tenant_id, 'company').status == 'active'


def test_tokens_renewed_after_the_lease_ran_out_are_stored_over_a_later_claim(stack, zoom):
    from meetbridge.store import tokens
    from meetbridge.providers import zoom as zoom_provider

    _ready(stack, zoom)
    zoom.expire_access_tokens()
    tenant_id = stack.tenant.tenant_id
    account_id = account_used_by(tenant_id, 'company').account_id
    key = AccountItem.key(tenant_id, account_id)
    old = tokens.open_state(AccountItem.get(*key), tenant_id)

    class OutlivesItsLease(zoom_provider.ZoomKeeper):
        def renew(self, state):
            renewed = super().renew(state)  # Zoom rotated the pair: the new one is the only live one
            # The refresh took longer than the lease: another invocation claims the account meanwhile.
            assert tokens._claim(AccountItem.get(*key), time.time() + tokens.LEASE_SECONDS + 1)
            return renewed

    token = tokens.access_token(tenant_id, account_id, OutlivesItsLease(), rejected=old['access_token'])

    stored = AccountItem.get(*key)
    assert token != old['access_token'] and tokens.open_state(stored, tenant_id)['access_token'] == token
    assert stored.status == 'active' and zoom.refresh_count() == 1


@pytest.mark.usefixtures('account_events')
def test_a_real_invalid_grant_asks_the_admin_to_reconnect(stack, zoom):
    _ready(stack, zoom)
    zoom.expire_access_tokens()
    zoom.fail('token', 400, body={'reason': 'Invalid Token!', 'error': 'invalid_grant'})

    from helpers import sqs_event
    stack.post(booking_event())
    handler('meetings')(sqs_event(stack.cloud.queues['meetings'].receive()), stack.context)

    account = stack.admin('GET', 'accounts/default')[1]
    assert account['status'] == 'needs_reconnect' and account['problem']
    assert 'connected again' in stack.view('b1')[1]['booking']['problem']
    published = [json.loads(r['body']) for queue in ('notifications', 'meetings')
                 for r in stack.cloud.queues[queue].receive()]
    assert {e['detail-type'] for e in published} == {'connection.broken', 'meeting.failed'}
    assert zoom.meetings == {}


@pytest.mark.usefixtures('account_events')
def test_disconnecting_revokes_at_zoom_and_closes_every_link(stack, zoom):
    _ready(stack, zoom)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    link = stack.view('b1')[1]['links']['clients']['c1']

    status, account = stack.admin('DELETE', 'accounts/default')

    assert status == 200 and account['status'] == 'disconnected'
    stack.pump()  # the reconciliation of its meetings ends with the revocation
    assert [c['operation'] for c in zoom.calls()].count('revoke') == 1
    page = _open(stack, link)
    assert page['statusCode'] == 503 and 'unavailable' in page['body']
    stack.book(booking_event(booking_id='b2'))
    assert 'No meeting account' in stack.view('b2')[1]['booking']['problem']


def test_the_tenants_meeting_settings_reach_zoom(stack, zoom):
    _ready(stack, zoom)
    assert stack.admin('GET', 'settings/meetings')[1]['waiting_room'] is False
    chosen = {'join_before_host': True, 'waiting_room': True, 'mute_upon_entry': True, 'auto_recording': 'cloud'}
    assert stack.admin('PUT', 'settings/meetings', chosen)[1] == chosen
    assert stack.admin('PUT', 'settings/meetings', {'auto_recording': 'vhs'})[0] == 400

    stack.book(booking_event())

    [meeting] = zoom.meetings.values()
    assert {k: meeting['settings'][k] for k in chosen} == chosen


def test_scheduling_for_another_user_without_shared_access_is_a_clear_problem(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom, user_id='zoom-dana')  # a member: may not schedule for others
    from meetbridge.store.models import ProviderItem
    provider = ProviderItem.get(*ProviderItem.key(stack.tenant.tenant_id, 'dana'))
    provider.update(actions=[ProviderItem.company_user.set('zoom-eli')])

    stack.book(booking_event())

    assert 'shared access' in stack.view('b1')[1]['booking']['problem']


def test_a_meeting_already_gone_at_zoom_is_recreated_on_reschedule_and_cancel_counts_as_done(stack, zoom):
    _ready(stack, zoom)
    start = datetime(2030, 5, 6, 7, 30, tzinfo=UTC)
    stack.book(booking_event(start=start))
    links = stack.view('b1')[1]['links']
    [gone_id] = zoom.meetings
    zoom.remove_meeting(gone_id)

    stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=2)))
    assert [op for op in _zoom_calls(zoom) if op != 'list_users'][-3:] == ['update_meeting', 'list_meetings',
                                                                          'create_meeting']
    [(remade_id, remade)] = zoom.meetings.items()
    assert remade_id != gone_id and remade['start_time'] == '2030-05-06T09:30:00Z'
    assert stack.view('b1')[1]['links'] == links  # our links survive the new Zoom meeting

    zoom.fail('delete_meeting', 404, body={'code': 3001, 'message': 'Meeting is not found or has expired.'})
    stack.book(booking_event('booking.cancelled', start=start + timedelta(hours=2)))
    view = stack.view('b1')[1]
    assert view['booking']['status'] == 'cancelled' and view['meeting']['status'] == 'cancelled'


def test_a_class_meeting_recreated_after_zoom_deleted_it_keeps_its_host_and_its_clients_links(stack, zoom):
    _ready(stack, zoom)
    assert stack.admin('PUT', 'providers/dana/company-user', {'user_id': 'zoom-dana'})[0] == 200
    assert stack.admin('PUT', 'services/yoga', {'name': 'Yoga', 'online': True, 'kind': 'class'})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)  # started: links go to Zoom
    clients = (('b1', 'anna'), ('b2', 'ben'))
    for booking_id, client_id in clients:
        stack.book(booking_event(booking_id=booking_id, client_id=client_id, session_id='yoga-1', service_id='yoga',
                                 start=start))
    [gone_id] = zoom.meetings
    zoom.remove_meeting(gone_id)

    later = start + timedelta(minutes=1)
    for booking_id, client_id in clients:
        stack.book(booking_event('booking.rescheduled', booking_id=booking_id, client_id=client_id,
                                 session_id='yoga-1', service_id='yoga', start=later))
    [(remade_id, remade)] = zoom.meetings.items()
    assert remade['host_id'] == 'zoom-dana' and remade['start_time'] == later.strftime('%Y-%m-%dT%H:%M:%SZ')
    registrants = {r['email']: r for r in zoom.registrants(remade_id)}
    assert set(registrants) == {'anna@example.org', 'ben@example.org'}
    for booking_id, client_id in clients:
        location = _open(stack, stack.view(booking_id)[1]['links']['clients'][client_id])['headers']['Location']
        assert location == registrants[f'{client_id}@example.org']['join_url']
        with httpx2.Client(trust_env=False) as http:
            landing = http.get(location)
        assert landing.status_code == 200 and 'joined meeting' in landing.text


def test_a_lost_refresh_response_ends_in_reconnect_not_a_retry_storm(stack, zoom):
    from helpers import sqs_event
    _ready(stack, zoom)
    zoom.expire_access_tokens()
    # Zoom rotates the token, but its answer never reaches us: the old refresh token is dead.
    zoom.fail('token', 502, body={'reason': 'Bad gateway'}, after=True)

    stack.post(booking_event())
    [record] = stack.cloud.queues['meetings'].receive()
    first = handler('meetings')(sqs_event([record]), stack.context)
    assert first['batchItemFailures']  # transient: the queue will deliver it again
    handler('meetings')(sqs_event([record]), stack.context)

    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'needs_reconnect'
    assert 'connected again' in stack.view('b1')[1]['booking']['problem']
    assert [c['operation'] for c in zoom.calls()].count('token') == 2


def test_a_reschedule_counts_against_the_hosts_daily_limit_before_zoom_is_asked(stack, zoom):
    from meetbridge.store.models import QuotaItem
    _ready(stack, zoom)
    start = datetime(2030, 5, 6, 7, 30, tzinfo=UTC)
    stack.book(booking_event(start=start))
    zoom.reset_calls()
    today = datetime.now(UTC).strftime('%Y-%m-%d')
    QuotaItem(*QuotaItem.key('zoom', 'zoom-owner', today), count=100,
              ttl=datetime.now(UTC) + timedelta(days=2)).save()

    stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=1)))

    assert _zoom_calls(zoom) == []  # Zoom is not hammered into a 429
    view = stack.view('b1')[1]
    assert '100 meeting changes a day' in view['booking']['problem']
    assert view['meeting']['start'].startswith('2030-05-06T07:30')  # the meeting stays until it can move
