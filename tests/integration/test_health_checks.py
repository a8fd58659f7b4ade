"""Hourly health checks against the Zoom and Microsoft sandboxes: the tick's fan-out to tenants, then to accounts,
each account proven with its cheapest call, revoked accounts marked, transient failures only noted, and meetings
24 h and 1 h ahead asked for at the provider (a missing one sent to be made again); one account's failure retried
alone, a message short of time handing its meetings on, a redelivered check costing no provider call."""

import json
import os
import threading
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from bookings import booking_event
from helpers import LambdaContext, acting_as, handler, sqs_event
from integration_stack import connect_microsoft, connect_zoom

from functions.health.handler import HealthSettings
from meetbridge import config
from meetbridge.logic import health
from meetbridge.providers.zoom import ZoomProvider
from meetbridge.store.models import AccountItem
from meetbridge.store.repository import account_used_by, get_meeting

OWNER = '00000000-0000-0000-0000-000000000001'


@pytest.fixture
def bus(cloud):
    """What the bus carries about connections, caught by a rule of the test's own."""
    sqs, events = boto3.client('sqs'), boto3.client('events')
    url = sqs.create_queue(QueueName='connection-events')['QueueUrl']
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
    bus_name = os.environ['EVENT_BUS_NAME']
    events.put_rule(Name='ConnectionEvents', EventBusName=bus_name, EventPattern=json.dumps(
        {'source': ['meetbridge'], 'detail-type': ['connection.broken', 'connection.expiring']}))
    events.put_targets(Rule='ConnectionEvents', EventBusName=bus_name, Targets=[{'Id': 'q', 'Arn': arn}])

    def received() -> list[dict]:
        found = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get('Messages', []):
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message['ReceiptHandle'])
                body = json.loads(message['Body'])
                found.append({'detail-type': body['detail-type'], **body['detail']})
        return found

    return received


def _scheduled_event(tick: datetime) -> dict:
    return {'version': '0', 'id': 'tick', 'detail-type': 'Scheduled Event', 'source': 'aws.events',
            'account': '123456789012', 'time': tick.strftime('%Y-%m-%dT%H:%M:%SZ'), 'region': 'us-east-1',
            'resources': ['arn:aws:events:us-east-1:123456789012:rule/meetbridge-HealthFunctionEveryHour'],
            'detail': {}}


def _run_checks(stack, context=None) -> list[dict]:
    """The health queue's consumer, until the queue is empty; returns the requests it took, in order."""
    taken = []
    while records := stack.cloud.queues['health'].receive():
        assert handler('health')(sqs_event(records), context or stack.context) == {'batchItemFailures': []}
        taken += [json.loads(record['body']) for record in records]
    return taken


def _tick(stack, tick: datetime) -> list[dict]:
    """The schedule fires: one check request per tenant, then the queue's consumer lists the tenant's accounts and
    checks each; returns the requests it took."""
    assert handler('health')(_scheduled_event(tick), stack.context) == {'tick': tick.isoformat(), 'tenants': 1}
    return _run_checks(stack)


def _seconds_left() -> float:
    return 60.0


def _check_at(stack, tick: datetime, now: datetime) -> None:
    """The health function's check of the company account, as if run at `now`."""
    request = health.AccountCheck(tenant_id=stack.tenant.tenant_id, account_id=_account(stack).account_id, tick=tick)
    with config.using(HealthSettings), acting_as('health'):
        health.check_account(request, now, _seconds_left)


def _account(stack) -> AccountItem:
    return account_used_by(stack.tenant.tenant_id, 'company')


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _rehome_requests(stack) -> list[dict]:
    return [json.loads(record['body']) for record in stack.cloud.queues['meetings'].receive()]


# --- accounts -------------------------------------------------------------------------------------


def test_a_zoom_token_that_would_expire_before_the_next_check_is_renewed_and_the_check_noted(stack, zoom, bus):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    refreshes = zoom.refresh_count('zoom-owner')
    zoom.reset_calls()

    _tick(stack, _now())

    # Zoom's tokens live an hour: the renewal is the check, and no other call is made.
    assert zoom.refresh_count('zoom-owner') == refreshes + 1
    assert [call['operation'] for call in zoom.calls()] == ['token']
    account = _account(stack)
    assert account.status == 'active' and account.last_checked_at is not None
    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'active'
    assert bus() == []


def test_a_token_that_outlives_the_next_check_is_proven_with_get_users_me(stack, zoom, bus):
    zoom.access_token_ttl = 3 * 3600
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    refreshes = zoom.refresh_count('zoom-owner')
    zoom.reset_calls()

    _tick(stack, _now())

    assert [call['operation'] for call in zoom.calls()] == ['get_me']
    assert zoom.refresh_count('zoom-owner') == refreshes
    assert _account(stack).last_checked_at is not None


@pytest.mark.parametrize('status, body', [
    (429, {'code': 429, 'message': 'You have exceeded the daily rate limit of (100) for Get user API requests.'}),
    (400, {'code': 300, 'message': 'Request Body should be a valid JSON object.'}),
])
def test_a_refusal_not_about_the_account_marks_nothing(stack, zoom, bus, status, body):
    """Only a refusal of the account's grant or user breaks it: marking it would move every future meeting."""
    zoom.access_token_ttl = 3 * 3600
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    zoom.fail('get_me', status, body=body)

    _tick(stack, _now())

    account = _account(stack)
    assert account.status == 'active' and bus() == []


def test_a_zoom_user_who_revoked_the_app_is_marked_and_announced_at_the_next_check(stack, zoom, bus):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    zoom.revoke_user('zoom-owner')  # no app_deauthorized reaches us

    _tick(stack, _now())

    account = _account(stack)
    assert account.status == 'needs_reconnect' and account.problem and account.last_checked_at is None
    [broken] = bus()
    assert broken['detail-type'] == 'connection.broken' and broken['reason'] == 'check_failed'
    assert (broken['tenant_id'], broken['account_id'], broken['holder'], broken['type']) == (
        stack.tenant.tenant_id, account.account_id, 'company', 'zoom')

    _tick(stack, _now())  # a broken account is no longer checked, nor announced again
    assert bus() == []


def test_a_revoked_token_that_zoom_still_refuses_after_a_renewal_marks_the_account(stack, zoom, bus):
    zoom.access_token_ttl = 3 * 3600
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    zoom.fail('get_me', 401, body={'code': 124, 'message': 'Invalid access token.'}, times=2)

    _tick(stack, _now())

    assert _account(stack).status == 'needs_reconnect'
    assert [event['reason'] for event in bus()] == ['check_failed']


def test_a_transient_failure_marks_nothing_and_twelve_hours_of_them_announce_expiring_once(stack, zoom, bus):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    zoom.fail('token', 503, body={'reason': 'unavailable', 'error': 'temporarily_unavailable'}, times=10)
    first = _now()

    _tick(stack, first)

    account = _account(stack)
    assert account.status == 'active' and account.last_checked_at is None
    assert account.check_failing_since is not None and bus() == []

    _check_at(stack, first, first + timedelta(hours=6))
    assert bus() == []
    _check_at(stack, first, first + timedelta(hours=12, minutes=5))
    [expiring] = bus()
    _check_at(stack, first, first + timedelta(hours=13))
    assert bus() == []  # once per episode
    assert expiring['detail-type'] == 'connection.expiring' and expiring['expires_at'] is None
    assert expiring['account_id'] == account.account_id and 'connected again' in expiring['problem']
    assert _account(stack).status == 'active'

    zoom.clear_faults()  # Zoom answers again: the episode ends
    _tick(stack, _now())
    recovered = _account(stack)
    assert recovered.last_checked_at is not None and recovered.check_failing_since is None
    assert not recovered.expiring_announced


def test_two_checks_at_once_renew_the_tokens_once(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    refreshes = zoom.refresh_count('zoom-owner')
    failures = []

    request = health.AccountCheck(tenant_id=stack.tenant.tenant_id, account_id=_account(stack).account_id, tick=_now())

    @config.using(HealthSettings)
    def check():
        try:
            with acting_as('health'):  # a thread starts without the caller's context
                health.check_account(request, _now(), _seconds_left)
        except Exception as exc:
            failures.append(''.join(traceback.format_exception(exc)))

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == [] and zoom.refresh_count('zoom-owner') == refreshes + 1
    assert _account(stack).status == 'active'


def test_a_microsoft_account_whose_refresh_tokens_were_revoked_is_marked(stack, microsoft, bus):
    stack.setup_online_service()
    assert connect_microsoft(stack, microsoft)['statusCode'] == 200
    microsoft.revoke_refresh_tokens(OWNER)

    _tick(stack, _now())

    assert _account(stack).status == 'needs_reconnect'
    [broken] = bus()
    assert (broken['type'], broken['reason']) == ('microsoft', 'check_failed')


# --- meetings --------------------------------------------------------------------------------------


def _book_at(stack, booking_id: str, start: datetime, timezone: str = 'Europe/Berlin') -> None:
    event = booking_event(booking_id=booking_id, client_id=f'c-{booking_id}', start=start, minutes=30)
    event['booking']['timezone'] = timezone
    stack.book(event)


def test_meetings_24_hours_and_1_hour_ahead_are_asked_for_and_no_others(stack, zoom):
    zoom.access_token_ttl = 3 * 3600
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    tick = _now()
    _book_at(stack, 'day', tick + timedelta(hours=24, minutes=10))
    # Time zones do not matter: the index and the windows are UTC (a half-hour zone, across no boundary).
    _book_at(stack, 'kolkata', tick + timedelta(hours=24, minutes=59), timezone='Asia/Kolkata')
    _book_at(stack, 'hour', tick + timedelta(hours=1))
    _book_at(stack, 'three', tick + timedelta(hours=3))
    _book_at(stack, 'late', tick + timedelta(hours=25))
    _book_at(stack, 'soon', tick + timedelta(minutes=59))
    zoom.reset_calls()

    _tick(stack, tick)

    asked_for = sorted(call['path'].rsplit('/', 1)[1] for call in zoom.calls() if call['operation'] == 'get_meeting')
    # The windows are [tick+24h, tick+25h) and [tick+1h, tick+2h): +1h is in, +59 min and +25h are not.
    assert asked_for == sorted(get_meeting(stack.tenant.tenant_id, f'booking:{booking_id}').external_id
                               for booking_id in ('day', 'kolkata', 'hour'))
    assert _rehome_requests(stack) == []


def test_a_meeting_deleted_at_zoom_is_sent_to_be_made_again(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    tick = _now()
    _book_at(stack, 'gone', tick + timedelta(hours=24, minutes=30))
    _book_at(stack, 'kept', tick + timedelta(hours=1, minutes=30))
    gone = stack.view('gone')[1]['meeting']
    [zoom_id] = [zoom_id for zoom_id, meeting in zoom.meetings.items()
                 if meeting['start_time'] == (tick + timedelta(hours=24, minutes=30)).strftime('%Y-%m-%dT%H:%M:%SZ')]
    zoom.remove_meeting(zoom_id)

    _tick(stack, tick)

    assert _rehome_requests(stack) == [{'source': 'meetbridge', 'detail-type': 'meeting.rehome', 'detail': {
        'tenant_id': stack.tenant.tenant_id, 'meeting_key': gone['key'], 'account_id': gone['account_id'],
        'reason': 'missing', 'external_id': str(zoom_id)}}]


def test_a_meeting_deleted_in_teams_is_sent_to_be_made_again(stack, microsoft):
    stack.setup_online_service()
    assert connect_microsoft(stack, microsoft)['statusCode'] == 200
    tick = _now()
    _book_at(stack, 'gone', tick + timedelta(hours=1, minutes=5))
    [teams_id] = list(microsoft.meetings)
    microsoft.remove_meeting(teams_id)

    _tick(stack, tick)

    [request] = _rehome_requests(stack)
    assert request['detail']['meeting_key'] == 'booking:gone' and request['detail']['reason'] == 'missing'


# --- one message per account -------------------------------------------------------------------------


def _take(stack, kind: str) -> list[dict]:
    """The health queue's records, each of the kind expected."""
    records = stack.cloud.queues['health'].receive()
    assert {json.loads(record['body'])['kind'] for record in records} <= {kind}
    return records


def _account_written(stack, account_id: str, **attributes) -> None:
    """An OAuth account as a connect leaves it (no provider is called for it here)."""
    now = _now()
    AccountItem(*AccountItem.key(stack.tenant.tenant_id, account_id), account_id=account_id, holder=None, type='zoom',
                created_at=now, updated_at=now, **attributes).save()


def _connect_teams_for_eli(stack, microsoft) -> None:
    assert stack.admin('PUT', 'providers/eli', {'name': 'Eli Roe', 'email': 'eli@example.com',
                                                'timezone': 'Europe/Berlin'})[0] == 200
    assert connect_microsoft(stack, microsoft, provider_id='eli')['statusCode'] == 200


def test_a_tenant_message_sends_one_check_per_active_oauth_account_with_the_tick(stack, zoom, microsoft):
    stack.setup_online_service()
    connect_zoom(stack, zoom)  # the custom link it replaces is retired: not checked
    _connect_teams_for_eli(stack, microsoft)
    tick = _now() - timedelta(minutes=20)  # a late tick: every message keeps its time
    more = [f'more-{n}' for n in range(10)]  # past what one SendMessageBatch takes
    for account_id in more:
        _account_written(stack, account_id)
    _account_written(stack, 'marked', status='needs_reconnect')
    _account_written(stack, 'checked-this-hour', last_checked_at=tick + timedelta(minutes=1), checked_tick=tick)
    _account_written(stack, 'checked-last-hour', last_checked_at=tick - timedelta(hours=1),
                     checked_tick=tick - timedelta(hours=1))
    # The last tick's check finished after this tick's time: it did not do this tick's work.
    _account_written(stack, 'last-tick-finished-late', last_checked_at=tick + timedelta(seconds=1),
                     checked_tick=tick - timedelta(hours=1))
    zoom.reset_calls()
    microsoft.reset_calls()

    assert handler('health')(_scheduled_event(tick), stack.context)['tenants'] == 1
    [tenant] = _take(stack, 'tenant')
    assert handler('health')(sqs_event([tenant]), stack.context) == {'batchItemFailures': []}

    checks = [json.loads(record['body']) for record in _take(stack, 'account')]
    company, teams = _account(stack), account_used_by(stack.tenant.tenant_id, 'provider:eli')
    assert sorted(check['account_id'] for check in checks) == sorted(
        [company.account_id, teams.account_id, 'checked-last-hour', 'last-tick-finished-late', *more])
    assert {(check['tenant_id'], datetime.fromisoformat(check['tick'])) for check in checks} == {
        (stack.tenant.tenant_id, tick)}
    assert zoom.calls() == [] and microsoft.calls() == []  # listing calls no provider


def test_an_account_whose_check_raises_is_retried_alone_and_the_others_are_checked(stack, zoom, microsoft, monkeypatch):
    zoom.access_token_ttl = 3 * 3600
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    _connect_teams_for_eli(stack, microsoft)
    tick = _now()
    _book_at(stack, 'zoom-day', tick + timedelta(hours=24, minutes=10))
    stack.book(booking_event(booking_id='teams-hour', client_id='c-teams', provider_id='eli',
                             start=tick + timedelta(hours=1, minutes=10), minutes=30))
    [teams_id] = list(microsoft.meetings)
    microsoft.remove_meeting(teams_id)
    zoom.reset_calls()

    def unexpected(provider, account):
        raise ValueError('an answer nobody expected')

    with monkeypatch.context() as failing:
        failing.setattr(ZoomProvider, 'check', unexpected)
        assert handler('health')(_scheduled_event(tick), stack.context)['tenants'] == 1
        assert handler('health')(sqs_event(_take(stack, 'tenant')), stack.context) == {'batchItemFailures': []}
        checks = _take(stack, 'account')
        by_account = {json.loads(record['body'])['account_id']: record for record in checks}
        zoom_check = by_account[_account(stack).account_id]

        assert handler('health')(sqs_event(checks), stack.context) == {
            'batchItemFailures': [{'itemIdentifier': zoom_check['messageId']}]}

    # Teams was checked, its missing meeting sent to be made again; the Zoom account and its meetings were not.
    assert account_used_by(stack.tenant.tenant_id, 'provider:eli').last_checked_at is not None
    [rehome] = _rehome_requests(stack)
    assert rehome['detail']['meeting_key'] == 'booking:teams-hour'
    assert _account(stack).last_checked_at is None and zoom.calls() == []

    # The queue delivers the failed record again: only that account is checked, with its meetings.
    microsoft.reset_calls()
    assert handler('health')(sqs_event([zoom_check]), stack.context) == {'batchItemFailures': []}
    assert [call['operation'] for call in zoom.calls()] == ['get_me', 'get_meeting']
    assert microsoft.calls() == [] and _account(stack).last_checked_at is not None


@dataclass
class RunningShort(LambdaContext):
    """An invocation whose time runs short once the Zoom sandbox has answered `lookups` meeting lookups."""

    zoom: Any = None
    lookups: int = 0

    def get_remaining_time_in_millis(self) -> int:
        asked = sum(call['operation'] == 'get_meeting' for call in self.zoom.calls())
        return 60_000 if asked < self.lookups else (health.LOOKUP_SECONDS + health.FINISH_SECONDS) * 1000 - 1


def test_meetings_left_when_time_runs_short_go_on_in_a_message_with_the_same_tick(stack, zoom):
    zoom.access_token_ttl = 3 * 3600
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    tick = _now() - timedelta(minutes=5)
    for booking_id, ahead in (('day-2', timedelta(hours=24, minutes=40)), ('hour', timedelta(hours=1, minutes=30)),
                              ('day-1', timedelta(hours=24, minutes=10))):
        _book_at(stack, booking_id, tick + ahead)
    external = {booking_id: get_meeting(stack.tenant.tenant_id, f'booking:{booking_id}').external_id
                for booking_id in ('hour', 'day-1', 'day-2')}
    assert handler('health')(_scheduled_event(tick), stack.context)['tenants'] == 1
    assert handler('health')(sqs_event(_take(stack, 'tenant')), stack.context) == {'batchItemFailures': []}
    zoom.reset_calls()

    assert handler('health')(sqs_event(_take(stack, 'account')), RunningShort(zoom=zoom, lookups=2)) == {
        'batchItemFailures': []}

    def asked() -> list[str]:
        return [call['path'].rsplit('/', 1)[1] for call in zoom.calls() if call['operation'] == 'get_meeting']

    # The hour-ahead meeting first (its last check), then the index's order.
    assert asked() == [external['hour'], external['day-1']]
    assert _account(stack).last_checked_at is not None  # proven: the continuation does not prove it again
    [continuation] = _take(stack, 'meetings')
    request = json.loads(continuation['body'])
    assert (request['account_id'], datetime.fromisoformat(request['tick']), request['asked']) == (
        _account(stack).account_id, tick, 2)
    zoom.reset_calls()

    assert handler('health')(sqs_event([continuation]), stack.context) == {'batchItemFailures': []}
    assert [call['operation'] for call in zoom.calls()] == ['get_meeting'] and asked() == [external['day-2']]


def test_an_account_message_without_time_for_its_check_is_passed_on_unchanged(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    assert handler('health')(_scheduled_event(_now()), stack.context)['tenants'] == 1
    assert handler('health')(sqs_event(_take(stack, 'tenant')), stack.context) == {'batchItemFailures': []}
    [check] = _take(stack, 'account')
    zoom.reset_calls()
    late_in_its_batch = RunningShort(zoom=zoom, lookups=0)

    assert handler('health')(sqs_event([check]), late_in_its_batch) == {'batchItemFailures': []}

    [passed_on] = _take(stack, 'account')
    assert json.loads(passed_on['body']) == json.loads(check['body']) and zoom.calls() == []
    assert handler('health')(sqs_event([passed_on]), stack.context) == {'batchItemFailures': []}
    assert _account(stack).last_checked_at is not None and zoom.calls()


def test_a_check_delivered_again_costs_no_provider_call(stack, zoom):
    zoom.access_token_ttl = 3 * 3600
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    tick = _now()
    _book_at(stack, 'day', tick + timedelta(hours=24, minutes=10))
    zoom.reset_calls()
    assert handler('health')(_scheduled_event(tick), stack.context)['tenants'] == 1
    tenant = _take(stack, 'tenant')
    assert handler('health')(sqs_event(tenant), stack.context) == {'batchItemFailures': []}
    account = _take(stack, 'account')
    assert handler('health')(sqs_event(account), stack.context) == {'batchItemFailures': []}
    assert [call['operation'] for call in zoom.calls()] == ['get_me', 'get_meeting']
    zoom.reset_calls()

    # Both delivered again (an acknowledgement lost, the tick retried): the tenant's listing finds the account
    # checked for the tick and sends nothing; the account's message finds it too.
    assert handler('health')(sqs_event(tenant + account), stack.context) == {'batchItemFailures': []}

    assert stack.cloud.queues['health'].receive() == [] and zoom.calls() == []


def test_an_account_reconnected_after_its_check_is_checked_again_for_the_same_tick(stack, zoom):
    zoom.access_token_ttl = 3 * 3600
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    tick = _now()
    _tick(stack, tick)
    assert _account(stack).checked_tick == tick
    connect_zoom(stack, zoom)  # the same Zoom user signs in again: the same account, new tokens
    reconnected = _account(stack)
    assert reconnected.checked_tick is None and reconnected.last_checked_at is not None
    zoom.reset_calls()

    _tick(stack, tick)  # the tick delivered again

    assert [call['operation'] for call in zoom.calls()] == ['get_me']
    assert _account(stack).checked_tick == tick
