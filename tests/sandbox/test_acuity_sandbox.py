"""The Acuity sandbox over HTTP: its appointment lookup with Basic auth, every refusal in Acuity's error
shape, the seeding endpoints, faults, stalls, the rate limit, the calls log, the signed webhook it sends,
the index and the CLI."""

import base64
import copy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from zoom_sandbox_support import Receiver

from infra.sandboxes.acuity import AcuitySandbox, form_body, sign

REPO = Path(__file__).resolve().parents[2]
USER_ID, API_KEY = '8123456', 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
OTHER_USER_ID, OTHER_API_KEY = '9000001', 'f0e9d8c7b6a5948372615049382716aa'
APPOINTMENT_ID = 1204583921
UNAUTHORIZED = {'status_code': 401, 'message': 'Unauthorized', 'error': 'unauthorized'}
NOT_FOUND = {'status_code': 404, 'message': 'Not Found', 'error': 'not_found'}
ROUTE_HINT = {'status_code': 404, 'message': 'Not Found. Did you mean `/appointments/{id:number}`?',
              'error': 'not_found'}
# The reference's example body, signed with USER_ID's key by `openssl dgst -sha256 -hmac KEY -binary | base64`.
EXAMPLE_BODY = b'action=scheduled&id=1204583921&calendarID=8123456&appointmentTypeID=51234567'
EXAMPLE_SIGNATURE = 'UXRkR3Vj/M/JbkSqFUB1zUAnt1+o0dV3kO3jsRXw5VY='
RATE_LIMITED = {'status_code': 429, 'error': 'too_many_requests',
                'message': 'Rate limit reached. Limit 10req/s and 20 concurrent connections.'}


def appointment(appointment_id: int = APPOINTMENT_ID, **overrides):
    """What Acuity answers for GET /api/v1/appointments/{id} (fields as in its docs' example)."""
    return {'id': appointment_id, 'firstName': 'Bob', 'lastName': 'McTest', 'phone': '', 'email': 'bob@example.com',
            'date': 'March 4, 2030', 'time': '9:30am', 'endTime': '10:30am', 'dateCreated': 'February 1, 2030',
            'datetimeCreated': '2030-02-01T12:00:00-0500', 'datetime': '2030-03-04T09:30:00-0500', 'price': '80.00',
            'priceSold': '80.00', 'paid': 'no', 'amountPaid': '0.00', 'type': 'Consultation',
            'appointmentTypeID': 51234567, 'classID': None, 'addonIDs': [], 'category': '', 'duration': '60',
            'calendar': 'Dana Reyes', 'calendarID': 8123456, 'certificate': None,
            'confirmationPage': 'https://acuityscheduling.com/schedule.php?owner=8123456&action=appt&id%5B%5D=abc',
            'location': '', 'notes': 'Ünïcode notes', 'timezone': 'America/New_York', 'calendarTimezone':
            'America/New_York', 'canceled': False, 'canClientCancel': True, 'canClientReschedule': True,
            'labels': None, 'forms': [{'id': 1, 'name': 'Intake', 'values': [
                {'id': 21502993, 'fieldID': 1, 'value': 'yes', 'name': 'First visit?'}]}],
            'formsText': 'Name: Bob McTest', **overrides}


@pytest.fixture(scope='module')
def acuity():
    sandbox = AcuitySandbox().start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(autouse=True)
def seeded(acuity):
    acuity.clear_faults()
    acuity.set_user(USER_ID, API_KEY)
    acuity.set_user(OTHER_USER_ID, OTHER_API_KEY)
    acuity.set_appointment(appointment())
    acuity.reset_calls()


def get(http, acuity, appointment_id=APPOINTMENT_ID, auth=(USER_ID, API_KEY), **kwargs):
    return http.get(f'{acuity.api_base}/appointments/{appointment_id}', auth=auth, **kwargs)


def control(http, acuity, method, path, **kwargs):
    return http.request(method, f'{acuity.url}/_sandbox/{path}', **kwargs)


# --- the API ---


def test_a_seeded_appointment_is_answered_exactly_as_seeded(http, acuity):
    response = get(http, acuity)
    assert response.status_code == 200 and response.headers['content-type'] == 'application/json; charset=utf-8'
    assert response.json() == appointment()


def test_head_answers_like_get_without_a_body(http, acuity):
    response = http.head(f'{acuity.api_base}/appointments/{APPOINTMENT_ID}', auth=(USER_ID, API_KEY))
    assert response.status_code == 200 and response.content == b''


def _basic(text: str) -> dict[str, str]:
    return {'Authorization': 'Basic ' + base64.b64encode(text.encode()).decode()}


@pytest.mark.parametrize('headers', [
    {},
    _basic(f'{USER_ID}:wrong-key'),
    _basic(f'{USER_ID}:{OTHER_API_KEY}'),  # a real key, of another user
    _basic(f'1111111:{API_KEY}'),
    _basic(f'{USER_ID}:'),
    _basic(USER_ID),
    _basic(f':{API_KEY}'),
    {'Authorization': f'Bearer {API_KEY}'},
    {'Authorization': 'Basic not base64!'},
    {'Authorization': 'Basic ' + base64.b64encode(b'\xff\xfe:x').decode()},
], ids=['none', 'wrong-key', 'other-users-key', 'unknown-user', 'empty-key', 'no-colon', 'no-user', 'bearer',
        'bad-base64', 'not-utf8'])
def test_bad_credentials_are_401_unauthorized(http, acuity, headers):
    response = http.get(f'{acuity.api_base}/appointments/{APPOINTMENT_ID}', headers=headers)
    assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_an_unknown_id_is_404_not_found(http, acuity):
    response = get(http, acuity, 999)
    assert response.status_code == 404 and response.json() == NOT_FOUND


def test_an_appointment_of_one_user_is_not_found_for_another(http, acuity):
    acuity.set_appointment(appointment(555, calendarID=1), user_id=USER_ID)
    assert get(http, acuity, 555).status_code == 200
    response = get(http, acuity, 555, auth=(OTHER_USER_ID, OTHER_API_KEY))
    assert response.status_code == 404 and response.json() == NOT_FOUND


@pytest.mark.parametrize('path', ['/api/v1/appointments/abc', '/api/v1/appointments/-1', '/api/v1/appointments',
                                  '/api/v1/appointments/1/2'])
def test_a_path_that_is_not_a_numeric_id_gets_acuitys_hint(http, acuity, path):
    response = http.get(acuity.url + path, auth=(USER_ID, API_KEY))
    assert response.status_code == 404 and response.json() == ROUTE_HINT


def test_other_paths_are_404_and_other_methods_405(http, acuity):
    typo = http.get(acuity.url + '/api/v1/appointment/1', auth=(USER_ID, API_KEY))
    assert typo.status_code == 404 and typo.json() == NOT_FOUND
    for method in ('PUT', 'POST', 'DELETE'):
        response = http.request(method, f'{acuity.api_base}/appointments/{APPOINTMENT_ID}', auth=(USER_ID, API_KEY))
        assert response.status_code == 405
        assert response.json() == {'status_code': 405, 'message': 'Method Not Allowed', 'error': 'method_not_allowed'}
    assert get(http, acuity).json() == appointment()  # nothing changed


def test_a_new_api_key_replaces_the_old_one(http, acuity):
    assert control(http, acuity, 'PUT', f'users/{USER_ID}', json={'api_key': 'new-key'}).status_code == 204
    assert get(http, acuity).status_code == 401
    assert get(http, acuity, auth=(USER_ID, 'new-key')).status_code == 200


def test_seeding_again_changes_what_is_answered(http, acuity):
    moved = appointment(datetime='2030-03-05T14:00:00-0500', time='2:00pm')
    assert control(http, acuity, 'PUT', f'appointments/{APPOINTMENT_ID}', json=moved).status_code == 204
    assert get(http, acuity).json() == moved
    canceled = appointment(canceled=True)
    assert control(http, acuity, 'PUT', f'appointments/{APPOINTMENT_ID}', json=canceled).status_code == 204
    assert get(http, acuity).json()['canceled'] is True


def test_a_deleted_appointment_is_404(http, acuity):
    assert control(http, acuity, 'DELETE', f'appointments/{APPOINTMENT_ID}').status_code == 204
    assert get(http, acuity).json() == NOT_FOUND
    gone = control(http, acuity, 'DELETE', f'appointments/{APPOINTMENT_ID}')
    assert gone.status_code == 404 and 'no appointment' in gone.json()['error']


def test_an_unreadable_body_is_refused_in_acuitys_shape(acuity):
    with socket.create_connection(('127.0.0.1', acuity.port), timeout=5) as raw:
        raw.sendall(b'GET /api/v1/appointments/1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')
        answer = b''.join(iter(lambda: raw.recv(4096), b'')).decode()  # the sandbox closes the connection
    assert answer.startswith('HTTP/1.1 400') and '"status_code": 400' in answer and '"error": "bad_request"' in answer


# --- seeding ---


@pytest.mark.parametrize('body, field', [
    (appointment(id=1), 'id'),
    (appointment(id='1204583921'), 'id'),
    ({k: v for k, v in appointment().items() if k != 'firstName'}, 'firstName'),
    (appointment(email=None), 'email'),
    (appointment(duration=60), 'duration'),
    (appointment(duration='an hour'), 'duration'),
    (appointment(datetime='2030-03-04T09:30:00-05:00'), 'datetime'),
    (appointment(datetime='2030-03-04T09:30:00'), 'datetime'),
    (appointment(appointmentTypeID='51234567'), 'appointmentTypeID'),
    (appointment(calendarID=True), 'calendarID'),
    (appointment(timezone='Eastern'), 'timezone'),
    (appointment(phone=None), 'phone'),
    (appointment(phone=4155550100), 'phone'),
    (appointment(canceled='false'), 'canceled'),
    (appointment(paid=True), 'paid'),
    (appointment(price=80), 'price'),
    (appointment(amountPaid='0'), 'amountPaid'),
    ([appointment()], 'JSON object'),
])
def test_a_seeded_appointment_must_have_acuitys_shape(http, acuity, body, field):
    response = control(http, acuity, 'PUT', f'appointments/{APPOINTMENT_ID}', json=body)
    assert response.status_code == 400 and field in response.json()['error']
    assert get(http, acuity).json() == appointment()  # the previous one stays


@pytest.mark.parametrize('method, path, body', [
    ('PUT', 'appointments/abc', appointment()),
    ('PUT', f'appointments/{APPOINTMENT_ID}?user_id=dana', appointment()),
    ('PUT', 'users/dana', {'api_key': 'k'}),
    ('PUT', f'users/{USER_ID}', {}),
    ('PUT', f'users/{USER_ID}', {'api_key': ''}),
    ('PUT', f'users/{USER_ID}', {'api_key': 'k', 'email': 'x@example.com'}),
    ('POST', 'faults', {'operation': 'list_appointments', 'status': 500}),
    ('POST', 'faults', {'operation': 'get_appointment', 'status': 'x'}),
    ('POST', 'stalls', {'seconds': 0}),
    ('POST', 'stalls', {'seconds': 31}),
    ('POST', 'stalls', {'seconds': 1, 'times': 0}),
])
def test_control_endpoints_answer_bad_input_with_400(http, acuity, method, path, body):
    response = control(http, acuity, method, path, json=body)
    assert response.status_code == 400 and response.json()['error']
    assert get(http, acuity).status_code == 200  # credentials and the appointment are untouched


def test_seeding_for_one_user_through_the_control_endpoint(http, acuity):
    path = f'appointments/{APPOINTMENT_ID}?user_id={OTHER_USER_ID}'
    assert control(http, acuity, 'PUT', path, json=appointment()).status_code == 204
    assert get(http, acuity).status_code == 404
    assert get(http, acuity, auth=(OTHER_USER_ID, OTHER_API_KEY)).json() == appointment()


def test_the_python_api_checks_what_it_is_given(acuity):
    with pytest.raises(ValueError, match='datetime'):
        acuity.set_appointment(appointment(datetime='tomorrow'))
    with pytest.raises(ValueError, match='user_id'):
        acuity.set_user('dana', 'k')
    with pytest.raises(ValueError, match='user_id'):
        acuity.set_appointment(appointment(), user_id='dana')
    with pytest.raises(ValueError, match='seconds'):
        acuity.stall(-1)


# --- faults, stalls, the rate limit, the calls log ---


def test_a_fault_answers_the_next_lookups_then_they_recover(http, acuity):
    acuity.fail('get_appointment', 503, times=2)
    for _ in range(2):
        failed = get(http, acuity)
        assert failed.status_code == 503
        assert failed.json() == {'status_code': 503, 'message': 'Service Unavailable', 'error': 'service_unavailable'}
    assert get(http, acuity).json() == appointment()
    assert [call['status'] for call in acuity.calls('get_appointment')] == [503, 503, 200]


def test_an_injected_429_has_acuitys_rate_limit_body(http, acuity):
    control(http, acuity, 'POST', 'faults', json={'operation': 'get_appointment', 'status': 429})
    response = get(http, acuity)
    assert response.status_code == 429 and response.json() == RATE_LIMITED


def test_a_fault_with_its_own_body_and_headers(http, acuity):
    acuity.fail('get_appointment', 502, body='<html>Bad gateway</html>', headers={'Retry-After': '2'})
    response = get(http, acuity)
    assert response.status_code == 502 and response.text == '<html>Bad gateway</html>'
    assert response.headers['retry-after'] == '2' and response.headers['content-type'].startswith('text/html')


def test_faults_are_listed_and_cleared_over_http(http, acuity):
    control(http, acuity, 'POST', 'faults', json={'operation': 'get_appointment', 'status': 500, 'times': 3})
    listed = control(http, acuity, 'GET', 'faults').json()['faults']
    assert listed == [{'operation': 'get_appointment', 'status': 500, 'times': 3, 'after': False}]
    assert control(http, acuity, 'DELETE', 'faults').status_code == 204
    assert get(http, acuity).status_code == 200


def test_a_stalled_lookup_times_out_at_the_client_and_the_next_one_is_answered(http, acuity):
    assert control(http, acuity, 'POST', 'stalls', json={'seconds': 3}).json() == {
        'stalls': [{'seconds': 3.0, 'times': 1}]}
    with httpx2.Client(trust_env=False, timeout=0.3) as impatient:
        with pytest.raises(httpx2.TimeoutException):
            get(impatient, acuity)
    assert get(http, acuity).json() == appointment()  # answered while the stalled one still waits
    assert control(http, acuity, 'GET', 'state').json()['stalls'] == []
    # the stalled request is still answered (and logged) once its time is up; wait for it so that it
    # cannot land in another test's calls log
    deadline = time.monotonic() + 10
    while len(acuity.calls()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [call['status'] for call in acuity.calls()] == [200, 200]


def test_a_stall_waits_for_an_api_request_and_clearing_faults_clears_it(http, acuity):
    acuity.stall(20, times=5)
    assert http.get(acuity.url + '/').status_code == 200  # neither the index nor control takes a stall
    assert control(http, acuity, 'GET', 'state').json()['stalls'] == [{'seconds': 20.0, 'times': 5}]
    acuity.clear_faults()
    assert acuity.pending_stalls() == [] and get(http, acuity).status_code == 200


def test_the_rate_limit_refuses_with_429_until_a_second_has_passed(http):
    with AcuitySandbox(rate_limit=2) as limited:
        limited.set_user(USER_ID, API_KEY)
        limited.set_appointment(appointment())
        assert [get(http, limited).status_code for _ in range(2)] == [200, 200]
        refused = get(http, limited)
        assert refused.status_code == 429 and refused.json() == RATE_LIMITED
        limited.advance(1.5)
        assert get(http, limited).status_code == 200


def test_the_calls_log_has_each_api_request_and_no_control_request(http, acuity):
    get(http, acuity)
    get(http, acuity, auth=(USER_ID, 'wrong'))
    http.get(acuity.url + '/nowhere')
    control(http, acuity, 'GET', 'state')
    calls = control(http, acuity, 'GET', 'calls').json()['calls']
    path = f'/api/v1/appointments/{APPOINTMENT_ID}'
    assert calls == [{'method': 'GET', 'path': path, 'operation': 'get_appointment', 'status': 200},
                     {'method': 'GET', 'path': path, 'operation': 'get_appointment', 'status': 401},
                     {'method': 'GET', 'path': '/nowhere', 'operation': None, 'status': 404}]
    assert control(http, acuity, 'GET', 'calls?operation=get_appointment').json()['calls'] == calls[:2]
    assert control(http, acuity, 'DELETE', 'calls').status_code == 204 and acuity.calls() == []


# --- the webhook Acuity sends ---


def test_the_signature_and_body_match_the_reference_example():
    assert form_body('scheduled', appointment()) == EXAMPLE_BODY
    assert sign(API_KEY, EXAMPLE_BODY) == EXAMPLE_SIGNATURE
    with pytest.raises(ValueError, match='action'):
        form_body('booked', appointment())


@pytest.fixture
def receiver():
    endpoint = Receiver(lambda headers, body: (200, b'{"ok": true}'))
    try:
        yield endpoint
    finally:
        endpoint.close()


def test_a_webhook_is_the_signed_form_body_of_a_seeded_appointment(http, acuity, receiver):
    answer = control(http, acuity, 'POST', 'webhooks/send', json={
        'target_url': receiver.url, 'action': 'scheduled', 'id': APPOINTMENT_ID, 'user_id': USER_ID})
    assert answer.status_code == 200 and answer.json()['status'] == 200 and answer.json()['body'] == '{"ok": true}'
    delivered = receiver.requests[-1]
    assert delivered['body'] == EXAMPLE_BODY
    assert delivered['headers']['content-type'] == 'application/x-www-form-urlencoded'
    assert delivered['headers']['x-acuity-signature'] == EXAMPLE_SIGNATURE
    assert acuity.calls() == []  # sending is not an API call


def test_a_webhook_in_the_dynamic_spelling_or_a_raw_body(acuity, receiver):
    acuity.send_webhook(receiver.url, 'appointment.rescheduled', APPOINTMENT_ID, USER_ID)
    assert receiver.requests[-1]['body'].startswith(b'action=appointment.rescheduled&id=1204583921&')
    acuity.send_webhook(receiver.url, 'scheduled', APPOINTMENT_ID, OTHER_USER_ID, raw_body=b'action=canceled&id=1')
    delivered = receiver.requests[-1]
    assert delivered['body'] == b'action=canceled&id=1'
    assert delivered['headers']['x-acuity-signature'] == sign(OTHER_API_KEY, b'action=canceled&id=1')


@pytest.mark.parametrize('overrides, field', [
    ({'action': 'booked'}, 'action'), ({'user_id': '1111111'}, 'no user'), ({'id': 999}, 'no appointment'),
    ({'id': '1204583921'}, 'id'), ({'target_url': ''}, 'target_url'), ({'target_url': 'ftp://x/y'}, 'http'),
])
def test_a_webhook_request_with_bad_input_is_400(http, acuity, overrides, field):
    body = {'target_url': 'http://127.0.0.1:9/acuity', 'action': 'scheduled', 'id': APPOINTMENT_ID,
            'user_id': USER_ID, **overrides}
    answer = control(http, acuity, 'POST', 'webhooks/send', json=body)
    assert answer.status_code == 400 and field in answer.json()['error']


def test_a_webhook_to_a_closed_port_is_a_failed_delivery(http, acuity):
    answer = control(http, acuity, 'POST', 'webhooks/send', json={
        'target_url': 'http://127.0.0.1:9/acuity', 'action': 'canceled', 'id': APPOINTMENT_ID, 'user_id': USER_ID})
    assert answer.status_code == 502 and 'delivery failed' in answer.json()['error']


# --- state, index, other control paths, the CLI ---


def test_state_lists_users_and_appointments_without_api_keys(http, acuity):
    state = control(http, acuity, 'GET', 'state').json()
    assert state['users'] == [USER_ID, OTHER_USER_ID] and state['api_base'] == acuity.api_base
    assert {'id': APPOINTMENT_ID, 'user_id': None, 'data': appointment()} in state['appointments']
    assert API_KEY not in control(http, acuity, 'GET', 'state').text


def test_the_clock_advances_over_http(http, acuity):
    before = acuity.now()
    answer = control(http, acuity, 'POST', 'advance', json={'seconds': 3600})
    assert answer.status_code == 200 and (acuity.now() - before).total_seconds() >= 3600


def test_oauth_control_endpoints_do_not_exist_here(http, acuity):
    for path in ('expire-access-tokens', 'redirect-uris'):
        assert control(http, acuity, 'POST', path, json={}).status_code == 404
    assert control(http, acuity, 'POST', 'state').status_code == 405


def test_the_index_page_lists_users_appointments_and_control_endpoints(http, acuity):
    page = http.get(acuity.url + '/')
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
    assert USER_ID in page.text and str(APPOINTMENT_ID) in page.text and 'PUT /_sandbox/users/{user_id}' in page.text
    assert API_KEY not in page.text


def test_runs_alone_as_a_module(http):
    process = subprocess.Popen([sys.executable, '-m', 'infra.sandboxes.acuity', '--port', '0', '--user',
                                f'{USER_ID}:{API_KEY}'], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith('Acuity sandbox on http://127.0.0.1:'), process.stderr.read()
        url = first_line.split()[3]
        assert http.put(f'{url}/_sandbox/appointments/{APPOINTMENT_ID}', json=appointment()).status_code == 204
        answer = http.get(f'{url}/api/v1/appointments/{APPOINTMENT_ID}', auth=(USER_ID, API_KEY))
        assert answer.json() == appointment()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()


def test_the_module_reports_a_busy_port_and_a_bad_user(acuity):
    busy = subprocess.run([sys.executable, '-m', 'infra.sandboxes.acuity', '--port', str(acuity.port)], cwd=REPO,
                          capture_output=True, text=True, timeout=20)
    assert busy.returncode == 1 and 'cannot listen' in busy.stderr and 'Traceback' not in busy.stderr
    bad = subprocess.run([sys.executable, '-m', 'infra.sandboxes.acuity', '--port', '0', '--user', 'dana:k'],
                         cwd=REPO, capture_output=True, text=True, timeout=20)
    assert bad.returncode == 2 and 'numeric' in bad.stderr


def test_seeded_state_is_a_copy(acuity):
    seeded = appointment()
    acuity.set_appointment(seeded)
    seeded['firstName'] = 'Changed'
    view = acuity.appointments[APPOINTMENT_ID]
    view['data']['firstName'] = 'Changed too'
    assert acuity.appointments[APPOINTMENT_ID]['data'] == appointment() == copy.deepcopy(appointment())
