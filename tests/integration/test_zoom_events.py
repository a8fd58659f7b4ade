"""POST /providers/zoom/events: signature first, then URL validation or deauthorization."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from helpers import handler, join_event, zoom_event_request
from integration_stack import connect_zoom

from infra.sandboxes.zoom.signing import sign
from meetbridge.logic import provider_events
from meetbridge.security.signatures import SignatureError
from meetbridge.store.repository import account_used_by

pytestmark = pytest.mark.usefixtures('account_events')

# Reference test vectors (shared/reference/provider-apis.md), secret "secretValueTest".
TV_SECRET = 'secretValueTest'
TV2_BODY = (b'{"event":"meeting.started","payload":{"account_id":"AAAA","object":{"id":"123456789"}},'
            b'"event_ts":1658940994123}')
TV2_SIGNATURE = 'v0=37cd93c95c0059b63c8832520450b0b03345526c0e8c84f7ffc9219727d48da4'
TV3_BODY = (b'{"event": "meeting.started", "payload": {"account_id": "AAAA", "object": {"id": "123456789"}}, '
            b'"event_ts": 1658940994123}')
TV4_BODY = (b'{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},'
            b'"event_ts":1654503849680}')
TV4_SIGNATURE = 'v0=8cad3b47155098dbbc6c54ce7963359f9f65efcb36e78d043f692c58565db4ed'
TV1_ENCRYPTED = '70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff'
TV5_BODY = (b'{"event":"app_deauthorized","event_ts":1740439732278,"payload":{"account_id":"EabCDEFghiLHMA",'
            b'"user_id":"z9jkdsfsdfjhdkfjQ","signature":"827edc3452044f0bc86bdd5684afb7d1e6becfa1a767f24df1b28785'
            b'3cf73000","deauthorization_time":"2019-06-17T13:52:28.632Z","client_id":"ADZ9k9bTWmGUoUbECUKU_a"}}')
TV5_SIGNATURE = 'v0=4cc9a08745d198edd60e1289ed0ea8f687a54fd23c8458462e2af2b9ef66aa3f'


@pytest.fixture
def vector_secret(monkeypatch):
    from meetbridge.providers import zoom as zoom_provider
    monkeypatch.setattr(zoom_provider, 'credentials', lambda: {'webhook_secret_token': TV_SECRET})


def _headers(timestamp, signature) -> dict:
    return {'x-zm-request-timestamp': str(timestamp), 'x-zm-signature': signature}


def test_url_validation_answers_the_reference_vector(cloud, vector_secret):
    answer = provider_events.zoom_event(_headers(1654503849, TV4_SIGNATURE), TV4_BODY, now=1654503849)
    assert answer == {'plainToken': 'qgg8vlvZRS6UYooatFL8Aw', 'encryptedToken': TV1_ENCRYPTED}


def test_signatures_cover_the_raw_bytes_and_a_five_minute_window(cloud, vector_secret):
    assert provider_events.zoom_event(_headers(1658940994, TV2_SIGNATURE), TV2_BODY, now=1658940994) == {}
    with pytest.raises(SignatureError):  # the same content re-serialised
        provider_events.zoom_event(_headers(1658940994, TV2_SIGNATURE), TV3_BODY, now=1658940994)
    with pytest.raises(SignatureError):
        provider_events.zoom_event(_headers(1658940994, TV2_SIGNATURE), TV2_BODY, now=1658940994 + 301)
    assert provider_events.zoom_event(_headers(1740439732, TV5_SIGNATURE), TV5_BODY, now=1740439732) == \
        {'disconnected': 0}


@pytest.mark.parametrize('headers', [
    {},
    {'x-zm-request-timestamp': 'soon', 'x-zm-signature': 'v0=00'},
    {'x-zm-request-timestamp': '1654503849', 'x-zm-signature': 'v0=é'},
    {'x-zm-request-timestamp': '1654503849'},
])
def test_an_unsigned_challenge_is_refused_so_the_endpoint_is_no_signing_oracle(stack, zoom, headers):
    response = handler('oauth')(zoom_event_request(TV4_BODY, headers), stack.context)
    assert response['statusCode'] == 401 and 'encryptedToken' not in response['body']


def test_a_live_signed_challenge_is_answered(stack, zoom):
    body = json.dumps({'event': 'endpoint.url_validation', 'payload': {'plainToken': 'abc123'},
                       'event_ts': int(time.time() * 1000)}).encode()
    now = int(time.time())

    response = handler('oauth')(zoom_event_request(body, _headers(now, sign('zoom-webhook-secret', now, body))),
                                stack.context)

    assert response['statusCode'] == 200
    answer = json.loads(response['body'])
    assert answer['plainToken'] == 'abc123' and len(answer['encryptedToken']) == 64


def test_app_deauthorized_deletes_the_tokens_and_marks_the_account_within_the_request(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    link = stack.view('b1')[1]['links']['clients']['c1']
    body = json.dumps({'event': 'app_deauthorized', 'event_ts': int(time.time() * 1000), 'payload': {
        'account_id': 'acct-demo', 'user_id': 'zoom-owner', 'client_id': zoom.client_id,
        'deauthorization_time': datetime.now(UTC).isoformat()}}).encode()
    now = int(time.time())

    response = handler('oauth')(zoom_event_request(body, _headers(now, sign('zoom-webhook-secret', now, body))),
                                stack.context)

    assert response['statusCode'] == 200 and json.loads(response['body']) == {'disconnected': 1}
    item = account_used_by(stack.tenant.tenant_id, 'company')
    assert item.status == 'disconnected' and item.secret_sealed is None and 'removed' in item.problem
    published = [json.loads(r['body'])['detail-type'] for r in stack.cloud.queues['meetings'].receive()]
    assert 'connection.broken' in published
    page = handler('join')(join_event(link.rsplit('/', 1)[1]), stack.context)
    assert page['statusCode'] == 503

    # Zoom retries deliveries: the same event again changes nothing and announces nothing.
    again = handler('oauth')(zoom_event_request(body, _headers(now, sign('zoom-webhook-secret', now, body))),
                             stack.context)
    assert json.loads(again['body']) == {'disconnected': 0}
    assert stack.cloud.queues['meetings'].receive() == []


def test_the_timestamp_header_is_in_seconds_not_milliseconds(cloud, vector_secret):
    milliseconds = 1654503849680
    signature = sign(TV_SECRET, milliseconds, TV4_BODY)
    with pytest.raises(SignatureError):
        provider_events.zoom_event(_headers(milliseconds, signature), TV4_BODY, now=1654503849)


def test_malformed_events_are_400_after_the_signature(stack, zoom):
    now = int(time.time())
    for body in (b'not json', b'{"event": "endpoint.url_validation", "payload": {}}', b'[]'):
        response = handler('oauth')(zoom_event_request(body, _headers(now, sign('zoom-webhook-secret', now, body))),
                                    stack.context)
        assert response['statusCode'] == 400, body
