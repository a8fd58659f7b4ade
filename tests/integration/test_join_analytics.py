"""Join analytics: who opened their link, when first and last, how often, and no-show evidence.

An open is the page's own script posting `/j/{token}/opened` once a person has the page in front of them, or
the click on the page's button; a GET or HEAD (a mail scanner's fetch) records nothing. The opens are kept in
an item of their own per link, so they never conflict with the booking's versioned writes."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from helpers import handler, http_event, join_event

from meetbridge.store import repository

SAME_ORIGIN = {'sec-fetch-site': 'same-origin'}


def _token(url: str) -> str:
    return url.rsplit('/', 1)[1]


def _opened(stack, token: str, method: str = 'POST', headers: dict | None = None, body: str | None = None) -> dict:
    event = http_event(method, f'/j/{token}/opened', '/j/{token}/opened', {'token': token}, body=body,
                       headers=SAME_ORIGIN if headers is None else headers)
    event['routeKey'] = event['requestContext']['routeKey'] = 'ANY /j/{token}/opened'
    return handler('join')(event, stack.context)


def _booking(stack, booking_id: str = 'b1') -> dict:
    status, view = stack.view(booking_id)
    assert status == 200
    return view


def _links(stack, booking_id: str = 'b1') -> tuple[str, str]:
    links = _booking(stack, booking_id)['links']
    return links['clients']['c1'], links['provider']


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace('Z', '+00:00'))


def test_the_pages_post_records_each_open_with_its_first_and_last_time(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(hours=2)))
    client, provider = _links(stack)
    assert _booking(stack)['booking']['opens'] == {'client': {'first': None, 'last': None, 'count': 0},
                                                   'provider': {'first': None, 'last': None, 'count': 0}}

    before = datetime.now(UTC)
    first = _opened(stack, _token(client))
    assert first['statusCode'] == 204 and first['body'] == ''
    assert _opened(stack, _token(client))['statusCode'] == 204
    assert _opened(stack, _token(provider))['statusCode'] == 204

    opens = _booking(stack)['booking']['opens']
    assert opens['client']['count'] == 2 and opens['provider']['count'] == 1
    assert before <= _moment(opens['client']['first']) < _moment(opens['client']['last']) <= datetime.now(UTC)
    assert opens['provider']['first'] == opens['provider']['last']


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_looking_at_a_link_never_records_an_open(stack, method):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(minutes=10)))
    client, provider = _links(stack)

    for link in (client, provider):
        assert handler('join')(join_event(_token(link), method), stack.context)['statusCode'] == 200
        refused = _opened(stack, _token(link), method)
        assert refused['statusCode'] == 405 and refused['headers']['Allow'] == 'POST'
        assert json.loads(refused['body'] or '{}').get('error', 'method_not_allowed') == 'method_not_allowed'

    opens = _booking(stack)['booking']['opens']
    assert opens['client']['count'] == opens['provider']['count'] == 0


def test_a_link_page_shown_by_a_get_carries_the_opening_script_and_a_clicks_answer_does_not(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(hours=2)))
    client, _ = _links(stack)

    shown = handler('join')(join_event(_token(client)), stack.context)['body']
    clicked = handler('join')(join_event(_token(client), 'POST', {**SAME_ORIGIN, 'content-type':
                                                                  'application/x-www-form-urlencoded'}),
                              stack.context)['body']
    assert "+ '/opened'" in shown and 'visibilityState' in shown
    # The click was recorded already: the page answering it does not record the same person again.
    assert "'/opened'" not in clicked
    assert _booking(stack)['booking']['opens']['client']['count'] == 1


def test_hostile_posts_are_answered_4xx_json_and_record_nothing(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(hours=2)))
    client, _ = _links(stack)

    cross_site = _opened(stack, _token(client), headers={'sec-fetch-site': 'cross-site'})
    with_body = _opened(stack, _token(client), body='x' * 10_000)
    unknown = _opened(stack, 'no-such-token')
    too_long = _opened(stack, 'x' * 500)

    assert [answer['statusCode'] for answer in (cross_site, with_body, unknown, too_long)] == [403, 413, 404, 404]
    for answer in (cross_site, with_body, unknown, too_long):
        assert answer['headers']['Content-Type'] == 'application/json' and json.loads(answer['body'])['error']
    assert _booking(stack)['booking']['opens']['client']['count'] == 0


def test_no_show_evidence_is_null_before_the_start_then_says_whether_the_client_opened_their_link(stack):
    stack.setup_online_service()
    stack.book(booking_event(start=datetime.now(UTC) + timedelta(hours=2)))
    stack.book(booking_event(booking_id='b2', client_id='c1', start=datetime.now(UTC) - timedelta(minutes=5)))
    stack.book(booking_event(booking_id='b3', client_id='c1', start=datetime.now(UTC) - timedelta(minutes=5)))
    stack.book(booking_event(booking_id='b4', client_id='c1', start=datetime.now(UTC) - timedelta(minutes=5)))
    stack.book(booking_event('booking.cancelled', booking_id='b4', client_id='c1',
                             start=datetime.now(UTC) - timedelta(minutes=5)))
    # Only the provider opened b3's meeting: the client still never did.
    assert _opened(stack, _token(_links(stack, 'b3')[1]))['statusCode'] == 204
    assert _opened(stack, _token(_links(stack, 'b2')[0]))['statusCode'] == 204

    evidence = {booking_id: _booking(stack, booking_id)['booking']['no_show_evidence']
                for booking_id in ('b1', 'b2', 'b3', 'b4')}
    assert evidence == {'b1': None, 'b2': False, 'b3': True, 'b4': False}
    assert _booking(stack, 'b3')['booking']['opens']['provider']['count'] == 1


def test_an_open_neither_conflicts_with_nor_is_lost_by_a_concurrent_booking_change(stack):
    stack.setup_online_service()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    stack.book(booking_event(start=start))
    client, _ = _links(stack)

    # A booking change in flight: read before the open, saved after it, versioned as every booking write.
    held = repository.get_booking(stack.tenant.tenant_id, 'b1')
    version = held.version
    assert _opened(stack, _token(client))['statusCode'] == 204
    assert repository.get_booking(stack.tenant.tenant_id, 'b1').version == version
    held.notice_problem = 'a change saved while the client opened their link'
    repository.save(held)
    assert _booking(stack)['booking']['opens']['client']['count'] == 1

    # And a reschedule through the webhook keeps them too.
    stack.book(booking_event('booking.rescheduled', start=start + timedelta(hours=1)))
    view = _booking(stack)
    assert view['booking']['start'].startswith((start + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M'))
    assert view['booking']['opens']['client']['count'] == 1
