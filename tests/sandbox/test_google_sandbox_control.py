"""Faults, rate limits, the calls log, set-up calls, the /_sandbox control endpoints, the index page,
malformed requests (never a 500) and running alone as a module."""

import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from google_sandbox_support import (DANA, INSERT, OWNER, REDIRECT_URI, auth_uri, calendar, clean, connect, error_of,
                                    event_id, google, insert, refresh)

from infra.sandboxes.google import OPERATIONS, GoogleSandbox
from infra.sandboxes.web import Request

__all__ = ['clean', 'google']
REPO = Path(__file__).resolve().parents[2]


# --- faults ---


def test_rate_limit_answers_googles_body_with_retry_after_then_the_insert_goes_through(google, http):
    token = connect(http, google, OWNER)
    google.rate_limit('insert_event', times=2, retry_after=7)
    for _ in range(2):
        limited = insert(http, google, token, 'limited-1')
        assert limited.headers['retry-after'] == '7'
        assert error_of(limited) == (429, 'rateLimitExceeded', 'Rate Limit Exceeded')
        assert limited.json()['error']['errors'][0]['domain'] == 'usageLimits'
    assert event_id('limited-1') not in google.events
    assert insert(http, google, token, 'limited-1').status_code == 200
    assert [c['status'] for c in google.calls('insert_event')] == [429, 429, 200]


def test_a_403_rate_limit_without_retry_after(google, http):
    token = connect(http, google, OWNER)
    google.rate_limit('get_event', status=403)
    response = calendar(http, google, token, 'GET', f'/calendars/primary/events/{event_id("x")}')
    assert error_of(response)[:2] == (403, 'rateLimitExceeded') and 'retry-after' not in response.headers


def test_after_true_is_a_lost_answer_the_event_exists_and_the_retry_is_409(google, http):
    token = connect(http, google, OWNER)
    google.fail('insert_event', 503, after=True)
    lost = insert(http, google, token, 'lost-1')
    assert error_of(lost)[:2] == (503, 'backendError')
    assert google.events[event_id('lost-1')]['hangoutLink']  # it was made all the same
    assert error_of(insert(http, google, token, 'lost-1'))[:2] == (409, 'duplicate')


def test_a_lost_delete_answer_deleted_and_the_retry_is_410(google, http):
    token = connect(http, google, OWNER)
    insert(http, google, token, 'lost-delete')
    target = f'/calendars/primary/events/{event_id("lost-delete")}?sendUpdates=none'
    google.fail('delete_event', 502, after=True)
    assert calendar(http, google, token, 'DELETE', target).status_code == 502
    assert google.events[event_id('lost-delete')]['status'] == 'cancelled'
    assert error_of(calendar(http, google, token, 'DELETE', target))[:2] == (410, 'deleted')


def test_a_lost_patch_answer_moved_the_event_once_and_the_retry_moves_nothing_more(google, http):
    token = connect(http, google, OWNER)
    insert(http, google, token, 'lost-patch')
    target = f'/calendars/primary/events/{event_id("lost-patch")}?conferenceDataVersion=1&sendUpdates=none'
    move = {'start': {'dateTime': '2030-03-06T09:30:00Z', 'timeZone': 'Europe/Berlin'},
            'end': {'dateTime': '2030-03-06T10:00:00Z', 'timeZone': 'Europe/Berlin'}, 'status': 'confirmed'}
    google.fail('patch_event', 503, after=True)
    assert calendar(http, google, token, 'PATCH', target, json=move).status_code == 503
    retried = calendar(http, google, token, 'PATCH', target, json=move).json()
    assert retried['sequence'] == 1 and retried['start']['dateTime'] == '2030-03-06T10:30:00+01:00'


def test_a_lost_refresh_answer_still_refreshed(google, http):
    token = connect(http, google, DANA)
    before = google.refresh_count(DANA)
    google.fail('token', 500, after=True)
    assert refresh(http, google, token['refresh_token']).json()['error'] == 'internal_failure'
    assert google.refresh_count(DANA) == before + 1
    assert refresh(http, google, token['refresh_token']).status_code == 200


@pytest.mark.parametrize('operation, status, kind', [
    ('authorize', 500, 'text/html'), ('token', 503, 'application/json'), ('revoke', 429, 'application/json'),
    ('list_events', 500, 'application/json'), ('patch_event', 404, 'application/json'),
    ('delete_event', 410, 'application/json')])
def test_injected_faults_look_like_google(google, http, operation, status, kind):
    token = connect(http, google, OWNER)
    google.fail(operation, status)
    request = {
        'authorize': lambda: http.get(auth_uri(google)),
        'token': lambda: refresh(http, google, token['refresh_token']),
        'revoke': lambda: http.post(google.revoke_url, data={'token': 'x'}),
        'list_events': lambda: calendar(http, google, token, 'GET', '/calendars/primary/events'),
        'patch_event': lambda: calendar(http, google, token, 'PATCH', '/calendars/primary/events/abcdef', json={}),
        'delete_event': lambda: calendar(http, google, token, 'DELETE', '/calendars/primary/events/abcdef'),
    }[operation]
    response = request()
    assert response.status_code == status and response.headers['content-type'].startswith(kind)
    if operation in ('token', 'revoke'):
        assert set(response.json()) == {'error', 'error_description'}
    elif kind == 'application/json':
        error_of(response)
    assert google.pending_faults() == []  # times=1: spent


def test_a_fault_with_its_own_body_and_headers(google, http):
    token = connect(http, google, OWNER)
    body = {'error': {'errors': [{'domain': 'usageLimits', 'reason': 'quotaExceeded',
                                  'message': 'Calendar usage limits exceeded.'}], 'code': 403,
                      'message': 'Calendar usage limits exceeded.'}}
    google.fail('insert_event', 403, body, {'X-Test': '1'})
    response = insert(http, google, token, 'quota-1')
    assert response.json() == body and response.headers['x-test'] == '1'
    assert error_of(response) == (403, 'quotaExceeded', 'Calendar usage limits exceeded.')


def test_fail_and_rate_limit_check_their_arguments(google):
    with pytest.raises(ValueError, match='unknown operation'):
        google.fail('meet_page', 500)
    with pytest.raises(ValueError):
        google.fail('token', 99)
    with pytest.raises(ValueError):
        google.fail('token', 500, times=0)
    with pytest.raises(ValueError, match='403 or 429'):
        google.rate_limit('token', status=500)
    with pytest.raises(ValueError, match='retry_after'):
        google.rate_limit('token', retry_after=-1)
    assert google.pending_faults() == []


# --- the calls log ---


def test_the_calls_log_has_method_path_operation_status_and_query_without_secrets(google, http):
    token = connect(http, google, OWNER)
    insert(http, google, token, 'logged-1')
    http.get(google.url + '/nowhere?token=abc')
    http.get(google.url + '/meet/aaa-bbbb-ccc')
    calls = google.calls()
    assert calls[0] == {'method': 'POST', 'path': '/token', 'operation': 'token', 'status': 200, 'query': {}}
    assert calls[1] == {'method': 'POST', 'path': '/calendar/v3/calendars/primary/events', 'operation': 'insert_event',
                        'status': 200, 'query': {'conferenceDataVersion': '1', 'sendUpdates': 'none'}}
    assert calls[2] == {'method': 'GET', 'path': '/nowhere', 'operation': None, 'status': 404,
                        'query': {'token': '[redacted]'}}
    assert calls[3]['operation'] == 'meet_page' and calls[3]['status'] == 404
    assert [c['path'] for c in google.calls('insert_event')] == ['/calendar/v3/calendars/primary/events']
    logged = json.dumps(calls)
    assert token['access_token'] not in logged and google.client_secret not in logged
    google.reset_calls()
    assert google.calls() == []


# --- set-up and inspection ---


def test_seed_users_and_add_user(google, http):
    users = google.users
    assert users[OWNER] == {'id': OWNER, 'email': 'owner@example.com', 'name': 'Olive Owner', 'meet_enabled': True}
    assert users['105000000000000000003']['meet_enabled'] is False
    added = google.add_user('105000000000000000301', 'new@example.com', 'New Person', meet_enabled=False)
    assert added['meet_enabled'] is False and google.users[added['id']]['email'] == 'new@example.com'
    assert GoogleSandbox(seed=False).users == {}


@pytest.mark.parametrize('args, kwargs', [
    (('abc', 'x@example.com'), {}), ((OWNER, 'someone@example.com'), {}), (('1', 'owner@example.com'), {}),
    (('2', 'not-an-email'), {}), (('3', 'a@b.c', 5), {}), (('4', 'c@d.e'), {'meet_enabled': 'yes'}),
    ((105, 'e@f.g'), {})])
def test_add_user_refuses_bad_input(google, args, kwargs):
    with pytest.raises(ValueError):
        google.add_user(*args, **kwargs)


def test_other_set_up_calls_refuse_bad_input(google):
    for call in (lambda: google.revoke_grants('42'), lambda: google.remove_event('never'),
                 lambda: google.set_conference_pending(-1), lambda: google.set_conference_pending(True),
                 lambda: google.allow_redirect_uri(''), lambda: google.advance(-1)):
        with pytest.raises(ValueError):
            call()


def test_grants_and_refresh_count(google, http):
    user = google.add_user('105000000000000000302', 'grants@example.com')['id']
    assert google.grants(user) == [] and google.refresh_count(user) == 0
    token = connect(http, google, user)
    [grant] = google.grants(user)
    assert grant['user_id'] == user and 'refresh_token' not in grant and grant['scope'].endswith('events.owned')
    refresh(http, google, token['refresh_token'])
    assert google.refresh_count(user) == 1 and google.refresh_count() >= 1


def test_lifecycle_errors():
    sandbox = GoogleSandbox()
    with pytest.raises(RuntimeError, match='start'):
        sandbox.url
    with sandbox:
        with pytest.raises(RuntimeError, match='already running'):
            sandbox.start()
        assert sandbox.authorize_url == sandbox.url + '/o/oauth2/v2/auth'
        assert sandbox.token_url == sandbox.url + '/token' and sandbox.revoke_url == sandbox.url + '/revoke'
        assert sandbox.calendar_base == sandbox.url + '/calendar/v3'
    assert set(OPERATIONS) == {'authorize', 'token', 'revoke', 'insert_event', 'get_event', 'patch_event',
                               'delete_event', 'list_events'}


# --- /_sandbox control over HTTP ---


def control(http, google, method, name, body=None):
    return http.request(method, f'{google.url}/_sandbox/{name}', json=body)


def test_control_endpoints(google, http):
    state = control(http, google, 'GET', 'state').json()
    assert state['token_url'] == google.token_url and state['redirect_uris'] == [REDIRECT_URI]
    assert {u['email'] for u in state['users']} >= {'owner@example.com', 'dana@example.com', 'nomeet@example.com'}
    assert control(http, google, 'POST', 'users', {'user_id': '105000000000000000401', 'email': 'http@example.com',
                                                   'name': 'Over HTTP'}).status_code == 201
    token = connect(http, google, '105000000000000000401')
    assert control(http, google, 'GET', 'state').json()['grants']['105000000000000000401'] == 1

    assert control(http, google, 'POST', 'conference-pending', {'reads': 1}).json() == {'reads': 1}
    created = insert(http, google, token, 'http-1').json()
    assert created['conferenceData']['createRequest']['status']['statusCode'] == 'pending'
    assert control(http, google, 'POST', 'remove-event', {'event_id': created['id']}).status_code == 204
    listed = control(http, google, 'GET', 'state').json()['events']
    assert [e['status'] for e in listed if e['id'] == created['id']] == ['cancelled']

    before = google.now()
    assert control(http, google, 'POST', 'advance', {'seconds': 60}).status_code == 200
    assert (google.now() - before).total_seconds() >= 60
    assert control(http, google, 'POST', 'expire-access-tokens').status_code == 204
    assert calendar(http, google, token, 'GET', '/calendars/primary/events').status_code == 401

    assert control(http, google, 'POST', 'fail', {'operation': 'token', 'status': 503}).status_code == 201
    assert control(http, google, 'POST', 'rate-limit', {'operation': 'list_events', 'retry_after': 3}).status_code == 201
    assert [f['operation'] for f in control(http, google, 'GET', 'faults').json()['faults']] == ['token', 'list_events']
    assert control(http, google, 'DELETE', 'faults').status_code == 204

    assert control(http, google, 'POST', 'revoke-grants', {'user_id': '105000000000000000401'}).status_code == 204
    assert refresh(http, google, token['refresh_token']).json()['error'] == 'invalid_grant'
    assert control(http, google, 'GET', 'calls').json()['calls']
    assert control(http, google, 'POST', 'reset-calls').status_code == 204
    assert control(http, google, 'GET', 'calls').json() == {'calls': []}
    assert control(http, google, 'POST', 'redirect-uris', {'uri': 'http://localhost:4000/cb'}).status_code == 200
    assert 'http://localhost:4000/cb' in google.redirect_uris


@pytest.mark.parametrize('method, name, body, status', [
    ('POST', 'fail', {'operation': 'meet_page', 'status': 500}, 400),
    ('POST', 'fail', {'operation': 'token', 'status': 'x'}, 400),
    ('POST', 'fail', {'operation': 'token', 'status': 500, 'colour': 'red'}, 400),
    ('POST', 'rate-limit', {'operation': 'token', 'status': 500}, 400),
    ('POST', 'revoke-grants', {'user_id': ''}, 400),
    ('POST', 'revoke-grants', {'user_id': '42'}, 400),
    ('POST', 'remove-event', {'event_id': 'nope'}, 400),
    ('POST', 'conference-pending', {'reads': 'two'}, 400),
    ('POST', 'users', {'user_id': 'abc', 'email': 'x@y.z'}, 400),
    ('POST', 'advance', {'seconds': -5}, 400),
    ('GET', 'revoke-grants', None, 405),
    ('POST', 'nothing', {}, 404),
])
def test_control_endpoints_refuse_bad_requests(google, http, method, name, body, status):
    response = control(http, google, method, name, body)
    assert response.status_code == status and 'error' in response.json()


def test_the_control_endpoints_take_only_json_objects(google, http):
    response = http.post(google.url + '/_sandbox/revoke-grants', content=b'[1]')
    assert response.status_code == 400


def test_the_index_page(google, http):
    token = connect(http, google, OWNER)
    insert(http, google, token, 'index-1', summary='<script>alert(1)</script>')
    page = http.get(google.url + '/')
    assert page.status_code == 200 and 'Google sandbox' in page.text and REDIRECT_URI in page.text
    assert '&lt;script&gt;' in page.text and '<script>alert' not in page.text
    assert 'POST /_sandbox/conference-pending {reads}' in page.text and 'owner@example.com' in page.text
    assert http.head(google.url + '/').status_code == 200


# --- malformed requests: a 4xx, never a 500 ---

GARBAGE = [
    ('GET', '/o/oauth2/v2/auth?%ZZ=1', {}, b''),
    ('GET', '/o/oauth2/v2/auth?client_id=\x00', {}, b''),
    ('POST', '/o/oauth2/v2/auth/decision', {'Content-Type': 'application/x-www-form-urlencoded'}, b'request=%ff'),
    ('POST', '/o/oauth2/v2/auth/decision', {'Content-Type': 'text/plain'}, b'\xff\xfe'),
    ('POST', '/token', {'Content-Type': 'application/x-www-form-urlencoded'}, b'\xff'),
    ('POST', '/token', {'Authorization': 'Basic \u00e9'.encode().decode('latin-1')}, b''),
    ('POST', '/token', {'Authorization': 'Basic OmZvbw=='}, b'grant_type=x'),
    ('POST', '/token', {'Content-Type': 'application/x-www-form-urlencoded'},
     b'grant_type=refresh_token&refresh_token=' + b'A' * 5000),
    ('POST', '/revoke', {'Content-Type': 'application/json'}, b'{}'),
    ('GET', '/calendar/v3/calendars/primary/events/%00', {'Authorization': 'Bearer x'}, b''),
    ('GET', '/calendar/v3/calendars/%2F..%2F/events', {'Authorization': 'Bearer x'}, b''),
    ('GET', '/meet/%2F..%2F', {}, b''),
    ('DELETE', '/', {}, b''),
    ('OPTIONS', '/calendar/v3/calendars/primary/events', {}, b''),
    ('GET', 'http://accounts.google.com/o/oauth2/v2/auth', {}, b''),
]


@pytest.mark.parametrize('method, target, headers, body', GARBAGE)
def test_malformed_requests_get_clean_errors(google, method, target, headers, body):
    response = google.handle(Request(method, target, headers, body))
    assert response.status < 500, (response.status, response.body[:300])
    assert b'Traceback' not in response.body


def test_hostile_event_bodies_with_a_valid_token_get_clean_errors(google, http):
    token = connect(http, google, OWNER)
    insert(http, google, token, 'hostile-1')
    bodies = [{'start': [], 'end': {}}, {'start': {'dateTime': None, 'date': None}}, {'start': {'timeZone': 5}},
              {'start': {'dateTime': '2030-01-01T10:00:00', 'timeZone': '../../etc/passwd'}},
              {'start': {'dateTime': '2030-01-01T10:00:00+25:00'}}, {'end': {'date': '2030-13-01'}},
              {'conferenceData': []}, {'conferenceData': {'createRequest': 'x'}},
              {'conferenceData': {'createRequest': {'requestId': 5, 'conferenceSolutionKey': 'hangoutsMeet'}}},
              {'id': None}, {'status': None}, json.loads('[' * 50 + ']' * 50),
              {'start': {'dateTime': '0001-01-01T00:00:00+05:00'}},
              {'end': {'dateTime': '9999-12-31T23:00:00-05:00'}},
              {'end': {'dateTime': '9999-12-31T23:00:00Z', 'timeZone': 'Pacific/Kiritimati'}},
              {'start': {'dateTime': '2030-01-01T10:00:00', 'timeZone': 'zone.tab'}},
              {'start': {'dateTime': '2030-01-01T10:00:00', 'timeZone': 'Europe'}},
              {'summary': 'x' * 100000, 'description': '\u0000'}]
    for body in bodies:
        for method, target in (('POST', INSERT), ('PATCH', f'/calendars/primary/events/{event_id("hostile-1")}'
                                                            '?conferenceDataVersion=1')):
            response = calendar(http, google, token, method, target, json=body)
            assert response.status_code < 500, (body, response.text)
            if response.status_code >= 400:
                error_of(response)
    surrogate = calendar(http, google, token, 'POST', INSERT, content=b'{"summary": "\\ud800"}',
                         headers={'Content-Type': 'application/json'})
    assert error_of(surrogate)[:2] == (400, 'parseError')  # a lone surrogate could not be shown on any page
    nested = b'{"summary":' + b'[' * 100000 + b']' * 100000 + b'}'
    response = calendar(http, google, token, 'POST', INSERT, content=nested, headers={'Content-Type': 'application/json'})
    assert error_of(response)[:2] == (400, 'parseError')


def test_handle_works_without_a_socket(google, http):
    token = connect(http, google, OWNER)
    response = google.handle(Request('GET', '/calendar/v3/calendars/primary/events?maxResults=1',
                                     {'Authorization': 'Bearer ' + token['access_token']}))
    assert response.status == 200 and json.loads(response.body)['kind'] == 'calendar#events'


# --- alone, as a module ---


def test_runs_alone_as_a_module_and_stops_on_sigterm(http):
    process = subprocess.Popen(
        [sys.executable, '-m', 'infra.sandboxes.google', '--port', '0', '--redirect-uri', REDIRECT_URI,
         '--redirect-uri', 'http://localhost:3000/cb', '--client-id', 'cli-id', '--client-secret', 'cli-secret'],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed = selectors.DefaultSelector()
        printed.register(process.stdout, selectors.EVENT_READ)
        assert printed.select(timeout=10), 'the sandbox printed nothing in 10 s'
        first_line = process.stdout.readline()
        assert first_line.startswith('Google sandbox on http://127.0.0.1:'), process.stderr.read()
        url = first_line.split()[3]
        state = http.get(url + '/_sandbox/state').json()
        assert state['redirect_uris'] == [REDIRECT_URI, 'http://localhost:3000/cb'] and state['client_id'] == 'cli-id'
        assert len(state['users']) == 3
        page = http.get(url + '/o/oauth2/v2/auth', params={'client_id': 'cli-id', 'redirect_uri': REDIRECT_URI,
                                                           'response_type': 'code', 'scope': 'openid'})
        assert page.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()


def test_the_port_comes_from_google_sandbox_port_and_a_busy_one_is_reported(google):
    result = subprocess.run([sys.executable, '-m', 'infra.sandboxes.google'], cwd=REPO, capture_output=True, text=True,
                            timeout=20, env={**os.environ, 'GOOGLE_SANDBOX_PORT': str(google.port)})
    assert result.returncode == 1 and 'cannot listen' in result.stderr and 'Traceback' not in result.stderr
