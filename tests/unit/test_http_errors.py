"""The one error map of the HTTP functions: which status each error answers, a page for people and
JSON for programs, and never a traceback or an unexpected error's text in a response."""

import json

import httpx2
import pytest
from meetbridge.errors import (
    Conflict,
    EventIdReused,
    EventNotPublished,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RetryLater,
    Unauthorized,
)
from meetbridge.store.tokens import ConnectionUnusable
from meetbridge.providers.base import DailyLimit, ProviderRejected
from meetbridge.security.signatures import SignatureError
from meetbridge.web.errors import answers_errors, error_response, is_api_path

ERRORS = [
    (InvalidInput('booking.start: must be in the future', field='booking.start'), 400, 'invalid_request'),
    (SignatureError('signature does not match'), 401, 'invalid_signature'),
    (Unauthorized('send the tenant API key'), 401, 'unauthorized'),
    (Forbidden('this API key is not valid for this tenant'), 403, 'forbidden'),
    (NotFound('unknown link'), 404, 'not_found'),
    (Conflict('ServiceItem changed concurrently'), 409, 'conflict'),
    (EventIdReused('event id reused'), 409, 'event_id_reused'),
    (PayloadTooLarge('the body is larger than 262144 bytes'), 413, 'payload_too_large'),
    (ConnectionUnusable('the meeting account needs to be connected again', 'needs_reconnect'), 503,
     'reconnect_needed'),
    (ProviderRejected('the Zoom meeting could not be opened: Zoom answered 404 (code 3001)'), 503,
     'provider_rejected'),
    (EventNotPublished('the event bus did not take the event'), 503, 'not_published'),
    (RetryLater('Zoom is unavailable or busy (503)'), 503, 'provider_unavailable'),
    (DailyLimit('the daily limit is used up', resume_at=None), 503, 'provider_unavailable'),
    (httpx2.ConnectError('connection refused'), 503, 'provider_unavailable'),
    (httpx2.ReadTimeout('timed out'), 503, 'provider_unavailable'),
    (KeyError('zoom_client_secret_arn'), 500, 'internal_error'),
    (RecursionError('maximum recursion depth exceeded'), 500, 'internal_error'),
]


@pytest.mark.parametrize('exc, status, code', ERRORS, ids=lambda value: type(value).__name__)
def test_each_error_answers_its_status_as_json_on_the_api(exc, status, code):
    response = error_response(exc, '/v1/tenants/t1/services/s1')
    body = json.loads(response['body'])
    assert (response['statusCode'], body['error']) == (status, code)
    assert response['headers']['Content-Type'] == 'application/json'


@pytest.mark.parametrize('exc, status, code', ERRORS, ids=lambda value: type(value).__name__)
def test_each_error_answers_its_status_as_a_page_for_people(exc, status, code):
    response = error_response(exc, '/j/abc')
    assert response['statusCode'] == status
    assert response['headers']['Content-Type'] == 'text/html; charset=utf-8'
    assert response['body'].startswith('<!doctype html>') and 'Traceback' not in response['body']


def test_a_field_problem_names_its_field():
    body = json.loads(error_response(InvalidInput('name: too long', field='name'), '/webhooks/generic/t1')['body'])
    assert body == {'error': 'invalid_request', 'message': 'name: too long', 'field': 'name'}
    whole = json.loads(error_response(InvalidInput('the body is not UTF-8 text'), '/v1/x')['body'])
    assert whole['field'] is None


def test_a_provider_outage_says_when_to_retry_and_what_to_do():
    page = error_response(httpx2.ConnectError('refused'), '/j/abc')
    assert page['headers']['Retry-After'] == '60'
    assert 'not answering' in page['body'] and 'reload this page' in page['body']
    api = error_response(RetryLater('Zoom asked to slow down'), '/providers/zoom/events')
    assert api['headers']['Retry-After'] == '60'
    assert json.loads(api['body'])['message'] == 'Zoom asked to slow down'


def test_an_unexpected_error_is_logged_with_its_traceback_and_answered_without_it(caplog):
    try:
        raise ValueError('token=sk_live_do_not_show')
    except ValueError as raised:
        exc = raised
    page = error_response(exc, '/oauth/zoom/callback')
    api = error_response(exc, '/v1/tenants/t1/bookings/b1')

    for response in (page, api):
        assert response['statusCode'] == 500
        assert 'sk_live' not in response['body'] and 'Traceback' not in response['body']
    assert 'Something went wrong' in page['body']
    assert json.loads(api['body'])['error'] == 'internal_error'
    [record, _] = [record for record in caplog.records if record.getMessage() == 'unhandled error']
    assert record.exc_info[1] is exc and 'Traceback (most recent call last)' in caplog.text


@pytest.mark.parametrize('path, api', [
    ('/v1/tenants/t1/services/s1', True), ('/v1', True), ('/webhooks/generic/t1', True),
    ('/providers/zoom/events', True), ('/j/abc', False), ('/j/', False), ('/', False),
    ('/oauth/zoom/start', False), ('/v1x', False), ('/favicon.ico', False),
])
def test_programs_get_json_and_people_get_pages(path, api):
    assert is_api_path(path) is api


def test_the_wrapper_answers_whatever_the_handler_raises():
    @answers_errors
    def handler(event, context):
        raise NotFound('no such page or endpoint')

    page = handler({'rawPath': '/nowhere'}, None)
    api = handler({'rawPath': '/webhooks/nowhere'}, None)
    assert page['statusCode'] == 404 and 'Link not found' in page['body']
    assert json.loads(api['body']) == {'error': 'not_found', 'message': 'no such page or endpoint'}
