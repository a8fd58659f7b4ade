"""Webhooks the sandbox sends: signed as Zoom signs, URL validation, and app_deauthorized."""

import json
import time
from datetime import datetime

import pytest
from zoom_sandbox_support import Receiver, api, connect, exchange, refresh

from infra.sandboxes.zoom import sign, url_validation_response, verify_signature

TV2_BODY = ('{"event":"meeting.started","payload":{"account_id":"AAAA","object":{"id":"123456789"}},'
            '"event_ts":1658940994123}')


def zoom_like_endpoint(secret):
    """What a correct receiver does: check the signature first, then answer the challenge."""

    def answer(headers, body):
        if not verify_signature(secret, headers.get('x-zm-request-timestamp'), body, headers.get('x-zm-signature')):
            return 401, b'{"error":"bad signature"}'
        event = json.loads(body)
        if event['event'] == 'endpoint.url_validation':
            return 200, json.dumps(url_validation_response(secret, event['payload']['plainToken'])).encode()
        return 204, b''

    return answer


@pytest.fixture
def receiver(zoom):
    endpoint = Receiver(zoom_like_endpoint(zoom.webhook_secret_token))
    yield endpoint
    endpoint.close()


def test_send_webhook_signs_the_raw_body_with_a_seconds_timestamp(zoom, receiver):
    event = {'event': 'meeting.started', 'event_ts': int(time.time() * 1000),
             'payload': {'account_id': 'acct-demo', 'object': {'id': '1', 'topic': 'Zürich'}}}
    status, headers, body = zoom.send_webhook(receiver.url, event)
    assert status == 204 and body == b''
    sent = receiver.requests[-1]
    assert sent['body'] == json.dumps(event, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    assert 'Zürich'.encode() in sent['body']  # raw UTF-8, as it must be verified: bytes, not re-encoded text
    timestamp = sent['headers']['x-zm-request-timestamp']
    assert timestamp.isdigit() and abs(int(timestamp) - time.time()) < 5
    assert sent['headers']['x-zm-signature'] == sign(zoom.webhook_secret_token, timestamp, sent['body'])
    assert sent['headers']['content-type'].startswith('application/json')


def test_send_webhook_on_the_wire_matches_tv2(zoom, receiver):
    zoom.send_webhook(receiver.url, None, timestamp=1658940994, secret='secretValueTest', raw_body=TV2_BODY)
    sent = receiver.requests[-1]
    assert sent['body'] == TV2_BODY.encode()
    assert sent['headers']['x-zm-request-timestamp'] == '1658940994'
    assert sent['headers']['x-zm-signature'] == 'v0=37cd93c95c0059b63c8832520450b0b03345526c0e8c84f7ffc9219727d48da4'


def test_a_receiver_error_is_returned_not_raised(zoom, receiver):
    status, _, body = zoom.send_webhook(receiver.url, {'event': 'x'}, secret='another-secret')
    assert status == 401 and b'bad signature' in body


def test_url_validation_challenge(http, zoom, receiver):
    result = zoom.validate_endpoint(receiver.url)
    assert result['valid'] is True and result['status'] == 200
    challenge = json.loads(receiver.requests[-1]['body'])
    assert challenge['event'] == 'endpoint.url_validation'
    assert challenge['payload']['plainToken'] == result['plainToken']
    assert isinstance(challenge['event_ts'], int) and challenge['event_ts'] > 10 ** 12  # milliseconds
    over_http = http.post(zoom.url + '/_sandbox/webhooks/send',
                          json={'target_url': receiver.url, 'event': 'endpoint.url_validation'})
    assert over_http.status_code == 200 and over_http.json()['valid'] is True


def test_url_validation_notices_a_wrong_answer(zoom):
    lazy = Receiver(lambda headers, body: (200, json.dumps(
        {'plainToken': json.loads(body)['payload']['plainToken'], 'encryptedToken': 'nope'}).encode()))
    try:
        assert zoom.validate_endpoint(lazy.url)['valid'] is False
    finally:
        lazy.close()


def test_deauthorize_revokes_the_users_tokens_and_posts_a_signed_event(http, zoom, receiver):
    dana, dana_again, eli = connect(http, zoom, 'zoom-dana'), connect(http, zoom, 'zoom-dana'), connect(http, zoom,
                                                                                                      'zoom-eli')
    pending_code = zoom.authorize('zoom-dana')
    status, _, _ = zoom.deauthorize('zoom-dana', receiver.url)
    assert status == 204
    sent = receiver.requests[-1]
    assert verify_signature(zoom.webhook_secret_token, sent['headers']['x-zm-request-timestamp'], sent['body'],
                            sent['headers']['x-zm-signature'])
    event = json.loads(sent['body'])
    assert event['event'] == 'app_deauthorized' and event['event_ts'] > 10 ** 12
    payload = event['payload']
    assert set(payload) == {'account_id', 'user_id', 'client_id', 'deauthorization_time', 'signature'}
    assert (payload['account_id'], payload['user_id'], payload['client_id']) == ('acct-demo', 'zoom-dana',
                                                                                  zoom.client_id)
    assert datetime.fromisoformat(payload['deauthorization_time'].replace('Z', '+00:00')).tzinfo is not None
    for tokens in (dana, dana_again):
        assert api(http, zoom, tokens, 'GET', '/users/me').json() == {'code': 124, 'message': 'Invalid access token.'}
        assert refresh(http, zoom, tokens['refresh_token']).json() == {'reason': 'Invalid Token!',
                                                                       'error': 'invalid_grant'}
    assert exchange(http, zoom, pending_code).json()['error'] == 'invalid_grant'
    assert api(http, zoom, eli, 'GET', '/users/me').status_code == 200
    assert api(http, zoom, connect(http, zoom, 'zoom-dana'), 'GET', '/users/me').status_code == 200  # may reconnect


def test_deauthorize_over_http(http, zoom, receiver):
    eli = connect(http, zoom, 'zoom-eli')
    response = http.post(zoom.url + '/_sandbox/webhooks/send',
                         json={'target_url': receiver.url, 'event': 'app_deauthorized', 'user_id': 'zoom-eli'})
    assert response.status_code == 200 and response.json()['status'] == 204
    assert json.loads(receiver.requests[-1]['body'])['payload']['user_id'] == 'zoom-eli'
    assert api(http, zoom, eli, 'GET', '/users/me').status_code == 401


def test_an_unreachable_endpoint(http, zoom):
    closed = Receiver()
    url = closed.url
    closed.close()
    with pytest.raises(OSError):
        zoom.send_webhook(url, {'event': 'x'})
    response = http.post(zoom.url + '/_sandbox/webhooks/send', json={'target_url': url, 'event': {'event': 'x'}})
    assert response.status_code == 502 and 'delivery failed' in response.json()['error']
