"""Microsoft Teams through MSAL and Graph, against the Microsoft sandbox."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from bookings import booking_event
from helpers import handler, join_event
from integration_stack import MICROSOFT_REDIRECT_URI, book_in_parallel, connect_microsoft, finish_connect, start_connect

from meetbridge.store import tokens
from meetbridge.store.repository import account_used_by

pytestmark = pytest.mark.usefixtures('account_events')

OWNER = '00000000-0000-0000-0000-000000000001'
DANA = '00000000-0000-0000-0000-000000000002'
UNLICENSED = '00000000-0000-0000-0000-000000000003'
PERSONAL = '00000000-0000-0000-0000-000000000009'


def _graph_calls(sandbox) -> list[str]:
    return [c['operation'] for c in sandbox.calls()
            if c['operation'] in ('create_meeting', 'create_or_get_meeting', 'update_meeting', 'delete_meeting',
                                  'get_meeting')]


def _ready(stack, microsoft, **kwargs) -> None:
    stack.setup_online_service()
    page = connect_microsoft(stack, microsoft, **kwargs)
    assert page['statusCode'] == 200, page['body']
    microsoft.reset_calls()


def _open(stack, url: str) -> dict:
    return handler('join')(join_event(url.rsplit('/', 1)[1], 'POST'), stack.context)  # the click


def test_a_work_account_connects_with_msal_and_a_preflight_meeting(stack, microsoft):
    auth_uri = start_connect(stack, 'microsoft')
    query = parse_qs(urlsplit(auth_uri).query)
    assert query['redirect_uri'] == [MICROSOFT_REDIRECT_URI] and query['code_challenge_method'] == ['S256']
    assert query['response_mode'] == ['form_post']  # the code never travels in a URL
    assert '/organizations/' in auth_uri and 'OnlineMeetings.ReadWrite' in query['scope'][0]

    page = finish_connect(stack, 'microsoft', microsoft.authorize(OWNER, auth_uri))

    assert page['statusCode'] == 200 and 'Microsoft Teams is connected' in page['body']
    account = stack.admin('GET', 'accounts/default')[1]
    assert (account['type'], account['status'], account['email']) == ('microsoft', 'active', 'owner@contoso.example')
    # The pre-flight made and removed a test meeting.
    ops = [c['operation'] for c in microsoft.calls()]
    assert ops.count('create_meeting') == 1 and ops.count('delete_meeting') == 1 and microsoft.meetings == {}


def test_personal_and_unlicensed_accounts_are_refused_at_connect_with_a_reason(stack, microsoft):
    microsoft.allow_personal_accounts_on_organizations = True  # the backstop: refuse by tenant id
    personal = connect_microsoft(stack, microsoft, user_id=PERSONAL)
    assert personal['statusCode'] == 400 and 'Personal Microsoft accounts' in personal['body']

    unlicensed = connect_microsoft(stack, microsoft, user_id=UNLICENSED)
    assert unlicensed['statusCode'] == 400 and 'licence' in unlicensed['body']
    assert stack.admin('GET', 'accounts/default')[0] == 404


def test_cancel_at_consent_and_a_replayed_callback_get_pages(stack, microsoft):
    auth_uri = start_connect(stack, 'microsoft')
    state = parse_qs(urlsplit(auth_uri).query)['state'][0]
    cancelled = finish_connect(stack, 'microsoft', {'error': 'access_denied', 'state': state,
                                                    'error_description': 'AADSTS65004: declined'})
    assert cancelled['statusCode'] == 400 and 'Connection cancelled' in cancelled['body']

    auth_uri = start_connect(stack, 'microsoft')
    response = microsoft.authorize(OWNER, auth_uri)
    assert finish_connect(stack, 'microsoft', response)['statusCode'] == 200
    replayed = finish_connect(stack, 'microsoft', response)
    assert replayed['statusCode'] == 400 and 'already used' in replayed['body']


def test_one_teams_meeting_follows_ten_reschedules_and_is_gone_after_cancel(stack, microsoft):
    _ready(stack, microsoft)
    start = datetime(2030, 5, 6, 7, 30, tzinfo=UTC)
    stack.book(booking_event(start=start))
    # createOrGet takes no lobby settings: they follow in a PATCH
    assert _graph_calls(microsoft) == ['create_or_get_meeting', 'update_meeting']
    [(meeting_id, meeting)] = microsoft.meetings.items()
    assert meeting['startDateTime'].startswith('2030-05-06T07:30:00') and meeting['lobbyBypassSettings']['scope'] == 'everyone'
    links = stack.view('b1')[1]['links']

    for hours in range(1, 11):
        stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=hours)))

    assert _graph_calls(microsoft) == ['create_or_get_meeting', 'update_meeting'] + ['update_meeting'] * 10
    assert list(microsoft.meetings) == [meeting_id]
    assert microsoft.meetings[meeting_id]['startDateTime'].startswith('2030-05-06T17:30:00')
    assert microsoft.meetings[meeting_id]['endDateTime'].startswith('2030-05-06T18:30:00')
    assert stack.view('b1')[1]['links'] == links

    stack.book(booking_event('booking.cancelled', start=start + timedelta(hours=10)))
    assert _graph_calls(microsoft)[-1] == 'delete_meeting' and microsoft.meetings == {}


def test_both_links_lead_to_the_teams_meeting(stack, microsoft):
    _ready(stack, microsoft)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    links = stack.view('b1')[1]['links']
    [meeting] = microsoft.meetings.values()

    for url in (links['clients']['c1'], links['provider']):
        page = _open(stack, url)
        assert page['statusCode'] == 303 and page['headers']['Location'] == meeting['joinWebUrl']


def test_a_class_session_is_one_teams_meeting(stack, microsoft):
    _ready(stack, microsoft)
    assert stack.admin('PUT', 'services/yoga', {'name': 'Yoga', 'online': True, 'kind': 'class'})[0] == 200
    for booking_id, client_id in (('b1', 'anna'), ('b2', 'ben')):
        stack.book(booking_event(booking_id=booking_id, client_id=client_id, session_id='s1', service_id='yoga'))

    assert len(microsoft.meetings) == 1
    first, second = stack.view('b1')[1]['links'], stack.view('b2')[1]['links']
    assert first['clients']['anna'] != second['clients']['ben'] and first['provider'] == second['provider']


def test_the_providers_own_account_hosts_and_keeps_its_meetings(stack, microsoft):
    _ready(stack, microsoft)
    assert connect_microsoft(stack, microsoft, user_id=DANA, provider_id='dana')['statusCode'] == 200
    stack.book(booking_event())
    [meeting] = microsoft.meetings.values()
    assert meeting['participants']['organizer']['identity']['user']['id'] == DANA
    assert stack.view('b1')[1]['meeting']['account_id'] == stack.admin('GET', 'providers/dana/account')[1]['id']

    microsoft.reset_calls()
    stack.book(booking_event('booking.cancelled'))
    assert _graph_calls(microsoft) == ['delete_meeting'] and microsoft.meetings == {}


def test_throttling_honours_retry_after_and_a_meeting_gone_in_teams_counts_as_deleted(stack, microsoft):
    _ready(stack, microsoft)
    microsoft.fail('create_or_get_meeting', 429, body={'error': {'code': 'TooManyRequests', 'message': 'slow down'}},
                   headers={'Retry-After': '1'})
    stack.book(booking_event())
    assert _graph_calls(microsoft) == ['create_or_get_meeting', 'create_or_get_meeting', 'update_meeting']

    microsoft.fail('delete_meeting', 404, body={'error': {'code': 'NotFound', 'message': 'gone'}})
    stack.book(booking_event('booking.cancelled'))
    assert stack.view('b1')[1]['meeting']['status'] == 'cancelled'


def test_the_token_cache_is_written_back_only_when_msal_changed_it(stack, microsoft):
    _ready(stack, microsoft)
    tenant_id = stack.tenant.tenant_id
    before = account_used_by(tenant_id, 'company').secret_sealed

    stack.book(booking_event())  # a fresh access token is in the cache: nothing to write
    assert account_used_by(tenant_id, 'company').secret_sealed == before

    microsoft.expire_access_tokens()
    stack.book(booking_event(booking_id='b2'))  # Graph refuses it: one refresh, the new cache stored
    after = account_used_by(tenant_id, 'company')
    assert after.secret_sealed != before and microsoft.refresh_count() == 1
    assert tokens.open_state(after, tenant_id)['account'] == f'{OWNER}.11111111-1111-1111-1111-111111111111'


def test_twenty_parallel_creations_at_expiry_refresh_once(stack, microsoft):
    _ready(stack, microsoft)
    microsoft.expire_access_tokens()

    failures = book_in_parallel(stack, 20)

    assert failures == [] and microsoft.refresh_count() == 1 and len(microsoft.meetings) == 20


def test_revoked_refresh_tokens_ask_for_reconnect(stack, microsoft):
    from helpers import sqs_event
    _ready(stack, microsoft)
    microsoft.expire_access_tokens()
    microsoft.revoke_refresh_tokens(OWNER)

    stack.post(booking_event())
    handler('meetings')(sqs_event(stack.cloud.queues['meetings'].receive()), stack.context)

    account = stack.admin('GET', 'accounts/default')[1]
    assert account['status'] == 'needs_reconnect'
    assert 'connected again' in stack.view('b1')[1]['booking']['problem']
    published = {json.loads(r['body'])['detail-type'] for r in stack.cloud.queues['meetings'].receive()}
    assert 'connection.broken' in published


def test_a_transient_refresh_failure_is_retried_not_a_reconnect(stack, microsoft):
    _ready(stack, microsoft)
    microsoft.expire_access_tokens()
    microsoft.fail('token', 503, body={'error': 'temporarily_unavailable'}, headers={'Retry-After': '0'})

    from helpers import sqs_event
    stack.post(booking_event())
    records = stack.cloud.queues['meetings'].receive()
    first = handler('meetings')(sqs_event(records), stack.context)
    assert first['batchItemFailures']
    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'active'
    handler('meetings')(sqs_event(records), stack.context)
    assert len(microsoft.meetings) == 1


def test_disconnect_removes_the_cache_and_closes_links(stack, microsoft):
    _ready(stack, microsoft)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    link = stack.view('b1')[1]['links']['clients']['c1']

    status, account = stack.admin('DELETE', 'accounts/default')

    assert status == 200 and account['status'] == 'disconnected'
    stack.pump()  # its tokens are forgotten once its meetings are reconciled
    assert account_used_by(stack.tenant.tenant_id, 'company').secret_sealed is None
    assert _open(stack, link)['statusCode'] == 503
    stack.book(booking_event(booking_id='b2'))
    assert 'No meeting account' in stack.view('b2')[1]['booking']['problem']


def test_an_error_dict_from_the_code_exchange_ends_on_a_page(stack, microsoft):
    # MSAL returns protocol errors as a dict (and raises only for state/nonce mismatches).
    auth_uri = start_connect(stack, 'microsoft')
    response = microsoft.authorize(OWNER, auth_uri)
    microsoft.fail('token', 400, body={'error': 'invalid_grant', 'error_description': 'AADSTS54005: already redeemed',
                                       'error_codes': [54005]})

    page = finish_connect(stack, 'microsoft', response)

    assert page['statusCode'] == 400 and 'did not accept' in page['body'] and 'invalid_grant' in page['body']
    assert stack.admin('GET', 'accounts/default')[0] == 404


def test_a_meeting_stays_with_the_account_that_made_it_when_the_provider_connects_later(stack, microsoft):
    _ready(stack, microsoft)
    start = datetime(2030, 5, 6, 7, 30, tzinfo=UTC)
    stack.book(booking_event(start=start))
    [(meeting_id, meeting)] = microsoft.meetings.items()
    assert meeting['participants']['organizer']['identity']['user']['id'] == OWNER

    # The provider connects their own account afterwards: new bookings use it, this meeting does not move.
    assert connect_microsoft(stack, microsoft, user_id=DANA, provider_id='dana')['statusCode'] == 200
    microsoft.reset_calls()
    stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=1)))
    assert _graph_calls(microsoft) == ['update_meeting'] and list(microsoft.meetings) == [meeting_id]
    assert stack.view('b1')[1]['meeting']['account_id'] == stack.admin('GET', 'accounts/default')[1]['id']

    # ... and disconnecting the provider's account later leaves it alone too.
    assert stack.admin('DELETE', 'providers/dana/account')[0] == 200
    stack.book(booking_event('booking.cancelled', start=start + timedelta(hours=1)))
    assert microsoft.meetings == {}


def test_a_check_meeting_that_will_not_go_away_does_not_block_the_connect(stack, microsoft):
    microsoft.fail('delete_meeting', 503, body={'error': {'code': 'ServiceUnavailable', 'message': 'later'}})

    page = connect_microsoft(stack, microsoft)

    assert page['statusCode'] == 200
    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'active'


def test_discovery_is_fetched_once_per_container(stack, microsoft):
    stack.setup_online_service()
    for provider_id in (None, 'dana'):
        assert connect_microsoft(stack, microsoft, provider_id=provider_id)['statusCode'] == 200

    assert [c['operation'] for c in microsoft.calls()].count('discovery') == 1
