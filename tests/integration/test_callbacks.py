"""Signed callbacks to the booking platform: CallbackEventsRule -> callbacks queue -> the callbacks function ->
a receiver on loopback; retries, the dead-letter queue, replay, the deliveries list, rotation and the URL's checks."""

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from bookings import booking_event
from helpers import handler, sqs_event

from meetbridge.logic import callbacks, dead_letters
from meetbridge.security.signatures import SignatureError, verify_timestamped
from meetbridge.store.models import CallbackDeliveryItem, CallbackSettingsItem

ALL_TYPES = list(callbacks.EVENT_TYPES)


def drain(stack) -> list[dict]:
    """Runs the callbacks function over what the callbacks queue holds (the rule's events, then the deliveries
    they queue) until it is empty; returns each batch's report."""
    reports = []
    while records := stack.cloud.queues['callbacks'].receive():
        for record in records:  # one message per invocation, as the event source mapping's BatchSize says
            reports.append(handler('callbacks')(sqs_event([record]), stack.context))
    return reports


def set_callbacks(stack, url: str, types: list[str] = ALL_TYPES) -> dict:
    status, answer = stack.admin('PUT', 'settings/callbacks', {'url': url, 'events': types})
    assert status == 200, answer
    return answer


def verify(secret: str, headers: dict, raw: bytes) -> None:
    verify_timestamped([secret.encode()], headers['x-meetbridge-signature'], raw, time.time(), 300)


def listed(stack, **query) -> tuple[int, dict]:
    return stack.admin('GET', 'callbacks/deliveries', query=query)


def deliveries(stack) -> list[dict]:
    status, page = listed(stack)
    assert status == 200, page
    return page['items']


def test_a_booking_scheduled_is_posted_signed_with_its_links(stack, alert_receiver):
    stack.setup_online_service()
    answer = set_callbacks(stack, alert_receiver.url)
    secret = answer['secret']
    assert secret.startswith('cbsec_') and answer['has_secret'] and answer['events'] == ALL_TYPES
    shown = stack.admin('GET', 'settings/callbacks')[1]
    assert shown == {**answer, 'secret': None}

    stack.book(booking_event())
    assert all(report == {'batchItemFailures': []} for report in drain(stack))

    [(headers, raw)] = alert_receiver.requests
    verify(secret, headers, raw)
    assert headers['content-type'] == 'application/json'
    body = json.loads(raw)
    view = stack.view('b1')[1]
    assert body == {
        'type': 'meeting.scheduled', 'event_id': body['event_id'], 'tenant_id': stack.tenant.tenant_id,
        'occurred_at': body['occurred_at'],
        'booking': {'id': 'b1', 'version': body['booking']['version'], 'source': 'generic', 'external_id': None,
                    'start': view['booking']['start'].replace('+00:00', 'Z'),
                    'end': view['booking']['end'].replace('+00:00', 'Z'), 'timezone': 'Europe/Berlin',
                    'status': 'active'},
        'meeting': {'status': 'scheduled', 'provider_type': 'custom_link'},
        'links': {'provider': view['links']['provider'], 'client': view['links']['clients']['c1']},
    }
    assert body['booking']['version'] >= 1
    [listed] = deliveries(stack)
    assert listed['id'] == body['event_id'] and listed['type'] == 'meeting.scheduled'
    assert (listed['booking_id'], listed['status'], listed['attempts'], listed['last_status_code']) == \
        ('b1', 'delivered', 1, 200)

    # A cancellation carries no links; a type not asked for is not posted.
    set_callbacks(stack, alert_receiver.url, ['meeting.cancelled'])
    start = datetime.fromisoformat(view['booking']['start'])
    stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=1)))
    stack.book(booking_event('booking.cancelled', start=start + timedelta(hours=1)))
    drain(stack)
    cancelled = alert_receiver.bodies()[1:]
    assert [body['type'] for body in cancelled] == ['meeting.cancelled']
    assert cancelled[0]['links'] is None and cancelled[0]['booking']['status'] == 'cancelled'
    assert cancelled[0]['booking']['version'] > body['booking']['version']


def test_a_scheduling_handled_after_the_cancellation_says_what_it_announced_without_links(stack, alert_receiver):
    """Both events wait on the queue; the scheduling is posted after the booking was cancelled."""
    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.scheduled', 'meeting.cancelled'])
    stack.book(booking_event())
    stack.book(booking_event('booking.cancelled'))
    assert all(report == {'batchItemFailures': []} for report in drain(stack))
    scheduled, cancelled = sorted(alert_receiver.bodies(), key=lambda body: body['booking']['version'])
    assert (scheduled['type'], scheduled['booking']['status'], scheduled['links']) == \
        ('meeting.scheduled', 'active', None)
    assert (cancelled['type'], cancelled['booking']['status']) == ('meeting.cancelled', 'cancelled')
    assert scheduled['booking']['version'] < cancelled['booking']['version']


def test_a_started_class_session_is_one_callback_per_booking(stack, alert_receiver, monkeypatch):
    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.started'])
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    for booking_id, client_id in (('s1', 'c1'), ('s2', 'c2')):
        stack.book(booking_event(booking_id=booking_id, client_id=client_id, session_id='yoga', start=start))
    assert stack.admin('POST', 'bookings/s1/start')[0] == 200
    stack.pump()
    reads = []
    find = callbacks.repository.find
    monkeypatch.setattr(callbacks.repository, 'find', lambda model, key: reads.append(model.__name__) or find(model, key))
    drain(stack)
    assert reads.count('MeetingItem') == 1 and 'BookingItem' not in reads  # the session's, once; the bookings batched
    bodies = alert_receiver.bodies()
    assert sorted(body['booking']['id'] for body in bodies) == ['s1', 's2']
    assert {body['type'] for body in bodies} == {'meeting.started'}
    assert len({body['event_id'] for body in bodies}) == 2
    assert all(body['meeting']['status'] == 'started' and body['links'] is None for body in bodies)


def test_a_session_switched_to_in_person_is_one_callback_per_booking_named(stack, alert_receiver):
    """meeting.in_person (published by the online switch) names the booking, or a session's meeting and bookings."""
    from meetbridge import events

    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.in_person'])
    for booking_id, client_id in (('s1', 'c1'), ('s2', 'c2'), ('s3', 'c3')):
        stack.book(booking_event(booking_id=booking_id, client_id=client_id, session_id='yoga'))
    events.publish(events.MEETING_IN_PERSON, {'tenant_id': stack.tenant.tenant_id, 'event_id': 'e-session',
                                              'meeting_key': 'session:yoga', 'booking_ids': ['s1', 's2']})
    events.publish(events.MEETING_IN_PERSON, {'tenant_id': stack.tenant.tenant_id, 'event_id': 'e-booking',
                                              'meeting_key': 'session:yoga', 'booking_id': 's3'})
    assert all(report == {'batchItemFailures': []} for report in drain(stack))
    bodies = alert_receiver.bodies()
    assert sorted(body['booking']['id'] for body in bodies) == ['s1', 's2', 's3']
    assert {(body['type'], body['links']) for body in bodies} == {('meeting.in_person', None)}


def test_an_event_published_twice_is_one_callback(stack, alert_receiver):
    """The outbox may put an event on the bus twice (with the same event_id): the platform hears of it once."""
    from meetbridge import events

    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.in_person'])
    stack.book(booking_event())
    detail = {'tenant_id': stack.tenant.tenant_id, 'event_id': 'e-twice', 'meeting_key': 'booking:b1',
              'booking_id': 'b1'}
    events.publish(events.MEETING_IN_PERSON, detail)
    drain(stack)
    events.publish(events.MEETING_IN_PERSON, detail)
    drain(stack)
    assert len(alert_receiver.requests) == 1 and len(deliveries(stack)) == 1


def test_an_event_published_twice_at_once_queues_one_delivery_message(stack, alert_receiver):
    """Both publications are on the queue before either is handled: the first claims the delivery, the second
    queues nothing, and a publication handled again (its send refused) still queues what it claimed."""
    from meetbridge import events

    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.in_person'])
    stack.book(booking_event())
    drain(stack)  # its meeting.scheduled, not asked for
    detail = {'tenant_id': stack.tenant.tenant_id, 'event_id': 'e-twice', 'meeting_key': 'booking:b1',
              'booking_id': 'b1'}
    events.publish(events.MEETING_IN_PERSON, detail)
    events.publish(events.MEETING_IN_PERSON, detail)
    first, second = stack.cloud.queues['callbacks'].receive()
    assert handler('callbacks')(sqs_event([first]), stack.context) == {'batchItemFailures': []}
    assert handler('callbacks')(sqs_event([second]), stack.context) == {'batchItemFailures': []}
    assert handler('callbacks')(sqs_event([first]), stack.context) == {'batchItemFailures': []}  # sent already
    [message] = stack.cloud.queues['callbacks'].receive()
    assert json.loads(message['body'])['detail-type'] == callbacks.DELIVERY
    assert not stack.cloud.queues['callbacks'].receive()


def test_a_claimed_delivery_whose_send_failed_is_queued_when_its_event_comes_back(stack, alert_receiver, monkeypatch):
    from meetbridge import events

    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.in_person'])
    stack.book(booking_event())
    drain(stack)  # its meeting.scheduled, not asked for
    events.publish(events.MEETING_IN_PERSON, {'tenant_id': stack.tenant.tenant_id, 'event_id': 'e-refused',
                                              'meeting_key': 'booking:b1', 'booking_id': 'b1'})
    [event] = stack.cloud.queues['callbacks'].receive()
    with monkeypatch.context() as patched:
        patched.setattr(callbacks.aws, 'client', lambda service: RefusingQueue())
        assert handler('callbacks')(sqs_event([event]), stack.context)['batchItemFailures']
    assert handler('callbacks')(sqs_event([event]), stack.context) == {'batchItemFailures': []}
    assert drain(stack) == [{'batchItemFailures': []}]
    assert len(alert_receiver.requests) == 1


def test_a_copy_of_a_refused_or_posting_delivery_posts_nothing(stack, alert_receiver):
    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.scheduled'])
    stack.book(booking_event())
    [record] = _delivery_records(stack)
    [listed] = deliveries(stack)
    key = CallbackDeliveryItem.key(stack.tenant.tenant_id, listed['id'])

    # Another message of the delivery is posting it (its lease): this one comes back later, posting nothing.
    CallbackDeliveryItem.get(*key).update(actions=[
        CallbackDeliveryItem.posting_until.set(datetime.now(UTC) + timedelta(seconds=20))])
    assert handler('callbacks')(sqs_event([_received(record, 1)]), stack.context)['batchItemFailures']
    assert not alert_receiver.requests and deliveries(stack)[0]['attempts'] == 0
    CallbackDeliveryItem.get(*key).update(actions=[CallbackDeliveryItem.posting_until.remove()])

    alert_receiver.statuses = [410]
    assert handler('callbacks')(sqs_event([_received(record, 2)]), stack.context) == {'batchItemFailures': []}
    assert handler('callbacks')(sqs_event([_received(record, 3)]), stack.context) == {'batchItemFailures': []}
    assert len(alert_receiver.requests) == 1
    [listed] = deliveries(stack)
    assert (listed['status'], listed['attempts'], listed['last_status_code']) == ('failed', 1, 410)


def test_an_attempt_is_recorded_before_the_post_and_the_post_is_cut_at_its_deadline(stack, alert_receiver,
                                                                                  monkeypatch):
    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.scheduled'])
    stack.book(booking_event())
    [record] = _delivery_records(stack)
    [listed] = deliveries(stack)
    key = CallbackDeliveryItem.key(stack.tenant.tenant_id, listed['id'])

    # The worker dies while posting: the attempt is recorded all the same.
    def died(*_):
        raise SystemExit('the worker is gone')

    with monkeypatch.context() as patched:
        patched.setattr(callbacks.alerts, 'post_to_checked_address', died)
        with pytest.raises(SystemExit):
            callbacks.deliver(json.loads(record['body'])['detail'], 1, datetime.now(UTC))
    [listed] = deliveries(stack)
    assert (listed['status'], listed['attempts']) == ('retrying', 1) and listed['last_attempt_at']
    CallbackDeliveryItem.get(*key).update(actions=[CallbackDeliveryItem.posting_until.remove()])  # its lease ran out

    # A receiver slower than the post's deadline, each read within its timeout: a timeout, retried.
    def slow(*_):
        time.sleep(1)
        return 200

    with monkeypatch.context() as patched:
        patched.setattr(callbacks.alerts, 'post_to_checked_address', slow)
        patched.setattr(callbacks, 'POST_DEADLINE_SECONDS', 0.1)
        assert handler('callbacks')(sqs_event([_received(record, 2)]), stack.context)['batchItemFailures']
    [listed] = deliveries(stack)
    assert (listed['status'], listed['attempts'], listed['last_error']) == ('retrying', 2, 'timeout')


def _delivery_records(stack) -> list[dict]:
    """The rule's event turned into its delivery messages, taken off the queue (one per booking)."""
    [event] = stack.cloud.queues['callbacks'].receive()
    assert handler('callbacks')(sqs_event([event]), stack.context) == {'batchItemFailures': []}
    return stack.cloud.queues['callbacks'].receive()


class RefusingQueue:
    """SQS refusing every message sent; the rest (the retry's delay) is SQS's own."""

    def send_message(self, **_):
        raise ClientError({'Error': {'Code': 'ServiceUnavailable', 'Message': 'refused'}}, 'SendMessage')

    def send_message_batch(self, Entries, **_):
        return {'Successful': [], 'Failed': [{'Id': entry['Id'], 'SenderFault': False, 'Code': 'ServiceUnavailable'}
                                             for entry in Entries]}

    def __getattr__(self, name):
        return getattr(boto3.client('sqs'), name)


def _received(record: dict, count: int) -> dict:
    return {**record, 'attributes': {**record['attributes'], 'ApproximateReceiveCount': str(count)}}


def test_a_receiver_down_is_retried_then_a_refusal_fails_at_once_and_a_replay_sends_it_again(stack, alert_receiver,
                                                                                            capsys, monkeypatch):
    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url)
    stack.book(booking_event())
    [record] = _delivery_records(stack)

    alert_receiver.statuses = [503, 429]
    for count in (1, 2):
        assert handler('callbacks')(sqs_event([_received(record, count)]), stack.context)['batchItemFailures']
    [listed] = deliveries(stack)
    assert (listed['status'], listed['attempts'], listed['last_status_code'], listed['last_error']) == \
        ('retrying', 2, 429, 'http_status')
    assert handler('callbacks')(sqs_event([_received(record, 3)]), stack.context) == {'batchItemFailures': []}
    [listed] = deliveries(stack)
    assert (listed['status'], listed['attempts'], listed['last_status_code'], listed['last_error']) == \
        ('delivered', 3, 200, None)
    # A redelivery of a delivered callback posts nothing, and counts as neither delivered nor not.
    capsys.readouterr()
    assert handler('callbacks')(sqs_event([_received(record, 4)]), stack.context) == {'batchItemFailures': []}
    assert len(alert_receiver.requests) == 3
    metrics_lines = capsys.readouterr().out
    assert 'CallbacksNotDelivered' not in metrics_lines and 'CallbacksDelivered' not in metrics_lines

    # A 4xx other than 408/429: failed at once, not retried.
    stack.book(booking_event('booking.rescheduled', start=datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)))
    [moved] = _delivery_records(stack)
    alert_receiver.statuses = [410]
    assert handler('callbacks')(sqs_event([_received(moved, 1)]), stack.context) == {'batchItemFailures': []}
    [failed] = [item for item in deliveries(stack) if item['type'] == 'meeting.rescheduled']
    assert (failed['type'], failed['status'], failed['attempts'], failed['last_status_code']) == \
        ('meeting.rescheduled', 'failed', 1, 410)

    # A replay the queue refuses leaves the delivery failed.
    with monkeypatch.context() as patched:
        patched.setattr(callbacks.aws, 'client', lambda service: RefusingQueue())
        with pytest.raises(ClientError):
            callbacks.replay(stack.tenant.tenant_id, failed['id'], datetime.now(UTC))
    assert [item['status'] for item in deliveries(stack) if item['id'] == failed['id']] == ['failed']

    status, replayed = stack.admin('POST', f"callbacks/deliveries/{failed['id']}/replay")
    assert status == 200 and replayed['id'] == failed['id'] and replayed['status'] == 'retrying'
    assert drain(stack) == [{'batchItemFailures': []}]
    first, again = alert_receiver.bodies()[-2:]
    assert first == again and first['event_id'] == failed['id']
    assert [(item['status'], item['attempts']) for item in deliveries(stack) if item['id'] == failed['id']] == \
        [('delivered', 2)]
    assert stack.admin('POST', 'callbacks/deliveries/cb-0/replay')[0] == 404


def test_a_replay_posted_before_its_status_is_set_stays_delivered(stack, alert_receiver, monkeypatch):
    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.scheduled'])
    stack.book(booking_event())
    alert_receiver.statuses = [410]
    drain(stack)
    [failed] = deliveries(stack)
    with monkeypatch.context() as patched:

        class PostedAtOnce:
            """SQS, and the callbacks function taking the replay the moment it is sent."""

            def send_message(self, **message):
                patched.undo()
                boto3.client('sqs').send_message(**message)
                drain(stack)

        patched.setattr(callbacks.aws, 'client', lambda service: PostedAtOnce())
        replayed = callbacks.replay(stack.tenant.tenant_id, failed['id'], datetime.now(UTC))
    assert replayed.status == 'delivered' and deliveries(stack)[0]['status'] == 'delivered'


def test_a_receiver_down_for_every_receive_ends_in_the_dead_letter_queue_and_is_replayed_from_it(stack, alert_receiver):
    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.scheduled'])
    stack.book(booking_event())
    [event] = stack.cloud.queues['callbacks'].receive()
    assert handler('callbacks')(sqs_event([event]), stack.context) == {'batchItemFailures': []}
    sqs, url = boto3.client('sqs'), stack.cloud.queues['callbacks'].url
    alert_receiver.statuses = [500] * callbacks.MAX_RECEIVES
    delays = []
    for _ in range(callbacks.MAX_RECEIVES):  # each receive as the event source mapping makes it, time skipped
        [message] = sqs.receive_message(QueueUrl=url, AttributeNames=['All'])['Messages']
        record = {'messageId': message['MessageId'], 'receiptHandle': message['ReceiptHandle'],
                  'body': message['Body'], 'attributes': message['Attributes'], 'messageAttributes': {},
                  'md5OfBody': message['MD5OfBody'], 'eventSource': 'aws:sqs',
                  'eventSourceARN': stack.cloud.queues['callbacks'].arn, 'awsRegion': 'us-east-1'}
        assert handler('callbacks')(sqs_event([record]), stack.context)['batchItemFailures']
        delays.append(callbacks.retry_delay(int(message['Attributes']['ApproximateReceiveCount'])))
        assert not sqs.receive_message(QueueUrl=url).get('Messages')  # delayed by the function
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message['ReceiptHandle'], VisibilityTimeout=0)
    assert sum(delays[:-1]) >= 24 * 3600
    assert not sqs.receive_message(QueueUrl=url).get('Messages')  # moved on its next receive
    [listed] = deliveries(stack)
    assert (listed['status'], listed['attempts']) == ('failed', callbacks.MAX_RECEIVES)

    # `meetbridge dlq replay` finds the queue it came from and sends it back there.
    queues = dead_letters.redrives()
    dlq = stack.cloud.queues['callbacks-dlq'].url
    assert queues[dlq] == url
    [letter] = dead_letters.list_letters(dlq, stack.tenant.tenant_id)
    assert (letter.detail_type, letter.event_id, letter.booking_id) == ('callback.delivery', listed['id'], 'b1')
    dead_letters.replay(dlq, url, letter.message_id, stack.tenant.tenant_id)
    assert drain(stack) == [{'batchItemFailures': []}]
    assert deliveries(stack)[0]['status'] == 'delivered'


def test_a_rotation_signs_with_both_secrets_for_its_overlap(stack, alert_receiver):
    stack.setup_online_service()
    old = set_callbacks(stack, alert_receiver.url)['secret']
    status, rotated = stack.admin('POST', 'settings/callbacks/rotate')
    assert status == 200 and rotated['secret'] != old and rotated['rotated_at']
    assert rotated['previous_secret_until'] is not None
    assert stack.admin('GET', 'settings/callbacks')[1]['secret'] is None
    stack.book(booking_event())
    drain(stack)
    [(headers, raw)] = alert_receiver.requests
    assert headers['x-meetbridge-signature'].count('v1=') == 2
    verify(rotated['secret'], headers, raw)
    verify(old, headers, raw)
    with pytest.raises(SignatureError):
        verify('cbsec_someone-else', headers, raw)
    # After the overlap, the new secret alone.
    item = CallbackSettingsItem.get(*CallbackSettingsItem.key(stack.tenant.tenant_id))
    later = datetime.now(UTC) + timedelta(hours=25)
    assert callbacks.secrets_of(item, later) == [rotated['secret'].encode()]
    # A PUT afterwards keeps the secret and answers none.
    again = set_callbacks(stack, alert_receiver.url, ['meeting.started'])
    assert again['secret'] is None and again['has_secret']


def test_callbacks_stop_when_deleted(stack, alert_receiver):
    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url)
    stack.book(booking_event())
    [record] = _delivery_records(stack)
    status, off = stack.admin('DELETE', 'settings/callbacks')
    assert status == 200 and off == {'url': None, 'events': [], 'has_secret': False, 'rotated_at': None,
                                     'previous_secret_until': None, 'secret': None}
    assert handler('callbacks')(sqs_event([record]), stack.context) == {'batchItemFailures': []}
    assert not alert_receiver.requests
    assert deliveries(stack)[0]['last_error'] == 'callbacks_off'
    assert stack.admin('POST', 'settings/callbacks/rotate')[0] == 404
    stack.book(booking_event('booking.cancelled'))
    drain(stack)
    assert not alert_receiver.requests and len(deliveries(stack)) == 1


@pytest.mark.parametrize('url', [
    'http://hooks.example.com/cb',  # not https
    'https://169.254.169.254/latest/meta-data',  # the metadata service
    'https://10.1.2.3/cb', 'https://[::1]/cb', 'https://localhost/cb', 'https://user:pw@hooks.example.com/cb',
    'http://127.0.0.1:9/cb',  # loopback over http: only where the local stack allows it
])
def test_a_url_inside_a_network_or_not_https_is_refused(stack, url):
    status, problem = stack.admin('PUT', 'settings/callbacks', {'url': url, 'events': ['meeting.scheduled']})
    assert status == 400 and problem['field'] == 'url', problem


@pytest.mark.parametrize('types', [[], ['meeting.reminder'], ['meeting.started', 'meeting.started']])
def test_event_types_are_checked(stack, types):
    status, problem = stack.admin('PUT', 'settings/callbacks', {'url': 'https://hooks.example.com/cb', 'events': types})
    assert status == 400 and problem['field'].startswith('events'), problem


def test_the_deliveries_are_listed_newest_first_in_pages(stack, alert_receiver):
    stack.setup_online_service()
    set_callbacks(stack, alert_receiver.url, ['meeting.scheduled'])
    for n in range(3):
        stack.book(booking_event(booking_id=f'p{n}', client_id=f'c{n}'))
        drain(stack)
    status, first = listed(stack, limit=2)
    assert status == 200, first
    assert [item['booking_id'] for item in first['items']] == ['p2', 'p1'] and first['next']
    status, second = listed(stack, limit=2, next=first['next'])
    assert [item['booking_id'] for item in second['items']] == ['p0'] and second['next'] is None
    assert listed(stack, limit=201)[0] == 400
    status, problem = listed(stack, next='bm9wZQ')
    assert status == 400 and problem['field'] == 'next'


@pytest.fixture
def log_lines(monkeypatch) -> Iterator[io.StringIO]:
    """Every line the functions log (at any level), written here instead of to stdout."""
    from meetbridge.observability import logger

    monkeypatch.setenv('POWERTOOLS_LOG_LEVEL', 'DEBUG')
    logger.setLevel('DEBUG')
    lines = io.StringIO()
    stdout = logger.registered_handler.setStream(lines)
    yield lines
    logger.registered_handler.setStream(stdout)
    monkeypatch.undo()
    logger.setLevel('WARNING')


def test_the_secret_is_never_in_a_log_line_or_another_answer(stack, alert_receiver, log_lines):
    stack.setup_online_service()
    secret = set_callbacks(stack, alert_receiver.url)['secret']
    rotated = stack.admin('POST', 'settings/callbacks/rotate')[1]['secret']
    stack.book(booking_event())
    alert_receiver.statuses = [500]
    drain(stack)  # the failed post is left for its retry
    shown = json.dumps([stack.admin('GET', 'settings/callbacks')[1], deliveries(stack)])
    logged = log_lines.getvalue()
    assert 'queued: 1' in logged and 'callback not delivered' in logged  # the function's lines are here
    posted = b''.join(raw + json.dumps(headers).encode() for headers, raw in alert_receiver.requests)
    for text in (secret, rotated):
        assert text not in shown and text not in logged and text.encode() not in posted
    assert 'not-logged' not in logged  # the URL's token


@pytest.fixture
def readme_receiver(monkeypatch) -> Iterator[dict]:
    """The receiver the README shows, its code run as written (all but its `__main__` line), on a free port."""
    import re
    import threading
    from http.server import HTTPServer
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / 'README.md').read_text()
    [code] = re.findall(r'<!-- callback-receiver -->\n```python\n(.*?)```', readme, re.DOTALL)
    assert len(code.strip().splitlines()) <= 24
    monkeypatch.setenv('ALERT_WEBHOOK_ALLOW_HTTP_LOOPBACK', 'true')
    monkeypatch.setenv('MEETBRIDGE_CALLBACK_SECRET', 'set-once-the-callbacks-are')
    namespace = {'__name__': 'readme_receiver'}
    exec(compile(code, 'README.md', 'exec'), namespace)
    namespace['Receiver'].log_message = lambda *_: None
    server = HTTPServer(('127.0.0.1', 0), namespace['Receiver'])
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05})
    thread.start()
    namespace['url'] = f'http://127.0.0.1:{server.server_port}/meetbridge'
    yield namespace
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_readme_receiver_takes_a_signed_callback_and_refuses_another(stack, readme_receiver):
    stack.setup_online_service()
    secret = set_callbacks(stack, readme_receiver['url'])['secret']
    readme_receiver['SECRET'] = secret.encode()
    stack.book(booking_event())
    drain(stack)
    [delivered] = deliveries(stack)
    assert (delivered['status'], delivered['last_status_code']) == ('delivered', 204)

    # Rotated: the receiver still holding the old secret takes the next one during the overlap.
    stack.admin('POST', 'settings/callbacks/rotate')
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    stack.book(booking_event('booking.rescheduled', start=start))
    drain(stack)
    assert [item['last_status_code'] for item in deliveries(stack) if item['type'] == 'meeting.rescheduled'] == [204]

    # A receiver with another secret refuses it: a 401 fails the delivery at once.
    readme_receiver['SECRET'] = b'cbsec_not-this-tenants'
    stack.book(booking_event('booking.cancelled', start=start))
    drain(stack)
    [refused] = [item for item in deliveries(stack) if item['type'] == 'meeting.cancelled']
    assert (refused['status'], refused['attempts'], refused['last_status_code']) == ('failed', 1, 401)

    # Its tolerance: five minutes either way.
    header = callbacks.signature([b'cbsec_not-this-tenants'], 1_800_000_000, b'{}')
    assert readme_receiver['verified'](header, b'{}', 1_800_000_300)
    assert not readme_receiver['verified'](header, b'{}', 1_800_000_301)
    assert not readme_receiver['verified'](header, b'{"x":1}', 1_800_000_000)
