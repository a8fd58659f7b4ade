"""Google Meet through Google's OAuth and Calendar events, against the Google sandbox."""

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from bookings import booking_event
from helpers import handler, join_event, oauth_event, sqs_event
from integration_stack import GOOGLE_REDIRECT_URI, book_in_parallel, connect_google, finish_connect, start_connect

from meetbridge.errors import RetryLater
from meetbridge.providers import google as google_provider
from meetbridge.store import tokens
from meetbridge.store.repository import account_used_by

pytestmark = pytest.mark.usefixtures('account_events')

OWNER = '105000000000000000001'
DANA = '105000000000000000002'
NO_MEET = '105000000000000000003'
KOLKATA = timezone(timedelta(hours=5, minutes=30))
EVENT_OPERATIONS = ('insert_event', 'get_event', 'patch_event', 'delete_event', 'list_events')


def _calendar_calls(sandbox) -> list[str]:
    return [c['operation'] for c in sandbox.calls() if c['operation'] in EVENT_OPERATIONS]


def _query(call: dict) -> dict[str, str]:
    """A call's query as single values, however the sandbox logs it (a dict of values or of lists, or a string)."""
    query = call.get('query') or {}
    if isinstance(query, str):
        query = parse_qs(query)
    return {name: value[0] if isinstance(value, list) else value for name, value in query.items()}


def _ready(stack, google, **kwargs) -> None:
    stack.setup_online_service()
    page = connect_google(stack, google, **kwargs)
    assert page['statusCode'] == 200, page['body']
    google.reset_calls()


def _live_events(google) -> dict[str, dict]:
    return {event_id: event for event_id, event in google.events.items() if event.get('status') != 'cancelled'}


def _open(stack, url: str) -> dict:
    return handler('join')(join_event(url.rsplit('/', 1)[1], 'POST'), stack.context)


def _id_token(claims: dict) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip('=')
    return f'eyJhbGciOiJSUzI1NiJ9.{payload}.signature'


# --- connecting ------------------------------------------------------------------------------------


def test_a_google_user_connects_with_offline_access_and_pkce(stack, google):
    stack.setup_online_service()
    auth_uri = start_connect(stack, 'google')
    query = parse_qs(urlsplit(auth_uri).query)
    assert auth_uri.startswith(google.authorize_url) and query['redirect_uri'] == [GOOGLE_REDIRECT_URI]
    assert query['access_type'] == ['offline'] and query['code_challenge_method'] == ['S256']
    assert query['scope'] == ['openid email https://www.googleapis.com/auth/calendar.events.owned']
    assert 'prompt' not in query  # consent is asked again only when Google keeps the refresh token back

    page = finish_connect(stack, 'google', google.authorize(OWNER, auth_uri))

    assert page['statusCode'] == 200 and 'Google Meet is connected' in page['body']
    account = stack.admin('GET', 'accounts/default')[1]
    assert (account['type'], account['status'], account['email']) == ('google', 'active', 'owner@example.com')
    state = tokens.open_state(account_used_by(stack.tenant.tenant_id, 'company'), stack.tenant.tenant_id)
    assert state['refresh_token'] and len(google.grants(OWNER)) == 1


def test_a_providers_own_google_account_hosts_their_bookings(stack, google):
    _ready(stack, google)
    assert connect_google(stack, google, user_id=DANA, provider_id='dana')['statusCode'] == 200
    google.reset_calls()

    stack.book(booking_event())

    [event] = _live_events(google).values()
    assert event['owner'] == DANA
    assert stack.view('b1')[1]['meeting']['account_id'] == stack.admin('GET', 'providers/dana/account')[1]['id']


def test_a_user_who_granted_before_is_asked_for_consent_again_and_stored_with_a_refresh_token(stack, google):
    _ready(stack, google)  # the owner granted our client for the company's account
    answer = google.authorize(OWNER, start_connect(stack, 'google', 'dana'))
    first = finish_connect(stack, 'google', answer)
    replayed = finish_connect(stack, 'google', answer)  # its state was used: no second ask from it
    assert replayed['statusCode'] == 400 and 'already used' in replayed['body']

    # No refresh token in the answer: nothing stored, the browser sent back to Google under a new state.
    assert first['statusCode'] == 302
    again = first['headers']['Location']
    query = parse_qs(urlsplit(again).query)
    assert again.startswith(google.authorize_url) and query['prompt'] == ['consent']
    assert query['access_type'] == ['offline'] and query['code_challenge_method'] == ['S256']
    assert stack.admin('GET', 'providers/dana/account')[0] == 404

    page = finish_connect(stack, 'google', google.authorize(OWNER, again))

    assert page['statusCode'] == 200, page['body']
    dana = account_used_by(stack.tenant.tenant_id, 'provider:dana')
    assert tokens.open_state(dana, stack.tenant.tenant_id)['refresh_token']


def test_no_refresh_token_after_consent_ends_on_a_page_and_stores_nothing(stack, google):
    stack.setup_online_service()
    auth_uri = start_connect(stack, 'google')
    claims = {'sub': OWNER, 'email': 'owner@example.com', 'iss': 'https://accounts.google.com'}
    without_refresh_token = {'access_token': 'ya29.sandbox', 'expires_in': 3599, 'token_type': 'Bearer',
                             'scope': 'openid email https://www.googleapis.com/auth/calendar.events.owned',
                             'id_token': _id_token(claims)}
    google.fail('token', 200, body=without_refresh_token, times=2)

    first = finish_connect(stack, 'google', google.authorize(OWNER, auth_uri))
    assert first['statusCode'] == 302
    page = finish_connect(stack, 'google', google.authorize(OWNER, first['headers']['Location']))

    assert page['statusCode'] == 400 and 'no lasting access' in page['body']
    assert stack.admin('GET', 'accounts/default')[1]['type'] == 'custom_link'  # the one it had stays


def test_cancel_at_consent_a_replayed_state_and_a_reused_code_get_pages(stack, google):
    stack.setup_online_service()
    cancelled = finish_connect(stack, 'google', google.authorize(OWNER, start_connect(stack, 'google'), accept=False))
    assert cancelled['statusCode'] == 400 and 'Connection cancelled' in cancelled['body']

    response = google.authorize(OWNER, start_connect(stack, 'google'))
    assert finish_connect(stack, 'google', response)['statusCode'] == 200
    replayed = finish_connect(stack, 'google', response)
    assert replayed['statusCode'] == 400 and 'already used' in replayed['body']

    # The same code under a new state of ours: Google refuses a code used before.
    fresh = google.authorize(DANA, start_connect(stack, 'google', 'dana'))
    reused = finish_connect(stack, 'google', {**fresh, 'code': response['code']})
    assert reused['statusCode'] == 400 and 'invalid_grant' in reused['body']
    assert response['code'] not in reused['body']
    assert stack.admin('GET', 'providers/dana/account')[0] == 404


def test_a_redirect_uri_google_does_not_match_ends_on_a_page(stack, google):
    stack.setup_online_service()
    response = google.authorize(OWNER, start_connect(stack, 'google'))
    google.fail('token', 400, body={'error': 'redirect_uri_mismatch', 'error_description': 'Bad Request'})

    page = finish_connect(stack, 'google', response)

    assert page['statusCode'] == 400 and 'redirect_uri_mismatch' in page['body']
    assert stack.admin('GET', 'accounts/default')[1]['type'] == 'custom_link'


def test_the_calendar_permission_unticked_is_refused_with_a_readable_page(stack, google):
    stack.setup_online_service()

    page = connect_google(stack, google, grant_calendar=False)

    assert page['statusCode'] == 400 and 'Calendar access was not given' in page['body']
    assert stack.admin('GET', 'accounts/default')[1]['type'] == 'custom_link'


def test_an_odd_callback_is_a_page_not_an_error(stack, google):
    stack.setup_online_service()
    start_connect(stack, 'google')
    for params in ({}, {'state': 'x' * 5000}, {'code': '4/x', 'state': 'unknown'}, {'error': 'server_error'}):
        page = finish_connect(stack, 'google', params)
        assert 400 <= page['statusCode'] < 500, (params, page)


# --- meetings --------------------------------------------------------------------------------------


def test_book_reschedule_cancel_is_one_insert_one_patch_one_delete_in_utc_with_the_bookings_zone(stack, google):
    _ready(stack, google)
    start = datetime(2030, 5, 6, 9, 0, tzinfo=KOLKATA)
    created = booking_event(start=start, minutes=45)
    created['booking']['timezone'] = 'Asia/Kolkata'
    stack.book(created)

    [(event_id, event)] = _live_events(google).items()
    # Our id for the event, from the reference the conference was asked under.
    assert event_id == google_provider.event_id(event['conferenceData']['createRequest']['requestId'])
    assert event['start']['timeZone'] == 'Asia/Kolkata'
    assert datetime.fromisoformat(event['start']['dateTime'].replace('Z', '+00:00')) == start
    assert datetime.fromisoformat(event['end']['dateTime'].replace('Z', '+00:00')) == start + timedelta(minutes=45)
    links = stack.view('b1')[1]['links']

    moved = booking_event('booking.rescheduled', start=start + timedelta(days=1, hours=2), minutes=45)
    moved['booking']['timezone'] = 'Asia/Kolkata'
    stack.book(moved)
    assert list(_live_events(google)) == [event_id]
    assert datetime.fromisoformat(google.events[event_id]['start']['dateTime'].replace('Z', '+00:00')) == \
        start + timedelta(days=1, hours=2)
    assert stack.view('b1')[1]['links'] == links

    cancelled = booking_event('booking.cancelled', start=start + timedelta(days=1, hours=2), minutes=45)
    cancelled['booking']['timezone'] = 'Asia/Kolkata'
    stack.book(cancelled)

    assert _calendar_calls(google) == ['insert_event', 'patch_event', 'delete_event']
    writes = [call for call in google.calls() if call['operation'] in ('insert_event', 'patch_event')]
    assert all(_query(call) == {'conferenceDataVersion': '1', 'sendUpdates': 'none'} for call in writes), writes
    assert _query(google.calls('delete_event')[0])['sendUpdates'] == 'none'
    assert _live_events(google) == {}


def test_the_writes_carry_utc_instants(stack, google, monkeypatch):
    """What goes over the wire, not what the sandbox stores: dateTime in UTC with Z, the zone beside it."""
    _ready(stack, google)
    sent = []
    request = google_provider.httpx2.Client.request

    def recording(client, method, url, *args, **kwargs):
        if kwargs.get('json') is not None:
            sent.append(kwargs['json'])
        return request(client, method, url, *args, **kwargs)

    monkeypatch.setattr(google_provider.httpx2.Client, 'request', recording)
    start = datetime(2030, 5, 6, 9, 0, tzinfo=KOLKATA)
    created = booking_event(start=start, minutes=45)
    created['booking']['timezone'] = 'Asia/Kolkata'
    stack.book(created)
    moved = booking_event('booking.rescheduled', start=start + timedelta(hours=1), minutes=45)
    moved['booking']['timezone'] = 'Asia/Kolkata'
    stack.book(moved)

    inserted, patched = sent
    assert inserted['start'] == {'dateTime': '2030-05-06T03:30:00Z', 'timeZone': 'Asia/Kolkata'}
    assert inserted['end'] == {'dateTime': '2030-05-06T04:15:00Z', 'timeZone': 'Asia/Kolkata'}
    assert inserted['conferenceData']['createRequest']['conferenceSolutionKey'] == {'type': 'hangoutsMeet'}
    assert inserted['id'] == google_provider.event_id(inserted['conferenceData']['createRequest']['requestId'])
    assert patched['start'] == {'dateTime': '2030-05-06T04:30:00Z', 'timeZone': 'Asia/Kolkata'}
    assert patched['status'] == 'confirmed'


def test_a_lost_insert_answer_is_found_on_the_retry_not_made_twice(stack, google):
    _ready(stack, google)
    google.fail('insert_event', 503, body={'error': {'code': 503, 'message': 'Backend Error', 'errors': [
        {'domain': 'global', 'reason': 'backendError', 'message': 'Backend Error'}]}}, after=True)
    stack.post(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))  # its links open the meeting now
    records = stack.cloud.queues['meetings'].receive()

    assert handler('meetings')(sqs_event(records), stack.context)['batchItemFailures']
    assert len(_live_events(google)) == 1  # made, its answer lost
    assert handler('meetings')(sqs_event(records), stack.context) == {'batchItemFailures': []}

    assert len(_live_events(google)) == 1 and len(google.events) == 1
    assert _calendar_calls(google) == ['insert_event', 'get_event']
    [event] = google.events.values()
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'
    assert _open(stack, stack.view('b1')[1]['links']['clients']['c1'])['headers']['Location'] == event['hangoutLink']


def test_an_insert_refused_as_a_duplicate_uses_the_event_of_that_id(stack, google):
    """A lost answer seen the other way: the retry inserts again (a find was not asked for) and Google says the id
    exists; the event is read and used, and one the host deleted meanwhile is restored."""
    _ready(stack, google)
    google.fail('insert_event', 503, after=True)
    stack.post(booking_event())
    records = stack.cloud.queues['meetings'].receive()
    handler('meetings')(sqs_event(records), stack.context)
    [event_id] = list(google.events)
    google.remove_event(event_id)
    google.reset_calls()

    from meetbridge.providers.base import MeetingSpec
    from meetbridge.store.repository import account_of
    item = account_used_by(stack.tenant.tenant_id, 'company')
    start = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
    reference = next(iter(google.events.values()))['conferenceData']['createRequest']['requestId']
    spec = MeetingSpec(topic='Consultation', start=start, end=start + timedelta(hours=1), timezone='Europe/Berlin',
                       kind='appointment', reference=reference)
    from functions.meetings.handler import MeetingsSettings
    from meetbridge import config
    with config.using(MeetingsSettings):
        made = google_provider.PROVIDER.create(account_of(item, stack.tenant.tenant_id), spec)

    assert made.external_id == event_id and _calendar_calls(google) == ['insert_event', 'get_event', 'patch_event']
    assert google.events[event_id]['status'] == 'confirmed' and made.join_url == google.events[event_id]['hangoutLink']


def test_a_pending_conference_is_read_again_until_it_is_ready(stack, google):
    _ready(stack, google)
    google.set_conference_pending(2)

    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))

    assert _calendar_calls(google) == ['insert_event', 'get_event', 'get_event', 'get_event']
    [event] = _live_events(google).values()
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'
    assert _open(stack, stack.view('b1')[1]['links']['clients']['c1'])['headers']['Location'] == event['hangoutLink']


def test_a_conference_pending_past_the_reads_is_retried_and_found_by_its_id(stack, google, monkeypatch):
    _ready(stack, google)
    monkeypatch.setattr(google_provider, 'PENDING_WAITS_SECONDS', (0.01, 0.01))
    google.set_conference_pending(4)
    stack.post(booking_event())
    records = stack.cloud.queues['meetings'].receive()

    assert handler('meetings')(sqs_event(records), stack.context)['batchItemFailures']
    assert handler('meetings')(sqs_event(records), stack.context) == {'batchItemFailures': []}

    assert len(google.events) == 1 and google.calls('insert_event') and len(google.calls('insert_event')) == 1
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'


def test_a_user_with_meet_switched_off_is_a_problem_for_the_admin(stack, google):
    _ready(stack, google, user_id=NO_MEET)

    stack.book(booking_event())

    booking = stack.view('b1')[1]['booking']
    assert 'Google Meet may be switched off' in booking['problem']
    assert _live_events(google) == {}  # the event without a Meet is not left on the host's calendar


def test_a_class_session_is_one_event_and_each_client_has_their_own_link(stack, google):
    _ready(stack, google)
    assert stack.admin('PUT', 'services/yoga', {'name': 'Yoga', 'online': True, 'kind': 'class'})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    for booking_id, client_id in (('b1', 'anna'), ('b2', 'ben')):
        stack.book(booking_event(booking_id=booking_id, client_id=client_id, session_id='s1', service_id='yoga',
                                 start=start))

    assert len(google.events) == 1 and _calendar_calls(google) == ['insert_event']
    first, second = stack.view('b1')[1]['links'], stack.view('b2')[1]['links']
    assert first['clients']['anna'] != second['clients']['ben'] and first['provider'] == second['provider']


def test_a_revoked_grant_asks_for_reconnect(stack, google):
    _ready(stack, google)
    google.revoke_grants(OWNER)

    stack.post(booking_event())
    handler('meetings')(sqs_event(stack.cloud.queues['meetings'].receive()), stack.context)

    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'needs_reconnect'
    assert 'connected again' in stack.view('b1')[1]['booking']['problem']
    published = {json.loads(r['body'])['detail-type'] for r in stack.cloud.queues['meetings'].receive()}
    assert 'connection.broken' in published


def test_an_expired_access_token_is_renewed_once_and_the_refresh_token_kept(stack, google):
    _ready(stack, google)
    tenant_id = stack.tenant.tenant_id
    before = tokens.open_state(account_used_by(tenant_id, 'company'), tenant_id)
    google.expire_access_tokens()

    stack.book(booking_event())

    after = tokens.open_state(account_used_by(tenant_id, 'company'), tenant_id)
    assert google.refresh_count(OWNER) == 1 and len(_live_events(google)) == 1
    assert after['refresh_token'] == before['refresh_token'] and after['access_token'] != before['access_token']


def test_disconnect_revokes_the_grant_at_google(stack, google):
    _ready(stack, google)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    assert google.grants(OWNER)

    status, account = stack.admin('DELETE', 'accounts/default')
    stack.pump()

    assert status == 200 and account['status'] == 'disconnected'
    assert google.calls('revoke') and google.grants(OWNER) == []
    assert account_used_by(stack.tenant.tenant_id, 'company').secret_sealed is None


def test_another_google_user_replaces_the_company_account_and_takes_its_meetings(stack, google):
    _ready(stack, google)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    for n, booking_id in enumerate(('b1', 'b2')):
        stack.book(booking_event(booking_id=booking_id, client_id=f'c{n}', start=start + timedelta(hours=n)))
    links = {booking_id: stack.view(booking_id)[1]['links'] for booking_id in ('b1', 'b2')}

    assert connect_google(stack, google, user_id=DANA)['statusCode'] == 200
    stack.pump()

    live = _live_events(google)
    assert len(live) == 2 and {event['owner'] for event in live.values()} == {DANA}
    assert google.grants(OWNER) == []  # the replaced account's grant revoked once its meetings moved
    assert {booking_id: stack.view(booking_id)[1]['links'] for booking_id in ('b1', 'b2')} == links


def test_a_429_with_retry_after_and_a_403_rate_limit_are_retried(stack, google):
    _ready(stack, google)
    google.rate_limit('insert_event', retry_after=1)
    stack.book(booking_event())
    assert _calendar_calls(google) == ['insert_event', 'insert_event'] and len(google.events) == 1

    google.rate_limit('patch_event', status=403)
    stack.book(booking_event('booking.rescheduled', start=datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)))
    assert _calendar_calls(google)[2:] == ['patch_event', 'patch_event']
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'


def test_a_quota_exceeded_is_retried_later_and_insufficient_permissions_is_about_the_account(stack, google):
    _ready(stack, google)
    google.fail('insert_event', 403, body={'error': {'code': 403, 'message': 'Calendar usage limits exceeded.',
                                                     'errors': [{'domain': 'usageLimits', 'reason': 'quotaExceeded',
                                                                 'message': 'Calendar usage limits exceeded.'}]}})
    stack.post(booking_event())
    records = stack.cloud.queues['meetings'].receive()
    assert handler('meetings')(sqs_event(records), stack.context)['batchItemFailures']
    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'active'
    assert handler('meetings')(sqs_event(records), stack.context) == {'batchItemFailures': []}

    google.fail('insert_event', 403, body={'error': {'code': 403, 'message': 'Insufficient Permission', 'errors': [
        {'domain': 'global', 'reason': 'insufficientPermissions', 'message': 'Insufficient Permission'}]}})
    stack.book(booking_event(booking_id='b2', client_id='c2'))
    assert 'permission to manage its calendar events' in stack.view('b2')[1]['booking']['problem']


def test_a_google_account_passes_its_health_check_with_a_renewal(stack, google):
    from functions.health.handler import HealthSettings
    from helpers import acting_as
    from meetbridge import config
    from meetbridge.logic import health

    _ready(stack, google)
    refreshes = google.refresh_count(OWNER)
    item = account_used_by(stack.tenant.tenant_id, 'company')
    now = datetime.now(UTC).replace(microsecond=0)
    request = health.AccountCheck(tenant_id=stack.tenant.tenant_id, account_id=item.account_id, tick=now)
    with config.using(HealthSettings), acting_as('health'):
        health.check_account(request, now, lambda: 60.0)

    # Google's access tokens live an hour: the renewal is the check.
    assert google.refresh_count(OWNER) == refreshes + 1 and [c['operation'] for c in google.calls()] == ['token']
    assert account_used_by(stack.tenant.tenant_id, 'company').last_checked_at is not None

    google.revoke_grants(OWNER)
    later = now + timedelta(hours=1)
    request = health.AccountCheck(tenant_id=stack.tenant.tenant_id, account_id=item.account_id, tick=later)
    with config.using(HealthSettings), acting_as('health'):
        health.check_account(request, later, lambda: 60.0)
    assert account_used_by(stack.tenant.tenant_id, 'company').status == 'needs_reconnect'


def test_a_retry_after_beyond_what_the_invocation_may_wait_hands_the_message_back_at_once(stack, google, monkeypatch):
    _ready(stack, google)
    slept = []
    monkeypatch.setattr(google_provider.PROVIDER, 'sleep', slept.append)
    google.rate_limit('insert_event', retry_after=120)
    stack.post(booking_event())
    records = stack.cloud.queues['meetings'].receive()

    assert handler('meetings')(sqs_event(records), stack.context)['batchItemFailures']
    assert slept == []  # handed back at once, never waiting in the invocation
    assert handler('meetings')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    assert len(_live_events(google)) == 1


def test_a_lost_delete_answer_is_done_on_the_retry(stack, google):
    _ready(stack, google)
    stack.book(booking_event())
    [event_id] = list(google.events)
    google.fail('delete_event', 503, after=True)

    stack.post(booking_event('booking.cancelled'))
    records = stack.cloud.queues['meetings'].receive()
    assert handler('meetings')(sqs_event(records), stack.context)['batchItemFailures']
    assert handler('meetings')(sqs_event(records), stack.context) == {'batchItemFailures': []}

    assert google.events[event_id]['status'] == 'cancelled'
    assert [c['status'] for c in google.calls('delete_event')][-1] == 410  # already deleted: done
    assert stack.view('b1')[1]['meeting']['status'] == 'cancelled'


def test_an_event_its_host_deleted_is_restored_by_the_reschedule(stack, google):
    _ready(stack, google)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    stack.book(booking_event(start=start))
    [(event_id, event)] = google.events.items()
    google.remove_event(event_id)
    google.reset_calls()

    stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=3)))

    assert _calendar_calls(google) == ['patch_event'] and list(google.events) == [event_id]
    assert google.events[event_id]['status'] == 'confirmed'
    assert google.events[event_id]['hangoutLink'] == event['hangoutLink']  # the same Meet


def test_a_disconnect_whose_revocation_fails_still_forgets_the_tokens(stack, google):
    _ready(stack, google)
    google.fail('revoke', 503, times=3)

    assert stack.admin('DELETE', 'accounts/default')[0] == 200
    stack.pump()

    assert len(google.calls('revoke')) == 3  # tried again twice within the invocation
    assert account_used_by(stack.tenant.tenant_id, 'company').secret_sealed is None


def test_a_revocation_that_fails_once_is_done_on_its_second_try(stack, google):
    _ready(stack, google)
    google.fail('revoke', 503)

    assert stack.admin('DELETE', 'accounts/default')[0] == 200
    stack.pump()

    assert [c['status'] for c in google.calls('revoke')] == [503, 200] and google.grants(OWNER) == []


def test_a_meeting_deleted_in_google_calendar_is_sent_to_be_made_again_by_the_health_check(stack, google):
    from functions.health.handler import HealthSettings
    from helpers import acting_as
    from meetbridge import config
    from meetbridge.logic import health

    _ready(stack, google)
    tick = datetime.now(UTC).replace(microsecond=0)
    gone = booking_event(booking_id='gone', client_id='c-gone', start=tick + timedelta(hours=1, minutes=5), minutes=30)
    stack.book(gone)
    [event_id] = list(google.events)
    google.remove_event(event_id)
    item = account_used_by(stack.tenant.tenant_id, 'company')

    with config.using(HealthSettings), acting_as('health'):
        health.check_account(health.AccountCheck(tenant_id=stack.tenant.tenant_id, account_id=item.account_id,
                                                 tick=tick), tick, lambda: 60.0)

    records = stack.cloud.queues['meetings'].receive()
    [request] = [json.loads(record['body']) for record in records]
    assert request['detail']['meeting_key'] == 'booking:gone' and request['detail']['reason'] == 'missing'

    links = stack.view('gone')[1]['links']
    assert handler('meetings')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    assert len(_live_events(google)) == 1 and stack.view('gone')[1]['links'] == links


def test_twenty_parallel_creations_at_expiry_renew_once(stack, google):
    _ready(stack, google)
    google.expire_access_tokens()

    failures = book_in_parallel(stack, 20)

    assert failures == [] and google.refresh_count(OWNER) == 1 and len(_live_events(google)) == 20


def test_a_token_that_outlives_the_next_check_is_proven_by_listing_one_event(stack, google):
    from functions.health.handler import HealthSettings
    from helpers import acting_as
    from meetbridge import config
    from meetbridge.logic import health

    google.access_token_ttl = 3 * 3600
    _ready(stack, google)
    item = account_used_by(stack.tenant.tenant_id, 'company')
    now = datetime.now(UTC).replace(microsecond=0)

    with config.using(HealthSettings), acting_as('health'):
        health.check_account(health.AccountCheck(tenant_id=stack.tenant.tenant_id, account_id=item.account_id,
                                                 tick=now), now, lambda: 60.0)

    [listed] = google.calls()
    assert (listed['operation'], listed['status'], _query(listed)['maxResults']) == ('list_events', 200, '1')
    assert account_used_by(stack.tenant.tenant_id, 'company').last_checked_at is not None


def test_disconnecting_one_of_two_accounts_of_the_same_google_user_leaves_the_other_working(stack, google):
    """Google's grant is one per user and client: revoking one account's refresh token would end the other's too."""
    _ready(stack, google)
    assert connect_google(stack, google, provider_id='dana')['statusCode'] == 200  # the same Google user
    google.reset_calls()

    assert stack.admin('DELETE', 'providers/dana/account')[0] == 200
    stack.pump()

    assert google.calls('revoke') == [] and google.grants(OWNER)
    assert account_used_by(stack.tenant.tenant_id, 'provider:dana').secret_sealed is None
    google.expire_access_tokens()
    stack.book(booking_event())
    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'active' and len(_live_events(google)) == 1

    assert stack.admin('DELETE', 'accounts/default')[0] == 200  # the last account of the user: its grant revoked
    stack.pump()
    assert google.calls('revoke') and google.grants(OWNER) == []


def _usage_limit(reason: str) -> dict:
    return {'error': {'code': 403, 'message': 'Daily Limit Exceeded', 'errors': [
        {'domain': 'usageLimits', 'reason': reason, 'message': 'Daily Limit Exceeded'}]}}


def test_a_daily_limit_of_the_project_is_waited_out_and_never_marks_the_account_broken(stack, google):
    from functions.health.handler import HealthSettings
    from helpers import acting_as
    from meetbridge import config
    from meetbridge.logic import health

    google.access_token_ttl = 3 * 3600  # the check lists one event instead of renewing
    _ready(stack, google)
    item = account_used_by(stack.tenant.tenant_id, 'company')
    now = datetime.now(UTC).replace(microsecond=0)
    google.fail('list_events', 403, body=_usage_limit('dailyLimitExceeded'))
    with config.using(HealthSettings), acting_as('health'):
        try:
            health.check_account(health.AccountCheck(tenant_id=stack.tenant.tenant_id, account_id=item.account_id,
                                                     tick=now), now, lambda: 60.0)
        except RetryLater:
            pass  # the check is asked again later
    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'active'

    google.fail('insert_event', 403, body=_usage_limit('dailyLimitExceeded'))
    stack.post(booking_event())
    records = stack.cloud.queues['meetings'].receive()
    assert handler('meetings')(sqs_event(records), stack.context)['batchItemFailures']
    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'active'
    assert handler('meetings')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'


def test_a_meet_switched_on_after_a_failed_conference_gets_a_new_conference_on_the_same_event(stack, google):
    """The event of a failed conference keeps its id; the retry restores it and asks for a Meet under a new
    requestId, since Google ignores a repeated one."""
    _ready(stack, google, user_id=NO_MEET)
    from meetbridge.providers.base import MeetingSpec
    from meetbridge.providers.base import ProviderRejected
    from meetbridge.store.repository import account_of
    from functions.meetings.handler import MeetingsSettings
    from meetbridge import config

    account = account_of(account_used_by(stack.tenant.tenant_id, 'company'), stack.tenant.tenant_id)
    start = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
    spec = MeetingSpec(topic='Consultation', start=start, end=start + timedelta(hours=1), timezone='Asia/Kolkata',
                       kind='appointment', reference='claim-of-b9')
    with config.using(MeetingsSettings):
        with pytest.raises(ProviderRejected, match='switched off'):
            google_provider.PROVIDER.create(account, spec)
        [event_id] = list(google.events)
        assert google.events[event_id]['status'] == 'cancelled'
        google.set_meet_enabled(NO_MEET, True)
        google.reset_calls()

        made = google_provider.PROVIDER.create(account, spec)

    assert _calendar_calls(google) == ['insert_event', 'get_event', 'patch_event']
    event = google.events[event_id]
    assert made.external_id == event_id and event['status'] == 'confirmed'
    assert made.join_url == event['hangoutLink'] and event['conferenceData']['createRequest']['requestId'] != spec.reference


def test_a_booking_moved_while_its_lost_insert_answer_waited_gets_the_event_moved_too(stack, google):
    _ready(stack, google)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    google.fail('insert_event', 503, after=True)
    stack.post(booking_event(start=start.astimezone(KOLKATA)))
    handler('meetings')(sqs_event(stack.cloud.queues['meetings'].receive()), stack.context)
    [event_id] = list(google.events)

    moved = start + timedelta(hours=3)
    stack.book(booking_event('booking.rescheduled', start=moved.astimezone(KOLKATA)))
    stack.pump()

    event = google.events[event_id]
    assert datetime.fromisoformat(event['start']['dateTime']) == moved and len(google.events) == 1
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'


def test_a_reschedule_google_refuses_on_an_event_its_host_deleted_makes_a_new_event(stack, google):
    _ready(stack, google)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    stack.book(booking_event(start=start))
    [(old_id, old)] = google.events.items()
    google.remove_event(old_id)
    google.fail('patch_event', 403, body={'error': {'code': 403, 'message': 'Forbidden', 'errors': [
        {'domain': 'global', 'reason': 'forbidden', 'message': 'Forbidden'}]}})
    google.reset_calls()

    stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=3)))

    assert _calendar_calls(google) == ['patch_event', 'get_event', 'insert_event']
    [(new_id, new)] = _live_events(google).items()
    assert new_id != old_id and datetime.fromisoformat(new['start']['dateTime']) == start + timedelta(hours=3)
    view = stack.view('b1')[1]
    assert view['meeting']['status'] == 'scheduled'
    assert _open(stack, view['links']['clients']['c1'])['statusCode'] in (200, 302)


def test_a_code_that_is_no_google_code_is_a_page_not_an_error(stack, google):
    stack.setup_online_service()
    auth_uri = start_connect(stack, 'google')
    answer = google.authorize(OWNER, auth_uri)
    for code in ('4/\ud800x', 'x' * 5000, '4/\x00'):
        event = oauth_event('google', 'callback', {'state': answer['state']})
        event['queryStringParameters'] = {**answer, 'code': code}  # as the gateway hands it over, decoded
        page = handler('oauth')(event, stack.context)
        assert page['statusCode'] == 400, (code, page)
        assert 'not an authorisation from Google' in page['body']
        answer = google.authorize(OWNER, start_connect(stack, 'google'))
