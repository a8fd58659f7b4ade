"""The waiting page's live parts: the server's clock on the page, `GET /j/{token}/state` that its script
polls, the client's "Join when it starts" and the provider's "Start now".

The state is read like the page and shows less: no names, no room, no password, and nothing is recorded."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from helpers import handler, http_event, join_event

from meetbridge.logic import analytics
from meetbridge.security import secrets
from meetbridge.store import repository
from meetbridge.store.models import JoinLinkItem, LinkOpensItem

SAME_ORIGIN = {'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded'}


def _token(url: str) -> str:
    return url.rsplit('/', 1)[1]


def _state(stack, token: str, method: str = 'GET') -> tuple[int, dict, dict]:
    event = http_event(method, f'/j/{token}/state', '/j/{token}/state', {'token': token})
    event['routeKey'] = event['requestContext']['routeKey'] = 'ANY /j/{token}/state'
    answer = handler('join')(event, stack.context)
    return answer['statusCode'], answer['headers'], json.loads(answer['body']) if answer['body'] else {}


def _page(stack, url: str, method: str = 'GET', headers: dict | None = None) -> dict:
    return handler('join')(join_event(_token(url), method, headers), stack.context)


def _links(stack, booking_id: str = 'b1') -> dict:
    return stack.view(booking_id)[1]['links']


def _opens(url: str) -> int:
    link = repository.find(JoinLinkItem, JoinLinkItem.key(secrets.digest(_token(url))))
    opens = repository.find(LinkOpensItem, analytics.opens_key(link))
    return opens.count if opens else 0


def _button(page: dict) -> tuple[str, bool] | None:
    """The form button's label, and whether it has the focus when the page loads."""
    found = re.search(r'<form method="post">\s*<button type="submit"( autofocus)?>([^<]+)</button>', page['body'])
    return found and (found.group(2), bool(found.group(1)))


def _live(page: dict) -> dict[str, str]:
    """The countdown's data attributes, which the page's script reads."""
    countdown = re.search(r'<p id="countdown"([^>]*)>', page['body'])
    return dict(re.findall(r'data-([a-z-]+)(?:="([^"]*)")?', countdown.group(1))) if countdown else {}


def test_the_waiting_page_carries_the_servers_clock_and_when_it_opens(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    stack.book(booking_event(start=start))

    before = datetime.now(UTC)
    page = _page(stack, _links(stack)['clients']['c1'])
    after = datetime.now(UTC)

    live = _live(page)
    server_now = datetime.fromtimestamp(int(live['server-now']) / 1000, UTC)
    assert before - timedelta(milliseconds=1) <= server_now <= after
    assert datetime.fromisoformat(live['start']) == start == datetime.fromisoformat(live['waiting-ends'])
    assert (live['phase'], live['started']) == ('waiting', 'false') and 'auto-join' not in live
    assert _button(page) == ('Join when it starts', False)


def test_a_clients_click_before_the_start_is_recorded_and_answers_the_page_that_takes_them_in(stack):
    stack.setup_online_service(url='https://meet.example.com/abc')
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=5)))
    link = _links(stack)['clients']['c1']

    clicked = _page(stack, link, 'POST', SAME_ORIGIN)

    assert clicked['statusCode'] == 200 and 'Location' not in clicked['headers']
    assert 'You will be taken in when it starts' in clicked['body'] and 'meet.example.com' not in clicked['body']
    assert _live(clicked)['phase'] == 'waiting' and 'auto-join' in _live(clicked)
    assert re.search(r'<form method="post">\s*</form>', clicked['body'])  # the form the script posts at the start
    assert _opens(link) == 1
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'


def test_the_state_follows_the_meeting_and_reading_it_changes_nothing(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    stack.book(booking_event(start=start))
    links = _links(stack)
    client, provider = _token(links['clients']['c1']), _token(links['provider'])
    stack.pump()

    for method in ('GET', 'HEAD', 'GET'):
        status, headers, body = _state(stack, client, method)
        assert status == 200 and headers['Cache-Control'] == 'no-store'
        assert headers['Content-Type'] == 'application/json'
    assert body['state'] == 'waiting' and body['started'] is False
    assert datetime.fromisoformat(body['starts_at']) == start
    assert abs(datetime.fromisoformat(body['server_now']) - datetime.now(UTC)) < timedelta(seconds=5)
    assert _state(stack, provider)[2]['state'] == 'open'  # within 15 minutes of the start: "Start now"
    assert [_opens(links['clients']['c1']), _opens(links['provider'])] == [0, 0]
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'
    assert stack.cloud.queues['notifications'].receive() == []

    # The provider's "Start now": the client's state says so at its next poll.
    assert _page(stack, links['provider'], 'POST', SAME_ORIGIN)['statusCode'] == 303
    assert _state(stack, client)[2] | {'server_now': None} == {
        'state': 'open', 'starts_at': body['starts_at'], 'server_now': None, 'started': True}
    assert _state(stack, provider)[2]['started'] is True

    stack.book(booking_event('booking.cancelled', start=start))
    assert _state(stack, client)[2]['state'] == 'cancelled'


def test_the_state_shows_no_secret_and_nothing_of_the_page(stack):
    stack.setup_online_service(url='https://meet.example.com/secret-room', password='s3cret-pass')
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=1)))
    stack.book(booking_event(booking_id='b2', client_id='c2', start=datetime.now(UTC) - timedelta(minutes=1)))
    tokens = [_token(_links(stack)['clients']['c1']), _token(_links(stack, 'b2')['clients']['c2']),
              _token(_links(stack)['provider'])]

    for token in tokens:
        status, headers, body = _state(stack, token)
        assert status == 200 and set(body) == {'state', 'starts_at', 'server_now', 'started'}
        text = json.dumps(body) + json.dumps(headers)
        for secret in ('meet.example.com', 's3cret-pass', 'Room 1', 'Dana Doe', 'Consultation', token):
            assert secret not in text


def test_payment_and_an_unknown_link_in_the_state(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1),
                             payment={'required': True, 'status': 'pending'}))

    assert _state(stack, _token(_links(stack)['clients']['c1']))[2]['state'] == 'payment_required'
    for token in ('not-a-real-token', 'x' * 200):
        status, headers, body = _state(stack, token)
        # The page's 404 for the same token, as JSON: the poll of a link that is gone reloads the page.
        assert status == 404 == _page(stack, f'/j/{token}')['statusCode']
        assert headers['Content-Type'] == 'application/json' and body['error'] == 'not_found'


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE'])
def test_the_state_is_read_only(stack, method):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=5)))
    link = _links(stack)['provider']

    status, headers, body = _state(stack, _token(link), method)

    assert status == 405 and headers['Allow'] == 'GET, HEAD' and body['error'] == 'method_not_allowed'
    assert _opens(link) == 0 and stack.view('b1')[1]['meeting']['status'] == 'scheduled'


def test_the_providers_page_waits_then_offers_start_now_then_says_it_started(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    stack.book(booking_event(start=start))
    stack.book(booking_event(booking_id='b2', client_id='c2', start=datetime.now(UTC) + timedelta(minutes=14)))
    early, due = _links(stack)['provider'], _links(stack, 'b2')['provider']

    waiting = _page(stack, early)
    assert waiting['statusCode'] == 200 and 'Your meeting starts soon' in waiting['body']
    assert _button(waiting) == ('Open the meeting room', False)  # today's rule: the room opens any time
    assert _live(waiting)['phase'] == 'waiting'
    assert datetime.fromisoformat(_live(waiting)['waiting-ends']) == start - timedelta(minutes=15)
    assert 'starting it lets your clients in' in waiting['body']

    ready = _page(stack, due)
    assert 'Your meeting is ready to start' in ready['body'] and 'lets your clients in' in ready['body']
    assert _button(ready) == ('Start now', True)
    assert (_live(ready)['phase'], _live(ready)['started']) == ('open', 'false')

    assert _page(stack, due, 'POST', SAME_ORIGIN)['statusCode'] == 303
    started = _page(stack, due)
    assert 'Your meeting has started' in started['body'] and _button(started) == ('Open the meeting', True)
    assert _button(_page(stack, _links(stack, 'b2')['clients']['c2'])) == ('Join the meeting', True)

    # Opening the room early starts nothing: the provider's page keeps waiting.
    assert _page(stack, early, 'POST', SAME_ORIGIN)['statusCode'] == 303
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'
    assert _live(_page(stack, early))['phase'] == 'waiting'
