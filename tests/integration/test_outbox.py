"""Nothing is lost between a write and its event: each state change that announces an event writes it to the
outbox in the same transaction; when the bus refuses it right after the write, the sweeper publishes it, once
the writer has had its chance, with the same event id, and nobody sends the input again."""

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from botocore.awsrequest import AWSResponse
from helpers import LambdaContext, acting_as, handler, sqs_event, zoom_event_request
from integration_stack import connect_zoom, sent_emails

from infra.sandboxes.zoom.signing import sign as zoom_sign
from meetbridge import aws, outbox
from meetbridge.logic import starting
from meetbridge.store import repository
from meetbridge.store.models import BookingItem, OutboxItem



@contextlib.contextmanager
def bus_refusing(answer: str = 'failed entry') -> Iterator[list[str]]:
    """Every PutEvents in the block is refused after the role allowed it: answered with FailedEntryCount 1
    (`failed entry`, how EventBridge refuses one entry) or with a 503 (`unavailable`)."""
    client = aws.client('events')
    event = 'before-call.eventbridge.PutEvents'
    refused = []

    def refuse(**_) -> tuple:
        refused.append(answer)
        if answer == 'unavailable':
            error = {'Error': {'Code': 'ServiceUnavailable', 'Message': 'try again'},
                     'ResponseMetadata': {'HTTPStatusCode': 503}}
            return AWSResponse(url='', status_code=503, headers={}, raw=None), error
        parsed = {'FailedEntryCount': 1, 'Entries': [{'ErrorCode': 'InternalFailure', 'ErrorMessage': 'try again'}],
                  'ResponseMetadata': {'HTTPStatusCode': 200}}
        return AWSResponse(url='', status_code=200, headers={}, raw=None), parsed

    client.meta.events.register(event, refuse)
    try:
        yield refused
    finally:
        client.meta.events.unregister(event, refuse)
    assert refused, 'no PutEvents was made'


def _sweep(stack, minutes_later: bool = True) -> int:
    """The sweeper's run, a minute after the writes (or right after them)."""
    with pytest.MonkeyPatch.context() as clock:
        if minutes_later:
            clock.setattr(outbox, 'SWEEP_AFTER', timedelta(0))
        return handler('outbox_sweeper')({}, stack.context)['published']


def _published(stack) -> list[dict]:
    """What reached the bus: meeting.* go to the notifications queue, connection.* to the meetings queue (the
    connected events of the accounts the tests set up aside)."""
    published = [json.loads(record['body']) for queue in ('notifications', 'meetings')
                 for record in stack.cloud.queues[queue].receive()]
    return [event for event in published if event['detail-type'] != 'connection.connected']


def _left_in_outbox(stack) -> list[OutboxItem]:
    return list(OutboxItem.query(f'TENANT#{stack.tenant.tenant_id}', OutboxItem.sk.startswith('OUTBOX#')))


def _refused_then_swept(stack, answer: str = 'failed entry') -> tuple[list[dict], list[OutboxItem]]:
    """Checks that what was refused is not on the bus, is left in the outbox, is not taken by a sweep right
    after the write, and goes out with the next sweep; returns what went out and what was left."""
    assert _published(stack) == []
    left = _left_in_outbox(stack)
    assert left, 'the refused event is not in the outbox'
    assert _sweep(stack, minutes_later=False) == 0  # the writer may still be publishing it
    assert _sweep(stack) == len(left)
    went_out = _published(stack)
    assert [event['detail']['event_id'] for event in went_out] == [entry.event_id for entry in left]
    assert _left_in_outbox(stack) == [] and _sweep(stack) == 0
    return went_out, left


@pytest.mark.parametrize('answer', ['failed entry', 'unavailable'])
def test_a_meeting_started_by_its_schedule_is_announced_when_the_bus_refused_it(stack, answer):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    stack.book(booking_event(start=start))
    request = {'tenant_id': stack.tenant.tenant_id, 'meeting_key': 'booking:b1', 'start': start.isoformat()}

    with bus_refusing(answer):
        assert handler('auto_start')(request, LambdaContext()) == {'outcome': 'started'}

    assert stack.view('b1')[1]['meeting']['status'] == 'started'
    [started], _ = _refused_then_swept(stack, answer)
    assert started['detail-type'] == 'meeting.started'
    assert started['detail']['started_by'] == 'schedule' and started['detail']['meeting_key'] == 'booking:b1'


def test_an_early_start_by_the_provider_is_announced_when_the_bus_refused_it(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=10)))
    meeting = repository.get_meeting(stack.tenant.tenant_id, 'booking:b1')

    # The provider's click is an HTTP request nobody repeats: only the outbox can still announce it.
    with bus_refusing(), acting_as('join'):
        assert starting.mark_started(stack.tenant.tenant_id, meeting, 'provider', datetime.now(UTC))

    [started], _ = _refused_then_swept(stack)
    assert started['detail-type'] == 'meeting.started' and started['detail']['started_by'] == 'provider'


@pytest.mark.usefixtures('account_events')
def test_an_account_whose_refresh_is_refused_is_announced_broken_when_the_bus_refused_it(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    zoom.expire_access_tokens()
    zoom.fail('token', 400, body={'reason': 'Invalid Token!', 'error': 'invalid_grant'})

    with bus_refusing():
        assert stack.admin('GET', 'accounts/default/users')[0] == 400

    account = repository.account_used_by(stack.tenant.tenant_id, 'company')
    assert account.status == 'needs_reconnect'
    [broken], _ = _refused_then_swept(stack)
    assert broken['detail-type'] == 'connection.broken'
    assert broken['detail']['account_id'] == account.account_id and broken['detail']['holder'] == 'company'
    assert broken['detail']['type'] == 'zoom'


@pytest.mark.usefixtures('account_events')
def test_an_account_removed_at_zoom_is_announced_broken_when_the_bus_refused_it(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    body = json.dumps({'event': 'app_deauthorized', 'event_ts': int(time.time() * 1000), 'payload': {
        'account_id': 'acct-demo', 'user_id': 'zoom-owner', 'client_id': zoom.client_id,
        'deauthorization_time': datetime.now(UTC).isoformat()}}).encode()
    now = int(time.time())
    headers = {'x-zm-request-timestamp': str(now), 'x-zm-signature': zoom_sign('zoom-webhook-secret', now, body)}

    with bus_refusing():
        answer = handler('oauth')(zoom_event_request(body, headers), stack.context)

    assert answer['statusCode'] == 200 and json.loads(answer['body']) == {'disconnected': 1}
    # Zoom's retry of the delivery finds the account handled: only the outbox still has its event.
    assert json.loads(handler('oauth')(zoom_event_request(body, headers), stack.context)['body']) == {'disconnected': 0}
    [broken], _ = _refused_then_swept(stack)
    assert broken['detail-type'] == 'connection.broken' and 'removed' in broken['detail']['problem']


def test_a_booking_notice_refused_by_the_bus_goes_out_and_the_next_change_is_announced_as_itself(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    assert stack.post(booking_event(start=start))[0] == 202
    [booked] = stack.cloud.queues['meetings'].receive()

    with bus_refusing():
        assert handler('meetings')({'Records': [booked]}, stack.context) == {'batchItemFailures': []}

    assert BookingItem.get(*BookingItem.key(stack.tenant.tenant_id, 'b1')).pending_notice == 'created'
    [scheduled], _ = _refused_then_swept(stack)
    assert scheduled['detail-type'] == 'meeting.scheduled'
    assert scheduled['detail']['notice_id'] == scheduled['detail']['event_id']
    assert scheduled['detail']['notice_id'].endswith('/created/v1')
    # Published: the booking's pending notice is cleared, so a move is announced as a move, not folded
    # into a "created" that already went out.
    assert BookingItem.get(*BookingItem.key(stack.tenant.tenant_id, 'b1')).pending_notice is None
    assert stack.post(booking_event('booking.rescheduled', start=start + timedelta(hours=1)))[0] == 202
    handler('meetings')({'Records': stack.cloud.queues['meetings'].receive()}, stack.context)
    [moved] = _published(stack)
    assert (moved['detail-type'], moved['detail']['change']) == ('meeting.rescheduled', 'rescheduled')


def test_a_booking_cancelled_before_its_notice_went_out_is_not_announced(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    assert stack.post(booking_event(start=start))[0] == 202
    [booked] = stack.cloud.queues['meetings'].receive()
    with bus_refusing():
        handler('meetings')({'Records': [booked]}, stack.context)
    assert len(_left_in_outbox(stack)) == 1

    stack.book(booking_event('booking.cancelled', start=start))

    assert _left_in_outbox(stack) == [] and _sweep(stack) == 0
    assert _published(stack) == []


def test_an_event_published_twice_keeps_its_id_and_is_sent_once(stack):
    """The bus took the event but the outbox entry could not be deleted: the sweeper publishes it again,
    under the same id, and the notifications function sends its emails once."""
    stack.setup_online_service()
    assert stack.post(booking_event())[0] == 202
    [booked] = stack.cloud.queues['meetings'].receive()
    table = aws.client('dynamodb')
    acknowledge = 'before-call.dynamodb.TransactWriteItems'

    def unavailable(**_) -> tuple:
        error = {'Error': {'Code': 'ServiceUnavailable', 'Message': 'try again'},
                 'ResponseMetadata': {'HTTPStatusCode': 503}}
        return AWSResponse(url='', status_code=503, headers={}, raw=None), error

    table.meta.events.register(acknowledge, unavailable)
    try:
        assert handler('meetings')({'Records': [booked]}, stack.context) == {'batchItemFailures': []}
    finally:
        table.meta.events.unregister(acknowledge, unavailable)
    first = stack.cloud.queues['notifications'].receive()
    assert _sweep(stack) == 1
    again = stack.cloud.queues['notifications'].receive()

    ids = [json.loads(record['body'])['detail']['event_id'] for record in first + again]
    assert len(ids) == 2 and ids[0] == ids[1]
    before = len(sent_emails())
    assert handler('notifications')({'Records': first + again}, stack.context) == {'batchItemFailures': []}
    assert len(sent_emails()) - before == 2  # the client's and the provider's, once each


def test_the_admin_is_told_of_a_booking_waiting_too_long_when_the_bus_refused_it(stack, zoom, monkeypatch):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    monkeypatch.setenv('WAITING_NOTICE_SECONDS', '0')
    zoom.fail('create_meeting', 503, body={'code': 503, 'message': 'Service Unavailable'}, times=2)
    stack.post(booking_event())
    [record] = stack.cloud.queues['meetings'].receive()

    with bus_refusing():
        assert handler('meetings')(sqs_event([record]), stack.context)['batchItemFailures']

    [told], _ = _refused_then_swept(stack)
    assert told['detail-type'] == 'meeting.delayed' and told['detail']['booking_id'] == 'b1'
    # Told once: the next failed attempt of the same wait announces nothing more.
    assert handler('meetings')(sqs_event([record]), stack.context)['batchItemFailures']
    assert _published(stack) == [] and _left_in_outbox(stack) == []
