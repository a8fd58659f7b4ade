"""The SimplyBook sandbox over HTTP: getToken and getBookingDetails, every refusal, faults, the calls log, the
control endpoints, the index page and the module on its own. Nothing here reaches the internet."""

import itertools
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from infra.sandboxes.simplybook import SimplyBookSandbox, booking_sign

REPO = Path(__file__).resolve().parents[2]
HASH = '514ccafaa45aa779ff50e4642c37ba5d'
DETAILS = {'id': '1042', 'code': 'p3x2k9aa', 'event_id': '3', 'event_name': 'Consultation', 'unit_id': '2',
           'unit_name': 'Dana Reyes', 'unit_email': 'dana@clinic.example', 'client_id': '17',
           'client_name': 'Zoë Nakamura', 'client_email': 'zoe@client.example',
           'start_date_time': '2030-03-04 09:30:00', 'end_date_time': '2030-03-04 10:00:00',
           'additional_fields': [{'field_name': 'notes', 'value': 'first visit'}]}
_companies = itertools.count(1)


@pytest.fixture(scope='module')
def simplybook():
    sandbox = SimplyBookSandbox().start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(autouse=True)
def clean(simplybook):
    simplybook.clear_faults()
    simplybook.reset_calls()


@pytest.fixture
def company(http, simplybook):
    """A fresh company with booking 1042, seeded over the control endpoints: (login, api_key, secret_key)."""
    login = f'clinic{next(_companies)}'
    assert http.put(f'{simplybook.url}/_sandbox/companies/{login}',
                    json={'api_key': 'api-key-' + login, 'secret_key': 'secret-' + login}).status_code == 201
    assert http.put(f'{simplybook.url}/_sandbox/companies/{login}/bookings/1042',
                    json={'hash': HASH, 'details': DETAILS}).status_code == 201
    return login, 'api-key-' + login, 'secret-' + login


def rpc(http, url, method, params, headers=None, request_id=7, **extra):
    return http.post(url, json={'jsonrpc': '2.0', 'method': method, 'params': params, 'id': request_id, **extra},
                     headers=headers or {})


def error_of(response):
    assert response.status_code == 200, response.text  # SimplyBook answers JSON-RPC errors with HTTP 200
    body = response.json()
    assert 'result' not in body and body['jsonrpc'] == '2.0', body
    return body['error']['code'], body['error']['message']


def token_for(http, simplybook, login, api_key):
    response = rpc(http, simplybook.url + '/login', 'getToken', [login, api_key])
    assert response.status_code == 200 and isinstance(response.json()['result'], str), response.text
    return response.json()['result']


def details(http, simplybook, login, token, params, request_id=7):
    return rpc(http, simplybook.url + '/', 'getBookingDetails', params, {'X-Company-Login': login, 'X-Token': token},
               request_id=request_id)


def test_the_sign_is_md5_of_id_hash_and_secret_concatenated():
    assert booking_sign('1042', HASH, 'sandbox-secret') == 'cf0fd4123b06fb2ba9960727782c11f7'


def test_a_token_then_the_booking_details_exactly_as_seeded(http, simplybook, company):
    login, api_key, secret = company
    token = token_for(http, simplybook, login, api_key)
    response = details(http, simplybook, login, token, ['1042', booking_sign('1042', HASH, secret)], request_id='abc')
    assert response.status_code == 200 and response.headers['content-type'] == 'application/json'
    assert response.json() == {'result': DETAILS, 'id': 'abc', 'jsonrpc': '2.0'}
    # the id as a number, as a client may send it, signs the same digits
    again = details(http, simplybook, login, token, [1042, booking_sign('1042', HASH, secret)])
    assert again.json()['result'] == DETAILS


def test_a_second_put_replaces_the_details_as_a_change_at_simplybook(http, simplybook, company):
    login, api_key, secret = company
    moved = dict(DETAILS, start_date_time='2030-03-05 11:00:00', end_date_time='2030-03-05 11:30:00')
    put = http.put(f'{simplybook.url}/_sandbox/companies/{login}/bookings/1042', json={'hash': HASH, 'details': moved})
    assert put.status_code == 200 and put.json() == {'company': login, 'booking_id': '1042'}
    token = token_for(http, simplybook, login, api_key)
    assert details(http, simplybook, login, token, ['1042', booking_sign('1042', HASH, secret)]).json()['result'] == moved


@pytest.mark.parametrize('params, error', [
    (['nobody-here', 'any'], (-33001, 'Company does not exist')),
    ([None, 'any'], (-32602, 'Invalid params')),
    ([], (-32010, 'Some required params are missed')),
])
def test_get_token_refusals(http, simplybook, params, error):
    assert error_of(rpc(http, simplybook.url + '/login', 'getToken', params)) == error


def test_get_token_refuses_a_wrong_api_key_and_params_that_are_not_an_array(http, simplybook, company):
    login, api_key, _ = company
    assert error_of(rpc(http, simplybook.url + '/login', 'getToken', [login, api_key + 'x'])) == (
        -33002, 'Wrong API key')
    assert error_of(rpc(http, simplybook.url + '/login', 'getToken', {'companyLogin': login, 'apiKey': api_key})) == (
        -32011, 'Params is not array')


def test_get_booking_details_refusals(http, simplybook, company):
    login, api_key, secret = company
    token = token_for(http, simplybook, login, api_key)
    good = ['1042', booking_sign('1042', HASH, secret)]
    url = simplybook.url + '/'
    assert error_of(rpc(http, url, 'getBookingDetails', good, {'X-Token': token})) == (
        -32600, 'Company does not exists')
    assert error_of(details(http, simplybook, 'nobody-here', token, good)) == (-32600, 'Company does not exists')
    assert error_of(rpc(http, url, 'getBookingDetails', good, {'X-Company-Login': login})) == (-32600, 'Access denied')
    assert error_of(details(http, simplybook, login, 'f' * 64, good)) == (-32600, 'Access denied')
    assert error_of(details(http, simplybook, login, token, ['9999', good[1]])) == (
        -32080, "Appointemnt couldn't be found")
    forged = booking_sign('1042', '0' * 32, secret)  # a callback with a made-up booking_hash
    assert error_of(details(http, simplybook, login, token, ['1042', forged])) == (-32085, 'Signature error')
    assert error_of(details(http, simplybook, login, token, ['1042', booking_sign('1042', HASH, 'api-key')])) == (
        -32085, 'Signature error')
    assert error_of(details(http, simplybook, login, token, ['1042', good[1].upper()])) == (-32085, 'Signature error')
    assert error_of(details(http, simplybook, login, token, ['1042'])) == (-32010, 'Some required params are missed')
    assert error_of(details(http, simplybook, login, token, [['1042'], good[1]])) == (-32602, 'Invalid params')


def test_a_token_serves_only_its_own_company(http, simplybook, company):
    login, api_key, _ = company
    other = f'clinic{next(_companies)}'
    simplybook.add_company(other, 'other-key', 'other-secret')
    simplybook.put_booking(other, '1042', HASH, DETAILS)
    token = token_for(http, simplybook, login, api_key)
    assert error_of(details(http, simplybook, other, token, ['1042', booking_sign('1042', HASH, 'other-secret')])) == (
        -32600, 'Access denied')


def test_tokens_expire_by_the_sandbox_clock_and_on_demand():
    with SimplyBookSandbox(token_ttl=60) as sandbox, httpx2.Client(trust_env=False, timeout=5.0) as http:
        sandbox.add_company('acme', 'k', 's')
        sandbox.put_booking('acme', '5', HASH, DETAILS)
        sign = booking_sign('5', HASH, 's')
        token = token_for(http, sandbox, 'acme', 'k')
        assert details(http, sandbox, 'acme', token, ['5', sign]).json()['result'] == DETAILS
        assert http.post(sandbox.url + '/_sandbox/advance', json={'seconds': 61}).status_code == 200
        assert error_of(details(http, sandbox, 'acme', token, ['5', sign])) == (-32600, 'Access denied')
        fresh = token_for(http, sandbox, 'acme', 'k')
        assert details(http, sandbox, 'acme', fresh, ['5', sign]).json()['result'] == DETAILS
        assert http.post(sandbox.url + '/_sandbox/expire-access-tokens').status_code == 204
        assert error_of(details(http, sandbox, 'acme', fresh, ['5', sign])) == (-32600, 'Access denied')


def test_new_keys_for_a_company_refuse_the_old_ones_and_keep_its_bookings(http, simplybook, company):
    login, api_key, _ = company
    put = http.put(f'{simplybook.url}/_sandbox/companies/{login}', json={'api_key': 'new-key', 'secret_key': 'new-s'})
    assert put.status_code == 200 and put.json() == {'company': login}
    assert error_of(rpc(http, simplybook.url + '/login', 'getToken', [login, api_key])) == (-33002, 'Wrong API key')
    token = token_for(http, simplybook, login, 'new-key')
    assert details(http, simplybook, login, token, ['1042', booking_sign('1042', HASH, 'new-s')]).json()[
        'result'] == DETAILS


@pytest.mark.parametrize('path, method', [('/login', 'getBookingDetails'), ('/', 'getToken'), ('/', 'getBookings'),
                                          ('/login', '')])
def test_a_method_the_endpoint_does_not_serve_is_not_found(http, simplybook, path, method):
    assert error_of(rpc(http, simplybook.url + path, method, [])) == (-32601, 'Method not found')


@pytest.mark.parametrize('body, error', [
    (b'{"jsonrpc": "2.0", "method": ', (-32700, 'Parse error')),
    (b'\xff\xfe', (-32700, 'Parse error')),
    (b'[{"jsonrpc": "2.0", "method": "getToken", "params": ["a", "b"], "id": 1}]', (-32600, 'Invalid Request')),
    (b'{"method": "getToken", "params": ["a", "b"], "id": 1}', (-32600, 'Invalid Request')),
    (b'{"jsonrpc": "1.0", "method": "getToken", "params": ["a", "b"], "id": 1}', (-32600, 'Invalid Request')),
    (b'{"jsonrpc": "2.0", "method": 5, "id": 1}', (-32600, 'Invalid Request')),
])
def test_malformed_calls_are_answered_as_json_rpc_errors(http, simplybook, body, error):
    response = http.post(simplybook.url + '/login', content=body, headers={'Content-Type': 'application/json'})
    assert error_of(response) == error


def test_paths_and_verbs_outside_the_api(http, simplybook):
    assert http.get(simplybook.url + '/login').status_code == 405
    missing = http.post(simplybook.url + '/admin', json={'jsonrpc': '2.0', 'method': 'getBookings', 'id': 1})
    assert missing.status_code == 404 and missing.headers['content-type'].startswith('text/html')


def test_a_fault_answers_the_next_calls_of_its_operation_with_an_error_page_then_stops(http, simplybook, company):
    login, api_key, secret = company
    token = token_for(http, simplybook, login, api_key)
    sign = booking_sign('1042', HASH, secret)
    simplybook.fail('get_booking_details', 503, times=2)
    for _ in range(2):
        failed = details(http, simplybook, login, token, ['1042', sign])
        assert failed.status_code == 503 and failed.headers['content-type'].startswith('text/html')
    assert token_for(http, simplybook, login, api_key)  # the other operation is untouched
    assert details(http, simplybook, login, token, ['1042', sign]).json()['result'] == DETAILS


def test_a_fault_with_its_own_body_and_headers_set_over_http(http, simplybook, company):
    login, api_key, _ = company
    added = http.post(simplybook.url + '/_sandbox/faults', json={
        'operation': 'get_token', 'status': 429, 'body': {'error': 'slow down'}, 'headers': {'Retry-After': '2'}})
    assert added.status_code == 201 and added.json()['faults'] == [
        {'operation': 'get_token', 'status': 429, 'times': 1, 'after': False}]
    limited = rpc(http, simplybook.url + '/login', 'getToken', [login, api_key])
    assert limited.status_code == 429 and limited.headers['retry-after'] == '2'
    assert limited.json() == {'error': 'slow down'}
    assert http.get(simplybook.url + '/_sandbox/faults').json() == {'faults': []}
    assert token_for(http, simplybook, login, api_key)


def test_a_lost_answer_is_logged_once_and_cleared_faults_answer_no_more(http, simplybook, company):
    login, api_key, secret = company
    simplybook.fail('get_token', 504, after=True)
    assert rpc(http, simplybook.url + '/login', 'getToken', [login, api_key]).status_code == 504
    assert len(simplybook.calls('get_token')) == 1
    simplybook.fail('get_booking_details', 500, times=3)
    assert http.delete(simplybook.url + '/_sandbox/faults').status_code == 204
    token = token_for(http, simplybook, login, api_key)
    assert details(http, simplybook, login, token, ['1042', booking_sign('1042', HASH, secret)]).status_code == 200


@pytest.mark.parametrize('args', [('getBookingDetails', 500), ('get_token', 42), ('get_token', '500'),
                                  ('get_token', 500, None, None, 0)])
def test_fail_checks_its_arguments(simplybook, args):
    with pytest.raises(ValueError):
        simplybook.fail(*args)


def test_the_calls_log_has_each_api_call_with_its_company_and_never_a_secret(http, simplybook, company):
    login, api_key, secret = company
    token = token_for(http, simplybook, login, api_key)
    details(http, simplybook, login, token, ['1042', booking_sign('1042', HASH, secret)])
    details(http, simplybook, login, token, ['1042', '0' * 32])
    rpc(http, simplybook.url + '/', 'getBookings', [], {'X-Company-Login': login, 'X-Token': token})
    http.get(simplybook.url + '/_sandbox/state')  # control calls are not logged
    calls = http.get(simplybook.url + '/_sandbox/calls').json()['calls']
    assert [(c['method'], c['path'], c['operation'], c['status'], c['company']) for c in calls] == [
        ('POST', '/login', 'get_token', 200, login),
        ('POST', '/', 'get_booking_details', 200, login),
        ('POST', '/', 'get_booking_details', 200, login),
        ('POST', '/', None, 200, login)]
    assert token not in str(calls) and api_key not in str(calls) and secret not in str(calls)
    only = http.get(simplybook.url + '/_sandbox/calls', params={'operation': 'get_booking_details'}).json()['calls']
    assert len(only) == 2
    assert http.delete(simplybook.url + '/_sandbox/calls').status_code == 204
    assert simplybook.calls() == []


def test_state_lists_companies_and_booking_ids_without_keys(http, simplybook, company):
    login, api_key, secret = company
    state = http.get(simplybook.url + '/_sandbox/state').json()
    assert state['url'] == simplybook.url and state['now'].endswith('Z')
    assert state['companies'][login] == {'bookings': ['1042']}
    assert api_key not in str(state) and secret not in str(state)


@pytest.mark.parametrize('path, body, status', [
    ('/_sandbox/companies/{login}', {'api_key': 'k'}, 400),
    ('/_sandbox/companies/{login}', {'api_key': '', 'secret_key': 's'}, 400),
    ('/_sandbox/companies/{login}', {'api_key': 'k', 'secret_key': 's', 'plan': 'gold'}, 400),
    ('/_sandbox/companies/{login}', [1, 2], 400),
    ('/_sandbox/companies/{login}/bookings/1042', {'hash': 'ABC', 'details': {}}, 400),
    ('/_sandbox/companies/{login}/bookings/1042', {'hash': HASH.upper(), 'details': {}}, 400),
    ('/_sandbox/companies/{login}/bookings/1042', {'hash': HASH, 'details': [1]}, 400),
    ('/_sandbox/companies/{login}/bookings/1042', {'hash': HASH}, 400),
    ('/_sandbox/companies/{login}/bookings/x1', {'hash': HASH, 'details': {}}, 400),
    ('/_sandbox/companies/{login}/bookings/1042', {'hash': HASH, 'details': {}, 'status': 'x'}, 400),
    ('/_sandbox/companies/nobody-here/bookings/1042', {'hash': HASH, 'details': {}}, 404),
    ('/_sandbox/companies/{login}/clients/1', {}, 404),
])
def test_control_endpoints_refuse_bad_input_with_json_4xx(http, simplybook, company, path, body, status):
    response = http.put(simplybook.url + path.format(login=company[0]), json=body)
    assert response.status_code == status and isinstance(response.json()['error'], str), response.text
    assert simplybook.companies[company[0]] == {'bookings': ['1042']}  # nothing changed


def test_control_company_paths_take_only_put(http, simplybook, company):
    response = http.get(f'{simplybook.url}/_sandbox/companies/{company[0]}')
    assert response.status_code == 405 and 'error' in response.json()


def test_index_page_lists_companies_and_the_control_endpoints(http, simplybook, company):
    page = http.get(simplybook.url + '/')
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
    assert company[0] in page.text and 'PUT /_sandbox/companies/{company}/bookings/{booking_id}' in page.text
    assert company[1] not in page.text and company[2] not in page.text


def test_an_oversized_body_is_refused_cleanly(simplybook):
    with socket.create_connection(('127.0.0.1', simplybook.port), timeout=5) as sock:
        sock.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n')
        answer = sock.recv(65536)
    assert answer.startswith(b'HTTP/1.1 413')


def test_runs_alone_as_a_module(http):
    process = subprocess.Popen([sys.executable, '-m', 'infra.sandboxes.simplybook', '--port', '0'], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith('SimplyBook sandbox on http://127.0.0.1:'), process.stderr.read()
        url = first_line.split()[3]
        assert http.put(url + '/_sandbox/companies/acme', json={'api_key': 'k', 'secret_key': 's'}).status_code == 201
        assert rpc(http, url + '/login', 'getToken', ['acme', 'k']).json()['result']
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()


def test_the_module_reports_a_busy_port(simplybook):
    result = subprocess.run([sys.executable, '-m', 'infra.sandboxes.simplybook', '--port', str(simplybook.port)],
                            cwd=REPO, capture_output=True, text=True, timeout=20)
    assert result.returncode == 1 and 'cannot listen' in result.stderr and 'Traceback' not in result.stderr


def test_a_call_without_an_id_is_still_answered(http, simplybook, company):
    response = http.post(simplybook.url + '/login',
                         json={'jsonrpc': '2.0', 'method': 'getToken', 'params': [company[0], company[1]]})
    assert response.status_code == 200 and response.json()['id'] is None
    assert isinstance(response.json()['result'], str) and len(response.json()['result']) == 64
