"""POST /webhooks/acuity/{tenant}: Acuity Scheduling's form webhooks, signed with the account's API key, and
the lookup of each appointment in Acuity's API (the Acuity sandbox, on loopback)."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx2
import pytest

from infra.sandboxes.acuity import AcuitySandbox

USER_ID, API_KEY = '8123456', 'acuity-api-key-0f3b9c'
APPOINTMENT_ID, CALENDAR_ID, TYPE_ID = 1204583921, 8123456, 51234567
# Read at 2030-03-01T12:00:00Z: when a lookup ran orders what it read.
READ_AT = 1898596800.0


def appointment(**changes) -> dict:
    """What Acuity answers to GET /appointments/{id} (booking-webhooks.md section 4)."""
    return {
        'id': APPOINTMENT_ID, 'firstName': 'Chris', 'lastName': 'Client', 'phone': '+1 555 0100',
        'email': 'Chris@Example.org', 'date': 'March 4, 2030', 'time': '9:30am', 'endTime': '10:15am',
        'dateCreated': 'February 20, 2030', 'datetime': '2030-03-04T09:30:00-0500', 'datetimeCreated':
        '2030-02-20T10:00:00-0500', 'price': '80.00', 'paid': 'no', 'amountPaid': '0.00',
        'type': 'Video consultation', 'appointmentTypeID': TYPE_ID, 'classID': None, 'duration': '45',
        'calendar': 'Ana Example', 'calendarID': CALENDAR_ID, 'calendarTimezone': 'America/New_York',
        'timezone': 'Europe/London', 'canClientCancel': True, 'canClientReschedule': True, 'location': '',
        'confirmationPage': 'https://acuityscheduling.com/schedule.php?owner=1&id[]=abc&action=appt',
        'notes': '', 'forms': [], 'labels': None, 'canceled': False, **changes,
    }


def form(action: str = 'scheduled', appointment_id=APPOINTMENT_ID, **extra) -> bytes:
    return urlencode({'action': action, 'id': appointment_id, 'calendarID': CALENDAR_ID,
                      'appointmentTypeID': TYPE_ID, **extra}).encode()


def acuity_signature(body: bytes, key: str = API_KEY) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def post(stack, body: bytes, signature: str | None = '') -> tuple[int, dict]:
    from helpers import handler, http_event

    headers = {'content-type': 'application/x-www-form-urlencoded'}
    if signature is not None:
        headers['x-acuity-signature'] = acuity_signature(body) if signature == '' else signature
    tenant_id = stack.tenant.tenant_id
    event = http_event('POST', f'/webhooks/acuity/{tenant_id}', '/webhooks/{source}/{tenant_id}',
                       {'source': 'acuity', 'tenant_id': tenant_id}, body, headers)
    response = handler('booking_webhook')(event, stack.context)
    return response['statusCode'], json.loads(response['body'])


@pytest.fixture
def sandbox(monkeypatch):
    """Acuity on loopback, knowing the user; the lookups' API base pointed at it."""
    with AcuitySandbox() as acuity:
        acuity.set_user(USER_ID, API_KEY)
        acuity.set_appointment(appointment())
        monkeypatch.setenv('ACUITY_API_BASE', acuity.api_base)
        yield acuity


@pytest.fixture
def acuity(stack):
    """A tenant with Acuity configured and a meeting account; the appointment type turned online."""
    assert stack.admin('PUT', 'sources/acuity', {'user_id': USER_ID, 'api_key': API_KEY})[0] == 200
    account = {'type': 'custom_link', 'url': 'https://meet.example.com/room', 'description': 'Room 1'}
    assert stack.admin('PUT', 'accounts/default', account)[0] == 200
    assert stack.admin('PUT', f'services/acuity:{TYPE_ID}', {'name': 'Video consultation', 'online': True})[0] == 200
    return stack


def _queued(stack) -> list[dict]:
    return [json.loads(r['body']) for r in stack.cloud.queues['meetings'].receive()]


# --- the webhook: verified, parsed, answered with a lookup and no call to Acuity ---


def test_the_signature_example_of_the_sandbox_is_accepted(stack):
    """The reference's example body, signed with key a1b2...8f90, as Acuity's sandbox documents it."""
    stack.admin('PUT', 'sources/acuity', {'user_id': USER_ID, 'api_key': 'a1b2c3d4e5f60718293a4b5c6d7e8f90'})
    body = b'action=scheduled&id=1204583921&calendarID=8123456&appointmentTypeID=51234567'

    status, answer = post(stack, body, 'UXRkR3Vj/M/JbkSqFUB1zUAnt1+o0dV3kO3jsRXw5VY=')

    assert (status, answer) == (202, {'accepted': ['acuity:1204583921:scheduled']})


@pytest.mark.parametrize('case', ['tampered byte', 'wrong key', 'missing', 'empty', 'non-ascii', 'hex instead'])
def test_a_bad_signature_is_401_and_changes_nothing(acuity, case):
    body = form()
    signature = {'tampered byte': acuity_signature(body), 'wrong key': acuity_signature(body, 'another-key'),
                 'missing': None, 'empty': ' ', 'non-ascii': 'é' * 44,
                 'hex instead': hmac.new(API_KEY.encode(), body, hashlib.sha256).hexdigest()}[case]
    if case == 'tampered byte':
        body = body.replace(b'id=1204583921', b'id=1204583922')

    status, answer = post(acuity, body, signature)

    assert status == 401 and answer['error'] == 'invalid_signature'
    assert API_KEY not in json.dumps(answer)
    assert _queued(acuity) == []


def test_a_tenant_without_acuity_or_after_removing_it_answers_404(stack):
    assert post(stack, form())[0] == 404
    stack.admin('PUT', 'sources/acuity', {'user_id': USER_ID, 'api_key': API_KEY})
    stack.admin('DELETE', 'sources/acuity')

    assert post(stack, form())[0] == 404


@pytest.mark.parametrize('action', ['scheduled', 'rescheduled', 'canceled', 'changed'])
@pytest.mark.parametrize('spelling', ['{}', 'appointment.{}'])
def test_every_appointment_action_is_a_lookup_of_the_appointment(acuity, action, spelling):
    status, answer = post(acuity, form(spelling.format(action)))

    assert status == 202 and len(answer['accepted']) == 1
    [message] = _queued(acuity)
    lookup = message['detail']
    assert message['detail-type'] == 'booking.lookup' and lookup['event_id'] == answer['accepted'][0]
    assert (lookup['source'], lookup['external_id'], lookup['hint']) == ('acuity', str(APPOINTMENT_ID),
                                                                         {'action': action})
    assert lookup['tenant_id'] == acuity.tenant.tenant_id and lookup['booking_id'] is None


@pytest.mark.parametrize('body', [b'action=order.completed&id=88812', form('appointment.noshow'), form('scheduledd')])
def test_an_order_or_an_unknown_action_is_acknowledged_and_changes_nothing(acuity, body):
    assert post(acuity, body) == (202, {'accepted': []})
    assert _queued(acuity) == []


@pytest.mark.parametrize('action', ['scheduled', 'appointment.scheduled', 'canceled'])
def test_a_repeated_delivery_of_what_happens_once_is_looked_up_once(acuity, action):
    first, second = post(acuity, form(action)), post(acuity, form(action))

    assert first[0] == 202 and second[0] == 503  # within the first's lease: sent again later (test_webhook_publish.py)
    assert len(_queued(acuity)) == 1


@pytest.mark.parametrize('action', ['rescheduled', 'changed'])
def test_the_same_body_twice_for_a_change_is_looked_up_each_time(acuity, action):
    """A second reschedule of one appointment has the very same body as the first: never dropped here."""
    first, second = post(acuity, form(action)), post(acuity, form(action))

    assert first[1] != second[1]
    assert [message['detail']['hint']['action'] for message in _queued(acuity)] == [action, action]


@pytest.mark.parametrize(('body', 'status', 'field'), [
    (form(appointment_id='12a4'), 400, 'id'),
    (form(appointment_id='1' * 1000), 400, 'id'),
    (form(appointment_id='-5'), 400, 'id'),
    (form(appointment_id='١٢٣'), 400, 'id'),  # digits, but not ASCII ones
    (form(calendarID='x'), 400, 'calendarID'),
    (b'action=scheduled', 400, 'id'),
    (b'id=1204583921', 400, 'action'),
    (form() + b'&id=1', 400, 'id'),
    (form() + b'&action=canceled', 400, 'action'),
    (b'\xff\xfeaction=scheduled&id=1', 400, None),
    (b'action=scheduled&id=1&calendarID=%ff', 400, None),
    (b'{"action": "scheduled", "id": 1}', 400, None),
    (b'action=scheduled&&id=1', 400, None),
    (b'&'.join(b'f%d=1' % n for n in range(40)), 400, None),
    (b'', 400, 'action'),
])
def test_a_signed_body_that_is_not_acuitys_form_is_4xx_naming_the_problem(acuity, body, status, field):
    answer_status, answer = post(acuity, body)

    assert answer_status == status and answer['error'] == 'invalid_request' and answer['field'] == field
    assert _queued(acuity) == []


def test_a_body_far_larger_than_acuitys_is_413(acuity):
    status, answer = post(acuity, form(notes='x' * 4000))

    assert status == 413 and answer['error'] == 'payload_too_large'


# --- the lookup: one call to Acuity's API, the appointment read back as a booking ---


def _lookup(action: str = 'scheduled', event_id: str = 'acuity:1204583921:scheduled', booking_id=None):
    from meetbridge.sources.base import Lookup

    return Lookup(tenant_id='t_1', source='acuity', event_id=event_id, external_id=str(APPOINTMENT_ID),
                  booking_id=booking_id, hint={'action': action})


def _resolve(lookup=None, known=lambda external_id: None, api_key: str = API_KEY, now: float = READ_AT):
    from meetbridge.sources.acuity import SOURCE
    from meetbridge.sources.settings import AcuitySettings

    settings = AcuitySettings(user_id=USER_ID, api_key=api_key)
    return SOURCE.resolve(lookup or _lookup(), settings, known, now)


def test_the_appointment_is_read_once_and_becomes_a_booking_under_acuity_ids(every_setting, sandbox):
    translation = _resolve()

    [event] = translation.events
    booking = event.booking
    assert (event.type, event.source, event.tenant_id) == ('booking.created', 'acuity', 't_1')
    assert event.occurred_at == datetime(2030, 3, 1, 12, tzinfo=UTC)
    assert (booking.id, booking.service_id, booking.provider_id) == (
        'acuity:1204583921', 'acuity:51234567', 'acuity:8123456')
    assert (booking.start, booking.end) == (datetime(2030, 3, 4, 14, 30, tzinfo=UTC),
                                            datetime(2030, 3, 4, 15, 15, tzinfo=UTC))
    assert booking.timezone == 'America/New_York'
    assert booking.client.model_dump() == {
        'id': 'acuity:' + hashlib.sha256(b'chris@example.org').hexdigest()[:32], 'name': 'Chris Client',
        'email': 'Chris@Example.org', 'timezone': 'Europe/London', 'phone': '+15550100', 'locale': None}
    assert booking.payment.model_dump() == {'required': True, 'status': 'pending'}
    assert [(s.id, s.name) for s in translation.services] == [('acuity:51234567', 'Video consultation')]
    assert [(p.id, p.name, p.timezone) for p in translation.providers] == [
        ('acuity:8123456', 'Ana Example', 'America/New_York')]
    assert translation.external_ids == {'1204583921': 'acuity:1204583921'}
    assert sandbox.calls() == [{'method': 'GET', 'path': '/api/v1/appointments/1204583921',
                                'operation': 'get_appointment', 'status': 200}]


@pytest.mark.parametrize(('phone', 'kept'), [
    ('+44 20 7946 0958', '+442079460958'),
    ('0044.20.7946.0958', '+442079460958'),
    ('(212) 555-0188', None),  # a national number: no SMS, the booking stands
    ('', None),  # Acuity's answer when the client gave none
])
def test_the_appointments_phone_is_the_clients_in_e164_or_left_out(every_setting, sandbox, phone, kept):
    sandbox.set_appointment(appointment(phone=phone))

    client = _resolve().events[0].booking.client

    assert (client.email, client.phone, client.locale) == ('Chris@Example.org', kept, None)


def test_the_end_is_the_duration_after_the_start_across_a_dst_change(every_setting, sandbox):
    """01:30 EST on the night New York springs forward, 60 minutes: 03:30 EDT (endTime says 3:30am)."""
    sandbox.set_appointment(appointment(datetime='2030-03-10T01:30:00-0500', time='1:30am', endTime='3:30am',
                                        duration='60'))

    booking = _resolve().events[0].booking

    assert (booking.start, booking.end) == (datetime(2030, 3, 10, 6, 30, tzinfo=UTC),
                                            datetime(2030, 3, 10, 7, 30, tzinfo=UTC))


def test_without_the_calendars_zone_the_booking_is_in_the_clients(every_setting, sandbox):
    data = appointment()
    del data['calendarTimezone']
    sandbox.set_appointment(data)

    translation = _resolve()

    assert translation.events[0].booking.timezone == 'Europe/London'
    assert translation.providers[0].timezone is None


def test_a_paid_appointment_and_a_free_one(every_setting, sandbox):
    sandbox.set_appointment(appointment(paid='yes', amountPaid='80.00'))
    assert _resolve().events[0].booking.payment.model_dump() == {'required': True, 'status': 'paid'}

    for free in ('0.00', '', None):
        sandbox.fail('get_appointment', 200, body=appointment(price=free))
        assert _resolve().events[0].booking.payment.model_dump() == {'required': False, 'status': 'pending'}


@pytest.mark.parametrize(('action', 'canceled', 'known', 'expected'), [
    ('scheduled', False, False, 'booking.created'),
    ('rescheduled', False, True, 'booking.rescheduled'),
    ('changed', False, False, 'booking.created'),
    ('changed', False, True, 'booking.rescheduled'),
    ('canceled', True, True, 'booking.cancelled'),
    ('changed', True, True, 'booking.cancelled'),
    ('rescheduled', True, True, 'booking.cancelled'),  # cancelled since: what Acuity holds now decides
    ('canceled', False, True, 'booking.rescheduled'),
])
def test_the_event_comes_from_the_state_read_back_then_from_the_action(every_setting, sandbox, action, canceled,
                                                                       known, expected):
    sandbox.set_appointment(appointment(canceled=canceled))

    event = _resolve(_lookup(action, event_id=f'acuity:1204583921:{action}:1'),
                     known=lambda external_id: 'acuity:1204583921' if known else None).events[0]

    assert event.type == expected


def test_the_same_lookup_read_twice_is_one_event_and_a_changed_state_another(every_setting, sandbox):
    first, again = _resolve().events[0], _resolve(now=READ_AT + 60).events[0]
    sandbox.set_appointment(appointment(datetime='2030-03-05T09:30:00-0500'))
    moved = _resolve(now=READ_AT + 120).events[0]

    assert first.event_id == again.event_id != moved.event_id
    assert first.event_id.startswith('acuity:1204583921:')


def test_a_state_that_comes_back_in_a_later_delivery_is_a_new_event(every_setting, sandbox):
    """Moved away and back: the third read equals the first, and must still be applied."""
    there = _resolve(_lookup('rescheduled', 'acuity:1204583921:rescheduled:1')).events[0]
    sandbox.set_appointment(appointment(datetime='2030-03-05T09:30:00-0500'))
    _resolve(_lookup('rescheduled', 'acuity:1204583921:rescheduled:2'))
    sandbox.set_appointment(appointment())
    back = _resolve(_lookup('rescheduled', 'acuity:1204583921:rescheduled:3')).events[0]

    assert back.booking == there.booking and back.event_id != there.event_id


def test_an_appointment_acuity_does_not_have_is_refused(every_setting, sandbox):
    from meetbridge.sources.base import LookupRefused

    sandbox.remove_appointment(APPOINTMENT_ID)

    with pytest.raises(LookupRefused, match='HTTP 404'):
        _resolve()


@pytest.mark.parametrize('status', [429, 500, 503])
def test_an_outage_of_acuitys_api_is_retried_later(every_setting, sandbox, status):
    from meetbridge.sources.base import PlatformUnavailable

    sandbox.fail('get_appointment', status)

    with pytest.raises(PlatformUnavailable, match=f'HTTP {status}'):
        _resolve()
    assert _resolve().events  # the next try reads it


def test_a_key_acuity_no_longer_accepts_waits_for_the_admin_and_is_never_shown(every_setting, sandbox):
    """The webhook was verified, so the booking is real: the lookup is retried until the key is fixed."""
    from meetbridge.sources.base import PlatformUnavailable

    with pytest.raises(PlatformUnavailable, match='HTTP 401') as refused:
        _resolve(api_key='an-old-acuity-key')
    assert 'an-old-acuity-key' not in str(refused.value) and USER_ID not in str(refused.value)


def test_an_api_that_does_not_answer_in_time_is_an_outage(every_setting, sandbox, monkeypatch):
    from meetbridge.sources import platform_api
    from meetbridge.sources.base import PlatformUnavailable

    monkeypatch.setattr(platform_api, 'TIMEOUT', httpx2.Timeout(0.2))
    platform_api._pooled_client.cache_clear()
    sandbox.stall(1.0)
    try:
        with pytest.raises(PlatformUnavailable, match='ReadTimeout'):
            _resolve()
    finally:
        platform_api._pooled_client.cache_clear()


@pytest.mark.parametrize(('answer', 'field'), [
    (appointment(id=42), 'appointment.id'),
    (appointment(email='not an email'), 'appointment.email'),
    (appointment(duration='0'), 'appointment.duration'),
    (appointment(datetime='2030-03-04T09:30:00'), 'appointment.datetime'),
    (appointment(calendarID='eight'), 'appointment.calendarID'),
    (appointment(price='-5.00'), 'appointment.price'),
    (appointment(datetime='9999-12-31T20:00:00+0000', duration='600'), 'appointment.duration'),
    (appointment(calendar='x' * 5000), 'appointment.calendar'),
])
def test_an_answer_that_cannot_be_a_booking_is_invalid(every_setting, sandbox, answer, field):
    from meetbridge.errors import InvalidInput

    sandbox.fail('get_appointment', 200, body=answer)

    with pytest.raises(InvalidInput) as invalid:
        _resolve()
    assert invalid.value.field == field



@pytest.mark.parametrize('answer', ['[' * 5000, '<html>Maintenance</html>', b'\xff\xfe{}', '[]',
                                    '{"id": ' + '9' * 5000 + '}'])
def test_an_answer_that_is_not_an_appointment_object_is_invalid_not_a_crash(every_setting, sandbox, answer):
    from meetbridge.errors import InvalidInput

    sandbox.fail('get_appointment', 200, body=answer)

    with pytest.raises(InvalidInput, match='the body'):
        _resolve()

# --- through the stack: webhook -> lookup in the meetings function -> booking event -> meeting ---


def _deliver(stack, action: str = 'scheduled') -> None:
    assert post(stack, form(action))[0] == 202
    stack.pump()


def _booking(stack) -> dict:
    status, view = stack.view(f'acuity:{APPOINTMENT_ID}')
    assert status == 200, view
    return view


def _client_emails() -> list:
    from integration_stack import sent_emails

    return [m for m in sent_emails() if 'Chris@Example.org' in m.destinations['ToAddresses']]


def _run_meetings(stack, records: list[dict]) -> list[dict]:
    from helpers import handler, sqs_event

    return handler('meetings')(sqs_event(records), stack.context)['batchItemFailures']


def test_a_scheduled_appointment_gets_its_meeting_and_links_under_acuity_ids(acuity, sandbox):
    _deliver(acuity)

    view = _booking(acuity)
    booking = view['booking']
    assert (booking['service_id'], booking['provider_id']) == ('acuity:51234567', 'acuity:8123456')
    assert booking['start'].startswith('2030-03-04T14:30:00') and booking['end'].startswith('2030-03-04T15:15:00')
    assert booking['timezone'] == 'America/New_York' and booking['client']['timezone'] == 'Europe/London'
    assert view['meeting']['status'] == 'scheduled' and view['links']['provider'] and view['links']['clients']
    assert acuity.admin('GET', 'providers/acuity:8123456')[1]['name'] == 'Ana Example'
    assert len(_client_emails()) == 1
    assert len(sandbox.calls('get_appointment')) == 1  # one call to Acuity for the one event


def test_the_booking_is_found_by_acuitys_id(acuity, sandbox):
    assert acuity.admin('GET', f'sources/acuity/bookings/{APPOINTMENT_ID}')[0] == 404
    _deliver(acuity)

    status, found = acuity.admin('GET', f'sources/acuity/bookings/{APPOINTMENT_ID}')

    assert status == 200 and found == {**_booking(acuity), 'source': 'acuity', 'external_id': str(APPOINTMENT_ID)}
    assert acuity.admin('GET', 'sources/acuity/bookings/999')[0] == 404


def test_an_unknown_appointment_type_is_registered_offline_and_makes_no_meeting(acuity, sandbox):
    sandbox.set_appointment(appointment(appointmentTypeID=77, type='Haircut'))

    _deliver(acuity)

    assert acuity.admin('GET', 'services/acuity:77')[1] == {'id': 'acuity:77', 'name': 'Haircut', 'online': False,
                                                            'kind': 'appointment', 'links_in_messages': None}
    assert acuity.view(f'acuity:{APPOINTMENT_ID}')[0] == 404


def test_a_source_set_online_all_registers_its_appointment_types_online(acuity, sandbox):
    assert acuity.admin('PUT', 'sources/acuity', {'user_id': USER_ID, 'api_key': API_KEY, 'online': 'all'})[0] == 200
    sandbox.set_appointment(appointment(appointmentTypeID=77, type='Haircut'))

    _deliver(acuity)

    assert acuity.admin('GET', 'services/acuity:77')[1]['online'] is True
    assert _booking(acuity)['meeting']['status'] == 'scheduled'


def test_a_reschedule_moves_the_same_booking_and_keeps_its_links(acuity, sandbox):
    _deliver(acuity)
    before = _booking(acuity)
    sandbox.set_appointment(appointment(datetime='2030-03-06T11:00:00-0500', time='11:00am', endTime='11:45am'))

    _deliver(acuity, 'rescheduled')

    after = _booking(acuity)
    assert after['booking']['start'].startswith('2030-03-06T16:00:00') and after['booking']['status'] == 'active'
    assert after['links'] == before['links'] and after['meeting']['key'] == before['meeting']['key']
    assert len(_client_emails()) == 2  # created, then moved
    assert len(sandbox.calls('get_appointment')) == 2


def test_a_cancel_cancels_the_booking(acuity, sandbox):
    _deliver(acuity)
    sandbox.set_appointment(appointment(canceled=True))

    _deliver(acuity, 'appointment.canceled')

    assert _booking(acuity)['booking']['status'] == 'cancelled'


def test_a_scheduled_delivered_after_the_cancel_leaves_it_cancelled(acuity, sandbox):
    _deliver(acuity)
    sandbox.set_appointment(appointment(canceled=True))
    _deliver(acuity, 'canceled')

    _deliver(acuity, 'changed')  # a late delivery: Acuity holds the appointment as cancelled

    assert _booking(acuity)['booking']['status'] == 'cancelled'
    assert len(sandbox.calls('get_appointment')) == 3


def test_lookups_run_out_of_order_end_at_what_acuity_holds_last(acuity, sandbox):
    _deliver(acuity)
    sandbox.set_appointment(appointment(datetime='2030-03-06T11:00:00-0500'))
    assert post(acuity, form('rescheduled'))[0] == 202
    sandbox.set_appointment(appointment(datetime='2030-03-07T08:00:00-0500'))
    assert post(acuity, form('changed'))[0] == 202
    lookups = {json.loads(record['body'])['detail']['hint']['action']: record
               for record in acuity.cloud.queues['meetings'].receive()}
    first, second = lookups['rescheduled'], lookups['changed']

    assert _run_meetings(acuity, [second]) == [] and _run_meetings(acuity, [first]) == []
    acuity.pump()

    assert _booking(acuity)['booking']['start'].startswith('2030-03-07T13:00:00')


def test_a_repeated_delivery_changes_the_booking_once(acuity, sandbox):
    _deliver(acuity)
    assert post(acuity, form('scheduled'))[0] == 503  # scheduled again within the lease: not looked up again
    sandbox.set_appointment(appointment(datetime='2030-03-06T11:00:00-0500'))
    _deliver(acuity, 'rescheduled')
    _deliver(acuity, 'rescheduled')  # Acuity retries: the same state read again changes nothing

    assert _booking(acuity)['booking']['start'].startswith('2030-03-06T16:00:00')
    assert len(_client_emails()) == 2  # created, moved once
    assert len(sandbox.calls('get_appointment')) == 3


def test_two_real_changes_with_identical_bodies_are_both_applied(acuity, sandbox):
    _deliver(acuity)
    sandbox.set_appointment(appointment(datetime='2030-03-06T11:00:00-0500'))
    _deliver(acuity, 'changed')
    sandbox.set_appointment(appointment(datetime='2030-03-07T08:00:00-0500'))

    _deliver(acuity, 'changed')

    assert _booking(acuity)['booking']['start'].startswith('2030-03-07T13:00:00')
    assert len(_client_emails()) == 3


def test_moved_away_and_back_ends_at_the_first_time(acuity, sandbox):
    _deliver(acuity)
    sandbox.set_appointment(appointment(datetime='2030-03-06T11:00:00-0500'))
    _deliver(acuity, 'rescheduled')
    sandbox.set_appointment(appointment())

    _deliver(acuity, 'rescheduled')

    assert _booking(acuity)['booking']['start'].startswith('2030-03-04T14:30:00')


def test_acuity_down_then_back_applies_the_change_once_and_loses_nothing(acuity, sandbox):
    _deliver(acuity)
    links = _booking(acuity)['links']
    sandbox.set_appointment(appointment(datetime='2030-03-06T11:00:00-0500'))
    sandbox.fail('get_appointment', 503, times=2)

    assert post(acuity, form('rescheduled'))[0] == 202
    [record] = acuity.cloud.queues['meetings'].receive()
    for _ in range(2):  # the meetings queue gives the lookup back after its delay
        assert _run_meetings(acuity, [record]) == [{'itemIdentifier': record['messageId']}]
        assert _booking(acuity)['booking']['problem'] == ('waiting for a retry of its acuity lookup: '
                                                          'Acuity answered GET /appointments/1204583921: HTTP 503')
    assert _run_meetings(acuity, [record]) == []
    acuity.pump()

    view = _booking(acuity)
    assert view['booking']['start'].startswith('2030-03-06T16:00:00') and view['booking']['problem'] is None
    assert view['links'] == links
    assert [call['status'] for call in sandbox.calls('get_appointment')] == [200, 503, 503, 200]


def test_an_appointment_acuity_does_not_have_creates_nothing(acuity, sandbox, caplog):
    sandbox.remove_appointment(APPOINTMENT_ID)

    _deliver(acuity)

    assert acuity.view(f'acuity:{APPOINTMENT_ID}')[0] == 404
    assert acuity.admin('GET', f'services/acuity:{TYPE_ID}')[1]['online'] is True  # the admin's, untouched
    assert acuity.admin('GET', 'providers/acuity:8123456')[0] == 404
    assert any(r.getMessage().startswith('rejected delivery') for r in caplog.records)
    assert API_KEY not in caplog.text
