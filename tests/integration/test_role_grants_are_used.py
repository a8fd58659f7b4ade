"""Each execution role grants exactly what its function's code paths use.

Every function is driven through each of its paths that calls AWS, under its own role (the guard of
infra/local/iam.py refuses a call the role does not allow, so a need missing from the template fails
there); every allowed call is recorded, mapped back to the template resource the grant names, and a
grant that no path used fails here, so a permission no code needs cannot stay in template.yaml."""

import contextlib
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pprint import pformat

import pytest
from bookings import booking_event
from botocore.awsrequest import AWSResponse
from pynamodb.exceptions import TransactWriteError
from helpers import (TEMPLATE, LambdaContext, _physical_resources, function_ids, handler, join_event, sqs_event,
                     zoom_event_request)
from integration_stack import connect_google, connect_microsoft, connect_zoom

from infra.local import iam
from infra.sandboxes.zoom.signing import sign
from meetbridge import aws, events, outbox
from meetbridge.store.models import OutboxItem
from meetbridge.store.repository import account_used_by, get_meeting

MICROSOFT_OWNER = '00000000-0000-0000-0000-000000000001'
GOOGLE_OWNER = '105000000000000000001'

# Grants that only a path outside the function's code uses, so no in-process run can show them used.
USED_OUTSIDE_THE_CODE = {
    # Lambda itself sends a failed asynchronous invocation to the on-failure destination (SAM grants it).
    'AutoStartFunction': {('sqs:SendMessage', 'SchedulerDeadLetterQueue')},
}


def _names_in(expression) -> list[str]:
    """The template resources and parameters an ARN expression is built from (pseudo parameters aside)."""
    if isinstance(expression, list):
        return [name for item in expression for name in _names_in(item)]
    if not isinstance(expression, dict):
        return []
    if 'Ref' in expression:
        return [] if expression['Ref'].startswith('AWS::') else [expression['Ref']]
    if 'Fn::GetAtt' in expression:
        target = expression['Fn::GetAtt']
        return [target[0] if isinstance(target, list) else target.split('.', 1)[0]]
    if 'Fn::Sub' in expression:
        text, variables = (expression['Fn::Sub'], {}) if isinstance(expression['Fn::Sub'], str) \
            else expression['Fn::Sub']
        named = [name.split('.', 1)[0] for name in re.findall(r'\$\{([^}!]+)\}', text)
                 if name not in variables and not name.startswith('AWS::')]
        return named + _names_in(list(variables.values()))
    return _names_in(list(expression.values()))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _label(expression) -> str:
    """What a policy resource names: 'Table', 'Table/index/gsi1', 'SealingKey'... (a literal ARN: itself)."""
    label = ','.join(sorted(set(_names_in(expression))))
    text = expression.get('Fn::Sub') if isinstance(expression, dict) else None
    if isinstance(text, str) and '/index/' in text:
        label += '/index/' + text.split('/index/', 1)[1]
    return label or str(expression)


def _grants(logical_id: str) -> list[tuple[str, str, dict]]:
    """(action, what it is granted on, the Allow for that one action and resource, resolved) for every
    action and resource of the function's role."""
    statements = iam.function_statements(TEMPLATE, logical_id)
    resolved = iam.resolve(statements, *_physical_resources())
    return [(action, _label(expression), {'Effect': 'Allow', 'Action': action, 'Resource': arn})
            for template, statement in zip(statements, resolved, strict=True) if statement['Effect'] == 'Allow'
            for action in _as_list(statement['Action'])
            for expression, arn in zip(_as_list(template['Resource']), _as_list(statement['Resource']), strict=True)]


def _used(grants: list[tuple[str, str, dict]], allowances: list[iam.Allowance]) -> set[tuple[str, str]]:
    """The grants that allowed at least one of `allowances`."""
    return {(action, label) for action, label, grant in grants
            if any(iam.evaluate([grant], allowance.action, allowance.resource) == 'allow' for allowance in allowances)}


def _zoom_account_event(stack, event: str, payload: dict) -> dict:
    body = json.dumps({'event': event, 'event_ts': int(time.time() * 1000), 'payload': payload}).encode()
    now = int(time.time())
    headers = {'x-zm-request-timestamp': str(now), 'x-zm-signature': sign('zoom-webhook-secret', now, body)}
    return handler('oauth')(zoom_event_request(body, headers), stack.context)


def _open(stack, url: str) -> dict:
    return handler('join')(join_event(url.rsplit('/', 1)[1], 'POST'), stack.context)  # the click


@contextlib.contextmanager
def unavailable_once(service: str, operation: str, client=None) -> Iterator[None]:
    """The next `operation` of the functions' shared `service` client (or of `client`) answers 503, as AWS
    does when it is down for a moment (after the role allowed the call: the guard checks before botocore sends)."""
    client = client or aws.client(service)
    event = f'before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}'
    failed = []

    def answer_unavailable(**_) -> tuple | None:
        if failed:
            return None
        failed.append(operation)
        error = {'Error': {'Code': 'ServiceUnavailable', 'Message': 'try again'},
                 'ResponseMetadata': {'HTTPStatusCode': 503}}
        return AWSResponse(url='', status_code=503, headers={}, raw=None), error

    client.meta.events.register(event, answer_unavailable)
    try:
        yield
    finally:
        client.meta.events.unregister(event, answer_unavailable)
    assert failed == [operation], f'no {operation} was made'


def _table_client():
    """The botocore client pynamodb's models and transactions use."""
    return OutboxItem._get_connection().connection.client


def _sweep(stack) -> dict:
    """The sweeper's run a minute later: what the outbox holds now is old enough for it."""
    with pytest.MonkeyPatch.context() as later:
        later.setattr(outbox, 'SWEEP_AFTER', timedelta(0))
        return handler('outbox_sweeper')({}, stack.context)


def _health_tick(stack, tick: datetime) -> None:
    scheduled = {'detail-type': 'Scheduled Event', 'source': 'aws.events', 'time': tick.strftime('%Y-%m-%dT%H:%M:%SZ'),
                 'detail': {}}
    assert handler('health')(scheduled, stack.context)['tenants'] == 1
    while checks := stack.cloud.queues['health'].receive():  # the tenant's listing, then its accounts
        assert handler('health')(sqs_event(checks), stack.context) == {'batchItemFailures': []}


def drive_every_path(stack, zoom, microsoft, google) -> None:
    # admin: a service, providers, the company room, templates.
    stack.setup_online_service()
    assert stack.admin('PUT', 'providers/eli', {'name': 'Eli Roe', 'email': 'eli@example.com',
                                                'timezone': 'Europe/Berlin'})[0] == 200
    assert stack.admin('GET', 'templates/client_created')[0] == 200
    # It renders with the samples checked at save time, and divides by zero for the 9-letter "Client c1":
    # notifications falls back to the default and notes it on the booking.
    assert stack.admin('PUT', 'templates/client_created', {'subject': 'Your {{ service }}',
                                                           'body': '{{ 100 / (client_name|length - 9) }}'})[0] == 200

    # admin: a junior key for dana is made and listed; it starts a booking of dana's by hand, then is revoked.
    junior = stack.admin('POST', 'keys', {'role': 'junior', 'providers': ['dana']})[1]
    assert [key['key_id'] for key in stack.admin('GET', 'keys')[1]] == [junior['key_id']]
    stack.book(booking_event(booking_id='k1', client_id='c8', start=datetime.now(UTC) + timedelta(hours=1)))
    assert stack.admin('POST', 'bookings/k1/start', api_key=junior['key'])[0] == 200
    assert stack.admin('DELETE', f"keys/{junior['key_id']}")[0] == 200
    stack.pump()

    # booking_webhook: the bus is down at the first delivery, so its claim is released (503) and the
    # platform's retry takes it over and publishes; a second retry is answered from the claim.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    created = booking_event(start=start, payment={'required': True, 'status': 'pending'})
    created['booking']['client']['phone'] = '+447700900123'
    assert stack.admin('PUT', 'settings/notifications', {'sms': True})[0] == 200
    with unavailable_once('events', 'PutEvents'):
        assert stack.post(created)[0] == 503
    assert stack.post(created)[0] == 202 and stack.post(created)[0] == 202
    # meetings: the table is down when the first delivery saves the booking with its notice, so its record is
    # dropped; the bus is down when the redelivery announces the booking, so the notice stays in the outbox,
    # written with the booking, until the sweeper publishes it (and clears the booking's pending_notice).
    [booked] = stack.cloud.queues['meetings'].receive()
    with unavailable_once('dynamodb', 'TransactWriteItems', client=_table_client()):
        assert handler('meetings')(sqs_event([booked]), stack.context)['batchItemFailures']
    with unavailable_once('events', 'PutEvents'):
        assert handler('meetings')(sqs_event([booked]), stack.context) == {'batchItemFailures': []}
    assert handler('meetings')(sqs_event([booked]), stack.context) == {'batchItemFailures': []}  # applied once
    assert not stack.cloud.queues['notifications'].receive()
    assert _sweep(stack) == {'published': 1}
    # notifications: SES is down for the first notice's first email; the client's SMS goes out (its number checked
    # against the opt-out list, then published) and the record comes back after a delay. At its last receive SES
    # is down again: the email still unsent is sealed and kept on the dead-letter queue. A redelivery sends it.
    notices = stack.cloud.queues['notifications'].receive()
    assert len(notices) == 1
    with unavailable_once('ses', 'SendEmail'):
        assert handler('notifications')(sqs_event(notices), stack.context)['batchItemFailures']
    last = [{**record, 'attributes': {**record['attributes'], 'ApproximateReceiveCount': '12'}} for record in notices]
    with unavailable_once('ses', 'SendEmail'):
        assert handler('notifications')(sqs_event(last), stack.context) == {'batchItemFailures': []}
    assert stack.cloud.queues['notifications-dlq'].receive()
    assert handler('notifications')(sqs_event(notices), stack.context) == {'batchItemFailures': []}

    # The company room: paid, its links opened (the provider starts early), moved, cancelled.
    stack.book(booking_event('booking.paid', start=start, payment={'required': True, 'status': 'paid'}))
    links = stack.view('b1')[1]['links']
    assert _open(stack, links['clients']['c1'])['statusCode'] == 200  # the waiting page
    assert _open(stack, links['provider'])['statusCode'] == 303
    moved = start + timedelta(days=1)
    stack.book(booking_event('booking.rescheduled', start=moved, payment={'required': True, 'status': 'paid'}))
    stack.book(booking_event('booking.cancelled', start=moved, payment={'required': True, 'status': 'paid'}))

    # auto_start: a schedule fires at its second (a past one: no wait); the table is down at the first
    # firing, so the record is dropped for the scheduler's retry; the bus is down at the retry, so the
    # meeting.started written with the meeting stays in the outbox for the sweeper; a repeat finds the
    # meeting started. Another meeting starts with the bus up: its event is published and deleted at once.
    b2_start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    stack.book(booking_event(booking_id='b2', client_id='c2', start=b2_start))
    stack.book(booking_event(booking_id='b3', client_id='c3', start=b2_start))
    request = {'tenant_id': stack.tenant.tenant_id, 'meeting_key': 'booking:b2', 'start': b2_start.isoformat(),
               'scheduled_time': (b2_start - timedelta(seconds=60)).isoformat(), 'execution_id': 'x'}
    with unavailable_once('dynamodb', 'TransactWriteItems', client=_table_client()), pytest.raises(TransactWriteError):
        handler('auto_start')(request, LambdaContext())
    with unavailable_once('events', 'PutEvents'):
        retried = handler('auto_start')(request, LambdaContext())
    assert retried == {'outcome': 'started'}
    assert handler('auto_start')(request, LambdaContext()) == {'outcome': 'nothing to do: meeting is started'}
    assert stack.view('b2')[1]['meeting']['status'] == 'started'
    assert handler('auto_start')({**request, 'meeting_key': 'booking:b3'}, LambdaContext()) == {'outcome': 'started'}
    assert _sweep(stack) == {'published': 1}
    # A booking too near its start for a schedule: meetings sends its start request to the start queue at
    # once; the same request from a schedule is handed over there by auto_start.
    near = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    stack.book(booking_event(booking_id='b4', client_id='c8', start=near))
    handed = handler('auto_start')({**request, 'meeting_key': 'booking:b4', 'start': near.isoformat()}, LambdaContext())
    assert handed['outcome'].startswith('handed over')
    assert len(stack.cloud.queues['start'].take_delayed()) == 3  # before and after its save, and handed over

    # Zoom for the company: connected; a meeting made after the token expired; the host's click and the
    # users list after it expired again; a provider mapped to a company user.
    # Connecting it applies again the bookings that failed for lack of an account (meetings: the failed index).
    connect_zoom(stack, zoom)
    stack.pump()
    # admin: the accounts dashboard reads the tenant's accounts and counts each one's meetings in the index.
    assert stack.admin('GET', 'accounts')[0] == 200
    # admin: the bookings list reads the index by start, then the page's meetings and services in batches.
    assert stack.admin('GET', 'bookings')[1]['items']
    zoom.expire_access_tokens()
    stack.book(booking_event(booking_id='z1', client_id='c4', start=datetime.now(UTC) - timedelta(minutes=1)))
    host_link = stack.view('z1')[1]['links']['provider']
    zoom.expire_access_tokens()
    assert 'zak=' in _open(stack, host_link)['headers']['Location']
    zoom.expire_access_tokens()
    assert stack.admin('GET', 'accounts/default/users')[0] == 200
    assert stack.admin('PUT', 'providers/dana/company-user', {'user_id': 'zoom-dana'})[0] == 200
    # Zoom's daily limit: the booking waits for a retry scheduled at midnight.
    zoom.fail('create_meeting', 429, body={'code': 429, 'message': 'daily'},
              headers={'X-RateLimit-Type': 'Daily-limit', 'Retry-After': '2030-01-01T00:00:00Z'})
    stack.book(booking_event(booking_id='z2', client_id='c5'))
    # Zoom refuses the refresh: the admin's users list announces the broken connection.
    zoom.expire_access_tokens()
    zoom.fail('token', 400, body={'reason': 'Invalid Token!', 'error': 'invalid_grant'})
    status, refused = stack.admin('GET', 'accounts/default/users')
    assert status == 400 and 'connected again' in refused['message']
    # Connected again, then disconnected: the token, renewed first, is revoked at Zoom.
    connect_zoom(stack, zoom)
    zoom.expire_access_tokens()
    assert stack.admin('DELETE', 'accounts/default')[0] == 200
    stack.pump()  # its meetings are re-homed, then it is revoked
    assert zoom.calls('revoke')

    # Teams for Eli: connected (a pre-flight meeting), then a meeting made after the token expired.
    assert connect_microsoft(stack, microsoft, user_id=MICROSOFT_OWNER, provider_id='eli')['statusCode'] == 200
    microsoft.expire_access_tokens()
    stack.book(booking_event(booking_id='m1', client_id='c6', provider_id='eli'))
    assert microsoft.refresh_count() == 1

    # Google Meet for Gus: connected, then an event made after the token expired.
    assert stack.admin('PUT', 'providers/gus', {'name': 'Gus Roe', 'email': 'gus@example.com',
                                                'timezone': 'America/New_York'})[0] == 200
    assert connect_google(stack, google, user_id=GOOGLE_OWNER, provider_id='gus')['statusCode'] == 200
    google.expire_access_tokens()
    stack.book(booking_event(booking_id='g1', client_id='c10', provider_id='gus'))
    assert google.refresh_count() == 1

    # health: the tick lists the tenants onto the health queue; the check renews Zoom's hour-long token, asks for
    # a meeting an hour ahead (gone at Zoom: sent to be made again) and notes the check; a user who revoked the
    # app is marked at the next check, its connection.broken through the outbox.
    # Dana's own Zoom account hosts her bookings (the company user's day of meetings is used up above).
    connect_zoom(stack, zoom, user_id='zoom-eli', provider_id='dana')
    tick = datetime.now(UTC).replace(microsecond=0)
    google.expire_access_tokens()  # Gus's Google account is checked with a renewed token
    stack.book(booking_event(booking_id='h1', client_id='c9', start=tick + timedelta(hours=1, minutes=30)))
    zoom.remove_meeting(get_meeting(stack.tenant.tenant_id, 'booking:h1').external_id)
    _health_tick(stack, tick)
    assert [json.loads(r['body'])['detail-type'] for r in stack.cloud.queues['meetings'].receive()] == ['meeting.rehome']
    zoom.revoke_user('zoom-eli')
    _health_tick(stack, tick + timedelta(hours=1))  # the next tick: this one checked the account already
    assert account_used_by(stack.tenant.tenant_id, 'provider:dana').status == 'needs_reconnect'

    # Zoom deauthorizes the app: the user's connection is found through the index and marked.
    connect_zoom(stack, zoom)
    answer = _zoom_account_event(stack, 'app_deauthorized', {
        'account_id': 'acct-demo', 'user_id': 'zoom-owner', 'client_id': zoom.client_id,
        'deauthorization_time': datetime.now(UTC).isoformat()})
    assert json.loads(answer['body']) == {'disconnected': 1}
    stack.pump()

    # admin: a booking event that failed every retry is listed and replayed to the meetings queue.
    dead = {**booking_event(booking_id='d1', client_id='c7'), 'tenant_id': stack.tenant.tenant_id,
            'source': 'generic', 'occurred_at': datetime.now(UTC).isoformat()}
    aws.client('sqs').send_message(QueueUrl=stack.cloud.queues['meetings-dlq'].url, MessageBody=json.dumps(
        {'source': 'meetbridge', 'detail-type': dead['type'], 'detail': dead}))
    [letter] = stack.admin('GET', 'dead-letters')[1]
    assert stack.admin('POST', f"dead-letters/{letter['id']}/replay")[0] == 200
    stack.pump()


def drive_alerts(stack, receiver) -> None:
    """alerts: the connections broken above reach the contacts set now; SES is down for the first email, which is
    sent on the retry (with the digests' schedules and the webhook queued); the receiver refuses the webhook
    once, so it is delayed for its retry, then takes it."""
    assert stack.admin('PUT', 'settings/alerts', {'emails': ['ops@acme.example'], 'webhook_url': receiver.url})[0] == 200
    records = stack.cloud.queues['alerts'].receive()
    assert records
    with unavailable_once('ses', 'SendEmail'):
        assert handler('alerts')(sqs_event(records), stack.context)['batchItemFailures']
    assert handler('alerts')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    receiver.statuses = [500]
    webhooks = stack.cloud.queues['alert-webhooks'].receive()
    assert webhooks
    assert handler('alerts')(sqs_event(webhooks[:1]), stack.context)['batchItemFailures']
    assert handler('alerts')(sqs_event(webhooks), stack.context) == {'batchItemFailures': []}


def drive_callbacks(stack, receiver) -> None:
    """callbacks: the meeting events above find no callbacks set; then a booking's callback is queued (its body
    sealed) and posted, refused once (delayed for its retry), then taken; admin lists, replays, rotates, stops."""
    records = stack.cloud.queues['callbacks'].receive()
    assert handler('callbacks')(sqs_event(records), stack.context) == {'batchItemFailures': []}
    assert stack.admin('PUT', 'settings/callbacks', {'url': receiver.url, 'events': ['meeting.cancelled']})[0] == 200
    stack.book(booking_event('booking.cancelled', booking_id='m1', client_id='c6', provider_id='eli'))
    # A class session's event: its bookings read with one BatchGet (m1 is cancelled: nothing is queued).
    events.publish(events.MEETING_CANCELLED, {'tenant_id': stack.tenant.tenant_id, 'event_id': 'e-session',
                                              'meeting_key': 'session:grants', 'booking_ids': ['m1']})
    for event in stack.cloud.queues['callbacks'].receive():
        assert handler('callbacks')(sqs_event([event]), stack.context) == {'batchItemFailures': []}
    deliveries = stack.cloud.queues['callbacks'].receive()
    receiver.statuses = [503]
    assert handler('callbacks')(sqs_event(deliveries), stack.context)['batchItemFailures']
    assert handler('callbacks')(sqs_event(deliveries), stack.context) == {'batchItemFailures': []}
    [delivery] = stack.admin('GET', 'callbacks/deliveries')[1]['items']
    assert stack.admin('POST', f"callbacks/deliveries/{delivery['id']}/replay")[0] == 200
    assert stack.admin('POST', 'settings/callbacks/rotate')[0] == 200
    assert stack.admin('DELETE', 'settings/callbacks')[0] == 200


def test_each_role_grants_exactly_what_its_code_paths_use(stack, zoom, microsoft, google, alert_receiver,
                                                        account_events):
    with iam.recording_allowed() as allowances:
        drive_every_path(stack, zoom, microsoft, google)
        drive_alerts(stack, alert_receiver)
        drive_callbacks(stack, alert_receiver)

    # A call the role does not allow was refused as AWS refuses it, and fails the session (conftest.py).
    by_function = {}  # the session name of the assumed role is the function's logical id
    for allowance in allowances:
        by_function.setdefault(allowance.principal_arn.rsplit('/', 1)[1], []).append(allowance)
    unused = {}
    for logical_id in sorted(function_ids().values()):
        grants = _grants(logical_id)
        granted = {(action, label) for action, label, _ in grants}
        outside = USED_OUTSIDE_THE_CODE.get(logical_id, set())
        assert outside <= granted, f'{logical_id}: allow-listed but not granted: {sorted(outside - granted)}'
        never_used = granted - outside - _used(grants, by_function.get(logical_id, []))
        if never_used:
            unused[logical_id] = sorted(never_used)
    assert not unused, 'granted, but no code path of the function used it:\n' + pformat(unused)
