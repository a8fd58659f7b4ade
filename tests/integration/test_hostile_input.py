"""Hostile bodies answer 400 naming the problem before any work is done, and a provider that fails
behind a join link answers a 503 page that tells the person what to do: never a 5xx of ours."""

import json
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from helpers import handler, http_event, join_event, sign, webhook_event, zoom_event_request
from integration_stack import connect_zoom

from infra.sandboxes.zoom.signing import sign as zoom_sign

# Every admin route that takes a body, with a path whose ids are valid.
ADMIN_BODY_ROUTES = [
    ('PUT', 'services/svc'),
    ('PUT', 'providers/dana'),
    ('PUT', 'accounts/default'),
    ('PUT', 'providers/dana/account'),
    ('POST', 'connections/zoom/connect-link'),
    ('PUT', 'providers/dana/company-user'),
    ('PUT', 'settings/meetings'),
    ('PUT', 'settings/return-origins'),
    ('PUT', 'settings/reminders'),
    ('PUT', 'settings/general'),
    ('PUT', 'settings/notifications'),
    ('PUT', 'templates/client_created'),
    ('POST', 'keys'),
]

# Each hostile body, and what the 400's message must say about it.
HOSTILE_BODIES = {
    'nested 3,000 deep': (b'[' * 3000 + b']' * 3000, 'deeper than 64 levels'),
    'nested objects 3,000 deep': (b'{"a":' * 3000 + b'1' + b'}' * 3000, 'deeper than 64 levels'),
    'a 5,000-digit integer': (b'{"name": ' + b'7' * 5000 + b'}', 'integer longer than 100 digits'),
    'non-UTF-8 bytes': (b'{"name": "caf\xe9"}', 'not UTF-8 text'),
    'random bytes': (b'\xff' + random.Random(7).randbytes(512), 'not UTF-8 text'),
    'a lone surrogate': (b'{"name": "\\ud800"}', 'unpaired surrogate'),
    'NaN': (b'{"name": NaN}', 'NaN'),
    'truncated JSON': (b'{"name": ', 'not valid JSON'),
}


def _json(response: dict) -> dict:
    assert response['headers']['Content-Type'] == 'application/json'
    return json.loads(response['body'])


def _admin_raw(stack, method: str, rest: str, body: bytes, api_key: str | None, content_type='application/json'):
    headers = {'content-type': content_type}
    if api_key is not None:
        headers['authorization'] = f'Bearer {api_key}'
    event = http_event(method, f'/v1/tenants/{stack.tenant.tenant_id}/{rest}', '/v1/tenants/{tenant_id}/{proxy+}',
                       {'tenant_id': stack.tenant.tenant_id, 'proxy': rest}, body, headers)
    return handler('admin')(event, stack.context)


@pytest.mark.parametrize('method, rest', ADMIN_BODY_ROUTES)
def test_every_admin_body_route_answers_hostile_bodies_400_naming_the_problem(stack, method, rest):
    for name, (body, problem) in HOSTILE_BODIES.items():
        response = _admin_raw(stack, method, rest, body, stack.tenant.api_key)
        answer = _json(response)
        assert response['statusCode'] == 400, (name, answer)
        assert answer['error'] == 'invalid_request' and problem in answer['message'], (name, answer)
    # Nothing was stored: the first service write still creates it.
    assert stack.admin('GET', 'services/svc')[0] == 404


@pytest.mark.parametrize('body', [b'[1, 2]', b'"text"', b'42', b'null'])
def test_an_admin_body_that_is_not_an_object_is_a_400(stack, body):
    response = _admin_raw(stack, 'PUT', 'services/svc', body, stack.tenant.api_key)
    assert response['statusCode'] == 400 and _json(response)['error'] == 'invalid_request'


def test_the_admin_api_checks_the_key_before_reading_a_hostile_body(stack):
    body, _ = HOSTILE_BODIES['nested 3,000 deep']
    assert _admin_raw(stack, 'PUT', 'services/svc', body, None)['statusCode'] == 401
    assert _admin_raw(stack, 'PUT', 'services/svc', body, 'not-the-key')['statusCode'] == 403


def test_an_admin_body_that_is_not_json_or_too_large_says_so(stack):
    form = _admin_raw(stack, 'PUT', 'services/svc', b'\xff\x00--boundary', stack.tenant.api_key,
                      content_type='multipart/form-data; boundary=boundary')
    assert form['statusCode'] == 400 and _json(form)['field'] == 'content-type'

    large = _admin_raw(stack, 'PUT', 'services/svc', b'{"name": "' + b'x' * 300_000 + b'"}', stack.tenant.api_key)
    assert large['statusCode'] == 413 and _json(large)['error'] == 'payload_too_large'


def test_unknown_admin_endpoints_are_json_404s(stack):
    response = _admin_raw(stack, 'GET', 'no/such/thing', b'', stack.tenant.api_key)
    assert response['statusCode'] == 404 and _json(response)['error'] == 'not_found'


@pytest.mark.parametrize('name', HOSTILE_BODIES)
def test_the_signed_webhook_answers_hostile_bodies_400_after_the_signature(stack, name):
    body, problem = HOSTILE_BODIES[name]
    signed = handler('booking_webhook')(webhook_event(stack.tenant.tenant_id, body,
                                                      sign(stack.tenant.webhook_secret, body)), stack.context)
    answer = _json(signed)
    assert signed['statusCode'] == 400 and problem in answer['message'], answer

    unsigned = handler('booking_webhook')(webhook_event(stack.tenant.tenant_id, body, 't=1,v1=00'), stack.context)
    assert unsigned['statusCode'] == 401 and _json(unsigned)['error'] == 'invalid_signature'
    assert stack.cloud.queues['meetings'].receive() == []  # nothing was published


def test_the_signed_webhook_wants_one_json_object(stack):
    status, answer = stack.post(b'[{"event_id": "e1"}]')
    assert status == 400 and answer['message'] == 'the body must be a JSON object'


@pytest.mark.parametrize('name', HOSTILE_BODIES)
def test_the_zoom_events_endpoint_answers_hostile_bodies_400_after_the_signature(stack, zoom, name):
    body, problem = HOSTILE_BODIES[name]
    now = int(time.time())
    headers = {'x-zm-request-timestamp': str(now), 'x-zm-signature': zoom_sign('zoom-webhook-secret', now, body)}
    response = handler('oauth')(zoom_event_request(body, headers), stack.context)
    answer = _json(response)
    assert response['statusCode'] == 400 and problem in answer['message'], answer


# --- a provider failing behind a join link ----------------------------------------------------------

GONE = {'code': 3001, 'message': 'Meeting is not found or has expired.'}


@pytest.fixture
def provider_link(stack, zoom) -> str:
    """The provider's join link of a Zoom meeting that has started: each click asks Zoom for a start URL."""
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    return stack.view('b1')[1]['links']['provider'].rsplit('/', 1)[1]


def _page(stack, token: str) -> dict:
    response = handler('join')(join_event(token, 'POST'), stack.context)  # the host's click
    assert response['headers']['Content-Type'].startswith('text/html')
    assert 'Traceback' not in response['body']
    return response


def test_a_meeting_gone_at_zoom_is_a_503_page_saying_whom_to_contact(stack, zoom, provider_link):
    zoom.fail('get_meeting', 404, body=GONE)
    page = _page(stack, provider_link)
    assert page['statusCode'] == 503
    assert 'This meeting cannot be opened' in page['body'] and 'contact the business' in page['body']


@pytest.mark.parametrize('failure', [
    {'status': 500, 'body': {'code': 500, 'message': 'Internal error'}},
    {'status': 429, 'body': {'code': 429, 'message': 'slow down'}, 'headers': {'Retry-After': '3600'}},
])
def test_zoom_unavailable_or_asking_to_retry_later_is_a_503_page_to_reload(stack, zoom, provider_link, failure):
    zoom.fail('get_meeting', failure['status'], body=failure['body'], headers=failure.get('headers'), times=5)
    page = _page(stack, provider_link)
    assert page['statusCode'] == 503 and page['headers']['Retry-After'] == '60'
    assert 'not answering' in page['body'] and 'reload this page' in page['body']


def test_zoom_unreachable_is_a_503_page_to_reload(stack, zoom, provider_link):
    zoom.stop()  # connections are refused: a transport error in httpx2
    page = _page(stack, provider_link)
    assert page['statusCode'] == 503 and 'reload this page' in page['body']


def test_an_account_zoom_no_longer_accepts_is_a_503_page_asking_for_a_reconnect(stack, zoom, provider_link):
    zoom.expire_access_tokens()
    zoom.fail('token', 400, body={'reason': 'Invalid Token!', 'error': 'invalid_grant'})
    page = _page(stack, provider_link)
    assert page['statusCode'] == 503 and 'connected again' in page['body']


# --- pages for people -----------------------------------------------------------------------------

@pytest.mark.parametrize('path, route', [('/', 'ANY /'), ('/j/', 'ANY /{proxy+}'), ('/favicon.ico', 'ANY /{proxy+}')])
def test_unknown_pages_are_readable_404_pages(stack, path, route):
    event = http_event('GET', path, route.split(' ')[1], {'proxy': path.lstrip('/')} if '{proxy+}' in route else {})
    event['routeKey'] = route
    response = handler('join')(event, stack.context)
    assert response['statusCode'] == 404 and response['headers']['Content-Type'].startswith('text/html')
    assert 'Link not found' in response['body']


@pytest.mark.parametrize('path', ['/v1/nothing', '/webhooks/generic', '/providers/teams/events'])
def test_unknown_api_paths_are_json_404s(stack, path):
    event = http_event('POST', path, '/{proxy+}', {'proxy': path.lstrip('/')}, b'{}')
    event['routeKey'] = 'ANY /{proxy+}'
    response = handler('join')(event, stack.context)
    assert response['statusCode'] == 404 and _json(response)['error'] == 'not_found'


def test_a_cut_join_token_is_a_readable_404_page(stack):
    page = _page(stack, 'abc')
    assert page['statusCode'] == 404 and 'copied completely' in page['body']


def test_a_cancelled_meeting_shows_what_was_booked_without_starts(stack):
    stack.setup_online_service()
    start = datetime(2030, 3, 14, 15, 0, tzinfo=UTC)
    stack.book(booking_event(start=start))
    link = stack.view('b1')[1]['links']['clients']['c1'].rsplit('/', 1)[1]
    stack.book(booking_event('booking.cancelled', start=start))

    page = _page(stack, link)
    assert page['statusCode'] == 410 and 'This meeting was cancelled' in page['body']
    assert 'Was booked for' in page['body'] and 'Thursday 14 March 2030' in page['body']
    assert 'Starts' not in page['body']


@pytest.mark.parametrize('content_type', ['text/plain', 'application/xml'])
def test_an_empty_admin_body_of_another_content_type_is_a_400_naming_the_header(stack, content_type):
    response = _admin_raw(stack, 'PUT', 'providers/dana/company-user', b'', stack.tenant.api_key, content_type)
    assert response['statusCode'] == 400 and _json(response)['field'] == 'content-type'


def test_a_connect_callback_form_that_is_not_utf8_is_a_400_page(stack):
    event = http_event('POST', '/oauth/microsoft/callback', '/oauth/{provider}/callback', {'provider': 'microsoft'},
                       b'code=\xff\xfe&state=\xc3', {'content-type': 'application/x-www-form-urlencoded'})
    page = handler('oauth')(event, stack.context)
    assert page['statusCode'] == 400 and page['headers']['Content-Type'].startswith('text/html')
    assert 'not UTF-8 text' in page['body']
