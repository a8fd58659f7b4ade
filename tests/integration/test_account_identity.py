"""Meeting accounts are records with an id of their own: replacing or disconnecting the account the
company or a provider uses never breaks a meeting an older account made."""

import json
import time
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from bookings import booking_event
from helpers import handler, join_event, zoom_event_request
from integration_stack import connect_microsoft, connect_zoom

from infra.sandboxes.zoom.signing import sign
from meetbridge.store import tokens
from meetbridge.store.models import AccountItem
from meetbridge.store.repository import account_used_by

pytestmark = pytest.mark.usefixtures('account_events')

def _open(stack, url: str) -> dict:
    """A person's click on the link's page."""
    return handler('join')(join_event(url.rsplit('/', 1)[1], 'POST'), stack.context)


def _client_link(stack, booking_id: str, client_id: str = 'c1') -> str:
    return stack.view(booking_id)[1]['links']['clients'][client_id]


def _company_account(stack) -> dict:
    status, account = stack.admin('GET', 'accounts/default')
    assert status == 200
    return account


def _deauthorize(stack, user_id: str) -> dict:
    body = json.dumps({'event': 'app_deauthorized', 'event_ts': int(time.time() * 1000), 'payload': {
        'account_id': 'acct-demo', 'user_id': user_id, 'client_id': 'zoom-client',
        'deauthorization_time': datetime.now(UTC).isoformat()}}).encode()
    now = int(time.time())
    headers = {'x-zm-request-timestamp': str(now), 'x-zm-signature': sign('zoom-webhook-secret', now, body)}
    response = handler('oauth')(zoom_event_request(body, headers), stack.context)
    assert response['statusCode'] == 200
    return json.loads(response['body'])


def test_a_custom_link_meeting_keeps_its_room_when_zoom_replaces_the_custom_link(stack, zoom):
    stack.setup_online_service(url='https://meet.example.com/old-room')
    custom = _company_account(stack)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))

    connect_zoom(stack, zoom)
    zoom_account = _company_account(stack)
    assert zoom_account['type'] == 'zoom' and zoom_account['id'] != custom['id']

    # The older meeting still names the custom link that made it, and its links still open its room.
    assert stack.view('b1')[1]['meeting']['account_id'] == custom['id']
    assert _open(stack, _client_link(stack, 'b1'))['headers']['Location'] == 'https://meet.example.com/old-room'
    assert _open(stack, stack.view('b1')[1]['links']['provider'])['headers']['Location'] == \
        'https://meet.example.com/old-room'
    retired = AccountItem.get(*AccountItem.key(stack.tenant.tenant_id, custom['id']))
    assert (retired.status, retired.holder) == ('retired', None)

    # New bookings go to Zoom; a custom link set again is a new account with its own room.
    stack.book(booking_event(booking_id='b2', client_id='c2'))
    assert stack.view('b2')[1]['meeting']['account_id'] == zoom_account['id'] and len(zoom.meetings) == 1
    newer = {'type': 'custom_link', 'url': 'https://meet.example.com/new-room'}
    assert stack.admin('PUT', 'accounts/default', newer)[0] == 200
    assert _company_account(stack)['id'] not in (custom['id'], zoom_account['id'])
    assert _open(stack, _client_link(stack, 'b1'))['headers']['Location'] == 'https://meet.example.com/old-room'


def test_editing_the_custom_link_in_use_reaches_all_its_meetings(stack):
    stack.setup_online_service(url='https://meet.example.com/old-room')
    before = _company_account(stack)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))

    moved = {'type': 'custom_link', 'url': 'https://meet.example.com/moved'}
    status, after = stack.admin('PUT', 'accounts/default', moved)

    assert status == 200 and after['id'] == before['id']
    assert _open(stack, _client_link(stack, 'b1'))['headers']['Location'] == 'https://meet.example.com/moved'


def test_zoom_replaced_by_teams_re_homes_its_meetings_then_is_revoked_and_they_move_or_cancel(stack, zoom, microsoft):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    zoom_account = _company_account(stack)
    old_access_token = tokens.open_state(account_used_by(stack.tenant.tenant_id, 'company'),
                                         stack.tenant.tenant_id)['access_token']
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    for booking_id in ('b1', 'b2'):
        stack.book(booking_event(booking_id=booking_id, client_id=booking_id, start=start))
    b1_zoom, b2_zoom = (stack.view(b)[1] for b in ('b1', 'b2'))
    assert len(zoom.meetings) == 2

    zoom.reset_calls()
    assert connect_microsoft(stack, microsoft)['statusCode'] == 200
    teams_account = _company_account(stack)
    assert teams_account['type'] == 'microsoft' and teams_account['id'] != zoom_account['id']
    reports = stack.pump()

    # Its future meetings are made again in Teams with the same links, the Zoom ones deleted, and only then
    # is the replaced account revoked at Zoom: its token no longer opens anything there.
    assert all(not report['batchItemFailures'] for report in reports['meetings'])
    assert zoom.meetings == {} and len(microsoft.meetings) == 2
    assert [c['operation'] for c in zoom.calls() if c['operation'] in ('delete_meeting', 'revoke')] == \
        ['delete_meeting', 'delete_meeting', 'revoke']
    refused = httpx2.get(f'{zoom.api_base}/users/me', headers={'Authorization': f'Bearer {old_access_token}'})
    assert refused.status_code == 401
    revoked = AccountItem.get(*AccountItem.key(stack.tenant.tenant_id, zoom_account['id']))
    assert (revoked.status, revoked.secret_sealed, revoked.gsi1pk) == ('revoked', None, None)
    for booking_id, before in (('b1', b1_zoom), ('b2', b2_zoom)):
        view = stack.view(booking_id)[1]
        assert view['meeting']['account_id'] == teams_account['id'] and view['links'] == before['links']

    # A reschedule moves the meeting to the account now hosting the booking; the links stay the same.
    microsoft.reset_calls()
    stack.post(booking_event('booking.rescheduled', booking_id='b1', client_id='b1', start=start + timedelta(hours=1)))
    reports = stack.pump()
    assert all(not report['batchItemFailures'] for report in reports['meetings'])
    b1 = stack.view('b1')[1]
    assert b1['booking']['problem'] is None and b1['meeting']['account_id'] == teams_account['id']
    assert b1['meeting']['provider'] == 'microsoft' and b1['links'] == b1_zoom['links']
    assert _open(stack, b1_zoom['links']['provider'])['headers']['Location'] in \
        {m['joinWebUrl'] for m in microsoft.meetings.values()}

    # A cancel of the other meeting: cancelled, nothing retried.
    stack.post(booking_event('booking.cancelled', booking_id='b2', client_id='b2', start=start))
    reports = stack.pump()
    assert all(not report['batchItemFailures'] for report in reports['meetings'])
    assert stack.view('b2')[1]['meeting']['status'] == 'cancelled' and len(microsoft.meetings) == 1
    assert _open(stack, b2_zoom['links']['clients']['b2'])['statusCode'] == 410
    assert stack.cloud.queues['meetings'].receive() == []


def test_the_old_zoom_users_deauthorization_leaves_the_account_that_replaced_it_alone(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom, user_id='zoom-owner')
    connect_zoom(stack, zoom, user_id='zoom-eli')
    eli = _company_account(stack)
    stack.cloud.queues['notifications'].receive()

    assert _deauthorize(stack, 'zoom-owner') == {'disconnected': 0}

    assert _company_account(stack) == eli and eli['status'] == 'active'
    assert stack.cloud.queues['notifications'].receive() == []
    stack.book(booking_event())
    assert [m['host_id'] for m in zoom.meetings.values()] == ['zoom-eli']
    # The user of the account in use still reaches it.
    assert _deauthorize(stack, 'zoom-eli') == {'disconnected': 1}
    assert _company_account(stack)['status'] == 'disconnected'


def test_the_same_user_connecting_again_keeps_the_account_and_its_meetings(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    first = _company_account(stack)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    stack.book(booking_event(start=start))

    zoom.reset_calls()
    connect_zoom(stack, zoom)

    assert _company_account(stack)['id'] == first['id'] and zoom.calls('revoke') == []
    stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=1)))
    assert [c['operation'] for c in zoom.calls() if c['operation'].endswith('meeting')] == ['update_meeting']


def test_a_meeting_of_a_disconnected_account_moves_to_the_account_now_hosting_it_when_rescheduled(stack):
    stack.setup_online_service(url='https://meet.example.com/company-room')
    own = {'type': 'custom_link', 'url': 'https://rooms.example.net/dana'}
    assert stack.admin('PUT', 'providers/dana/account', own)[0] == 200
    danas = stack.admin('GET', 'providers/dana/account')[1]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(booking_event(start=start))
    before = stack.view('b1')[1]

    assert stack.admin('DELETE', 'providers/dana/account')[1]['status'] == 'disconnected'
    assert _open(stack, before['links']['clients']['c1'])['statusCode'] == 503
    assert stack.view('b1')[1]['meeting']['account_id'] == danas['id']

    stack.post(booking_event('booking.rescheduled', start=start + timedelta(minutes=30)))
    reports = stack.pump()

    assert all(not report['batchItemFailures'] for report in reports['meetings'])
    after = stack.view('b1')[1]
    assert after['meeting']['account_id'] == _company_account(stack)['id'] and after['links'] == before['links']
    assert _open(stack, after['links']['provider'])['headers']['Location'] == 'https://meet.example.com/company-room'


def test_a_live_class_session_whose_zoom_account_was_replaced_stays_on_it_until_it_ends_for_every_client(stack, zoom):
    """People may be in it: a meeting under way is not moved off an account that still works; a client booking
    the session now joins it there too."""
    stack.setup_online_service()
    assert stack.admin('PUT', 'services/yoga', {'name': 'Yoga', 'online': True, 'kind': 'class'})[0] == 200
    connect_zoom(stack, zoom)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    session = {'session_id': 'yoga-1', 'service_id': 'yoga', 'start': start}
    stack.book(booking_event(booking_id='b1', client_id='anna', **session))
    [(meeting_id, meeting)] = zoom.meetings.items()

    assert stack.admin('PUT', 'accounts/default', {'type': 'custom_link', 'url': 'https://meet.example.com/x'})[0] == 200
    stack.post(booking_event(booking_id='b2', client_id='ben', **session))
    reports = stack.pump()

    assert all(not report['batchItemFailures'] for report in reports['meetings'])
    ben, anna = stack.view('b2')[1], stack.view('b1')[1]
    assert ben['booking']['problem'] is None and ben['meeting']['provider'] == 'zoom'
    assert meeting_id in zoom.meetings
    for link in (ben['links']['clients']['ben'], anna['links']['clients']['anna']):
        assert _open(stack, link)['headers']['Location'].startswith(zoom.url)


def test_teams_replaced_by_a_custom_link_moves_its_meetings_there_then_forgets_its_tokens(stack, microsoft):
    stack.setup_online_service()
    assert connect_microsoft(stack, microsoft)['statusCode'] == 200
    teams = _company_account(stack)
    stack.book(booking_event(start=datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)))
    [teams_meeting] = microsoft.meetings.values()
    provider_link = stack.view('b1')[1]['links']['provider']

    assert stack.admin('PUT', 'accounts/default', {'type': 'custom_link', 'url': 'https://meet.example.com/x'})[0] == 200
    stack.pump()

    revoked = AccountItem.get(*AccountItem.key(stack.tenant.tenant_id, teams['id']))
    assert (revoked.status, revoked.secret_sealed, revoked.gsi1pk, revoked.holder) == ('revoked', None, None, None)
    assert teams_meeting['id'] not in microsoft.meetings
    assert _open(stack, provider_link)['headers']['Location'] == 'https://meet.example.com/x'
    stack.post(booking_event('booking.cancelled', start=datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)))
    reports = stack.pump()
    assert all(not report['batchItemFailures'] for report in reports['meetings'])
    assert stack.view('b1')[1]['meeting']['status'] == 'cancelled'
