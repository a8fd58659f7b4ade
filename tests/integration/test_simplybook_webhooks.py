"""POST /webhooks/simplybook/{tenant}: SimplyBook.me's unsigned callbacks, answered at once with a lookup that
reads the booking from SimplyBook's JSON-RPC API (our sandbox, on loopback)."""

import json
import socket
import time

import pytest

from infra.sandboxes.simplybook import SimplyBookSandbox

COMPANY, API_KEY, SECRET_KEY = 'acmeclinic', 'sb-api-key-1', 'sb-secret-key-1'
BOOKING, HASH = '1042', '514ccafaa45aa779ff50e4642c37ba5d'
FORGED_HASH = '0' * 32
DETAILS = {
    'id': BOOKING, 'code': 'p3x2k9aa', 'event_id': '3', 'event_name': 'Consultation', 'unit_id': '2',
    'unit_name': 'Dana Reyes', 'unit_email': 'dana@clinic.example', 'client_id': '17',
    'client_name': 'Zoë Nakamura', 'client_email': 'zoe@client.example', 'client_phone': '+4930123456',
    'start_date_time': '2030-03-04 09:30:00', 'end_date_time': '2030-03-04 10:00:00', 'is_confirm': '1',
    'additional_fields': [{'field_name': 'notes', 'value': 'first visit'}],
}


def callback(notification_type: str = 'create', booking_id: str = BOOKING, booking_hash: str = HASH,
             company: str = COMPANY) -> bytes:
    return json.dumps({'booking_id': booking_id, 'booking_hash': booking_hash, 'company': company,
                       'notification_type': notification_type}).encode()


def post(stack, body: bytes, tenant_id: str | None = None) -> tuple[int, dict]:
    from helpers import handler, http_event

    tenant_id = tenant_id or stack.tenant.tenant_id
    event = http_event('POST', f'/webhooks/simplybook/{tenant_id}', '/webhooks/{source}/{tenant_id}',
                       {'source': 'simplybook', 'tenant_id': tenant_id}, body, {'content-type': 'application/json'})
    response = handler('booking_webhook')(event, stack.context)
    return response['statusCode'], json.loads(response['body'])


@pytest.fixture
def simplybook(cloud, monkeypatch):
    """SimplyBook's API on loopback, with the company and its booking 1042; the meetings function pointed at it."""
    sandbox = SimplyBookSandbox().start()
    sandbox.add_company(COMPANY, API_KEY, SECRET_KEY)
    sandbox.put_booking(COMPANY, BOOKING, HASH, DETAILS)
    monkeypatch.setenv('SIMPLYBOOK_API_BASE', sandbox.url)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sb(stack, simplybook):
    """A tenant with SimplyBook configured, a meeting account, SimplyBook's service 3 turned online."""
    settings = {'company': COMPANY, 'api_key': API_KEY, 'secret_key': SECRET_KEY, 'timezone': 'Europe/Berlin'}
    assert stack.admin('PUT', 'sources/simplybook', settings)[0] == 200
    account = {'type': 'custom_link', 'url': 'https://meet.example.com/room', 'description': 'Room 1'}
    assert stack.admin('PUT', 'accounts/default', account)[0] == 200
    assert stack.admin('PUT', 'services/simplybook:3', {'name': 'Consultation', 'online': True})[0] == 200
    return stack


def _queued(stack) -> list[dict]:
    return [json.loads(r['body']) for r in stack.cloud.queues['meetings'].receive()]


def _lookups(stack) -> list[dict]:
    return [message['detail'] for message in _queued(stack) if message['detail-type'] == 'booking.lookup']


def _resolve(stack, lookup: dict, now: float | None = None):
    """What the meetings pipeline does with a lookup: the source reads the booking from SimplyBook."""
    from meetbridge.logic import sources
    from meetbridge.sources.base import Lookup
    from meetbridge.sources.simplybook import SOURCE

    tenant_id = stack.tenant.tenant_id
    return SOURCE.resolve(Lookup.model_validate(lookup), sources.settings_of(tenant_id, 'simplybook'),
                          lambda external_id: sources.known_booking(tenant_id, 'simplybook', external_id),
                          time.time() if now is None else now)


def _lookup(notification_type: str = 'create', booking_hash: str = HASH, booking_id: str = BOOKING,
            tenant_id: str = '') -> dict:
    return {'tenant_id': tenant_id, 'source': 'simplybook', 'event_id': f'simplybook:{booking_id}:test',
            'external_id': booking_id, 'hint': {'notification_type': notification_type, 'booking_hash': booking_hash}}


def _resolved(stack, notification_type: str = 'create', **lookup):
    return _resolve(stack, _lookup(notification_type, tenant_id=stack.tenant.tenant_id, **lookup))


def _operations(simplybook) -> list[str]:
    return [call['operation'] for call in simplybook.calls()]


# --- the callback: answered at once, with a lookup ---------------------------------------------------


@pytest.mark.parametrize('notification_type', ['create', 'change', 'cancel'])
def test_a_callback_is_answered_at_once_with_a_lookup_and_no_api_call(sb, simplybook, notification_type):
    status, answer = post(sb, callback(notification_type))

    assert status == 202 and len(answer['accepted']) == 1
    [lookup] = _lookups(sb)
    assert lookup['event_id'] == answer['accepted'][0]
    assert (lookup['source'], lookup['external_id'], lookup['booking_id']) == ('simplybook', BOOKING, None)
    assert lookup['hint'] == {'notification_type': notification_type, 'booking_hash': HASH}
    assert simplybook.calls() == []


@pytest.mark.parametrize('notification_type', ['notify', 'new_client', 'something_new'])
def test_reminders_and_unknown_types_are_acknowledged_and_change_nothing(sb, simplybook, notification_type):
    assert post(sb, callback(notification_type)) == (202, {'accepted': []})
    assert _queued(sb) == [] and simplybook.calls() == []


def test_a_callback_naming_another_company_is_401_and_changes_nothing(sb, simplybook):
    status, answer = post(sb, callback(company='someoneelse'))

    assert status == 401 and answer['error'] == 'invalid_signature'
    assert _queued(sb) == [] and simplybook.calls() == []


def test_a_tenant_without_simplybook_or_after_removing_it_answers_404(stack, simplybook):
    assert post(stack, callback())[0] == 404
    settings = {'company': COMPANY, 'api_key': API_KEY, 'secret_key': SECRET_KEY, 'timezone': 'Europe/Berlin'}
    stack.admin('PUT', 'sources/simplybook', settings)
    stack.admin('DELETE', 'sources/simplybook')

    assert post(stack, callback())[0] == 404


@pytest.mark.parametrize(('body', 'field'), [
    (json.dumps({'booking_hash': HASH, 'company': COMPANY, 'notification_type': 'create'}).encode(), 'booking_id'),
    (json.dumps({'booking_id': 1042, 'booking_hash': HASH, 'company': COMPANY,
                 'notification_type': 'create'}).encode(), 'booking_id'),
    (callback(booking_id='10 42'), 'booking_id'),
    (callback(booking_hash='not-a-hash'), 'booking_hash'),
    (json.dumps({'booking_id': BOOKING, 'booking_hash': HASH, 'company': ['x'],
                 'notification_type': 'create'}).encode(), 'company'),
    (json.dumps({'booking_id': BOOKING, 'booking_hash': HASH, 'company': COMPANY,
                 'notification_type': None}).encode(), 'notification_type'),
])
def test_a_malformed_callback_is_400_naming_the_field(sb, body, field):
    status, answer = post(sb, body)

    assert status == 400 and answer['field'] == field
    assert _queued(sb) == []


@pytest.mark.parametrize('body', [
    b'[' * 5000 + b']' * 5000,
    b'{"booking_id": ' + b'9' * 5000 + b'}',
    b'{"booking_id": "\xff\xfe"}',
    b'booking_id=1042&booking_hash=x',
    b'["1042"]',
    b'',
])
def test_hostile_bodies_are_a_clear_400(sb, body):
    status, answer = post(sb, body)

    assert status == 400 and answer['error'] == 'invalid_request' and answer['message']
    assert _queued(sb) == []


def test_a_retried_create_or_cancel_callback_is_one_lookup(sb):
    assert post(sb, callback())[0] == 202
    assert post(sb, callback())[0] == 503  # within the first's lease: sent again later (test_webhook_publish.py)
    assert post(sb, callback('cancel'))[0] == 202
    assert post(sb, callback('cancel'))[0] == 503

    assert [lookup['hint']['notification_type'] for lookup in _lookups(sb)] == ['create', 'cancel']


def test_two_identical_change_callbacks_are_two_lookups(sb):
    first = post(sb, callback('change'))
    time.sleep(0.002)
    second = post(sb, callback('change'))

    assert first[0] == second[0] == 202 and first[1] != second[1]
    assert len(_lookups(sb)) == 2


# --- the lookup: getBookingDetails --------------------------------------------------------------------


def test_a_created_booking_is_read_with_simplybook_ids_in_the_company_time_zone(sb):
    translation = _resolved(sb)

    [event] = translation.events
    booking = event.booking
    assert event.type == 'booking.created' and event.source == 'simplybook' and booking.version is None
    assert (booking.id, booking.service_id, booking.provider_id) == ('simplybook:1042', 'simplybook:3', 'simplybook:2')
    assert booking.start.isoformat() == '2030-03-04T08:30:00+00:00'  # 09:30 in Berlin, winter time
    assert booking.end.isoformat() == '2030-03-04T09:00:00+00:00'
    assert booking.timezone == 'Europe/Berlin'
    assert booking.client.model_dump() == {'id': 'simplybook:17', 'name': 'Zoë Nakamura',
                                           'email': 'zoe@client.example', 'timezone': 'Europe/Berlin',
                                           'phone': '+4930123456', 'locale': None}
    assert booking.payment.model_dump() == {'required': False, 'status': 'pending'}
    assert [(s.id, s.name) for s in translation.services] == [('simplybook:3', 'Consultation')]
    assert [(p.id, p.name, p.email, p.timezone) for p in translation.providers] == [
        ('simplybook:2', 'Dana Reyes', 'dana@clinic.example', None)]
    assert translation.external_ids == {BOOKING: 'simplybook:1042'}
    assert translation.lookups == []


@pytest.mark.parametrize(('phone', 'kept'), [
    ('+49 (30) 123-456', '+4930123456'),
    ('0049 30 123456', '+4930123456'),
    ('030 123456', None),  # a national number: no SMS, the booking stands
    ('', None),
    (4930123456, None),  # not text: left out
])
def test_the_client_phone_is_the_clients_in_e164_or_left_out(sb, simplybook, phone, kept):
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'client_phone': phone})

    client = _resolved(sb).events[0].booking.client

    assert (client.email, client.phone, client.locale) == ('zoe@client.example', kept, None)


def test_a_change_is_a_reschedule_of_the_same_booking_and_a_cancel_cancels(sb, simplybook):
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'start_date_time': '2030-03-05 11:00:00',
                                                    'end_date_time': '2030-03-05 11:30:00'})
    [changed] = _resolved(sb, 'change').events
    [cancelled] = _resolved(sb, 'cancel').events

    assert changed.type == 'booking.rescheduled' and changed.booking.id == 'simplybook:1042'
    assert changed.booking.start.isoformat() == '2030-03-05T10:00:00+00:00'
    assert cancelled.type == 'booking.cancelled' and cancelled.booking.id == 'simplybook:1042'


@pytest.mark.parametrize('cancelled', [{'is_confirm': '0'}, {'is_confirm': 0}, {'status': 'canceled'},
                                       {'status': 'Cancelled'}])
def test_a_reread_showing_the_booking_cancelled_cancels_whatever_the_callback_said(sb, simplybook, cancelled):
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, **cancelled})

    assert [event.type for event in _resolved(sb, 'change').events] == ['booking.cancelled']


@pytest.mark.parametrize(('payment_status', 'payment'), [
    ('paid', {'required': True, 'status': 'paid'}),
    ('not_paid', {'required': True, 'status': 'pending'}),
])
def test_the_payment_comes_from_the_details(sb, simplybook, payment_status, payment):
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'payment_status': payment_status})

    assert _resolved(sb).events[0].booking.payment.model_dump() == payment


def test_a_retried_callback_rereads_the_same_state_and_makes_the_same_event(sb, simplybook):
    first, retried = _resolved(sb, 'change').events[0], _resolved(sb, 'change').events[0]
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'start_date_time': '2030-03-05 11:00:00',
                                                    'end_date_time': '2030-03-05 11:30:00'})
    changed = _resolved(sb, 'change').events[0]

    assert first.event_id == retried.event_id != changed.event_id
    assert first.event_id.startswith('simplybook:1042:')


def test_only_a_client_or_provider_change_is_still_a_new_event(sb, simplybook):
    before = _resolved(sb, 'change').events[0]
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'unit_id': '5', 'unit_name': 'Sam Lee',
                                                    'client_email': 'zoe.new@client.example'})
    after = _resolved(sb, 'change').events[0]

    assert after.event_id != before.event_id and after.type == 'booking.rescheduled'
    assert (after.booking.id, after.booking.provider_id) == ('simplybook:1042', 'simplybook:5')
    assert after.booking.client.email == 'zoe.new@client.example'


@pytest.mark.parametrize(('start', 'end', 'start_utc', 'end_utc'), [
    # Spring forward in Berlin on 2030-03-31: 02:00-03:00 does not exist. The gap's 02:30 is read with the
    # winter offset (it is 03:30 summer time); the end keeps the wall-clock length when it would not follow.
    ('2030-03-31 02:30:00', '2030-03-31 03:00:00', '2030-03-31T01:30:00+00:00', '2030-03-31T02:00:00+00:00'),
    ('2030-03-31 01:30:00', '2030-03-31 03:30:00', '2030-03-31T00:30:00+00:00', '2030-03-31T01:30:00+00:00'),
    # Fall back on 2030-10-27: 02:00-03:00 happens twice; its first occurrence (summer time) is read.
    ('2030-10-27 02:15:00', '2030-10-27 02:45:00', '2030-10-27T00:15:00+00:00', '2030-10-27T00:45:00+00:00'),
])
def test_company_times_in_a_dst_gap_or_overlap_are_read_without_failing(sb, simplybook, start, end, start_utc,
                                                                       end_utc):
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'start_date_time': start, 'end_date_time': end})

    booking = _resolved(sb).events[0].booking

    assert (booking.start.isoformat(), booking.end.isoformat()) == (start_utc, end_utc)


@pytest.mark.parametrize(('change', 'field'), [
    ({'start_date_time': '2030-03-04T09:30:00+01:00'}, 'details.start_date_time'),
    ({'end_date_time': '2030-03-04 09:00:00'}, 'details.end_date_time'),
    ({'unit_id': None}, 'details.unit_id'),
    ({'client_name': '  '}, 'details.client_name'),
    ({'start_date_time': '0001-01-01 00:30:00'}, 'details.start_date_time'),
    ({'client_email': 'not an email'}, 'details.client_email'),
    ({'unit_email': 'dana at clinic'}, 'details.unit_email'),
    # A number would read as a UTC instant, then meet a wall-clock start.
    ({'end_date_time': 1900000000}, 'details.end_date_time'),
])
def test_details_that_cannot_be_a_booking_are_invalid_input(sb, simplybook, change, field):
    from meetbridge.errors import InvalidInput

    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, **change})

    with pytest.raises(InvalidInput) as refused:
        _resolved(sb)
    assert refused.value.field == field


def test_numeric_ids_are_read_as_their_digits_and_a_blank_email_as_none(sb, simplybook):
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'event_id': 3, 'unit_id': 2, 'client_id': 17,
                                                    'unit_email': ''})

    translation = _resolved(sb)
    booking = translation.events[0].booking

    assert (booking.service_id, booking.provider_id, booking.client.id) == (
        'simplybook:3', 'simplybook:2', 'simplybook:17')
    assert translation.providers[0].email is None


# --- what SimplyBook refuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(('booking_id', 'booking_hash', 'reason'), [
    (BOOKING, FORGED_HASH, 'signature error'),
    ('999', HASH, 'no such booking'),
])
def test_a_forged_hash_or_an_unknown_booking_is_refused(sb, simplybook, booking_id, booking_hash, reason):
    from meetbridge.sources.base import LookupRefused

    with pytest.raises(LookupRefused, match=reason) as refused:
        _resolved(sb, booking_id=booking_id, booking_hash=booking_hash)
    assert SECRET_KEY not in str(refused.value) and booking_hash not in str(refused.value)


@pytest.mark.parametrize(('settings', 'reason'), [
    ({'api_key': 'not-the-key'}, 'the API key is wrong'),
    ({'company': 'nosuchcompany'}, 'the company does not exist'),
])
def test_refused_credentials_wait_for_the_admin(sb, settings, reason):
    from meetbridge.sources.base import PlatformUnavailable

    configured = {'company': COMPANY, 'api_key': API_KEY, 'secret_key': SECRET_KEY, 'timezone': 'Europe/Berlin'}
    assert sb.admin('PUT', 'sources/simplybook', {**configured, **settings})[0] == 200

    with pytest.raises(PlatformUnavailable, match=reason) as waiting:
        _resolved(sb)
    assert 'not-the-key' not in str(waiting.value) and 'check the SimplyBook source' in str(waiting.value)


# --- the token: one API call per booking event once it is held ---------------------------------------


def test_the_token_is_kept_sealed_and_reused_so_each_event_is_one_call(sb, simplybook):
    from meetbridge.store.models import SourceTokenItem

    _resolved(sb)
    assert _operations(simplybook) == ['get_token', 'get_booking_details']
    simplybook.reset_calls()

    for notification_type in ('change', 'change', 'cancel'):
        _resolved(sb, notification_type)

    assert _operations(simplybook) == ['get_booking_details'] * 3
    kept = SourceTokenItem.get(*SourceTokenItem.key(sb.tenant.tenant_id, 'simplybook'))
    assert kept.token_sealed and b'"token"' not in kept.token_sealed


def test_an_expired_token_is_renewed_once_and_the_call_retried(sb, simplybook):
    _resolved(sb)
    simplybook.expire_access_tokens()
    simplybook.reset_calls()

    assert _resolved(sb, 'change').events[0].type == 'booking.rescheduled'
    assert _operations(simplybook) == ['get_booking_details', 'get_token', 'get_booking_details']
    simplybook.reset_calls()

    _resolved(sb, 'change')
    assert _operations(simplybook) == ['get_booking_details']


def test_a_token_of_the_company_named_before_is_not_used_for_another(sb, simplybook):
    _resolved(sb)
    simplybook.add_company('otherclinic', API_KEY, SECRET_KEY)
    simplybook.put_booking('otherclinic', BOOKING, HASH, DETAILS)
    settings = {'company': 'otherclinic', 'api_key': API_KEY, 'secret_key': SECRET_KEY, 'timezone': 'Europe/Berlin'}
    assert sb.admin('PUT', 'sources/simplybook', settings)[0] == 200
    simplybook.reset_calls()

    _resolved(sb)

    assert [(call['operation'], call['company']) for call in simplybook.calls()] == [
        ('get_token', 'otherclinic'), ('get_booking_details', 'otherclinic')]


# --- SimplyBook down, then back ------------------------------------------------------------------------


@pytest.mark.parametrize(('operation', 'status'), [
    ('get_booking_details', 503), ('get_booking_details', 429), ('get_booking_details', 504), ('get_token', 502),
])
def test_simplybook_down_is_platform_unavailable_and_the_retry_succeeds(sb, simplybook, operation, status):
    from meetbridge.sources.base import PlatformUnavailable

    simplybook.fail(operation, status, times=2)
    for _ in range(2):
        with pytest.raises(PlatformUnavailable, match=str(status)):
            _resolved(sb)

    assert _resolved(sb).events[0].type == 'booking.created'


def test_simplybook_not_answering_at_all_is_platform_unavailable(sb, monkeypatch):
    from meetbridge.sources.base import PlatformUnavailable

    with socket.socket() as unused:
        unused.bind(('127.0.0.1', 0))
        closed_port = unused.getsockname()[1]
    monkeypatch.setenv('SIMPLYBOOK_API_BASE', f'http://127.0.0.1:{closed_port}')

    with pytest.raises(PlatformUnavailable, match='did not answer'):
        _resolved(sb)


def test_an_answer_that_is_not_json_rpc_is_platform_unavailable(sb, simplybook):
    from meetbridge.sources.base import PlatformUnavailable

    _resolved(sb)
    simplybook.fail('get_booking_details', 200, body=['not', 'an', 'answer'])

    with pytest.raises(PlatformUnavailable, match='not a JSON-RPC answer'):
        _resolved(sb)


def test_an_answer_beyond_the_json_bounds_is_platform_unavailable_not_a_crash(sb, simplybook):
    from meetbridge.sources.base import PlatformUnavailable

    _resolved(sb)
    nested: list = []
    for _ in range(3000):
        nested = [nested]
    simplybook.fail('get_booking_details', 200, body={'jsonrpc': '2.0', 'id': 1, 'result': nested})

    with pytest.raises(PlatformUnavailable, match='not a JSON-RPC answer'):
        _resolved(sb)


# --- through the pipeline: webhook -> lookup -> booking -> meeting --------------------------------------


def run_meetings(stack, records: list[dict]) -> list[dict]:
    from helpers import handler, sqs_event

    return handler('meetings')(sqs_event(records), stack.context)['batchItemFailures']


def _look_up(stack) -> list[str]:
    """Runs the lookup waiting on the meetings queue, then the booking events it published; answers their types."""
    [lookup] = stack.cloud.queues['meetings'].receive()
    assert run_meetings(stack, [lookup]) == []
    published = stack.cloud.queues['meetings'].receive()
    if published:
        assert run_meetings(stack, published) == []
    return [json.loads(record['body'])['detail']['type'] for record in published]


def _deliver(stack, notification_type: str = 'create') -> list[str]:
    assert post(stack, callback(notification_type))[0] == 202
    return _look_up(stack)


def _announced(stack) -> list[str]:
    """What the changes applied since the last call announced (meeting.*): a change that changed nothing, none."""
    return [json.loads(record['body'])['detail-type'] for record in stack.cloud.queues['notifications'].receive()]


def _booking(stack) -> dict:
    status, view = stack.view('simplybook:1042')
    assert status == 200, view
    return view


def _move(simplybook, start: str, end: str, **changes) -> None:
    """The booking changed at SimplyBook: its details answer the new state."""
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'start_date_time': start, 'end_date_time': end,
                                                    **changes})


def test_a_created_booking_gets_its_meeting_and_links_under_simplybook_ids(sb):
    assert _deliver(sb) == ['booking.created']

    view = _booking(sb)
    booking = view['booking']
    assert (booking['service_id'], booking['provider_id']) == ('simplybook:3', 'simplybook:2')
    assert booking['start'].startswith('2030-03-04T08:30:00') and booking['timezone'] == 'Europe/Berlin'
    assert booking['client']['email'] == 'zoe@client.example'
    assert view['meeting']['status'] == 'scheduled' and view['links']['provider'] and view['links']['clients']
    assert sb.admin('GET', 'providers/simplybook:2')[1]['email'] == 'dana@clinic.example'
    status, found = sb.admin('GET', f'sources/simplybook/bookings/{BOOKING}')
    assert status == 200 and found == {**view, 'source': 'simplybook', 'external_id': BOOKING}


def test_a_booking_of_an_unknown_service_registers_it_offline_and_makes_no_meeting(sb, simplybook):
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'event_id': '88', 'event_name': 'Haircut'})

    _deliver(sb)

    assert sb.admin('GET', 'services/simplybook:88')[1] == {'id': 'simplybook:88', 'name': 'Haircut',
                                                            'online': False,
                                                            'kind': 'appointment', 'links_in_messages': None}
    assert sb.view('simplybook:1042')[0] == 404


def test_a_source_set_online_all_registers_its_services_online(sb, simplybook):
    settings = {'company': COMPANY, 'api_key': API_KEY, 'secret_key': SECRET_KEY, 'timezone': 'Europe/Berlin',
                'online': 'all'}
    assert sb.admin('PUT', 'sources/simplybook', settings)[0] == 200
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'event_id': '88', 'event_name': 'Haircut'})

    _deliver(sb)

    assert sb.admin('GET', 'services/simplybook:88')[1]['online'] is True
    assert _booking(sb)['meeting']['status'] == 'scheduled'


def test_create_change_and_cancel_move_the_same_booking_with_the_same_links_then_cancel_it(sb, simplybook):
    _deliver(sb)
    before = _booking(sb)
    _move(simplybook, '2030-03-05 11:00:00', '2030-03-05 11:45:00')

    assert post(sb, callback('change'))[0] == 202
    [lookup] = [json.loads(r['body']) for r in sb.cloud.queues['meetings'].receive()]
    assert lookup['detail']['booking_id'] == 'simplybook:1042'  # known: a failure can be shown on it
    assert run_meetings(sb, [{'messageId': 'change-1', 'body': json.dumps(lookup),
                              'attributes': {'ApproximateReceiveCount': '1'}}]) == []
    sb.pump()

    after = _booking(sb)
    assert after['booking']['start'].startswith('2030-03-05T10:00:00') and after['booking']['status'] == 'active'
    assert after['links'] == before['links']

    assert _deliver(sb, 'cancel') == ['booking.cancelled']
    assert _booking(sb)['booking']['status'] == 'cancelled'


def test_two_identical_change_callbacks_for_two_real_changes_are_both_applied_and_a_retry_once(sb, simplybook):
    _deliver(sb)
    _announced(sb)
    changes = []
    _move(simplybook, '2030-03-05 11:00:00', '2030-03-05 11:30:00')
    _deliver(sb, 'change')
    changes.append(_announced(sb))
    _deliver(sb, 'change')  # SimplyBook delivering the same callback again: it re-reads the state applied
    changes.append(_announced(sb))
    _move(simplybook, '2030-03-06 15:00:00', '2030-03-06 15:30:00')
    _deliver(sb, 'change')
    changes.append(_announced(sb))

    assert changes == [['meeting.rescheduled'], [], ['meeting.rescheduled']]
    assert _booking(sb)['booking']['start'].startswith('2030-03-06T14:00:00')


def test_a_booking_moved_away_and_back_twice_follows_every_move(sb, simplybook):
    _deliver(sb)
    for start, end in [('2030-03-05 11:00:00', '2030-03-05 11:30:00'), ('2030-03-04 10:00:00', '2030-03-04 10:30:00'),
                       ('2030-03-05 11:00:00', '2030-03-05 11:30:00')]:
        _move(simplybook, start, end)
        assert _deliver(sb, 'change') == ['booking.rescheduled']

    # The second move to 11:00 reads a state already read once: it is a new change all the same.
    assert _booking(sb)['booking']['start'].startswith('2030-03-05T10:00:00')


def test_a_change_showing_only_another_client_or_provider_is_applied_to_the_same_booking(sb, simplybook):
    _deliver(sb)
    links = _booking(sb)['links']
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'client_name': 'Zoë N.',
                                                    'client_email': 'zoe.new@client.example'})

    assert _deliver(sb, 'change') == ['booking.rescheduled']

    view = _booking(sb)
    assert view['booking']['client']['email'] == 'zoe.new@client.example' and view['links'] == links


def test_a_change_whose_reread_shows_the_booking_cancelled_cancels_it(sb, simplybook):
    _deliver(sb)
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'is_confirm': '0'})

    assert _deliver(sb, 'change') == ['booking.cancelled']
    assert _booking(sb)['booking']['status'] == 'cancelled'


def test_a_forged_hash_creates_nothing_and_is_logged_as_a_rejected_delivery(sb, simplybook, caplog):
    assert post(sb, callback(booking_hash=FORGED_HASH))[0] == 202

    assert _look_up(sb) == []

    assert sb.view('simplybook:1042')[0] == 404
    assert sb.admin('GET', 'services/simplybook:3')[1]['name'] == 'Consultation'  # the admin's, untouched
    assert sb.admin('GET', 'providers/simplybook:2')[0] == 404
    [rejected] = [r for r in caplog.records if r.getMessage().startswith('rejected delivery')]
    assert 'signature error' in rejected.reason
    assert SECRET_KEY not in caplog.text and API_KEY not in caplog.text


def test_a_forged_change_of_a_known_booking_changes_nothing(sb, simplybook):
    _deliver(sb)
    before = _booking(sb)

    assert post(sb, callback('cancel', booking_hash=FORGED_HASH))[0] == 202
    assert _look_up(sb) == []

    assert _booking(sb) == before


@pytest.mark.parametrize('status', [503, 429, 504])
def test_simplybook_down_then_back_makes_the_meeting_once(sb, simplybook, status):
    simplybook.fail('get_booking_details', status, times=3)
    assert post(sb, callback())[0] == 202
    [record] = sb.cloud.queues['meetings'].receive()

    for _ in range(3):
        assert run_meetings(sb, [record]) == [{'itemIdentifier': record['messageId']}]
        assert sb.view('simplybook:1042')[0] == 404
    assert run_meetings(sb, [record]) == []
    published = sb.cloud.queues['meetings'].receive()
    assert [json.loads(r['body'])['detail']['type'] for r in published] == ['booking.created']
    assert run_meetings(sb, published) == []
    # The lookup redelivered once more, within its publish's lease: retried later, nothing new is published.
    assert run_meetings(sb, [record]) == [{'itemIdentifier': record['messageId']}]
    assert sb.cloud.queues['meetings'].receive() == []

    assert _booking(sb)['meeting']['status'] == 'scheduled'
    assert _operations(simplybook).count('get_booking_details') == 5


def test_simplybook_down_on_a_known_booking_shows_why_its_change_waits(sb, simplybook):
    _deliver(sb)
    simplybook.fail('get_booking_details', 503, times=1)
    _move(simplybook, '2030-03-05 11:00:00', '2030-03-05 11:30:00')
    assert post(sb, callback('change'))[0] == 202
    [record] = sb.cloud.queues['meetings'].receive()

    assert run_meetings(sb, [record]) == [{'itemIdentifier': record['messageId']}]
    assert _booking(sb)['booking']['problem'] == \
        'waiting for a retry of its simplybook lookup: SimplyBook answered POST /: HTTP 503'

    assert run_meetings(sb, [record]) == []
    sb.pump()
    booking = _booking(sb)['booking']
    assert booking['start'].startswith('2030-03-05T10:00:00') and booking['problem'] is None


def test_one_api_call_per_booking_event_once_the_token_is_held_and_one_new_token_on_expiry(sb, simplybook):
    _deliver(sb)
    assert _operations(simplybook) == ['get_token', 'get_booking_details']
    simplybook.reset_calls()

    _move(simplybook, '2030-03-05 11:00:00', '2030-03-05 11:30:00')
    _deliver(sb, 'change')
    _move(simplybook, '2030-03-06 11:00:00', '2030-03-06 11:30:00')
    _deliver(sb, 'change')
    assert _operations(simplybook) == ['get_booking_details'] * 2
    simplybook.reset_calls()

    simplybook.advance(3601)  # SimplyBook's token has expired
    _deliver(sb, 'cancel')
    assert _operations(simplybook) == ['get_booking_details', 'get_token', 'get_booking_details']
    assert _booking(sb)['booking']['status'] == 'cancelled'


def test_a_create_callback_arriving_after_the_cancel_leaves_the_booking_cancelled(sb, simplybook):
    simplybook.put_booking(COMPANY, BOOKING, HASH, {**DETAILS, 'is_confirm': '0'})  # booked, then cancelled

    assert _deliver(sb, 'cancel') == ['booking.cancelled']
    _announced(sb)
    # The late create re-reads the cancelled booking: a cancel again, which changes nothing.
    assert _deliver(sb, 'create') == ['booking.cancelled']
    assert _announced(sb) == []
    assert _booking(sb)['booking']['status'] == 'cancelled'


def test_a_late_change_callback_rereads_the_newest_state_and_applies_nothing_older(sb, simplybook):
    _deliver(sb)
    _move(simplybook, '2030-03-05 11:00:00', '2030-03-05 11:30:00')
    assert post(sb, callback('change'))[0] == 202
    [delayed] = sb.cloud.queues['meetings'].receive()  # SimplyBook's first change, its lookup held up
    _move(simplybook, '2030-03-06 15:00:00', '2030-03-06 15:30:00')
    assert _deliver(sb, 'change') == ['booking.rescheduled']

    _announced(sb)
    assert run_meetings(sb, [delayed]) == []
    reread = sb.cloud.queues['meetings'].receive()  # it read the state already applied
    assert run_meetings(sb, reread) == [] and _announced(sb) == []  # which changes nothing

    assert _booking(sb)['booking']['start'].startswith('2030-03-06T14:00:00')
