"""Opening our join links, and starting meetings on the booked second."""

import json
import threading
from datetime import UTC, datetime, timedelta

from bookings import booking_event
from helpers import LambdaContext, handler, join_event


def _open(stack, url: str) -> dict:
    return handler('join')(join_event(url.rsplit('/', 1)[1]), stack.context)


def _links(stack, booking_id='b1') -> dict:
    return stack.view(booking_id)[1]['links']


def test_before_the_start_the_client_sees_a_waiting_page_in_their_time_zone(stack):
    stack.setup_online_service()
    start = datetime(2030, 3, 14, 15, 0, tzinfo=UTC)
    stack.book(booking_event(start=start))

    page = _open(stack, _links(stack)['clients']['c1'])

    assert page['statusCode'] == 200
    assert 'Consultation' in page['body'] and 'Dana Doe' in page['body']
    assert 'Thursday 14 March 2030, 11:00 (America/New_York)' in page['body']  # 15:00 UTC
    assert 'http-equiv="refresh" content="30"' in page['body']
    assert page['headers']['Referrer-Policy'] == 'no-referrer' and page['headers']['Cache-Control'] == 'no-store'


def test_at_the_start_the_client_is_sent_to_the_meeting(stack):
    stack.setup_online_service(url='https://meet.example.com/abc')
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(seconds=1)))

    page = _open(stack, _links(stack)['clients']['c1'])

    assert page['statusCode'] == 302 and page['headers']['Location'] == 'https://meet.example.com/abc'


def test_the_provider_starting_early_takes_waiting_clients_in(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=10)))
    links = _links(stack)
    assert _open(stack, links['clients']['c1'])['statusCode'] == 200

    assert _open(stack, links['provider'])['statusCode'] == 302

    meeting = stack.view('b1')[1]['meeting']
    assert (meeting['status'], meeting['started_by']) == ('started', 'provider')
    assert _open(stack, links['clients']['c1'])['statusCode'] == 302
    started = [json.loads(r['body']) for r in stack.cloud.queues['notifications'].receive()]
    assert [e['detail-type'] for e in started] == ['meeting.started']


def test_unknown_links_and_disconnected_accounts_get_readable_pages(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    link = _links(stack)['clients']['c1']

    missing = handler('join')(join_event('not-a-real-token'), stack.context)
    assert missing['statusCode'] == 404 and 'Link not found' in missing['body']

    assert stack.admin('DELETE', 'accounts/default')[0] == 200
    page = _open(stack, link)
    assert page['statusCode'] == 503 and 'disconnected' in page['body']


def test_the_schedule_firing_waits_for_the_exact_second_and_starts_once(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    stack.book(booking_event(start=start))
    request = {'tenant_id': stack.tenant.tenant_id, 'meeting_key': 'booking:b1', 'start': start.isoformat(),
               'scheduled_time': (start - timedelta(seconds=60)).isoformat(), 'execution_id': 'x'}

    answer = handler('auto_start')(request, LambdaContext())

    assert answer == {'outcome': 'started'}
    meeting = stack.view('b1')[1]['meeting']
    assert meeting['status'] == 'started' and meeting['started_by'] == 'schedule'
    assert datetime.fromisoformat(meeting['started_at']) >= start
    # A retried firing of the same schedule does nothing new.
    assert handler('auto_start')(request, LambdaContext()) == {'outcome': 'started'}
    events = [json.loads(r['body'])['detail-type'] for r in stack.cloud.queues['notifications'].receive()]
    assert events.count('meeting.started') == 1


def test_a_schedule_left_from_before_a_reschedule_or_cancel_starts_nothing(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    stack.book(booking_event(start=start))
    stale = {'tenant_id': stack.tenant.tenant_id, 'meeting_key': 'booking:b1',
             'start': (start - timedelta(hours=1)).isoformat()}
    assert 'stale' in handler('auto_start')(stale, LambdaContext())['outcome']

    stack.book(booking_event('booking.cancelled', start=start))
    current = {'tenant_id': stack.tenant.tenant_id, 'meeting_key': 'booking:b1', 'start': start.isoformat()}
    assert handler('auto_start')(current, LambdaContext())['outcome'] == 'nothing to do: meeting is cancelled'
    assert stack.view('b1')[1]['meeting']['status'] == 'cancelled'


def test_concurrent_provider_clicks_start_the_meeting_once(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=5)))
    provider_link = _links(stack)['provider']
    answers = []

    def click():
        answers.append(_open(stack, provider_link)['statusCode'])

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [302] * 6
    events = [json.loads(r['body'])['detail-type'] for r in stack.cloud.queues['notifications'].receive()]
    assert events.count('meeting.started') == 1
