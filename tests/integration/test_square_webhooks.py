"""POST /webhooks/square/{tenant}: Square's booking webhooks, signed over the configured notification URL and the
body; the customer and team member they name are read from the Square sandbox in the meetings pipeline."""

import base64
import hashlib
import hmac
import json
import time

import pytest

from helpers import acting_as

SIGNATURE_KEY = 'sq-signature-key-1'
ACCESS_TOKEN = 'EAAA-square-token-1'
BOOKING_ID = 'zkras0xv0xwswx'
CUSTOMER_ID = 'JDKYHBWT1D4F8MFH63DBMEN8Y4'
TEAM_MEMBER_ID = 'TMXUrsBWWcHTt79t'
SERVICE_VARIATION_ID = 'RU3PBTZTK7DXZDQFCJHOK2MC'
START, NEW_START = '2026-03-18T14:00:00Z', '2026-03-20T09:30:00Z'
CUSTOMER = {'given_name': 'Amelia', 'family_name': 'Earhart', 'email_address': 'amelia@example.org',
            'phone_number': '+1-212-555-4240', 'created_at': '2026-01-10T10:00:00Z'}
TEAM_MEMBER = {'given_name': 'Sandy', 'family_name': 'Stylist', 'email_address': 'sandy@salon.example',
               'status': 'ACTIVE', 'is_owner': False}


def square_body(event_type: str = 'booking.created', event_id: str = '9a3c1e2f-4b5d-4c6e-8f70-0123456789ab',
                version: int = 0, status: str = 'ACCEPTED', start_at: str = START, segments: list | None = None,
                **booking_changes) -> bytes:
    """Square's booking webhook, as its docs' booking.created example has it."""
    booking = {
        'id': BOOKING_ID, 'version': version, 'status': status, 'created_at': '2026-03-05T17:00:00Z',
        'updated_at': '2026-03-05T17:00:00Z', 'location_id': 'LZXB8HT3BTK7E', 'customer_id': CUSTOMER_ID,
        'customer_note': '', 'seller_note': '', 'start_at': start_at, 'transition_time_minutes': 0,
        'all_day': False, 'location_type': 'BUSINESS_LOCATION', 'source': 'FIRST_PARTY_MERCHANT',
        'creator_details': {'creator_type': 'TEAM_MEMBER', 'team_member_id': TEAM_MEMBER_ID},
        'appointment_segments': [{
            'duration_minutes': 45, 'service_variation_id': SERVICE_VARIATION_ID, 'team_member_id': TEAM_MEMBER_ID,
            'service_variation_version': 1599775456731, 'intermission_minutes': 0, 'any_team_member': False,
        }] if segments is None else segments,
        **booking_changes,
    }
    return json.dumps({
        'merchant_id': '7WQ0KXC8ZSD90', 'location_id': 'LZXB8HT3BTK7E', 'type': event_type, 'event_id': event_id,
        'created_at': '2026-03-05T17:00:01.123Z',
        'data': {'type': 'booking', 'id': f'{BOOKING_ID}:{version}', 'object': {'booking': booking}},
    }).encode()


def notification_url(stack) -> str:
    return f'https://api.test/webhooks/square/{stack.tenant.tenant_id}'


def square_signature(url: str, body: bytes, key: str = SIGNATURE_KEY, digest=hashlib.sha256) -> str:
    return base64.b64encode(hmac.new(key.encode(), url.encode() + body, digest).digest()).decode()


def post(stack, body: bytes, signature: str | None = '', legacy: str | None = None) -> tuple[int, dict]:
    from helpers import handler, http_event

    headers = {'content-type': 'application/json', 'square-environment': 'Production',
               'square-initial-delivery-timestamp': '2026-03-05T17:00:01.200Z'}
    if signature is not None:
        headers['x-square-hmacsha256-signature'] = square_signature(notification_url(stack), body) \
            if signature == '' else signature
    if legacy is not None:
        headers['x-square-signature'] = legacy
    tenant_id = stack.tenant.tenant_id
    event = http_event('POST', f'/webhooks/square/{tenant_id}', '/webhooks/{source}/{tenant_id}',
                       {'source': 'square', 'tenant_id': tenant_id}, body, headers)
    response = handler('booking_webhook')(event, stack.context)
    return response['statusCode'], json.loads(response['body'])


@pytest.fixture
def square_api(cloud, monkeypatch):
    """The Square sandbox on loopback, with the source's token, the customer and the team member; the meetings
    function's SQUARE_API_BASE pointed at it."""
    from infra.sandboxes.square import SquareSandbox

    sandbox = SquareSandbox().start()
    sandbox.add_access_token(ACCESS_TOKEN)
    sandbox.put_customer(CUSTOMER_ID, CUSTOMER)
    sandbox.put_team_member(TEAM_MEMBER_ID, TEAM_MEMBER)
    monkeypatch.setenv('SQUARE_API_BASE', sandbox.url)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def square(stack, square_api):
    """A tenant with Square configured and a meeting account; the Square service turned online."""
    settings = {'signature_key': SIGNATURE_KEY, 'notification_url': notification_url(stack),
                'access_token': ACCESS_TOKEN}
    assert stack.admin('PUT', 'sources/square', settings)[0] == 200
    account = {'type': 'custom_link', 'url': 'https://meet.example.com/room', 'description': 'Room 1'}
    assert stack.admin('PUT', 'accounts/default', account)[0] == 200
    assert stack.admin('PUT', f'services/square:{SERVICE_VARIATION_ID}', {'name': 'Haircut', 'online': True})[0] == 200
    stack.square_api = square_api
    return stack


def _queued(stack) -> list[dict]:
    return [json.loads(r['body']) for r in stack.cloud.queues['meetings'].receive()]


# --- the webhook: verified, acknowledged at once, one lookup per Square event --------------------------------


def test_a_signed_booking_is_acknowledged_with_one_lookup_and_no_call_to_square(square):
    status, answer = post(square, square_body())

    assert (status, answer) == (202, {'accepted': ['square:9a3c1e2f-4b5d-4c6e-8f70-0123456789ab']})
    [lookup] = [message['detail'] for message in _queued(square)]
    assert lookup['type'] == 'booking.lookup' and lookup['source'] == 'square'
    assert (lookup['external_id'], lookup['booking_id']) == (BOOKING_ID, None)
    assert lookup['hint']['booking']['customer_id'] == CUSTOMER_ID and lookup['hint']['merchant_id'] == '7WQ0KXC8ZSD90'
    assert square.square_api.calls() == []


@pytest.mark.parametrize('case', ['tampered byte', 'wrong key', 'another url', 'missing', 'legacy sha1 only',
                                  'non-ascii', 'hex instead of base64'])
def test_a_bad_signature_is_401_and_changes_nothing(square, case):
    body = square_body()
    url = notification_url(square)
    signature = {
        'tampered byte': square_signature(url, body), 'wrong key': square_signature(url, body, 'not-the-key'),
        # The URL the request reached, but not the one configured: Square signed what was registered.
        'another url': square_signature(f'https://hooks.example.com/webhooks/square/{square.tenant.tenant_id}', body),
        'missing': None, 'legacy sha1 only': None, 'non-ascii': 'é' * 44,
        'hex instead of base64': hmac.new(SIGNATURE_KEY.encode(), url.encode() + body, hashlib.sha256).hexdigest(),
    }[case]
    legacy = square_signature(url, body, digest=hashlib.sha1) if case == 'legacy sha1 only' else None
    if case == 'tampered byte':
        body = body.replace(b'"duration_minutes": 45', b'"duration_minutes": 46')

    status, answer = post(square, body, signature, legacy)

    assert status == 401 and answer['error'] == 'invalid_signature'
    assert SIGNATURE_KEY not in json.dumps(answer)
    assert _queued(square) == []
    assert square.admin('GET', f'services/square:{SERVICE_VARIATION_ID}')[1]['name'] == 'Haircut'


def test_a_signature_over_a_notification_url_with_a_query_string_is_checked_over_it_exactly(square):
    url = notification_url(square) + '?from=square'
    settings = {'signature_key': SIGNATURE_KEY, 'notification_url': url, 'access_token': ACCESS_TOKEN}
    assert square.admin('PUT', 'sources/square', settings)[0] == 200
    body = square_body()

    assert post(square, body, square_signature(notification_url(square), body))[0] == 401
    assert post(square, body, square_signature(url, body))[0] == 202


def test_a_tenant_without_square_or_after_removing_it_answers_404(stack):
    assert post(stack, square_body())[0] == 404
    stack.admin('PUT', 'sources/square', {'signature_key': SIGNATURE_KEY, 'notification_url': notification_url(stack),
                                          'access_token': ACCESS_TOKEN})
    stack.admin('DELETE', 'sources/square')

    assert post(stack, square_body())[0] == 404


def test_a_retry_of_the_same_event_is_acknowledged_and_looked_up_once(square):
    body = square_body()

    first, second = post(square, body), post(square, body)

    assert first[0] == 202 and second[0] == 503  # within the first's lease: sent again later (test_webhook_publish.py)
    assert len(_queued(square)) == 1


def test_a_second_real_change_has_its_own_event_id_and_is_looked_up(square):
    post(square, square_body())
    post(square, square_body('booking.updated', event_id='b7d2-second-change', version=1, start_at=NEW_START))

    assert [m['detail']['event_id'] for m in _queued(square)] == [
        'square:9a3c1e2f-4b5d-4c6e-8f70-0123456789ab', 'square:b7d2-second-change']


@pytest.mark.parametrize('event_type', ['customer.created', 'booking.custom_attribute.updated', 'payment.updated'])
def test_events_that_are_not_a_booking_change_are_acknowledged(square, event_type):
    body = json.dumps({'merchant_id': '7WQ0KXC8ZSD90', 'type': event_type, 'event_id': 'other-1',
                       'created_at': '2026-03-05T17:00:01Z', 'data': {'type': 'customer', 'id': 'x', 'object': {}}})

    assert post(square, body.encode()) == (202, {'accepted': []})
    assert _queued(square) == []


def test_a_no_show_is_acknowledged_and_changes_nothing(square):
    assert post(square, square_body('booking.updated', version=3, status='NO_SHOW')) == (202, {'accepted': []})
    assert _queued(square) == []


def test_the_service_is_registered_from_the_webhook_not_online(square):
    post(square, square_body(segments=[{'duration_minutes': 30, 'service_variation_id': 'NEWVARIATION1',
                                        'team_member_id': TEAM_MEMBER_ID}]))

    assert square.admin('GET', 'services/square:NEWVARIATION1')[1] == {
        'id': 'square:NEWVARIATION1', 'name': 'Square service NEWVARIATION1', 'online': False,
        'kind': 'appointment', 'links_in_messages': None}


@pytest.mark.parametrize(('body', 'field'), [
    (square_body(version='1'), 'data.object.booking.version'),
    (square_body(version=2**63), 'data.object.booking.version'),
    (square_body(start_at='tomorrow'), 'data.object.booking.start_at'),
    (square_body(start_at='2026-03-18T14:00:00'), 'data.object.booking.start_at'),
    (square_body(segments=[]), 'data.object.booking.appointment_segments'),
    (square_body(segments=[{'duration_minutes': True, 'service_variation_id': 'V', 'team_member_id': 'T'}]),
     'data.object.booking.appointment_segments.0.duration_minutes'),
    (square_body(segments=[{'duration_minutes': 0, 'service_variation_id': 'V', 'team_member_id': 'T'}]),
     'data.object.booking.appointment_segments'),
    (square_body(start_at='9999-12-31T23:30:00Z'), 'data.object.booking.start_at'),
    (square_body(customer_id='../../v2/locations'), 'data.object.booking.customer_id'),
    (square_body(id={'x': 1}), 'data.object.booking.id'),
])
def test_a_malformed_booking_is_400_naming_the_field(square, body, field):
    status, answer = post(square, body)

    assert status == 400 and answer['field'] == field
    assert _queued(square) == []


@pytest.mark.parametrize('body', [b'{"type": ', b'\xff\xfe{}', b'[]', b'[' * 5000 + b']' * 5000,
                                  b'{"merchant_id":"M","type":"booking.created","event_id":"e","data":{"n":' +
                                  b'9' * 5000 + b'}}',
                                  b'{"merchant_id":"M","type":"booking.created","event_id":"e","data":[]}'])
def test_a_signed_body_that_is_not_a_square_event_is_400(square, body):
    status, answer = post(square, body)

    assert status == 400 and answer['error'] == 'invalid_request'
    assert _queued(square) == []


# --- resolve: the reads from Square's API --------------------------------------------------------------------


def _lookup(stack, body: bytes | None = None) -> dict:
    assert post(stack, body or square_body())[0] == 202
    [message] = _queued(stack)
    return message['detail']


def _resolve(stack, detail: dict):
    from meetbridge.logic import sources
    from meetbridge.sources.base import Lookup
    from meetbridge.sources.square import SOURCE

    lookup = Lookup.model_validate({key: value for key, value in detail.items() if key != 'type'})
    settings = sources.settings_of(stack.tenant.tenant_id, 'square')
    with acting_as('meetings'):
        return SOURCE.resolve(lookup, settings, lambda external_id: None, time.time())


def test_resolve_reads_the_customer_and_the_unknown_team_member(square):
    translation = _resolve(square, _lookup(square))

    [event] = translation.events
    booking = event.booking
    assert (event.type, booking.id, booking.version) == ('booking.created', f'square:{BOOKING_ID}', 0)
    assert (booking.service_id, booking.provider_id) == (f'square:{SERVICE_VARIATION_ID}', f'square:{TEAM_MEMBER_ID}')
    assert (booking.start.isoformat(), booking.end.isoformat()) == ('2026-03-18T14:00:00+00:00',
                                                                    '2026-03-18T14:45:00+00:00')
    assert booking.client.model_dump() == {'id': f'square:{CUSTOMER_ID}', 'name': 'Amelia Earhart',
                                           'email': 'amelia@example.org', 'timezone': None,
                                           'phone': '+12125554240', 'locale': None}
    assert booking.timezone == 'UTC'
    [provider] = translation.providers
    assert provider.model_dump() == {'id': f'square:{TEAM_MEMBER_ID}', 'name': 'Sandy Stylist',
                                     'email': 'sandy@salon.example', 'timezone': None}
    assert translation.external_ids == {BOOKING_ID: f'square:{BOOKING_ID}'}
    calls = square.square_api.calls()
    assert [(c['operation'], c['status']) for c in calls] == [('retrieve_customer', 200), ('retrieve_team_member', 200)]


def test_a_provider_without_a_zone_takes_the_sources(square):
    settings = {'signature_key': SIGNATURE_KEY, 'notification_url': notification_url(square),
                'access_token': ACCESS_TOKEN, 'timezone': 'Australia/Adelaide'}
    status, answer = square.admin('PUT', 'sources/square', settings)
    assert status == 200 and answer['timezone'] == 'Australia/Adelaide'

    assert _resolve(square, _lookup(square)).events[0].booking.timezone == 'Australia/Adelaide'


def test_resolve_reads_only_the_customer_once_the_provider_is_known_and_takes_its_zone(square):
    assert square.admin('PUT', f'providers/square:{TEAM_MEMBER_ID}', {'name': 'Sandy', 'timezone': 'America/Chicago'}
                        )[0] == 200

    translation = _resolve(square, _lookup(square))

    assert translation.providers == [] and translation.events[0].booking.timezone == 'America/Chicago'
    assert [c['operation'] for c in square.square_api.calls()] == ['retrieve_customer']


def test_the_end_adds_every_segment_and_the_intermissions_between_them(square):
    segments = [
        {'duration_minutes': 30, 'service_variation_id': SERVICE_VARIATION_ID, 'team_member_id': TEAM_MEMBER_ID,
         'intermission_minutes': 15},
        {'duration_minutes': 20, 'service_variation_id': 'OTHERVARIATION', 'team_member_id': 'TMother',
         'intermission_minutes': 10},
    ]
    translation = _resolve(square, _lookup(square, square_body(segments=segments)))

    booking = translation.events[0].booking
    assert (booking.end - booking.start).total_seconds() == 65 * 60
    assert booking.service_id == f'square:{SERVICE_VARIATION_ID}'


@pytest.mark.parametrize(('status', 'change'), [
    ('PENDING', 'booking.rescheduled'), ('ACCEPTED', 'booking.rescheduled'),
    ('CANCELLED_BY_CUSTOMER', 'booking.cancelled'), ('CANCELLED_BY_SELLER', 'booking.cancelled'),
    ('DECLINED', 'booking.cancelled'),
])
def test_an_update_is_a_move_or_a_cancel_by_its_status(square, status, change):
    detail = _lookup(square, square_body('booking.updated', version=2, status=status))

    assert _resolve(square, detail).events[0].type == change


def test_the_same_event_read_again_is_the_same_booking_event_and_a_new_version_another(square):
    detail = _lookup(square)
    first, again = _resolve(square, detail), _resolve(square, detail)
    moved = _resolve(square, _lookup(square, square_body('booking.updated', event_id='e2', version=1,
                                                         start_at=NEW_START)))

    assert first.events[0].event_id == again.events[0].event_id
    assert moved.events[0].event_id != first.events[0].event_id


def test_a_customer_square_does_not_have_refuses_the_lookup(square):
    from meetbridge.sources.base import LookupRefused

    square.square_api.remove_customer(CUSTOMER_ID)

    with pytest.raises(LookupRefused, match='HTTP 404'):
        _resolve(square, _lookup(square))


@pytest.mark.parametrize('status', [429, 500, 503])
def test_an_outage_is_retried(square, status):
    from meetbridge.sources.base import PlatformUnavailable

    square.square_api.fail('retrieve_customer', status)

    with pytest.raises(PlatformUnavailable, match=f'HTTP {status}'):
        _resolve(square, _lookup(square))


def test_a_revoked_token_waits_for_the_admin_and_is_never_named(square):
    from meetbridge.sources.base import PlatformUnavailable

    square.square_api.revoke_access_token(ACCESS_TOKEN)

    with pytest.raises(PlatformUnavailable) as raised:
        _resolve(square, _lookup(square))
    assert 'HTTP 401' in str(raised.value) and ACCESS_TOKEN not in str(raised.value)


@pytest.mark.parametrize(('phone_number', 'kept'), [
    ('+44 (20) 7946-0958', '+442079460958'),
    ('00442079460958', '+442079460958'),
    ('(212) 555-4240', None),  # a national number: no SMS, the booking stands
    (None, None),
])
def test_the_customers_phone_number_is_the_clients_in_e164_or_left_out(square, phone_number, kept):
    customer = {key: value for key, value in CUSTOMER.items() if key != 'phone_number'}
    square.square_api.put_customer(CUSTOMER_ID, customer if phone_number is None else
                                   {**customer, 'phone_number': phone_number})

    client = _resolve(square, _lookup(square)).events[0].booking.client

    assert (client.email, client.phone, client.locale) == ('amelia@example.org', kept, None)


def test_a_customer_without_an_email_address_cannot_be_a_client(square):
    from meetbridge.errors import InvalidInput

    square.square_api.put_customer(CUSTOMER_ID, {'given_name': 'Amelia'})

    with pytest.raises(InvalidInput) as raised:
        _resolve(square, _lookup(square))
    assert raised.value.field == 'customer.email_address'


# --- through the pipeline: webhook -> lookup in the meetings function -> booking event -> meeting ----------


@pytest.fixture
def customer_read_every_time(monkeypatch):
    """Each lookup reads the customer again, as a lookup in another container would."""
    from meetbridge.sources import square

    monkeypatch.setattr(square, 'CUSTOMER_READ_SECONDS', -1)


def _deliver(stack, body: bytes) -> None:
    assert post(stack, body)[0] == 202
    stack.pump()


def _booking(stack) -> dict:
    status, view = stack.view(f'square:{BOOKING_ID}')
    assert status == 200, view
    return view


def _calls(stack) -> list[str]:
    """The operations asked of Square since the last call of this, in order."""
    operations = [call['operation'] for call in stack.square_api.calls()]
    stack.square_api.reset_calls()
    return operations


def test_a_created_booking_gets_its_meeting_links_client_and_provider_from_square(square):
    assert square.admin('GET', f'sources/square/bookings/{BOOKING_ID}')[0] == 404

    _deliver(square, square_body())

    view = _booking(square)
    booking = view['booking']
    assert (booking['service_id'], booking['provider_id']) == (f'square:{SERVICE_VARIATION_ID}',
                                                               f'square:{TEAM_MEMBER_ID}')
    assert booking['start'].startswith('2026-03-18T14:00:00') and booking['end'].startswith('2026-03-18T14:45:00')
    assert booking['client']['email'] == 'amelia@example.org' and booking['timezone'] == 'UTC'
    assert view['meeting']['status'] == 'scheduled' and view['links']['provider'] and view['links']['clients']
    assert square.admin('GET', f'providers/square:{TEAM_MEMBER_ID}')[1]['email'] == 'sandy@salon.example'
    status, found = square.admin('GET', f'sources/square/bookings/{BOOKING_ID}')
    assert status == 200 and found == {**view, 'source': 'square', 'external_id': BOOKING_ID}


def test_an_update_at_a_new_time_and_version_moves_the_same_booking_and_keeps_its_links(square):
    _deliver(square, square_body())
    before = _booking(square)

    _deliver(square, square_body('booking.updated', event_id='e-moved', version=1, start_at=NEW_START))

    after = _booking(square)
    assert after['booking']['start'].startswith('2026-03-20T09:30:00') and after['booking']['status'] == 'active'
    assert after['links'] == before['links'] and after['meeting']['key'] == before['meeting']['key']


def test_a_pending_booking_accepted_keeps_its_meeting_unmoved(square):
    _deliver(square, square_body(status='PENDING'))
    before = _booking(square)

    _deliver(square, square_body('booking.updated', event_id='e-accepted', version=1, status='ACCEPTED'))

    after = _booking(square)
    assert after['booking']['start'] == before['booking']['start'] and after['links'] == before['links']
    assert after['meeting']['status'] == 'scheduled'


@pytest.mark.parametrize('status', ['CANCELLED_BY_CUSTOMER', 'CANCELLED_BY_SELLER', 'DECLINED'])
def test_a_cancellation_or_a_decline_cancels_the_booking(square, status):
    _deliver(square, square_body())

    _deliver(square, square_body('booking.updated', event_id='e-ended', version=1, status=status))

    assert _booking(square)['booking']['status'] == 'cancelled'


def test_a_no_show_leaves_the_meeting_as_it_is(square):
    _deliver(square, square_body())
    before = _booking(square)

    _deliver(square, square_body('booking.updated', event_id='e-no-show', version=1, status='NO_SHOW'))

    assert _booking(square) == before


def test_changes_apply_in_the_order_of_the_booking_version_not_of_arrival(square):
    _deliver(square, square_body())
    _deliver(square, square_body('booking.updated', event_id='e-v2', version=2, start_at=NEW_START))
    _deliver(square, square_body('booking.updated', event_id='e-v1', version=1, start_at='2026-03-19T08:00:00Z'))

    assert _booking(square)['booking']['start'].startswith('2026-03-20T09:30:00')


def test_a_move_arriving_before_the_creation_ends_at_the_new_time(square):
    _deliver(square, square_body('booking.updated', event_id='e-v1', version=1, start_at=NEW_START))
    _deliver(square, square_body())  # created earlier at Square, delivered late

    booking = _booking(square)['booking']
    assert booking['start'].startswith('2026-03-20T09:30:00') and booking['status'] == 'active'


def test_a_cancel_arriving_before_a_late_move_stays_cancelled(square):
    _deliver(square, square_body())
    _deliver(square, square_body('booking.updated', event_id='e-v2', version=2, status='CANCELLED_BY_CUSTOMER'))
    _deliver(square, square_body('booking.updated', event_id='e-v1', version=1, start_at=NEW_START))

    assert _booking(square)['booking']['status'] == 'cancelled'


def test_a_retried_delivery_is_looked_up_and_applied_once(square, customer_read_every_time):
    body = square_body()
    assert post(square, body)[0] == 202
    assert post(square, body)[0] == 503  # within the first's lease: sent again later (test_webhook_publish.py)
    reports = square.pump()

    assert _calls(square) == ['retrieve_customer', 'retrieve_team_member']
    assert len(reports['meetings']) == 2  # the one lookup, then the one booking event it published
    assert _booking(square)['meeting']['status'] == 'scheduled'


def test_calls_to_square_per_booking_event(square, customer_read_every_time):
    _deliver(square, square_body())
    first = _calls(square)
    _deliver(square, square_body('booking.updated', event_id='e-moved', version=1, start_at=NEW_START))
    moved = _calls(square)
    _deliver(square, square_body('booking.updated', event_id='e-cancelled', version=2, status='CANCELLED_BY_SELLER'))
    cancelled = _calls(square)

    # The team member is read once, while it is not yet a provider; then one read per event.
    assert (first, moved, cancelled) == (['retrieve_customer', 'retrieve_team_member'], ['retrieve_customer'],
                                         ['retrieve_customer'])
    assert _booking(square)['booking']['status'] == 'cancelled'


def test_a_customer_read_is_reused_for_changes_in_a_row(square):
    _deliver(square, square_body())
    _deliver(square, square_body('booking.updated', event_id='e-moved', version=1, start_at=NEW_START))
    _deliver(square, square_body('booking.updated', event_id='e-moved-again', version=2, start_at=START))

    assert _calls(square) == ['retrieve_customer', 'retrieve_team_member']
    assert _booking(square)['booking']['start'].startswith('2026-03-18T14:00:00')


def test_square_down_then_back_keeps_the_move_waiting_visibly_and_applies_it_once(square, customer_read_every_time):
    from helpers import handler, sqs_event

    _deliver(square, square_body())
    links = _booking(square)['links']
    square.square_api.fail('retrieve_customer', 503, times=2)
    square.square_api.fail('retrieve_customer', 429, times=1)

    assert post(square, square_body('booking.updated', event_id='e-moved', version=1, start_at=NEW_START))[0] == 202
    [record] = square.cloud.queues['meetings'].receive()
    for status in (503, 503, 429):
        failures = handler('meetings')(sqs_event([record]), square.context)['batchItemFailures']
        assert failures == [{'itemIdentifier': record['messageId']}]
        assert _booking(square)['booking']['problem'] == \
            f'waiting for a retry of its square lookup: square answered GET /v2/customers/{CUSTOMER_ID}: HTTP {status}'

    assert handler('meetings')(sqs_event([record]), square.context)['batchItemFailures'] == []
    square.pump()
    view = _booking(square)
    assert view['booking']['start'].startswith('2026-03-20T09:30:00') and view['booking']['problem'] is None
    assert view['links'] == links
    assert [call['status'] for call in square.square_api.calls('retrieve_customer')] == [200, 503, 503, 429, 200]


def test_a_customer_square_does_not_have_creates_nothing(square, caplog):
    square.square_api.remove_customer(CUSTOMER_ID)

    _deliver(square, square_body())

    assert square.view(f'square:{BOOKING_ID}')[0] == 404
    assert square.admin('GET', f'sources/square/bookings/{BOOKING_ID}')[0] == 404
    assert square.admin('GET', f'providers/square:{TEAM_MEMBER_ID}')[0] == 404
    [rejected] = [r for r in caplog.records if r.getMessage().startswith('rejected delivery')]
    assert 'HTTP 404' in rejected.reason and ACCESS_TOKEN not in caplog.text


def test_a_booking_of_an_unknown_service_registers_it_offline_and_makes_no_meeting(square):
    segments = [{'duration_minutes': 30, 'service_variation_id': 'NEWVARIATION1', 'team_member_id': TEAM_MEMBER_ID}]
    _deliver(square, square_body(segments=segments))

    assert square.admin('GET', 'services/square:NEWVARIATION1')[1]['online'] is False
    assert square.view(f'square:{BOOKING_ID}')[0] == 404


def test_a_source_set_online_all_registers_its_services_online(square):
    settings = {'signature_key': SIGNATURE_KEY, 'notification_url': notification_url(square),
                'access_token': ACCESS_TOKEN, 'online': 'all'}
    assert square.admin('PUT', 'sources/square', settings)[0] == 200
    segments = [{'duration_minutes': 30, 'service_variation_id': 'NEWVARIATION1', 'team_member_id': TEAM_MEMBER_ID}]

    _deliver(square, square_body(segments=segments))

    assert square.admin('GET', 'services/square:NEWVARIATION1')[1]['online'] is True
    assert _booking(square)['meeting']['status'] == 'scheduled'
