"""Faults, the calls log, set-up calls, the /_sandbox control endpoints, the index page, malformed
requests (never a 500) and running alone as a module."""

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from test_microsoft_support import (DANA, ORG_TENANT, OWNER, REDIRECT_URI, connect, graph, meeting_body, ms,
                                    msal_app, start_flow)

from infra.sandboxes.microsoft import MicrosoftSandbox
from infra.sandboxes.web import Request

__all__ = ['ms']
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean(ms):
    ms.clear_faults()
    ms.reset_calls()
    ms.allow_personal_accounts_on_organizations = False


# --- faults and the calls log ---


def test_a_429_with_retry_after_then_the_create_goes_through(http, ms):
    _, token = connect(ms, OWNER)
    before = len(ms.meetings)
    ms.fail('create_meeting', 429, headers={'Retry-After': '2'})
    throttled = graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body())
    assert throttled.status_code == 429 and throttled.headers['retry-after'] == '2'
    assert throttled.json()['error']['code'] == 'TooManyRequests'
    assert len(ms.meetings) == before
    assert graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body()).status_code == 201
    assert [c['status'] for c in ms.calls('create_meeting')] == [429, 201]


def test_a_429_without_retry_after_is_possible_too(http, ms):
    _, token = connect(ms, OWNER)
    ms.fail('get_me', 429, times=2)
    for _ in range(2):
        response = graph(http, ms, token, 'GET', '/me')
        assert response.status_code == 429 and 'retry-after' not in response.headers
    assert graph(http, ms, token, 'GET', '/me').status_code == 200


def test_a_fault_with_its_own_body_and_a_204_fault(http, ms):
    _, token = connect(ms, OWNER)
    meeting = graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body()).json()
    ms.fail('get_meeting', 503, body={'error': {'code': 'ServiceNotAvailable', 'message': 'later'}})
    answer = graph(http, ms, token, 'GET', f'/me/onlineMeetings/{meeting["id"]}')
    assert answer.status_code == 503 and answer.json() == {'error': {'code': 'ServiceNotAvailable', 'message': 'later'}}
    ms.fail('delete_meeting', 204)
    assert graph(http, ms, token, 'DELETE', f'/me/onlineMeetings/{meeting["id"]}').content == b''
    assert meeting['id'] in ms.meetings  # the fault answered; nothing was deleted


def test_after_true_is_a_lost_response(http, ms):
    _, token = connect(ms, DANA)
    before = set(ms.meetings)
    ms.fail('create_meeting', 504, after=True)
    assert graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body()).status_code == 504
    assert len(set(ms.meetings) - before) == 1  # made in Teams, though the caller never heard


def test_identity_faults_look_like_entra(http, ms):
    ms.fail('discovery', 500)
    discovery = http.get(f'{ms.url}/organizations/v2.0/.well-known/openid-configuration')
    assert discovery.status_code == 500 and discovery.json()['error'] == 'server_error'
    ms.fail('authorize', 503)
    page = http.get(f'{ms.url}/organizations/oauth2/v2.0/authorize?client_id={ms.client_id}')
    assert page.status_code == 503 and 'having trouble signing you in' in page.text
    ms.fail('discovery', 404, body='<html>gone</html>')
    with pytest.raises(ValueError, match='Unable to get authority configuration'):
        msal_app(ms)


def test_fail_checks_its_arguments(ms):
    for args, kwargs in ((('nope', 500), {}), (('token', 99), {}), (('token', 500), {'times': 0}),
                         (('token', 500), {'headers': {'a': 1}}), (('token', True), {})):
        with pytest.raises(ValueError):
            ms.fail(*args, **kwargs)
    ms.fail('token', 500, times=3)
    assert ms.pending_faults() == [{'operation': 'token', 'status': 500, 'times': 3, 'after': False}]
    ms.clear_faults()
    assert ms.pending_faults() == []


def test_calls_can_be_filtered_and_unrouted_requests_are_logged_without_an_operation(http, ms):
    http.get(ms.url + '/nowhere')
    http.get(f'{ms.url}/organizations/v2.0/.well-known/openid-configuration')
    http.get(ms.url + '/_sandbox/state')  # control endpoints are not logged
    assert [c['operation'] for c in ms.calls()] == [None, 'discovery']
    assert ms.calls('discovery')[0]['path'] == '/organizations/v2.0/.well-known/openid-configuration'
    ms.reset_calls()
    assert ms.calls() == []


# --- set-up calls ---


def test_add_user_in_a_new_tenant_who_then_signs_in_there(ms):
    tenant = '33333333-3333-3333-3333-333333333333'
    user = ms.add_user('00000000-0000-0000-0000-0000000000aa', 'ann@fabrikam.example', 'Ann', tenant_id=tenant)
    assert user == {'id': '00000000-0000-0000-0000-0000000000aa', 'email': 'ann@fabrikam.example',
                    'display_name': 'Ann', 'tenant_id': tenant, 'licensed': True, 'personal': False,
                    'created': user['created']}
    app = msal_app(ms, authority=f'https://{ms.authority_host}/fabrikam.example')  # a verified domain works too
    flow = start_flow(app)
    result = app.acquire_token_by_auth_code_flow(flow, ms.authorize(user['id'], flow['auth_uri']))
    assert result['id_token_claims']['tid'] == tenant


@pytest.mark.parametrize('args, kwargs', [
    (('not-a-guid', 'x@y.example'), {}),
    ((OWNER, 'other@contoso.example'), {}),
    (('00000000-0000-0000-0000-0000000000bb', 'owner@contoso.example'), {}),
    (('00000000-0000-0000-0000-0000000000bb', 'no-at-sign'), {}),
    (('00000000-0000-0000-0000-0000000000bb', 'b@b.example'), {'tenant_id': 'contoso'}),
    (('00000000-0000-0000-0000-0000000000bb', 'b@b.example'), {'licensed': 'yes'}),
])
def test_add_user_refuses_bad_input(ms, args, kwargs):
    with pytest.raises(ValueError):
        ms.add_user(*args, **kwargs)


def test_other_set_up_calls_refuse_bad_input(ms):
    with pytest.raises(ValueError):
        ms.revoke_refresh_tokens('00000000-0000-0000-0000-00000000dead')
    with pytest.raises(ValueError):
        ms.advance(-1)
    with pytest.raises(ValueError):
        ms.allow_redirect_uri('')
    with pytest.raises(ValueError, match='not an authorize URI'):
        ms.authorize(OWNER, ms.url + '/organizations/oauth2/v2.0/token')
    with pytest.raises(ValueError, match='unknown user'):
        ms.authorize('00000000-0000-0000-0000-00000000dead', start_flow(msal_app(ms))['auth_uri'])


def test_lifecycle_errors():
    sandbox = MicrosoftSandbox(seed=False)
    with pytest.raises(RuntimeError):
        sandbox.url
    with sandbox:
        assert sandbox.users == {} and sandbox.url.startswith('http://127.0.0.1:')
        with pytest.raises(RuntimeError):
            sandbox.start()
    assert sandbox.authority == 'https://login.microsoft.sandbox/organizations'


def test_handle_works_without_a_socket(ms):
    response = ms.handle(Request('GET', '/common/v2.0/.well-known/openid-configuration', {}, b''))
    assert response.status == 200 and json.loads(response.body)['token_endpoint'].endswith('/common/oauth2/v2.0/token')


# --- control endpoints ---


def test_control_endpoints(http, ms):
    control = ms.url + '/_sandbox'
    assert http.post(control + '/faults', json={'operation': 'get_me', 'status': 500, 'times': 2}).status_code == 201
    assert http.get(control + '/faults').json()['faults'][0]['times'] == 2
    assert http.delete(control + '/faults').status_code == 204 and ms.pending_faults() == []
    assert http.post(control + '/redirect-uris', json={'uri': 'http://127.0.0.1:3000/cb'}).json()['redirect_uris'][-1] \
        == 'http://127.0.0.1:3000/cb'
    made = http.post(control + '/users', json={'user_id': '00000000-0000-0000-0000-0000000000cc',
                                               'email': 'cc@contoso.example', 'licensed': False})
    assert made.status_code == 201 and made.json()['licensed'] is False
    assert http.post(control + '/settings', json={'allow_personal_accounts_on_organizations': True}).json() == {
        'allow_personal_accounts_on_organizations': True}
    assert ms.allow_personal_accounts_on_organizations is True
    before = ms.now()
    assert http.post(control + '/advance', json={'seconds': 60}).status_code == 200
    assert (ms.now() - before).total_seconds() >= 60

    app, result = connect(ms, OWNER)
    assert http.post(control + '/expire-access-tokens').status_code == 204
    assert graph(http, ms, result, 'GET', '/me').status_code == 401
    assert http.post(control + '/revoke', json={'user_id': OWNER}).status_code == 204
    assert app.acquire_token_silent_with_error(['User.Read'], app.get_accounts()[0], force_refresh=True)['error'] \
        == 'invalid_grant'

    state = http.get(control + '/state').json()
    assert state['authority'] == ms.authority and state['graph_base'] == ms.graph_base
    assert {u['id'] for u in state['users']} >= {OWNER, DANA} and REDIRECT_URI in state['redirect_uris']
    assert isinstance(state['meetings'], list) and set(state['refresh_counts']) >= {OWNER}
    assert http.get(control + '/calls?operation=token').json()['calls'][0]['operation'] == 'token'
    assert http.delete(control + '/calls').status_code == 204 and ms.calls() == []


@pytest.mark.parametrize('method, path, body, status', [
    ('GET', '/_sandbox/nothing', None, 404),
    ('PUT', '/_sandbox/faults', None, 405),
    ('POST', '/_sandbox/faults', {'operation': 'nope', 'status': 500}, 400),
    ('POST', '/_sandbox/faults', {'operation': 'token', 'status': 'x'}, 400),
    ('POST', '/_sandbox/faults', [1], 400),
    ('POST', '/_sandbox/advance', {'seconds': -5}, 400),
    ('POST', '/_sandbox/advance', {'seconds': True}, 400),
    ('POST', '/_sandbox/revoke', {'user_id': 7}, 400),
    ('POST', '/_sandbox/revoke', {'user_id': 'nobody'}, 400),
    ('POST', '/_sandbox/redirect-uris', {}, 400),
    ('POST', '/_sandbox/users', {'user_id': 'x', 'email': 'x@y.example'}, 400),
    ('POST', '/_sandbox/users', {'user_id': '00000000-0000-0000-0000-0000000000dd', 'email': 'd@x.example',
                                 'admin': True}, 400),
    ('POST', '/_sandbox/settings', {'allow_personal_accounts_on_organizations': 'yes'}, 400),
    ('POST', '/_sandbox/settings', {'something': 1}, 400),
])
def test_control_endpoints_refuse_bad_requests(http, ms, method, path, body, status):
    response = http.request(method, ms.url + path, json=body) if body is not None else http.request(method,
                                                                                                     ms.url + path)
    assert response.status_code == status and 'error' in response.json()


def test_the_control_endpoints_take_only_json(http, ms):
    assert http.post(ms.url + '/_sandbox/advance', content=b'\xff').status_code == 400


def test_the_index_page(http, ms):
    page = http.get(ms.url + '/')
    assert page.status_code == 200 and 'Microsoft sandbox' in page.text
    assert 'owner@contoso.example' in page.text and 'no Teams licence' in page.text and ms.authority in page.text


# --- malformed requests: clean answers, never a 500 ---


GARBAGE = [
    ('GET', '/organizations/oauth2/v2.0/authorize?%ZZ=%&client_id=%FF%FE&redirect_uri=%00', {}, b''),
    ('GET', '/organizations/oauth2/v2.0/authorize?client_id=sandbox-ms-client-id&redirect_uri=' +
     REDIRECT_URI + '&scope=%00%01&response_type=code', {}, b''),
    ('POST', '/organizations/oauth2/v2.0/authorize/decision', {'Content-Type': 'application/json'}, b'{"x": 1}'),
    ('POST', '/organizations/oauth2/v2.0/authorize/decision', {'Content-Type': 'application/x-www-form-urlencoded'},
     b'\xff\xfe\xfd'),
    ('POST', '/organizations/oauth2/v2.0/token', {'Content-Type': 'application/x-www-form-urlencoded'},
     b'grant_type=refresh_token&refresh_token=' + b'A' * 5000),
    ('POST', '/organizations/oauth2/v2.0/token', {'Authorization': 'Basic \u00e9\u00e9'.encode('utf-8').decode(
        'latin-1')}, b'grant_type=x'),
    ('POST', '/organizations/oauth2/v2.0/token', {'Authorization': 'Basic ' + 'OmZvbw=='}, b'grant_type=x'),
    ('GET', '/%E0%A4%A/v2.0/.well-known/openid-configuration', {}, b''),
    ('GET', '/v1.0/me/onlineMeetings/%00', {'Authorization': 'Bearer a.b.c'}, b''),
    ('GET', '/v1.0/me', {'Authorization': 'Bearer ' + 'x.' * 3000}, b''),
    ('GET', '/v1.0/me', {'Authorization': 'Bearer eyJhbGciOiJub25lIn0.W10.x'}, b''),
    ('PATCH', '/v1.0', {}, b''),
    ('DELETE', '/', {}, b''),
    ('GET', '/l/meetup-join/%2F..%2F', {}, b''),
    ('OPTIONS', '/v1.0/me/onlineMeetings', {}, b''),
    ('GET', 'http://login.microsoft.sandbox/organizations/v2.0/.well-known/openid-configuration', {}, b''),
]


@pytest.mark.parametrize('method, target, headers, body', GARBAGE)
def test_malformed_requests_get_clean_errors(ms, method, target, headers, body):
    response = ms.handle(Request(method, target, headers, body))
    assert response.status < 500, (response.status, response.body[:300])
    assert b'Traceback' not in response.body


def test_malformed_graph_bodies_with_a_valid_token_get_clean_errors(http, ms):
    _, token = connect(ms, OWNER)
    meeting = graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body()).json()
    bodies = [{'participants': {'organizer': []}}, {'participants': {'attendees': [{'identity': {'user': 'x'}}]}},
              {'participants': {'attendees': [{'identity': 'x', 'upn': 'a@b'}]}}, {'participants': []},
              {'lobbyBypassSettings': {'scope': ['everyone']}}, {'lobbyBypassSettings': {'colour': 'red'}},
              {'joinMeetingIdSettings': 'x'}, {'allowMeetingChat': {'a': 1}}, {'startDateTime': {}, 'endDateTime': []},
              {'startDateTime': '2030-01-01T10:00:00+15:00', 'endDateTime': '2030-01-01T11:00:00Z'},
              {'startDateTime': '2030-01-01T24:00:00Z', 'endDateTime': '2030-01-02T11:00:00Z'},
              {'externalId': 'x'}, {'@odata.type': '#microsoft.graph.onlineMeeting', 'subject': 'fine'},
              {'watermarkProtection': 5}, json.loads('[' * 50 + ']' * 50)]
    for body in bodies:
        for method, path in (('POST', '/me/onlineMeetings'), ('PATCH', f'/me/onlineMeetings/{meeting["id"]}')):
            response = graph(http, ms, token, method, path, json=body)
            assert response.status_code < 500, (body, response.text)
            assert response.status_code in (200, 201) or response.json()['error']['code'] == 'BadRequest'
    nested = b'{"subject":' + b'[' * 100000 + b']' * 100000 + b'}'
    response = graph(http, ms, token, 'POST', '/me/onlineMeetings', content=nested,
                     headers={'Content-Type': 'application/json'})
    assert response.status_code == 400


def _raw(ms, payload: bytes) -> bytes:
    with socket.create_connection((ms.host, ms.port), timeout=5) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b''.join(chunks)


def test_raw_http_edge_cases(ms):
    too_big = _raw(ms, b'POST /organizations/oauth2/v2.0/token HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n'
                       b'Connection: close\r\n\r\n')
    assert too_big.startswith(b'HTTP/1.1 413')
    bad_length = _raw(ms, b'POST /v1.0/me/onlineMeetings HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n'
                          b'Connection: close\r\n\r\n')
    assert bad_length.startswith(b'HTTP/1.1 400')
    bad_chunk = _raw(ms, b'POST /organizations/oauth2/v2.0/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
                         b'Connection: close\r\n\r\nzz\r\n')
    assert bad_chunk.startswith(b'HTTP/1.1 400')
    chunked = _raw(ms, b'POST /organizations/oauth2/v2.0/token HTTP/1.1\r\nHost: login.microsoft.sandbox\r\n'
                       b'Transfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n'
                       b'Connection: close\r\n\r\n5\r\ngrant\r\n5\r\n_type\r\n2\r\n=x\r\n0\r\n\r\n')
    assert chunked.startswith(b'HTTP/1.1 400') and b'AADSTS900144' in chunked and b'client_id' in chunked


# --- alone, as a module ---


def test_runs_alone_as_a_module(http):
    process = subprocess.Popen(
        [sys.executable, '-m', 'infra.sandboxes.microsoft', '--port', '0', '--redirect-uri', REDIRECT_URI,
         '--allow-personal-accounts-on-organizations'], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith('Microsoft sandbox on http://127.0.0.1:'), process.stderr.read()
        url = first_line.split()[3]
        assert http.get(url + '/').status_code == 200
        state = http.get(url + '/_sandbox/state').json()
        assert state['redirect_uris'] == [REDIRECT_URI] and len(state['users']) == 4
        assert state['allow_personal_accounts_on_organizations'] is True
        assert http.get(url + f'/{ORG_TENANT}/v2.0/.well-known/openid-configuration').status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()


def test_the_module_reports_a_busy_port(ms):
    result = subprocess.run([sys.executable, '-m', 'infra.sandboxes.microsoft', '--port', str(ms.port)], cwd=REPO,
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 1 and 'cannot listen' in result.stderr and 'Traceback' not in result.stderr
