"""Delivery under failure: a booking is visible from its webhook on, waits through a provider outage with
growing delays, tells the admin once, and class bursts and repeated deliveries settle without retries."""

import json
import os
import threading
import traceback
from datetime import UTC, datetime

import boto3
from bookings import booking_event
from helpers import acting_as, handler, sqs_event
from integration_stack import connect_zoom, template_resources

from functions.meetings.handler import MeetingsSettings, retry_delay
from meetbridge import config
from meetbridge.domain.model import BookingEvent
from meetbridge.logic import bookings, webhooks
from meetbridge.store.models import MeetingItem, QuotaItem

UNAVAILABLE = {'code': 503, 'message': 'Service Unavailable'}


def _ready(stack, zoom) -> None:
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    zoom.reset_calls()


def _waiting_records(stack) -> list[dict]:
    """The meetings queue's messages as Lambda delivers them, left on the queue (not deleted)."""
    queue = stack.cloud.queues['meetings']
    messages = boto3.client('sqs').receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10,
                                                   AttributeNames=['All'])['Messages']
    return [{'messageId': m['MessageId'], 'receiptHandle': m['ReceiptHandle'], 'body': m['Body'],
             'attributes': m['Attributes'], 'messageAttributes': {}, 'md5OfBody': m['MD5OfBody'],
             'eventSource': 'aws:sqs', 'eventSourceARN': queue.arn, 'awsRegion': 'us-east-1'} for m in messages]


def _notices(stack) -> list[str]:
    return [json.loads(record['body'])['detail-type'] for record in stack.cloud.queues['notifications'].receive()]


def test_a_booking_waits_visibly_through_an_outage_and_is_made_when_the_provider_is_back(stack, zoom):
    _ready(stack, zoom)
    zoom.fail('create_meeting', 503, body=UNAVAILABLE, times=3)

    assert stack.post(booking_event())[0] == 202
    status, view = stack.view('b1')  # visible before the meetings function has seen it
    assert status == 200 and view['booking']['status'] == 'received'
    assert view['booking']['problem'] == 'waiting for its meeting to be made' and view['meeting'] is None

    [record] = stack.cloud.queues['meetings'].receive()
    for _ in range(3):
        report = handler('meetings')(sqs_event([record]), stack.context)
        assert report['batchItemFailures'] == [{'itemIdentifier': record['messageId']}]
        problem = stack.view('b1')[1]['booking']['problem']
        assert problem == 'waiting for a retry: Zoom is unavailable or busy (503)'

    assert handler('meetings')(sqs_event([record]), stack.context) == {'batchItemFailures': []}
    view = stack.view('b1')[1]
    assert view['booking']['status'] == 'active' and view['booking']['problem'] is None
    assert view['meeting']['status'] == 'scheduled' and len(zoom.meetings) == 1
    assert _notices(stack) == ['meeting.scheduled']
    # The attempts Zoom did not take are not counted against the host's 100 a day.
    [used] = QuotaItem.scan(QuotaItem.pk.startswith('QUOTA#zoom'))
    assert used.count == 1


def test_a_failed_record_comes_back_after_its_own_growing_delay(stack, zoom):
    _ready(stack, zoom)
    sqs = boto3.client('sqs')
    queue = stack.cloud.queues['meetings']
    # No delay of the queue's own: whatever keeps the record hidden is the function's.
    sqs.set_queue_attributes(QueueUrl=queue.url, Attributes={'VisibilityTimeout': '0'})
    zoom.fail('create_meeting', 503, body=UNAVAILABLE)
    stack.post(booking_event())

    [record] = _waiting_records(stack)
    assert handler('meetings')(sqs_event([record]), stack.context)['batchItemFailures']

    assert sqs.receive_message(QueueUrl=queue.url, AttributeNames=['All']).get('Messages') is None
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=['All'])['Attributes']
    assert attributes['ApproximateNumberOfMessagesNotVisible'] == '1'


def test_the_retry_delays_grow_to_an_hour_and_the_queue_keeps_retrying_for_more_than_a_day():
    assert [retry_delay(n) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    queue = template_resources()['MeetingsQueue']['Properties']
    receives = queue['RedrivePolicy']['maxReceiveCount']
    retried_for = sum(retry_delay(n) for n in range(1, receives))
    assert 24 * 3600 < retried_for < queue['MessageRetentionPeriod']


def test_the_admin_is_told_once_when_a_booking_waits_longer_than_the_setting(stack, zoom, monkeypatch):
    _ready(stack, zoom)
    monkeypatch.setenv('WAITING_NOTICE_SECONDS', '0')
    zoom.fail('create_meeting', 503, body=UNAVAILABLE, times=3)
    stack.post(booking_event())
    [record] = stack.cloud.queues['meetings'].receive()
    for _ in range(3):
        assert handler('meetings')(sqs_event([record]), stack.context)['batchItemFailures']

    [told] = [json.loads(r['body']) for r in stack.cloud.queues['notifications'].receive()]
    assert told['detail-type'] == 'meeting.delayed'
    assert told['detail']['booking_id'] == 'b1' and '503' in told['detail']['problem']


def test_a_booking_of_a_service_that_is_not_online_leaves_no_received_record(stack):
    stack.setup_online_service()
    assert stack.admin('PUT', 'services/desk', {'name': 'Front desk', 'online': False})[0] == 200
    stack.book(booking_event(service_id='desk'))
    assert stack.view('b1')[0] == 404


def test_a_reschedule_delayed_by_the_daily_limit_is_announced_as_rescheduled(stack, zoom):
    _ready(stack, zoom)
    start = datetime.now(UTC).replace(microsecond=0).replace(year=datetime.now(UTC).year + 1)
    stack.book(booking_event(start=start))
    assert _notices(stack) == []  # pump() delivered them already
    zoom.fail('update_meeting', 429, body={'code': 429, 'message': 'daily'},
              headers={'X-RateLimit-Type': 'Daily-limit', 'Retry-After': '2030-01-01T00:00:00Z'})
    moved = start.replace(hour=(start.hour + 1) % 24)
    stack.post(booking_event('booking.rescheduled', start=moved))
    [record] = stack.cloud.queues['meetings'].receive()
    assert handler('meetings')(sqs_event([record]), stack.context) == {'batchItemFailures': []}
    view = stack.view('b1')[1]
    assert 'changes a day' in view['booking']['problem']
    assert datetime.fromisoformat(view['booking']['start']) == start
    assert _notices(stack) == []  # nothing announced while the change waits

    # The daily limit resets (a new day's budget), and the retry the scheduler queues is the change itself.
    for used in QuotaItem.scan(QuotaItem.pk.startswith('QUOTA#')):
        used.delete()
    scheduler = boto3.client('scheduler')
    [retry] = [s for s in scheduler.list_schedules(GroupName=os.environ['SCHEDULE_GROUP'])['Schedules']
               if s['Name'].startswith('retry-')]
    target = scheduler.get_schedule(Name=retry['Name'], GroupName=retry['GroupName'])['Target']
    boto3.client('sqs').send_message(QueueUrl=stack.cloud.queues['meetings'].url, MessageBody=target['Input'])
    records = stack.cloud.queues['meetings'].receive()
    assert handler('meetings')(sqs_event(records), stack.context) == {'batchItemFailures': []}

    view = stack.view('b1')[1]
    assert view['booking']['problem'] is None and datetime.fromisoformat(view['booking']['start']) == moved
    assert _notices(stack) == ['meeting.rescheduled']


def test_of_concurrent_identical_deliveries_one_is_accepted_and_published_the_others_told_to_retry(stack, monkeypatch):
    # A lease no loaded machine outlasts: the deliveries all arrive within it.
    monkeypatch.setattr(webhooks, 'PUBLISH_LEASE_SECONDS', 3600)
    stack.setup_online_service()
    delivery = booking_event()
    answers, failures = [], []

    def deliver():
        try:
            answers.append(stack.post(delivery)[0])
        except Exception as exc:
            failures.append(''.join(traceback.format_exception(exc)))

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # One claims and publishes; the others find its lease running and are answered 503 with Retry-After (a
    # platform's retry), never 202 for an event that might not be on the bus.
    assert failures == [] and sorted(answers) == [202] + [503] * 9
    assert len(stack.cloud.queues['meetings'].receive()) == 1


def test_fifty_concurrent_bookings_of_a_class_session_settle_in_one_meeting_without_retries(stack, zoom):
    _ready(stack, zoom)
    assert stack.admin('PUT', 'services/svc', {'name': 'Yoga', 'online': True, 'kind': 'class'})[0] == 200
    events = [BookingEvent.model_validate({
        **booking_event(booking_id=f'b{n}', client_id=f'c{n}', session_id='s1'),
        'tenant_id': stack.tenant.tenant_id, 'source': 'generic', 'occurred_at': datetime.now(UTC).isoformat(),
    }) for n in range(50)]
    failures = []

    @config.using(MeetingsSettings)
    def apply(event):
        try:
            with acting_as('meetings'):
                bookings.apply(event, datetime.now(UTC))
        except Exception as exc:  # a RetryLater here would be a record waiting for its visibility timeout
            failures.append(''.join(traceback.format_exception(exc)))

    threads = [threading.Thread(target=apply, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    [meeting_id] = zoom.meetings
    assert len(zoom.registrants(meeting_id)) == 50
    meeting = MeetingItem.get(*MeetingItem.key(stack.tenant.tenant_id, 'session:s1'))
    assert meeting.booking_ids == {f'b{n}' for n in range(50)}
    client_links = {stack.view(f'b{n}')[1]['links']['clients'][f'c{n}'] for n in range(50)}
    assert len(client_links) == 50


def test_a_dead_letter_is_listed_and_replayed_and_the_replay_is_applied(stack, zoom, capsys, monkeypatch):
    from meetbridge.cli import main

    _ready(stack, zoom)
    sqs = boto3.client('sqs')
    meetings = stack.cloud.queues['meetings']
    dlq_url = stack.cloud.queues['meetings-dlq'].url
    zoom.fail('create_meeting', 503, body=UNAVAILABLE, times=2)
    monkeypatch.setattr(webhooks, 'PUBLISH_LEASE_SECONDS', 3600)  # the second delivery comes within the lease
    delivery = booking_event()
    stack.post(delivery)
    [record] = meetings.receive()
    for _ in range(2):
        assert handler('meetings')(sqs_event([record]), stack.context)['batchItemFailures']
    sqs.send_message(QueueUrl=dlq_url, MessageBody=record['body'])  # its last receive: redriven
    # The platform sending it again within the first delivery's lease is told to retry, and publishes nothing.
    assert stack.post(delivery)[0] == 503 and meetings.receive() == []
    capsys.readouterr()  # the handlers' metrics lines

    assert main(['dlq', 'list', '--json', '--tenant', stack.tenant.tenant_id]) == 0
    [letter] = json.loads(capsys.readouterr().out)[dlq_url]
    assert letter['booking_id'] == 'b1' and letter['type'] == 'booking.created' and 'body' not in letter
    assert main(['dlq', 'replay', letter['id'], '--json']) == 0
    assert json.loads(capsys.readouterr().out)[0]['to'] == meetings.url

    assert sqs.receive_message(QueueUrl=dlq_url).get('Messages') is None
    assert handler('meetings')(sqs_event(meetings.receive()), stack.context) == {'batchItemFailures': []}
    view = stack.view('b1')[1]
    assert view['booking']['status'] == 'active' and view['meeting']['status'] == 'scheduled'
    assert len(zoom.meetings) == 1


def test_a_tenant_lists_and_replays_only_its_own_dead_letters_through_the_admin_api(stack):
    from meetbridge.logic.tenants import create_tenant

    stack.setup_online_service()
    sqs = boto3.client('sqs')
    dlq_url = stack.cloud.queues['meetings-dlq'].url
    other = create_tenant('Other Clinic')
    for tenant_id, booking_id in ((stack.tenant.tenant_id, 'b1'), (other.tenant_id, 'b9')):
        event = {**booking_event(booking_id=booking_id), 'tenant_id': tenant_id, 'source': 'generic',
                 'occurred_at': datetime.now(UTC).isoformat()}
        sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(
            {'source': 'meetbridge', 'detail-type': event['type'], 'detail': event}))

    status, letters = stack.admin('GET', 'dead-letters')
    assert status == 200 and [letter['booking_id'] for letter in letters] == ['b1']
    others = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)['Messages']
    assert len(others) == 2  # listing made them visible again
    other_id = next(m['MessageId'] for m in others if json.loads(m['Body'])['detail']['booking']['id'] == 'b9')
    sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=[
        {'Id': str(n), 'ReceiptHandle': m['ReceiptHandle'], 'VisibilityTimeout': 0} for n, m in enumerate(others)])
    assert stack.admin('POST', f'dead-letters/{other_id}/replay')[0] == 404

    status, replayed = stack.admin('POST', f"dead-letters/{letters[0]['id']}/replay")
    assert status == 200 and replayed['booking_id'] == 'b1'
    stack.pump()
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'
    assert stack.admin('GET', 'dead-letters')[1] == []
