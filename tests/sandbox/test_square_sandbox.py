"""The Square sandbox over HTTP: the Customers and Team reads, every refusal, faults, the calls log, the
``/_sandbox`` control endpoints and the CLI. Nothing here reaches the internet."""

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from infra.sandboxes.square import SquareSandbox

REPO = Path(__file__).resolve().parents[2]
TOKEN = 'EAAAl-sandbox-token-for-a-seller'
CUSTOMER = {'id': 'JDKYHBWT1D4F8MFH63DBMEN8Y4', 'created_at': '2026-01-10T09:00:00Z',
            'updated_at': '2026-01-10T09:00:00Z', 'given_name': 'Amelia', 'family_name': 'Earhart',
            'email_address': 'amelia.earhart@example.com', 'phone_number': '+15555555555',
            'preferences': {'email_unsubscribed': False}, 'creation_source': 'APPOINTMENTS', 'version': 1}
TEAM_MEMBER = {'id': 'TMoK_ogh6rH1o4dV', 'reference_id': 'staff-7', 'is_owner': False, 'status': 'ACTIVE',
               'given_name': 'Sandy', 'family_name': 'Cortez', 'email_address': 'sandy@example.com',
               'created_at': '2025-06-01T08:00:00Z', 'updated_at': '2025-06-01T08:00:00Z'}


@pytest.fixture
def square():
    sandbox = SquareSandbox().start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def seeded(http, square):
    """A sandbox with one access token, one customer and one team member, seeded as the issue's tests seed."""
    assert http.put(f'{square.url}/_sandbox/access-tokens/{TOKEN}', json={}).status_code == 200
    assert http.put(f'{square.url}/_sandbox/customers/{CUSTOMER["id"]}', json=CUSTOMER).status_code == 200
    assert http.put(f'{square.url}/_sandbox/team-members/{TEAM_MEMBER["id"]}', json=TEAM_MEMBER).status_code == 200
    return square


def get(http, square, path, token=TOKEN, **headers):
    if token is not None:
        headers.setdefault('Authorization', f'Bearer {token}')
    return http.get(square.url + path, headers=headers)


def error_of(response):
    """The one error of a Square error body, checked for Square's shape."""
    assert response.headers['content-type'] == 'application/json'
    errors = response.json()['errors']
    assert len(errors) == 1 and set(errors[0]) >= {'category', 'code', 'detail'}
    return errors[0]


# --- the API ---


def test_a_customer_is_answered_wrapped_with_the_apps_square_version(http, seeded):
    response = get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}')
    assert response.status_code == 200 and response.headers['content-type'] == 'application/json'
    assert response.json() == {'customer': CUSTOMER}
    assert response.headers['square-version'] == seeded.default_version


def test_a_team_member_is_answered_wrapped_in_the_requested_square_version(http, seeded):
    response = get(http, seeded, f'/v2/team-members/{TEAM_MEMBER["id"]}', **{'Square-Version': '2024-01-18'})
    assert response.status_code == 200 and response.json() == {'team_member': TEAM_MEMBER}
    assert response.headers['square-version'] == '2024-01-18'


def test_an_id_is_read_percent_decoded(http, seeded):
    seeded.put_customer('a b', {'given_name': 'Spaced'})
    assert get(http, seeded, '/v2/customers/a%20b').json() == {'customer': {'given_name': 'Spaced', 'id': 'a b'}}


@pytest.mark.parametrize(('path', 'detail'), [
    ('/v2/customers/NOPE', 'Customer with ID `NOPE` not found.'),
    ('/v2/team-members/NOPE', 'Team member with ID `NOPE` not found.'),
])
def test_an_unknown_id_is_404_not_found(http, seeded, path, detail):
    response = get(http, seeded, path)
    assert response.status_code == 404
    assert error_of(response) == {'category': 'INVALID_REQUEST_ERROR', 'code': 'NOT_FOUND', 'detail': detail}


def test_a_removed_customer_or_team_member_is_404(http, seeded):
    assert http.delete(f'{seeded.url}/_sandbox/customers/{CUSTOMER["id"]}').status_code == 204
    assert http.delete(f'{seeded.url}/_sandbox/team-members/{TEAM_MEMBER["id"]}').status_code == 204
    assert get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}').status_code == 404
    assert get(http, seeded, f'/v2/team-members/{TEAM_MEMBER["id"]}').status_code == 404
    assert http.delete(f'{seeded.url}/_sandbox/customers/{CUSTOMER["id"]}').status_code == 400


# --- refusals ---


@pytest.mark.parametrize(('authorization', 'detail_start'), [
    (None, 'Your request did not include an `Authorization` http header'),
    ('', 'The `Authorization` http header of your request was malformed.'),
    (f'Basic {TOKEN}', 'The `Authorization` http header of your request was malformed.'),
    (f'bearer {TOKEN}', 'The `Authorization` http header of your request was malformed.'),
    ('Bearer', 'The `Authorization` http header of your request was malformed.'),
    (f'Bearer {TOKEN} extra', 'The `Authorization` http header of your request was malformed.'),
    ('Bearer not-a-token-we-issued', 'This request could not be authorized.'),
])
def test_a_missing_malformed_or_unknown_token_is_401_unauthorized(http, seeded, authorization, detail_start):
    headers = {} if authorization is None else {'Authorization': authorization}
    response = get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}', token=None, **headers)
    assert response.status_code == 401 and 'square-version' not in response.headers
    error = error_of(response)
    assert (error['category'], error['code']) == ('AUTHENTICATION_ERROR', 'UNAUTHORIZED')
    assert error['detail'].startswith(detail_start)
    assert CUSTOMER['given_name'] not in response.text and TOKEN not in response.text


def test_a_revoked_token_is_401_access_token_revoked_until_seeded_again(http, seeded):
    assert http.delete(f'{seeded.url}/_sandbox/access-tokens/{TOKEN}').status_code == 204
    response = get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}')
    assert response.status_code == 401 and error_of(response)['code'] == 'ACCESS_TOKEN_REVOKED'
    assert http.put(f'{seeded.url}/_sandbox/access-tokens/{TOKEN}', json={}).status_code == 200
    assert get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}').status_code == 200


def test_a_token_expires_by_the_sandbox_clock(http, seeded):
    short = 'EAAAl-short-lived'
    http.put(f'{seeded.url}/_sandbox/access-tokens/{short}', json={'expires_in': 60})
    assert get(http, seeded, f'/v2/team-members/{TEAM_MEMBER["id"]}', token=short).status_code == 200
    assert http.post(f'{seeded.url}/_sandbox/advance', json={'seconds': 60}).status_code == 200
    response = get(http, seeded, f'/v2/team-members/{TEAM_MEMBER["id"]}', token=short)
    assert response.status_code == 401
    assert error_of(response) == {'category': 'AUTHENTICATION_ERROR', 'code': 'ACCESS_TOKEN_EXPIRED',
                                  'detail': 'The access token has expired.'}
    assert get(http, seeded, f'/v2/team-members/{TEAM_MEMBER["id"]}').status_code == 200  # no expiry by default


def test_expire_access_tokens_expires_every_token(http, seeded):
    assert http.post(f'{seeded.url}/_sandbox/expire-access-tokens').status_code == 204
    assert error_of(get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}'))['code'] == 'ACCESS_TOKEN_EXPIRED'


@pytest.mark.parametrize(('scopes', 'path', 'missing'), [
    (['EMPLOYEES_READ'], f'/v2/customers/{CUSTOMER["id"]}', 'CUSTOMERS_READ'),
    (['CUSTOMERS_READ'], f'/v2/team-members/{TEAM_MEMBER["id"]}', 'EMPLOYEES_READ'),
])
def test_a_token_without_the_reads_scope_is_403_insufficient_scopes(http, seeded, scopes, path, missing):
    narrow = 'EAAAl-narrow'
    assert http.put(f'{seeded.url}/_sandbox/access-tokens/{narrow}', json={'scopes': scopes}).json() == {
        'access_token': narrow, 'scopes': scopes}
    response = get(http, seeded, path, token=narrow)
    assert response.status_code == 403
    error = error_of(response)
    assert (error['category'], error['code']) == ('AUTHENTICATION_ERROR', 'INSUFFICIENT_SCOPES')
    assert missing in error['detail']


@pytest.mark.parametrize('version', ['latest', '2024-1-18', '2024-13-01', '2024-02-30', '20240118', '2024-01-18T00:00:00Z',
                                     '2999-01-01', ''])
def test_a_bad_or_unreleased_square_version_is_400(http, seeded, version):
    response = get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}', **{'Square-Version': version})
    assert response.status_code == 400
    error = error_of(response)
    assert (error['category'], error['code'], error['field']) == (
        'INVALID_REQUEST_ERROR', 'INVALID_SQUARE_VERSION_FORMAT', 'Square-Version')


def test_unknown_paths_and_methods_are_answered_in_squares_shape(http, seeded):
    unknown = get(http, seeded, '/v2/bookings/BK1')
    assert unknown.status_code == 404 and error_of(unknown)['code'] == 'NOT_FOUND'
    wrong_method = http.post(f'{seeded.url}/v2/customers/{CUSTOMER["id"]}', json={},
                             headers={'Authorization': f'Bearer {TOKEN}'})
    assert wrong_method.status_code == 405 and error_of(wrong_method)['code'] == 'METHOD_NOT_ALLOWED'
    assert get(http, seeded, '/v2/customers/').status_code == 404  # an empty id is no id


def test_an_unreadable_body_is_answered_in_squares_shape(seeded):
    with socket.create_connection((seeded.host, seeded.port), timeout=5) as raw:
        raw.sendall(b'GET /v2/customers/X HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n')
        answer = b''.join(iter(lambda: raw.recv(4096), b'')).decode()  # the server closes after a bad body
    assert answer.startswith('HTTP/1.1 400') and '"code": "BAD_REQUEST"' in answer


# --- faults and the calls log ---


def test_a_fault_answers_the_next_reads_then_the_data_is_still_there(http, seeded):
    seeded.fail('retrieve_customer', 503, times=2)
    for _ in range(2):
        failed = get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}')
        assert failed.status_code == 503
        assert error_of(failed) == {'category': 'API_ERROR', 'code': 'SERVICE_UNAVAILABLE',
                                    'detail': 'Injected fault (sandbox).'}
    assert get(http, seeded, f'/v2/team-members/{TEAM_MEMBER["id"]}').status_code == 200  # other reads untouched
    assert get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}').json() == {'customer': CUSTOMER}


@pytest.mark.parametrize(('status', 'category', 'code'), [
    (429, 'RATE_LIMIT_ERROR', 'RATE_LIMITED'), (500, 'API_ERROR', 'INTERNAL_SERVER_ERROR'),
    (504, 'API_ERROR', 'GATEWAY_TIMEOUT'), (418, 'INVALID_REQUEST_ERROR', 'BAD_REQUEST'),
])
def test_a_fault_without_a_body_is_squares_error_for_its_status(http, seeded, status, category, code):
    seeded.fail('retrieve_team_member', status)
    response = get(http, seeded, f'/v2/team-members/{TEAM_MEMBER["id"]}')
    assert response.status_code == status
    assert (error_of(response)['category'], error_of(response)['code']) == (category, code)


def test_a_fault_with_its_own_body_and_headers_over_the_control_endpoint(http, seeded):
    body = {'errors': [{'category': 'RATE_LIMIT_ERROR', 'code': 'RATE_LIMITED', 'detail': 'Slow down.'}]}
    added = http.post(f'{seeded.url}/_sandbox/faults', json={'operation': 'retrieve_customer', 'status': 429,
                                                             'body': body, 'headers': {'Retry-After': '2'}})
    assert added.status_code == 201 and added.json()['faults'][0]['operation'] == 'retrieve_customer'
    response = get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}')
    assert response.status_code == 429 and response.json() == body and response.headers['retry-after'] == '2'
    assert http.get(f'{seeded.url}/_sandbox/faults').json() == {'faults': []}


def test_a_fault_after_the_read_replaces_whatever_the_read_answered(http, seeded):
    seeded.fail('retrieve_customer', 502, after=True)
    assert get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}', token='wrong').status_code == 502
    assert seeded.calls() == [{'method': 'GET', 'path': f'/v2/customers/{CUSTOMER["id"]}',
                               'operation': 'retrieve_customer', 'status': 502}]


def test_a_delayed_read_times_the_client_out_then_the_next_read_answers(http, seeded):
    added = http.post(f'{seeded.url}/_sandbox/delays', json={'operation': 'retrieve_customer', 'seconds': 3})
    assert added.status_code == 201 and added.json() == {
        'delays': [{'operation': 'retrieve_customer', 'seconds': 3.0, 'times': 1}]}
    with httpx2.Client(trust_env=False, timeout=0.2) as impatient:
        with pytest.raises(httpx2.ReadTimeout):
            get(impatient, seeded, f'/v2/customers/{CUSTOMER["id"]}')
        assert get(impatient, seeded, f'/v2/team-members/{TEAM_MEMBER["id"]}').status_code == 200  # not held up
        assert get(impatient, seeded, f'/v2/customers/{CUSTOMER["id"]}').json() == {'customer': CUSTOMER}
    assert http.get(f'{seeded.url}/_sandbox/delays').json() == {'delays': []}


def test_clearing_faults_clears_delays_too(http, square):
    square.delay('retrieve_team_member', 5, times=3)
    square.fail('retrieve_team_member', 500)
    assert http.delete(f'{square.url}/_sandbox/faults').status_code == 204
    assert square.pending_delays() == [] and square.pending_faults() == []


@pytest.mark.parametrize('body', [{'operation': 'list_customers', 'seconds': 1}, {'operation': 'retrieve_customer'},
                                  {'operation': 'retrieve_customer', 'seconds': 0},
                                  {'operation': 'retrieve_customer', 'seconds': 61},
                                  {'operation': 'retrieve_customer', 'seconds': 1, 'times': 0}])
def test_a_bad_delay_is_400(http, square, body):
    response = http.post(f'{square.url}/_sandbox/delays', json=body)
    assert response.status_code == 400 and response.json()['error']
    assert square.pending_delays() == []


def test_fail_checks_its_arguments(square):
    with pytest.raises(ValueError):
        square.fail('create_customer', 500)
    with pytest.raises(ValueError):
        square.fail('retrieve_customer', 42)
    assert square.pending_faults() == []


def test_the_calls_log_has_every_api_request_and_no_control_request(http, seeded):
    get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}')
    get(http, seeded, f'/v2/team-members/{TEAM_MEMBER["id"]}', token='wrong')
    get(http, seeded, '/v2/locations')
    http.get(f'{seeded.url}/_sandbox/state')
    assert seeded.calls() == [
        {'method': 'GET', 'path': f'/v2/customers/{CUSTOMER["id"]}', 'operation': 'retrieve_customer', 'status': 200},
        {'method': 'GET', 'path': f'/v2/team-members/{TEAM_MEMBER["id"]}', 'operation': 'retrieve_team_member',
         'status': 401},
        {'method': 'GET', 'path': '/v2/locations', 'operation': None, 'status': 404},
    ]
    listed = http.get(f'{seeded.url}/_sandbox/calls', params={'operation': 'retrieve_customer'}).json()['calls']
    assert listed == seeded.calls('retrieve_customer') and len(listed) == 1
    assert http.delete(f'{seeded.url}/_sandbox/calls').status_code == 204 and seeded.calls() == []


# --- control endpoints ---


def test_a_put_again_replaces_the_customer(http, seeded):
    changed = {**CUSTOMER, 'email_address': 'amelia@example.org', 'version': 2}
    assert http.put(f'{seeded.url}/_sandbox/customers/{CUSTOMER["id"]}', json=changed).json() == changed
    assert get(http, seeded, f'/v2/customers/{CUSTOMER["id"]}').json() == {'customer': changed}


def test_a_seeded_object_without_an_id_takes_the_paths(http, square):
    put = http.put(f'{square.url}/_sandbox/team-members/TM2', json={'given_name': 'Lee', 'status': 'INACTIVE'})
    assert put.status_code == 200 and put.json() == {'given_name': 'Lee', 'status': 'INACTIVE', 'id': 'TM2'}
    assert square.team_members == {'TM2': put.json()}


@pytest.mark.parametrize(('path', 'body', 'message'), [
    ('customers/C1', {'id': 'C2'}, 'not the id in the path'),
    ('customers/C1', {'given_name': 7}, 'customer given_name must be a string'),
    ('team-members/T1', {'status': 'GONE'}, 'status must be one of ACTIVE, INACTIVE'),
    ('team-members/T1', {'is_owner': 'yes'}, 'is_owner must be a boolean'),
    ('access-tokens/T', {'scopes': 'CUSTOMERS_READ'}, 'scopes must be a list of strings'),
    ('access-tokens/T', {'expires_in': 0}, 'expires_in must be a positive number'),
])
def test_a_bad_seed_is_400_naming_the_problem(http, square, path, body, message):
    response = http.put(f'{square.url}/_sandbox/{path}', json=body)
    assert response.status_code == 400 and message in response.json()['error']
    assert square.customers == {} and square.team_members == {} and square.access_tokens == {}


def test_a_seed_must_be_a_json_object(http, square):
    for path in ('customers/C1', 'team-members/T1', 'access-tokens/T'):
        response = http.put(f'{square.url}/_sandbox/{path}', content=b'[1]')
        assert response.status_code == 400 and response.json() == {'error': 'the body must be a JSON object'}


def test_control_paths_that_do_not_exist(http, square):
    assert http.get(f'{square.url}/_sandbox/customers/C1').status_code == 405
    assert http.put(f'{square.url}/_sandbox/bookings/B1', json={}).status_code == 404
    assert http.put(f'{square.url}/_sandbox/customers', json={}).status_code == 404


def test_state_shows_what_was_seeded(http, seeded):
    state = http.get(f'{seeded.url}/_sandbox/state').json()
    assert state['customers'] == {CUSTOMER['id']: CUSTOMER}
    assert state['team_members'] == {TEAM_MEMBER['id']: TEAM_MEMBER}
    assert state['access_tokens'] == {TOKEN: {'scopes': ['CUSTOMERS_READ', 'EMPLOYEES_READ'], 'expires_at': None}}
    assert state['default_version'] == seeded.default_version and state['url'] == seeded.url


def test_the_index_page_lists_the_seeded_people(http, seeded):
    page = http.get(seeded.url + '/')
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
    assert 'Amelia' in page.text and 'Sandy' in page.text and '/_sandbox/customers/{id}' in page.text
    assert TOKEN not in page.text


def test_a_default_version_must_be_a_release():
    with pytest.raises(ValueError):
        SquareSandbox(default_version='2025-13-01')
    with pytest.raises(ValueError):
        SquareSandbox(default_version='2026-01-01', latest_version='2025-10-16')


def test_the_module_runs_alone_with_a_seeded_token_until_sigterm(http):
    process = subprocess.Popen([sys.executable, '-m', 'infra.sandboxes.square', '--port', '0', '--access-token', TOKEN],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith('Square sandbox on http://127.0.0.1:'), process.stderr.read()
        url = first_line.split()[3]
        http.put(f'{url}/_sandbox/customers/C1', json={'given_name': 'Ada'})
        answer = http.get(f'{url}/v2/customers/C1', headers={'Authorization': f'Bearer {TOKEN}'})
        assert answer.json() == {'customer': {'given_name': 'Ada', 'id': 'C1'}}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()
