"""API keys with a role (admin, senior, junior) and the manual start of a booking's meeting.

Admin keys call every route; senior keys may only read a booking and start it; junior keys the same for
their own providers' bookings. Every refusal is the usual error JSON naming why."""

import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from helpers import acting_as

from meetbridge.errors import InvalidState
from meetbridge.logic import admin


def _events(stack) -> list[dict]:
    """The bus events that reached the notifications queue since the last call."""
    return [json.loads(record['body']) for record in stack.cloud.queues['notifications'].receive()]


def _new_key(stack, role: str, *providers: str) -> dict:
    status, key = stack.admin('POST', 'keys', {'role': role, 'providers': list(providers)})
    assert status == 201, key
    return key


@pytest.fixture
def booked(stack):
    """Two bookings an hour away: b1 of provider dana, b2 of provider eli."""
    stack.setup_online_service()
    assert stack.admin('PUT', 'providers/eli', {'name': 'Eli Roe', 'email': 'eli@example.com'})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    stack.book(booking_event(start=start))
    stack.book(booking_event(booking_id='b2', client_id='c2', provider_id='eli', start=start))
    _events(stack)  # the bookings' own notices
    return stack


def test_a_junior_key_reads_and_starts_only_its_providers_bookings(booked):
    junior = _new_key(booked, 'junior', 'dana')
    assert junior['role'] == 'junior' and junior['providers'] == ['dana'] and junior['key'].startswith('mbk_')

    status, view = booked.admin('GET', 'bookings/b1', api_key=junior['key'])
    assert status == 200 and view['booking']['provider_id'] == 'dana'

    status, view = booked.admin('POST', 'bookings/b1/start', api_key=junior['key'])
    assert status == 200
    assert view['meeting']['status'] == 'started'
    assert view['meeting']['started_by'] == 'manual' and view['meeting']['started_by_role'] == 'junior'
    [started] = _events(booked)
    assert started['detail-type'] == 'meeting.started'
    assert started['detail']['started_by'] == 'manual' and started['detail']['started_by_role'] == 'junior'

    for method, rest in (('GET', 'bookings/b2'), ('POST', 'bookings/b2/start')):
        status, answer = booked.admin(method, rest, api_key=junior['key'])
        assert status == 403
        assert answer == {'error': 'forbidden', 'message': "this key's role (junior) may only read, start and switch "
                                                           "online or in person its providers' bookings: this booking "
                                                           "is another provider's"}
    assert booked.view('b2')[1]['meeting']['status'] == 'scheduled'
    # An unknown booking is 404, as for any key.
    assert booked.admin('GET', 'bookings/nope', api_key=junior['key'])[0] == 404


def test_a_senior_key_starts_any_booking_and_calls_nothing_else(booked):
    senior = _new_key(booked, 'senior')
    status, view = booked.admin('POST', 'bookings/b2/start', api_key=senior['key'])
    assert status == 200 and view['meeting']['started_by_role'] == 'senior'
    assert booked.admin('GET', 'bookings/b1', api_key=senior['key'])[0] == 200

    for method, rest, body in (('GET', 'services/svc', None), ('PUT', 'services/svc', {'name': 'X'}),
                               ('GET', 'keys', None), ('POST', 'keys', {'role': 'admin'}),
                               ('DELETE', f"keys/{senior['key_id']}", None), ('GET', 'sources/calcom/bookings/x', None),
                               ('PUT', 'bookings/b1', None), ('DELETE', 'bookings/b1/start', None),
                               ('GET', 'bookings/b1/start', None), ('GET', 'bookings/b1/links', None)):
        status, answer = booked.admin(method, rest, body, api_key=senior['key'])
        assert (status, answer) == (403, {'error': 'forbidden',
                                          'message': "this key's role (senior) may only read, start and "
                                                     "switch online or in person bookings and class sessions"}), \
            (method, rest)
    assert booked.admin('GET', 'services/svc')[1]['name'] == 'Consultation'  # nothing changed


def test_admin_keys_new_and_old_call_everything(booked):
    made = _new_key(booked, 'admin')
    assert made['providers'] == []
    assert booked.admin('GET', 'services/svc', api_key=made['key'])[0] == 200
    status, view = booked.admin('POST', 'bookings/b1/start', api_key=made['key'])
    assert status == 200 and view['meeting']['started_by_role'] == 'admin'
    # The tenant's own key is an admin key.
    status, view = booked.admin('POST', 'bookings/b2/start')
    assert status == 200 and view['meeting']['started_by_role'] == 'admin'
    assert booked.admin('POST', 'keys', {'role': 'senior'}, api_key=made['key'])[0] == 201


def test_the_rotated_tenant_key_stays_admin_during_its_overlap(booked):
    from meetbridge.logic.tenants import rotate_keys

    old_key = booked.tenant.api_key
    new_key = rotate_keys(booked.tenant.tenant_id).api_key
    for key in (old_key, new_key):
        assert booked.admin('GET', 'services/svc', api_key=key)[0] == 200
    rotate_keys(booked.tenant.tenant_id, webhook_secret=False, overlap=timedelta(0))
    assert booked.admin('GET', 'services/svc', api_key=old_key)[0] == 403


def test_keys_are_listed_without_the_keys_and_a_revoked_key_is_refused(booked, caplog):
    caplog.set_level(logging.DEBUG)
    junior = _new_key(booked, 'junior', 'dana', 'eli')
    senior = _new_key(booked, 'senior')

    status, listed = booked.admin('GET', 'keys')
    assert status == 200
    assert [(key['key_id'], key['role'], key['providers']) for key in listed] == [
        (junior['key_id'], 'junior', ['dana', 'eli']), (senior['key_id'], 'senior', [])]
    text = json.dumps(listed)
    assert junior['key'] not in text and senior['key'] not in text and 'digest' not in text

    status, revoked = booked.admin('DELETE', f"keys/{junior['key_id']}")
    assert status == 200 and revoked['key_id'] == junior['key_id']
    status, answer = booked.admin('GET', 'bookings/b1', api_key=junior['key'])
    assert status == 403 and answer['message'] == 'this API key is not valid for this tenant'
    assert [key['key_id'] for key in booked.admin('GET', 'keys')[1]] == [senior['key_id']]
    assert booked.admin('DELETE', f"keys/{junior['key_id']}")[0] == 404
    # Every log line at DEBUG, botocore's requests to the table among them, and none shows a key.
    assert any('PutItem' in record.getMessage() for record in caplog.records)
    for key in (junior['key'], senior['key']):
        assert key not in caplog.text


def test_a_key_is_only_its_own_tenants(booked, cloud):
    from integration_stack import Stack

    other = Stack(cloud)
    other_senior = other.admin('POST', 'keys', {'role': 'senior'})[1]['key']
    assert booked.admin('GET', 'bookings/b1', api_key=other_senior)[0] == 403


@pytest.mark.parametrize(('body', 'field'), [
    ({'role': 'junior'}, 'providers'),
    ({'role': 'junior', 'providers': []}, 'providers'),
    ({'role': 'junior', 'providers': ['ghost']}, 'providers'),
    ({'role': 'senior', 'providers': ['dana']}, 'providers'),
    ({'role': 'owner'}, 'role'),
    ({'role': 'junior', 'providers': ['../x']}, 'providers.0'),
    ({'role': 'junior', 'providers': 'dana'}, 'providers'),
    ({'role': 'junior', 'providers': ['dana'] * 51}, 'providers'),
    ({'role': 'admin', 'key': 'mbk_chosen'}, 'key'),
    ({}, 'role'),
])
def test_a_key_request_that_does_not_hold_is_400_naming_the_field(booked, body, field):
    status, answer = booked.admin('POST', 'keys', body)
    assert status == 400 and answer['field'] == field, answer
    assert booked.admin('GET', 'keys')[1] == []


def test_starting_twice_publishes_one_meeting_started(booked):
    first = booked.admin('POST', 'bookings/b1/start')
    second = booked.admin('POST', 'bookings/b1/start')
    assert first[0] == second[0] == 200
    assert first[1]['meeting'] == second[1]['meeting']
    assert [event['detail-type'] for event in _events(booked)] == ['meeting.started']


def test_concurrent_starts_all_answer_the_started_meeting_and_publish_once(booked):
    answers = []

    def start():
        answers.append(booked.admin('POST', 'bookings/b1/start'))

    threads = [threading.Thread(target=start) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in answers] == [200] * 5
    assert {view['meeting']['started_at'] for _, view in answers} == {booked.view('b1')[1]['meeting']['started_at']}
    assert [event['detail-type'] for event in _events(booked)] == ['meeting.started']


def test_a_start_is_refused_after_the_end_and_for_a_cancelled_booking(booked):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    booked.book(booking_event(booking_id='old', client_id='c3', start=start))
    status, answer = booked.admin('POST', 'bookings/old/start')
    assert status == 409 and answer['error'] == 'invalid_state' and 'ended' in answer['message']

    moved = datetime.fromisoformat(booked.view('b1')[1]['booking']['start'])
    booked.book(booking_event('booking.cancelled', start=moved))
    status, answer = booked.admin('POST', 'bookings/b1/start')
    assert status == 409 and answer == {'error': 'invalid_state',
                                        'message': 'the booking is cancelled: its meeting cannot be started'}
    assert booked.view('b1')[1]['meeting']['status'] == 'cancelled'
    assert booked.admin('POST', 'bookings/nope/start')[0] == 404


def test_a_start_works_up_to_the_last_moment_before_the_end(booked):
    end = datetime.fromisoformat(booked.view('b1')[1]['booking']['end'])
    with acting_as('admin'):
        with pytest.raises(InvalidState, match='ended'):
            admin.start_booking(booked.tenant.tenant_id, 'b1', 'senior', now=end)
        view = admin.start_booking(booked.tenant.tenant_id, 'b1', 'senior', now=end - timedelta(seconds=1))
    assert view.meeting.started_by == 'manual' and view.meeting.started_by_role == 'senior'


@pytest.mark.parametrize('body', [{}, {'now': True}, 'x', []])
def test_a_start_takes_no_body(booked, body):
    status, answer = booked.admin('POST', 'bookings/b1/start', body)
    assert status == 400 and answer['error'] == 'invalid_request'
    assert booked.view('b1')[1]['meeting']['status'] == 'scheduled'


@pytest.mark.parametrize('rest', ['bookings/b%2F1/start', 'bookings/' + 'b' * 300 + '/start', 'bookings/../start',
                                  'bookings/%00/start', 'bookings/b1/start/again', 'bookings//start'])
def test_hostile_booking_ids_are_4xx_for_every_role(booked, rest):
    junior = _new_key(booked, 'junior', 'dana')
    for key in (booked.tenant.api_key, junior['key']):
        status, answer = booked.admin('POST', rest, api_key=key)
        assert 400 <= status < 500 and answer['error'], (rest, status, answer)


@pytest.mark.parametrize('key', ['mbk_' + 'x' * 5000, 'mbk_\u00e9\u00e9', 'x', 'mbk_' + '%00'])
def test_hostile_keys_are_403(booked, key):
    assert booked.admin('GET', 'bookings/b1', api_key=key)[0] == 403


def test_the_console_prints_a_new_key_once_as_text_or_json(booked, capsys, monkeypatch, tmp_path):
    from meetbridge.cli import main

    monkeypatch.chdir(tmp_path)  # no local stack state here: settings come from the environment
    tenant_id = booked.tenant.tenant_id
    assert main(['key', 'create', '--tenant', tenant_id, '--role', 'junior', '--provider', 'dana',
                 '--provider', 'eli', '--json']) == 0
    made = json.loads(capsys.readouterr().out)
    assert made.keys() == {'tenant_id', 'key_id', 'key', 'role', 'providers', 'created_at'}
    assert made['role'] == 'junior' and made['providers'] == ['dana', 'eli'] and made['tenant_id'] == tenant_id
    assert booked.admin('POST', 'bookings/b2/start', api_key=made['key'])[0] == 200

    assert main(['key', 'create', '--tenant', tenant_id, '--role', 'senior']) == 0
    lines = capsys.readouterr().out.splitlines()
    [key] = [line.split()[-1] for line in lines if line.startswith('api key:')]
    assert 'role:       senior' in lines and lines[-1] == 'The key is shown once; store it now.'
    assert booked.admin('GET', 'bookings/b1', api_key=key)[0] == 200
    listed = booked.admin('GET', 'keys')[1]
    assert [entry['role'] for entry in listed] == ['junior', 'senior'] and key not in json.dumps(listed)


@pytest.mark.parametrize(('argv', 'message'), [
    (['--role', 'junior'], 'meetbridge: a junior key needs at least one provider'),
    (['--role', 'junior', '--provider', 'ghost'], "meetbridge: no provider 'ghost' in this tenant"),
    (['--role', 'senior', '--provider', 'dana'], 'meetbridge: only a junior key is bound to providers'),
    (['--role', 'junior', '--provider', '../etc'], 'meetbridge: --provider ../etc: String should match pattern'),
])
def test_the_console_says_why_it_makes_no_key(booked, monkeypatch, tmp_path, argv, message):
    from meetbridge.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as refused:
        main(['key', 'create', '--tenant', booked.tenant.tenant_id, *argv])
    assert str(refused.value).startswith(message)
    assert booked.admin('GET', 'keys')[1] == []


def test_the_console_names_an_unknown_tenant(cloud, monkeypatch, tmp_path):
    from meetbridge.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match='^meetbridge: no tenant t_missing$'):
        main(['key', 'create', '--tenant', 't_missing', '--role', 'admin'])
