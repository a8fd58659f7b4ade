"""Faults, the calls log, the /_sandbox control endpoints, the index page, raw HTTP edge cases and the CLI."""

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from zoom_sandbox_support import REDIRECT_URI, api, connect, exchange, meeting_body, refresh

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean(zoom):
    zoom.clear_faults()
    zoom.reset_calls()


def test_a_fault_answers_the_next_requests_of_its_operation_then_stops(http, zoom):
    dana = connect(http, zoom, 'zoom-dana')
    before = len(zoom.meetings)
    zoom.fail('create_meeting', 500, times=2)
    for _ in range(2):
        failed = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body())
        assert failed.status_code == 500 and isinstance(failed.json()['code'], int)
    assert api(http, zoom, dana, 'GET', '/users/me').status_code == 200  # other operations are untouched
    assert api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body()).status_code == 201
    assert len(zoom.meetings) == before + 1


def test_a_fault_with_its_own_body_and_headers(http, zoom):
    dana = connect(http, zoom, 'zoom-dana')
    meeting = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body()).json()
    zoom.fail('get_meeting', 429, body={'code': 429, 'message': 'Too many requests.'},
              headers={'X-RateLimit-Type': 'QPS'})
    response = api(http, zoom, dana, 'GET', f'/meetings/{meeting["id"]}')
    assert response.status_code == 429 and response.json() == {'code': 429, 'message': 'Too many requests.'}
    assert response.headers['X-RateLimit-Type'] == 'QPS'
    zoom.fail('delete_meeting', 204)
    assert api(http, zoom, dana, 'DELETE', f'/meetings/{meeting["id"]}').content == b''
    assert meeting['id'] in zoom.meetings  # the fault answered; nothing was deleted


def test_a_token_fault_leaves_the_code_usable(http, zoom):
    code = zoom.authorize('zoom-dana')
    zoom.fail('token', 503, body={'reason': 'Service unavailable', 'error': 'temporarily_unavailable'})
    assert exchange(http, zoom, code).status_code == 503
    assert exchange(http, zoom, code).status_code == 200


def test_a_lost_refresh_response_still_rotates_the_tokens(http, zoom):
    tokens = connect(http, zoom, 'zoom-eli')
    before = zoom.refresh_count('zoom-eli')
    zoom.fail('token', 502, after=True)
    assert refresh(http, zoom, tokens['refresh_token']).status_code == 502
    assert zoom.refresh_count('zoom-eli') == before + 1
    assert refresh(http, zoom, tokens['refresh_token']).json() == {'reason': 'Invalid Token!', 'error': 'invalid_grant'}


def test_an_authorize_fault_is_an_html_page(http, zoom):
    zoom.fail('authorize', 500)
    page = http.get(zoom.url + '/oauth/authorize', params={'response_type': 'code', 'client_id': zoom.client_id,
                                                           'redirect_uri': REDIRECT_URI})
    assert page.status_code == 500 and page.headers['content-type'].startswith('text/html')


@pytest.mark.parametrize('args', [('fly', 500), ('get_me', 42), ('get_me', '500'), ('get_me', 500, None, None, 0),
                                  ('get_me', 500, None, {'X-Count': 1})])
def test_fail_checks_its_arguments(zoom, args):
    with pytest.raises(ValueError):
        zoom.fail(*args)


def test_calls_log_every_provider_request(http, zoom):
    dana = connect(http, zoom, 'zoom-dana')
    api(http, zoom, dana, 'GET', '/users/me')
    created = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body()).json()
    api(http, zoom, 'bad-token', 'GET', f'/meetings/{created["id"]}')
    http.get(created['join_url'])
    calls = zoom.calls()
    assert calls == [
        {'method': 'POST', 'path': '/oauth/token', 'operation': 'token', 'status': 200},
        {'method': 'GET', 'path': '/v2/users/me', 'operation': 'get_me', 'status': 200},
        {'method': 'POST', 'path': '/v2/users/me/meetings', 'operation': 'create_meeting', 'status': 201},
        {'method': 'GET', 'path': f'/v2/meetings/{created["id"]}', 'operation': 'get_meeting', 'status': 401},
        {'method': 'GET', 'path': f'/j/{created["id"]}', 'operation': 'join_page', 'status': 200},
    ]
    assert zoom.calls('create_meeting') == [calls[2]]
    zoom.reset_calls()
    assert zoom.calls() == []


def test_control_endpoints_over_http(http, zoom):
    dana = connect(http, zoom, 'zoom-dana')
    added = http.post(zoom.url + '/_sandbox/faults', json={'operation': 'get_me', 'status': 503, 'times': 1})
    assert added.status_code == 201 and added.json()['faults'][0]['operation'] == 'get_me'
    assert api(http, zoom, dana, 'GET', '/users/me').status_code == 503
    assert http.get(zoom.url + '/_sandbox/faults').json() == {'faults': []}
    calls = http.get(zoom.url + '/_sandbox/calls', params={'operation': 'get_me'}).json()['calls']
    assert calls == [{'method': 'GET', 'path': '/v2/users/me', 'operation': 'get_me', 'status': 503}]
    assert http.delete(zoom.url + '/_sandbox/calls').status_code == 204 and zoom.calls() == []

    moved = http.post(zoom.url + '/_sandbox/advance', json={'seconds': zoom.access_token_ttl})
    assert moved.status_code == 200 and moved.json()['now'].endswith('Z')
    assert api(http, zoom, dana, 'GET', '/users/me').json()['message'] == 'Access token is expired.'
    fresh = connect(http, zoom, 'zoom-dana')
    assert http.post(zoom.url + '/_sandbox/expire-access-tokens').status_code == 204
    assert api(http, zoom, fresh, 'GET', '/users/me').json()['message'] == 'Access token is expired.'

    uri = 'http://127.0.0.1:9/added/by/control'
    assert uri in http.post(zoom.url + '/_sandbox/redirect-uris', json={'uri': uri}).json()['redirect_uris']
    assert zoom.authorize('zoom-dana', redirect_uri=uri)
    state = http.get(zoom.url + '/_sandbox/state').json()
    assert {u['id'] for u in state['users']} >= {'zoom-owner', 'zoom-dana', 'zoom-eli'}
    assert uri in state['redirect_uris']


@pytest.mark.parametrize('method, path, body', [
    ('POST', '/_sandbox/faults', b'{'), ('POST', '/_sandbox/faults', b'[]'),
    ('POST', '/_sandbox/faults', b'{"operation": "get_me", "status": "x"}'),
    ('POST', '/_sandbox/faults', b'{"operation": "nope", "status": 500}'),
    ('POST', '/_sandbox/faults', b'{"operation": "get_me", "status": 500, "times": -1}'),
    ('POST', '/_sandbox/advance', b'{"seconds": "soon"}'), ('POST', '/_sandbox/advance', b'{"seconds": -5}'),
    ('POST', '/_sandbox/redirect-uris', b'{}'), ('POST', '/_sandbox/webhooks/send', b'{}'),
    ('POST', '/_sandbox/webhooks/send', b'{"target_url": "http://127.0.0.1:9/", "event": "meeting.started"}'),
    ('POST', '/_sandbox/webhooks/send', b'{"target_url": "ftp://127.0.0.1/", "event": {}}'),
    ('POST', '/_sandbox/webhooks/send', b'{"target_url": "http://127.0.0.1:9/", "event": "app_deauthorized"}'),
    ('POST', '/_sandbox/webhooks/send',
     b'{"target_url": "http://127.0.0.1:9/", "event": "app_deauthorized", "user_id": "ghost"}'),
    ('GET', '/_sandbox/nothing', b''), ('PUT', '/_sandbox/calls', b''),
])
def test_control_endpoints_answer_bad_input_with_4xx_json(http, zoom, method, path, body):
    response = http.request(method, zoom.url + path, content=body)
    assert 400 <= response.status_code < 500 and 'error' in response.json()


def test_index_page_lists_users_meetings_and_control_links(http, zoom):
    dana = connect(http, zoom, 'zoom-dana')
    meeting = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body(topic='<Review & plan>')).json()
    page = http.get(zoom.url + '/')
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
    for text in ('zoom-owner', 'dana@zoom.example', str(meeting['id']), '&lt;Review &amp; plan&gt;',
                 '/_sandbox/calls', '/_sandbox/faults', '/_sandbox/webhooks/send', '/_sandbox/advance',
                 '/oauth/authorize?'):
        assert text in page.text
    assert '<Review' not in page.text


def raw_request(zoom, data: bytes) -> bytes:
    with socket.create_connection(('127.0.0.1', zoom.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b''.join(chunks)


def test_bad_content_length_and_oversized_bodies_are_refused_cleanly(zoom):
    bad = raw_request(zoom, b'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')
    assert bad.startswith(b'HTTP/1.1 400')
    huge = raw_request(zoom, b'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n')
    assert huge.startswith(b'HTTP/1.1 413')


def test_a_chunked_form_body_is_read(http, zoom):
    code = zoom.authorize('zoom-dana')
    form = f'grant_type=authorization_code&code={code}&redirect_uri={REDIRECT_URI}'.encode()
    response = http.post(zoom.url + '/oauth/token', auth=(zoom.client_id, zoom.client_secret),
                         headers={'Content-Type': 'application/x-www-form-urlencoded'},
                         content=(form[i:i + 7] for i in range(0, len(form), 7)))
    assert response.status_code == 200, response.text


def test_runs_alone_as_a_module(http):
    process = subprocess.Popen(
        [sys.executable, '-m', 'infra.sandboxes.zoom', '--port', '0', '--redirect-uri', REDIRECT_URI,
         '--daily-limit', '5'], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith('Zoom sandbox on http://127.0.0.1:'), process.stderr.read()
        url = first_line.split()[3]
        assert http.get(url + '/').status_code == 200
        state = http.get(url + '/_sandbox/state').json()
        assert state['redirect_uris'] == [REDIRECT_URI] and len(state['users']) == 3
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()


def test_the_module_reports_a_busy_port(zoom):
    result = subprocess.run([sys.executable, '-m', 'infra.sandboxes.zoom', '--port', str(zoom.port)], cwd=REPO,
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 1 and 'cannot listen' in result.stderr and 'Traceback' not in result.stderr


def test_state_is_json_serialisable_with_meetings_and_registrants(http, zoom):
    dana = connect(http, zoom, 'zoom-dana')
    meeting = api(http, zoom, dana, 'POST', '/users/me/meetings',
                  json=meeting_body(settings={'approval_type': 0})).json()
    api(http, zoom, dana, 'POST', f'/meetings/{meeting["id"]}/registrants',
        json={'email': 'pat@example.com', 'first_name': 'Pat'})
    state = json.loads(http.get(zoom.url + '/_sandbox/state').content)
    listed = {m['id']: m for m in state['meetings']}
    assert listed[meeting['id']]['registrants'][0]['email'] == 'pat@example.com'
