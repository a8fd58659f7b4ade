"""Opening our join links, and starting meetings on the booked second.

Looking at a link (GET, HEAD: a person, or a mail scanner before them) changes nothing; the click on
the page's button (a form POST to the same link) records the open and opens the meeting."""

import base64
import hashlib
import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from helpers import LambdaContext, handler, join_event
from integration_stack import connect_zoom

from meetbridge.security import secrets
from meetbridge.store import repository
from meetbridge.store.models import JoinLinkItem

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
    return link.open_count, link.first_opened_at


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


def test_the_countdown_script_is_the_only_script_the_page_may_run(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(hours=2)))

    page = _look(stack, _links(stack)['clients']['c1'])

    [script] = re.findall(r'<script>(.*?)</script>', page['body'], re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = page['headers']['Content-Security-Policy']
    assert f"script-src 'sha256-{digest}'" in policy
    assert "connect-src 'self';" in policy and "default-src 'none'" in policy  # it may poll our /state only
    # The script posts the form only on the page that answered a person's click, never on a page a GET shows.
    assert 'data-auto-join' not in page['body'].replace(script, '')


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
    assert _events(stack).count('meeting.started') == 1


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
        answers.append(_click(stack, provider_link)['statusCode'])

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [303] * 6
    assert _events(stack).count('meeting.started') == 1
    assert _opens(provider_link)[0] == 6
