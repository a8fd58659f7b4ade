"""Opening our join links, and starting meetings on the booked second.

Looking at a link (GET, HEAD: a person, or a mail scanner before them) changes nothing; the click on
the page's button (a form POST to the same link) records the open and opens the meeting."""

import base64
import hashlib
import json
import re
import os
import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from bookings import booking_event
from helpers import Clock, LambdaContext, handler, join_event, sqs_event
from integration_stack import connect_zoom

from meetbridge.logic import analytics, dead_letters
from meetbridge.security import secrets
from meetbridge.store import repository
from meetbridge.store.models import JoinLinkItem, LinkOpensItem

LEAD = timedelta(seconds=int(os.environ['AUTO_START_LEAD_SECONDS']))
# What Outlook Safe Links, Gmail, Proofpoint and Barracuda send when they fetch a link of an email.
SCANNER_AGENTS = [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)',
    'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
    'Proofpoint URL Defense',
    'BarracudaCentral/1.0',
]


def _token(url: str) -> str:
    return url.rsplit('/', 1)[1]


def _look(stack, url: str, method: str = 'GET', agent: str = 'pytest') -> dict:
    return handler('join')(join_event(_token(url), method, {'user-agent': agent}), stack.context)


def _click(stack, url: str, **headers: str) -> dict:
    return handler('join')(join_event(_token(url), 'POST', headers), stack.context)


def _links(stack, booking_id='b1') -> dict:
    return stack.view(booking_id)[1]['links']


def _opens(url: str) -> tuple[int, datetime | None]:
    link = repository.find(JoinLinkItem, JoinLinkItem.key(secrets.digest(_token(url))))
    opens = repository.find(LinkOpensItem, analytics.opens_key(link))
    return (opens.count, opens.first) if opens else (0, None)


def _events(stack) -> list[str]:
    return [json.loads(r['body'])['detail-type'] for r in stack.cloud.queues['notifications'].receive()]


def _button(page: dict) -> str | None:
    """The label of the page's form button, when the form posts back to the link itself."""
    form = re.search(r'<form method="post">\s*<button type="submit"[^>]*>([^<]+)</button>', page['body'])
    return form and form.group(1)


def test_before_the_start_the_client_sees_a_waiting_page_in_their_time_zone(stack):
    stack.setup_online_service()
    start = datetime(2030, 3, 14, 15, 0, tzinfo=UTC)
    stack.book(booking_event(start=start))

    page = _look(stack, _links(stack)['clients']['c1'])

    assert page['statusCode'] == 200
    assert 'Consultation' in page['body'] and 'Dana Doe' in page['body']
    assert 'Thursday 14 March 2030, 11:00 (America/New_York, UTC-04:00)' in page['body']  # 15:00 UTC
    assert 'data-start="2030-03-14T15:00:00+00:00"' in page['body'] and 'Starts in about' in page['body']
    # Without JavaScript the page reloads itself; with it, its script polls the link's state instead.
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in page['body']
    assert _button(page) == 'Join when it starts'  # a click before the start opens nothing yet
    assert page['headers']['Referrer-Policy'] == 'no-referrer' and page['headers']['Cache-Control'] == 'no-store'


def test_the_countdown_and_opening_scripts_are_the_only_scripts_the_page_may_run(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(hours=2)))

    page = _look(stack, _links(stack)['clients']['c1'])

    countdown, opened = re.findall(r'<script>(.*?)</script>', page['body'], re.S)
    policy = page['headers']['Content-Security-Policy']
    digests = [base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() for script in (countdown, opened)]
    assert "script-src 'sha256-{}' 'sha256-{}';".format(*digests) in policy
    # They may poll our /state and post to our /opened only.
    assert "connect-src 'self';" in policy and "default-src 'none'" in policy
    assert "'/opened'" in opened and 'visibilityState' in opened
    # The script posts the form only on the page that answered a person's click, never on a page a GET shows.
    assert 'data-auto-join' not in page['body'].replace(countdown, '')


def test_at_the_start_the_page_has_a_button_and_the_click_sends_the_client_in(stack):
    stack.setup_online_service(url='https://meet.example.com/abc')
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(seconds=1)))
    link = _links(stack)['clients']['c1']

    page = _look(stack, link)
    assert page['statusCode'] == 200 and _button(page) == 'Join the meeting'
    assert 'meet.example.com' not in page['body']
    assert _opens(link) == (0, None)

    clicked = _click(stack, link, **{'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded'})
    assert clicked['statusCode'] == 303 and clicked['headers']['Location'] == 'https://meet.example.com/abc'
    count, first = _opens(link)
    assert count == 1 and first is not None


@pytest.mark.parametrize('agent', SCANNER_AGENTS)
def test_a_scanners_fetch_records_nothing_and_starts_nothing(stack, agent):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=10)))  # inside the provider's window
    stack.book(booking_event(booking_id='b2', client_id='c2', start=datetime.now(UTC) - timedelta(minutes=1)))
    _events(stack)
    urls = [_links(stack)['provider'], _links(stack)['clients']['c1'], _links(stack, 'b2')['clients']['c2']]

    for url in urls:
        for method in ('GET', 'HEAD', 'GET'):
            answer = _look(stack, url, method, agent)
            assert answer['statusCode'] == 200
            assert 'Location' not in answer['headers']
            assert answer['body'] == '' if method == 'HEAD' else answer['body']

    assert [_opens(url) for url in urls] == [(0, None)] * 3
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'
    assert _events(stack) == []


def test_the_provider_starting_early_takes_waiting_clients_in(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=10)))
    links = _links(stack)
    assert _look(stack, links['clients']['c1'])['statusCode'] == 200
    provider_page = _look(stack, links['provider'])
    assert provider_page['statusCode'] == 200 and _button(provider_page) == 'Start now'
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'

    assert _click(stack, links['provider'])['statusCode'] == 303

    meeting = stack.view('b1')[1]['meeting']
    assert (meeting['status'], meeting['started_by']) == ('started', 'provider')
    assert _button(_look(stack, links['clients']['c1'])) == 'Join the meeting'
    assert _click(stack, links['clients']['c1'])['statusCode'] == 303
    assert _events(stack) == ['meeting.started']


def test_the_provider_opening_long_before_the_start_does_not_start_it(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(hours=3)))
    provider = _links(stack)['provider']

    assert _button(_look(stack, provider)) == 'Open the meeting room'
    assert _click(stack, provider)['statusCode'] == 303
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled' and _opens(provider)[0] == 1


def test_a_zoom_hosts_page_asks_zoom_nothing_and_the_click_mints_the_start_url(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=5)))
    host_link = _links(stack)['provider']
    zoom.reset_calls()

    for method in ('GET', 'HEAD'):
        assert _look(stack, host_link, method, SCANNER_AGENTS[0])['statusCode'] == 200
    assert zoom.calls() == []
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'

    clicked = _click(stack, host_link)
    assert clicked['statusCode'] == 303 and 'zak=' in clicked['headers']['Location']
    assert [call['operation'] for call in zoom.calls()] == ['get_meeting']
    assert stack.view('b1')[1]['meeting']['status'] == 'started'


def test_a_click_posted_from_another_site_is_refused(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    link = _links(stack)['clients']['c1']

    for site in ('cross-site', 'same-site'):
        refused = _click(stack, link, **{'sec-fetch-site': site})
        assert refused['statusCode'] == 403 and 'Location' not in refused['headers']
    assert _opens(link) == (0, None)


@pytest.mark.parametrize('method', ['PUT', 'DELETE', 'PATCH', 'OPTIONS'])
def test_other_methods_are_refused_with_a_json_problem(stack, method):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    link = _links(stack)['clients']['c1']

    answer = _look(stack, link, method)

    assert answer['statusCode'] == 405 and answer['headers']['Allow'] == 'GET, HEAD, POST'
    assert json.loads(answer['body'])['error'] == 'method_not_allowed'
    assert _opens(link) == (0, None)


def test_the_payment_is_checked_at_the_click(stack):
    stack.setup_online_service()
    start = datetime.now(UTC) - timedelta(minutes=1)
    stack.book(booking_event(start=start, payment={'required': True, 'status': 'pending'}))
    link = _links(stack)['clients']['c1']
    for page in (_look(stack, link), _click(stack, link)):
        assert page['statusCode'] == 402 and 'Payment' in page['body'] and _button(page) is None

    stack.book(booking_event('booking.paid', start=start, payment={'required': True, 'status': 'paid'}))

    assert _click(stack, link)['statusCode'] == 303
    assert _opens(link)[0] == 2


def test_unknown_links_and_disconnected_accounts_get_readable_pages(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    link = _links(stack)['clients']['c1']

    missing = handler('join')(join_event('not-a-real-token'), stack.context)
    assert missing['statusCode'] == 404 and 'Link not found' in missing['body']

    assert stack.admin('DELETE', 'accounts/default')[0] == 200
    for page in (_look(stack, link), _click(stack, link)):
        assert page['statusCode'] == 503 and 'disconnected' in page['body']


def _schedule_input(stack, start: datetime, meeting_key: str = 'booking:b1') -> dict:
    return {'tenant_id': stack.tenant.tenant_id, 'meeting_key': meeting_key, 'start': start.isoformat(),
            'scheduled_time': (start - LEAD).isoformat(), 'execution_id': 'x'}


def test_the_schedule_hands_over_one_delayed_message_that_starts_the_meeting_once(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    stack.book(booking_event(start=start))
    # Scheduler fires 37.4 s into its minute.
    clock = Clock(start - LEAD + timedelta(seconds=37.4))

    with clock.running_auto_start():
        answer = handler('auto_start')(_schedule_input(stack, start), LambdaContext())
        [(delay, record)] = stack.cloud.queues['start'].take_delayed()
        assert answer == {'outcome': f'handed over: due in {delay} s'} and delay == 22  # 22.6 s were left
        assert json.loads(record['body']) == {'source': 'meetbridge', 'detail-type': 'meeting.start_due', 'detail': {
            'tenant_id': stack.tenant.tenant_id, 'meeting_key': 'booking:b1', 'start': start.isoformat()}}
        clock.now += timedelta(seconds=delay, milliseconds=20)  # SQS hands it over 20 ms after its delay

        assert handler('auto_start')(sqs_event([record]), LambdaContext()) == {'batchItemFailures': []}
        # Redelivered, and sent twice (a firing retried): the meeting starts once.
        assert handler('auto_start')(sqs_event([record, {**record, 'messageId': 'again'}]),
                                     LambdaContext()) == {'batchItemFailures': []}

    assert clock.slept == pytest.approx(0.58)  # the rest of the last second, waited once
    meeting = stack.view('b1')[1]['meeting']
    assert meeting['status'] == 'started' and meeting['started_by'] == 'schedule'
    assert datetime.fromisoformat(meeting['started_at']) == start
    assert _events(stack).count('meeting.started') == 1
    assert stack.cloud.queues['start'].take_delayed() == []


def test_a_booking_too_near_its_start_for_a_schedule_gets_its_delayed_message_at_once(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + LEAD - timedelta(seconds=10)
    before = datetime.now(UTC)
    stack.book(booking_event(start=start))
    after = datetime.now(UTC)

    # Two requests for the start: one sent before the meeting was saved (for a worker killed before its
    # save), one after it (which finds it saved, whatever the save took), delayed by the whole seconds left.
    before_save, after_save = stack.cloud.queues['start'].take_delayed()
    assert [json.loads(record['body'])['detail']['start'] for _, record in (before_save, after_save)] == \
        [start.isoformat()] * 2
    assert (start - after).total_seconds() - 1 < after_save[0] <= (start - before).total_seconds()
    assert boto3.client('scheduler').list_schedules(GroupName=os.environ['SCHEDULE_GROUP'])['Schedules'] == []


def test_a_booking_moved_near_its_start_loses_its_schedule_and_gets_the_message(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(hours=1)))
    assert len(boto3.client('scheduler').list_schedules(GroupName=os.environ['SCHEDULE_GROUP'])['Schedules']) == 1
    near = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)

    stack.book(booking_event('booking.rescheduled', start=near))

    assert boto3.client('scheduler').list_schedules(GroupName=os.environ['SCHEDULE_GROUP'])['Schedules'] == []
    sent = stack.cloud.queues['start'].take_delayed()
    assert [json.loads(record['body'])['detail']['start'] for _, record in sent] == [near.isoformat()] * 2


def test_a_start_further_off_than_one_message_may_wait_is_handed_over_again(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    stack.book(booking_event(start=start))
    clock = Clock(start - timedelta(seconds=1500))  # a schedule retried, or an operator's request

    with clock.running_auto_start():
        handler('auto_start')(_schedule_input(stack, start), LambdaContext())
        [(first, record)] = stack.cloud.queues['start'].take_delayed()
        clock.now += timedelta(seconds=first)
        assert handler('auto_start')(sqs_event([record]), LambdaContext()) == {'batchItemFailures': []}
        [(second, record)] = stack.cloud.queues['start'].take_delayed()
        clock.now += timedelta(seconds=second)
        handler('auto_start')(sqs_event([record]), LambdaContext())

    assert (first, second) == (900, 600)
    assert datetime.fromisoformat(stack.view('b1')[1]['meeting']['started_at']) == start


def test_a_schedule_firing_after_the_start_starts_at_once(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    stack.book(booking_event(start=start))
    clock = Clock(start + timedelta(seconds=4))  # retried after the start

    with clock.running_auto_start():
        assert handler('auto_start')(_schedule_input(stack, start), LambdaContext()) == {'outcome': 'started'}

    assert clock.slept == 0 and stack.cloud.queues['start'].take_delayed() == []
    assert datetime.fromisoformat(stack.view('b1')[1]['meeting']['started_at']) == start + timedelta(seconds=4)


def test_a_request_left_from_before_a_reschedule_or_cancel_starts_nothing(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    stack.book(booking_event(start=start))
    earlier = start - timedelta(minutes=30)
    clock = Clock(earlier - timedelta(seconds=30))
    with clock.running_auto_start():
        # The schedule of the earlier start: nothing is handed over.
        assert 'stale' in handler('auto_start')(_schedule_input(stack, earlier), LambdaContext())['outcome']
        assert stack.cloud.queues['start'].take_delayed() == []
        # Its message, already on the queue when the meeting moved, arrives: nothing starts.
        clock.now = earlier
        stale = {'messageId': 'm1', 'receiptHandle': 'r1', 'eventSource': 'aws:sqs', 'attributes': {},
                 'messageAttributes': {}, 'md5OfBody': '', 'eventSourceARN': stack.cloud.queues['start'].arn,
                 'awsRegion': 'us-east-1', 'body': json.dumps({'source': 'meetbridge', 'detail-type': 'meeting.start_due',
                                                              'detail': _schedule_input(stack, earlier)})}
        assert handler('auto_start')(sqs_event([stale]), LambdaContext()) == {'batchItemFailures': []}
        assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'

        stack.book(booking_event('booking.cancelled', start=start))
        clock.now = start
        current = _schedule_input(stack, start)
        assert handler('auto_start')(current, LambdaContext())['outcome'] == 'nothing to do: meeting is cancelled'
    assert stack.view('b1')[1]['meeting']['status'] == 'cancelled'
    assert 'meeting.started' not in _events(stack)


def test_concurrent_provider_clicks_start_the_meeting_once(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=5)))
    provider_link = _links(stack)['provider']
    answers = []

    def click():
        answers.append(_click(stack, provider_link)['statusCode'])

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [303] * 6
    assert _events(stack).count('meeting.started') == 1
    assert _opens(provider_link)[0] == 6


def test_a_start_request_that_failed_every_receive_is_listed_and_replayed_as_the_other_dead_letters(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    stack.book(booking_event(start=start))  # too near for a schedule: its requests are on the start queue
    (_, record), _ = stack.cloud.queues['start'].take_delayed()
    sqs = boto3.client('sqs')
    sqs.send_message(QueueUrl=stack.cloud.queues['start-dlq'].url, MessageBody=record['body'])

    assert dead_letters.redrives()[stack.cloud.queues['start-dlq'].url] == stack.cloud.queues['start'].url
    [letter] = dead_letters.list_letters(stack.cloud.queues['start-dlq'].url, stack.tenant.tenant_id)
    assert (letter.tenant_id, letter.detail_type) == (stack.tenant.tenant_id, 'meeting.start_due')
    dead_letters.replay(stack.cloud.queues['start-dlq'].url, stack.cloud.queues['start'].url, letter.message_id)

    [replayed] = stack.cloud.queues['start'].receive()
    assert json.loads(replayed['body'])['detail']['start'] == start.isoformat()


@pytest.mark.parametrize('body', ['not json', json.dumps({'source': 'meetbridge'}), json.dumps({'detail': None}),
                                  json.dumps({'detail': {'tenant_id': 't', 'meeting_key': 'k', 'start': 'soon'}}),
                                  json.dumps(['a list'])])
def test_a_start_queue_message_that_cannot_be_a_start_request_is_acknowledged_and_logged(stack, body, caplog):
    """No redelivery can make it one: it is not retried for minutes on its way to the dead-letter queue."""
    record = {'messageId': 'poison', 'receiptHandle': 'r1', 'eventSource': 'aws:sqs', 'attributes': {},
              'messageAttributes': {}, 'md5OfBody': '', 'eventSourceARN': stack.cloud.queues['start'].arn,
              'awsRegion': 'us-east-1', 'body': body}
    assert handler('auto_start')(sqs_event([record]), LambdaContext()) == {'batchItemFailures': []}
    [rejected] = [entry for entry in caplog.records if entry.getMessage() == 'rejected start request']
    assert rejected.message_id == 'poison'
    assert 'meeting.started' not in _events(stack)
