"""POST /webhooks/wix/{tenant}: Wix Bookings' webhooks, an RS256 JWT verified with the source's public key.

The key pair is made here for the run; tokens are signed with `cryptography` directly, so the verifier is
checked against an independent signer, and forged tokens are built byte by byte.
"""

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

BOOKING_ID = '2c1a4b8e-7f3d-4e61-9a55-0b2f6c9d1e47'
SERVICE_ID = '8f2e1d3c-5b4a-4c6d-9e8f-7a1b2c3d4e5f'
STAFF_ID = '3d9e7c1b-2a4f-4b8d-8c6e-5f1a2b3c4d5e'
CONTACT_ID = '6a5b4c3d-2e1f-4a9b-8c7d-1e2f3a4b5c6d'
INSTANCE_ID = 'c6b4a2f0-1d3e-4f5a-8b7c-9d0e1f2a3b4c'
WIX_BOOKINGS_APP = '13d21c63-b5ec-5912-8397-c3a5ddb27a97'
START, END = '2027-01-18T14:00:00.000Z', '2027-01-18T14:45:00.000Z'
NEW_START, NEW_END = '2027-01-20T09:30:00.000Z', '2027-01-20T10:15:00.000Z'

PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(private_key) -> str:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo).decode()


PUBLIC_PEM = _pem(PRIVATE_KEY)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b'=').decode()


def jwt(claims: dict, key=PRIVATE_KEY, header: dict | None = None) -> str:
    """A compact JWS as Wix sends it: RS256 over `<header>.<claims>`."""
    signing_input = f"{_b64(json.dumps(header or {'alg': 'RS256', 'typ': 'JWT'}).encode())}." \
                    f"{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f'{signing_input}.{_b64(signature)}'


def wix_booking(revision: str | int = '1', start: str = START, end: str = END, status: str = 'CONFIRMED',
                payment_status: str = 'EXEMPT', **extra) -> dict:
    """Bookings V2's booking object, as the reference describes it."""
    return {
        'id': BOOKING_ID,
        'bookedEntity': {
            'title': 'Online coaching',
            'slot': {'serviceId': SERVICE_ID, 'scheduleId': 'a1b2c3d4-0000-4000-8000-000000000001',
                     'startDate': start, 'endDate': end, 'timezone': 'Europe/Dublin',
                     'resource': {'id': STAFF_ID, 'name': 'Rory Staff', 'email': 'rory@studio.example'},
                     'location': {'locationType': 'CUSTOM', 'name': 'Online'}},
        },
        'contactDetails': {'contactId': CONTACT_ID, 'firstName': 'Cleo', 'lastName': 'Client',
                           'email': 'cleo@example.org', 'phone': '+353 1 555 0100', 'timeZone': 'America/New_York'},
        'status': status, 'paymentStatus': payment_status, 'startDate': start, 'endDate': end,
        'revision': revision, 'bookingSource': {'platform': 'WEB', 'actor': 'CUSTOMER', 'appDefId': WIX_BOOKINGS_APP},
        'appId': WIX_BOOKINGS_APP, 'createdDate': '2026-11-02T10:00:00.000Z', **extra,
    }


def wix_event(action: str = 'created', booking: dict | None = None, event_id: str = 'evt-created-1',
              event_type: str | None = None, slug: str | None = None, event_time: str = '2026-11-02T10:00:01.000Z',
              **body_extra) -> dict:
    """The envelope's `eventType` and the innermost `data`: the event, with the booking where Wix puts it for
    this kind of event (`body_extra` goes beside an action event's booking)."""
    booking = booking or wix_booking()
    event = {'id': event_id, 'entityFqdn': 'wix.bookings.v2.booking',
             'slug': slug or ('created' if action == 'created' else 'updated' if action == 'updated'
                              else f'booking_{action}'),
             'entityId': booking['id'], 'eventTime': event_time, 'triggeredByAnonymizeRequest': False}
    if action == 'created':
        event['createdEvent'] = {'entity': booking}
    elif action == 'updated':
        event['updatedEvent'] = {'currentEntity': booking}
    else:
        event['actionEvent'] = {'body': {'booking': booking, **body_extra}}
    return {'eventType': event_type or f'wix.bookings.v2.booking_{action}', 'data': event}


def claims_of(event: dict, now: float | None = None) -> dict:
    """`{data, iat, exp}`: `data` is JSON text of the envelope, whose `data` and `identity` are JSON text again."""
    envelope = {'eventType': event['eventType'], 'instanceId': INSTANCE_ID, 'data': json.dumps(event['data']),
                'identity': json.dumps({'identityType': 'ANONYMOUS_VISITOR',
                                        'anonymousVisitorId': 'f0e1d2c3-b4a5-4968-8776-655443322110'})}
    now = int(now or time.time())
    return {'data': json.dumps(envelope), 'iat': now, 'exp': now + 300}


def token(event: dict | None = None) -> str:
    return jwt(claims_of(event or wix_event()))


def post(stack, body: str | bytes) -> tuple[int, dict]:
    from helpers import handler, http_event

    tenant_id = stack.tenant.tenant_id
    raw = body.encode() if isinstance(body, str) else body
    event = http_event('POST', f'/webhooks/wix/{tenant_id}', '/webhooks/{source}/{tenant_id}',
                       {'source': 'wix', 'tenant_id': tenant_id}, raw, {'content-type': 'text/plain'})
    response = handler('booking_webhook')(event, stack.context)
    return response['statusCode'], json.loads(response['body'])


@pytest.fixture
def wix(stack):
    """A tenant with Wix configured and a meeting account; the Wix service turned online."""
    assert stack.admin('PUT', 'sources/wix', {'public_key': PUBLIC_PEM})[0] == 200
    account = {'type': 'custom_link', 'url': 'https://meet.example.com/room', 'description': 'Room 1'}
    assert stack.admin('PUT', 'accounts/default', account)[0] == 200
    assert stack.admin('PUT', f'services/wix:{SERVICE_ID}', {'name': 'Online coaching', 'online': True})[0] == 200
    return stack


def _queued(stack) -> list[dict]:
    return [json.loads(r['body']) for r in stack.cloud.queues['meetings'].receive()]


def _deliver(stack, event: dict) -> None:
    status, answer = post(stack, token(event))
    assert status == 202, answer
    stack.pump()


def _booking(stack) -> dict:
    status, view = stack.view(f'wix:{BOOKING_ID}')
    assert status == 200, view
    return view


def _applied_revision(stack) -> int | None:
    """The Wix revision of the change applied last (the admin view does not show it)."""
    from meetbridge.store.models import BookingItem

    return BookingItem.get(*BookingItem.key(stack.tenant.tenant_id, f'wix:{BOOKING_ID}')).source_version


def test_a_created_booking_gets_its_meeting_and_links_under_wix_ids(wix):
    status, answer = post(wix, token())
    assert (status, answer) == (202, {'accepted': ['wix:evt-created-1']})
    wix.pump()

    view = _booking(wix)
    booking = view['booking']
    assert (booking['service_id'], booking['provider_id']) == (f'wix:{SERVICE_ID}', f'wix:{STAFF_ID}')
    assert booking['start'].startswith('2027-01-18T14:00:00') and booking['end'].startswith('2027-01-18T14:45:00')
    assert booking['timezone'] == 'Europe/Dublin' and _applied_revision(wix) == 1
    assert booking['client'] == {'id': f'wix:{CONTACT_ID}', 'name': 'Cleo Client', 'email': 'cleo@example.org',
                                 'timezone': 'America/New_York', 'phone': '+35315550100', 'locale': None}
    assert booking['payment'] == {'required': False, 'status': 'pending'}
    assert view['meeting']['status'] == 'scheduled' and view['links']['provider'] and view['links']['clients']
    provider = wix.admin('GET', f'providers/wix:{STAFF_ID}')[1]
    assert (provider['name'], provider['email']) == ('Rory Staff', 'rory@studio.example')


def test_the_body_is_read_with_the_whitespace_around_it(wix):
    assert post(wix, f'\n {token()}\r\n')[0] == 202


@pytest.mark.parametrize(('action', 'container', 'as_json'), [
    ('created', 'createdEvent', lambda booking: {'entityAsJson': json.dumps(booking)}),
    ('updated', 'updatedEvent', lambda booking: {'currentEntityAsJson': json.dumps(booking)}),
    ('confirmed', 'actionEvent', lambda booking: {'bodyAsJson': json.dumps({'booking': booking})}),
])
def test_an_older_webhook_with_the_booking_as_json_text_is_read(wix, action, container, as_json):
    event = wix_event(action)
    event['data'][container] = as_json(wix_booking())

    _deliver(wix, event)

    assert _booking(wix)['meeting']['status'] == 'scheduled'


def test_a_client_without_a_contact_id_is_named_by_its_email(wix):
    booking = wix_booking()
    booking['contactDetails'] = {'firstName': 'Cleo', 'email': 'Cleo@Example.org'}

    _deliver(wix, wix_event(booking=booking))

    client = _booking(wix)['booking']['client']
    assert client['id'] == 'wix:' + hashlib.sha256(b'cleo@example.org').hexdigest()[:32]
    assert (client['name'], client['timezone']) == ('Cleo', None)


def test_a_client_named_only_by_a_long_email_gets_its_first_200_characters_as_name(wix):
    email = 'c' * 240 + '@example.org'
    booking = wix_booking()
    booking['contactDetails'] = {'contactId': 'contact-long', 'email': email}

    _deliver(wix, wix_event(booking=booking))

    assert _booking(wix)['booking']['client']['name'] == email[:200]


def test_a_title_longer_than_a_name_is_a_400_naming_it(wix):
    booking = wix_booking()
    booking['bookedEntity']['title'] = 'T' * 201

    status, answer = post(wix, jwt(claims_of(wix_event(booking=booking))))

    assert (status, answer['field']) == (400, 'data.data.createdEvent.entity.bookedEntity.title'), answer


def test_a_staff_member_without_an_email_is_registered_without_one(wix):
    booking = wix_booking()
    booking['bookedEntity']['slot']['resource'] = {'id': STAFF_ID, 'name': 'Rory Staff', 'email': ''}

    _deliver(wix, wix_event(booking=booking))

    assert wix.admin('GET', f'providers/wix:{STAFF_ID}')[1]['email'] is None


def test_a_booking_of_an_unknown_service_registers_it_offline_and_makes_no_meeting(wix):
    booking = wix_booking()
    booking['bookedEntity'] = {**booking['bookedEntity'], 'title': 'Haircut',
                               'slot': {**booking['bookedEntity']['slot'], 'serviceId': 'svc-haircut'}}
    _deliver(wix, wix_event(booking=booking))

    assert wix.admin('GET', 'services/wix:svc-haircut')[1] == {'id': 'wix:svc-haircut', 'name': 'Haircut',
                                                               'online': False,
                                                               'kind': 'appointment', 'links_in_messages': None}
    assert wix.view(f'wix:{BOOKING_ID}')[0] == 404


def test_a_source_set_online_all_registers_its_services_online(wix):
    assert wix.admin('PUT', 'sources/wix', {'public_key': PUBLIC_PEM, 'online': 'all'})[0] == 200
    booking = wix_booking()
    booking['bookedEntity']['slot']['serviceId'] = 'svc-haircut'

    _deliver(wix, wix_event(booking=booking))

    assert wix.admin('GET', 'services/wix:svc-haircut')[1]['online'] is True
    assert _booking(wix)['meeting']['status'] == 'scheduled'


def _forged(case: str) -> str | bytes:
    claims = claims_of(wix_event())
    signed = token()
    header, payload, signature = signed.split('.')
    match case:
        case 'tampered byte':
            flipped = bytearray(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))
            flipped[10] ^= 1
            return f'{header}.{_b64(bytes(flipped))}.{signature}'
        case 'tampered signature':
            return f'{header}.{payload}.{"A" if signature[0] != "A" else "B"}{signature[1:]}'
        case 'wrong key':
            return jwt(claims, key=OTHER_KEY)
        case 'expired':
            return jwt(claims_of(wix_event(), now=time.time() - 3600))
        case 'issued in the future':
            return jwt(claims_of(wix_event(), now=time.time() + 3600))
        case 'issued 8 days ago, expiring tomorrow':
            return jwt({**claims, 'iat': int(time.time()) - 8 * 86400, 'exp': int(time.time()) + 86400})
        case 'missing exp':
            return jwt({name: value for name, value in claims.items() if name != 'exp'})
        case 'missing iat':
            return jwt({name: value for name, value in claims.items() if name != 'iat'})
        case 'exp not a number':
            return jwt({**claims, 'exp': 'tomorrow'})
        case 'alg none':
            return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}."
        case 'HS256 keyed with the public key':
            signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{payload}"
            mac = hmac.new(PUBLIC_PEM.encode(), signing_input.encode(), hashlib.sha256).digest()
            return f'{signing_input}.{_b64(mac)}'
        case 'RS512 with the right key':
            header = _b64(json.dumps({'alg': 'RS512', 'typ': 'JWT'}).encode())
            signature = PRIVATE_KEY.sign(f'{header}.{payload}'.encode(), padding.PKCS1v15(), hashes.SHA512())
            return f'{header}.{payload}.{_b64(signature)}'
        case 'missing':
            return ''
        case 'unsigned JSON':
            return json.dumps(claims)
        case 'not UTF-8':
            return b'\xff\xfe' + signed.encode()
        case 'a huge header':
            return f"{_b64(json.dumps({'alg': 'RS256', 'x': 'y' * 5000}).encode())}.{payload}.{signature}"
    raise AssertionError(case)


@pytest.mark.parametrize('case', [
    'tampered byte', 'tampered signature', 'wrong key', 'expired', 'issued in the future',
    'issued 8 days ago, expiring tomorrow', 'missing exp',
    'missing iat', 'exp not a number', 'alg none', 'HS256 keyed with the public key', 'RS512 with the right key',
    'missing', 'unsigned JSON', 'not UTF-8', 'a huge header',
])
def test_a_token_that_does_not_verify_is_401_and_changes_nothing(wix, case):
    status, answer = post(wix, _forged(case))

    assert status == 401 and answer['error'] == 'invalid_signature', answer
    assert _queued(wix) == []
    assert wix.admin('GET', f'providers/wix:{STAFF_ID}')[0] == 404


def test_the_401_says_why(wix):
    assert post(wix, _forged('expired'))[1]['message'] == 'the token has expired'
    assert post(wix, _forged('alg none'))[1]['message'] == 'the token is not signed with RS256'
    assert post(wix, _forged('wrong key'))[1]['message'] == 'signature does not match'


def test_a_configured_key_that_is_not_an_rsa_key_is_401_saying_so(wix):
    ec_pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    assert wix.admin('PUT', 'sources/wix', {'public_key': ec_pem})[0] == 200

    status, answer = post(wix, token())

    assert status == 401 and 'public_key is not an RSA public key' in answer['message']


def test_a_tenant_without_wix_or_after_removing_it_answers_404(stack):
    assert post(stack, token())[0] == 404
    stack.admin('PUT', 'sources/wix', {'public_key': PUBLIC_PEM})
    stack.admin('DELETE', 'sources/wix')

    assert post(stack, token())[0] == 404


def test_a_retry_of_the_same_event_is_acknowledged_and_applied_once(wix):
    # Wix signs each delivery anew: the token differs, the event id does not.
    first = post(wix, jwt(claims_of(wix_event(), now=time.time() - 5)))
    second = post(wix, token())

    assert first[0] == 202 and second[0] == 503  # within the first's lease: sent again later (test_webhook_publish.py)
    assert len(_queued(wix)) == 1


def test_a_reschedule_moves_the_same_booking_and_keeps_its_links(wix):
    _deliver(wix, wix_event())
    before = _booking(wix)

    _deliver(wix, wix_event('rescheduled', wix_booking('2', NEW_START, NEW_END), event_id='evt-resched-1',
                            event_time='2026-11-05T08:00:00.000Z', previousStartDate=START,
                            previousEndDate=END))

    after = _booking(wix)
    assert after['booking']['start'].startswith('2027-01-20T09:30:00') and after['booking']['status'] == 'active'
    assert _applied_revision(wix) == 2 and after['links'] == before['links']


def test_a_second_real_change_of_the_same_booking_is_applied(wix):
    _deliver(wix, wix_event())
    _deliver(wix, wix_event('rescheduled', wix_booking('2', NEW_START, NEW_END), event_id='evt-resched-1'))

    _deliver(wix, wix_event('rescheduled', wix_booking('3', '2027-01-21T09:30:00Z', '2027-01-21T10:15:00Z'),
                            event_id='evt-resched-2'))

    assert _booking(wix)['booking']['start'].startswith('2027-01-21T09:30:00')


def test_an_older_revision_arriving_last_changes_nothing(wix):
    _deliver(wix, wix_event())
    _deliver(wix, wix_event('rescheduled', wix_booking('3', '2027-01-21T09:30:00Z', '2027-01-21T10:15:00Z'),
                            event_id='evt-resched-2', event_time='2026-11-05T08:00:00.000Z'))

    # Revision 2 happened before revision 3 at Wix, whatever its eventTime says: it is delivered late.
    _deliver(wix, wix_event('rescheduled', wix_booking('2', NEW_START, NEW_END), event_id='evt-resched-1',
                            event_time='2026-11-06T08:00:00.000Z'))

    booking = _booking(wix)['booking']
    assert booking['start'].startswith('2027-01-21T09:30:00') and _applied_revision(wix) == 3


def test_a_reschedule_arriving_before_the_creation_ends_at_the_new_time(wix):
    _deliver(wix, wix_event('rescheduled', wix_booking('2', NEW_START, NEW_END), event_id='evt-resched-1'))
    _deliver(wix, wix_event())

    booking = _booking(wix)['booking']
    assert booking['start'].startswith('2027-01-20T09:30:00') and booking['status'] == 'active'


@pytest.mark.parametrize(('event_type', 'slug'), [
    ('wix.bookings.v2.booking_canceled', 'booking_canceled'),
    ('wix.bookings.v2.booking_cancelled', 'booking_cancelled'),
    ('wix.bookings.v2.booking', 'booking_canceled'),
    ('wix.bookings.v2.booking', 'booking_cancelled'),
])
def test_a_cancel_under_either_spelling_cancels(wix, event_type, slug):
    _deliver(wix, wix_event())

    _deliver(wix, wix_event('canceled', wix_booking('2', status='CANCELED'), event_id='evt-cancel-1',
                            event_type=event_type, slug=slug))

    assert _booking(wix)['booking']['status'] == 'cancelled'


def test_a_declined_booking_is_cancelled(wix):
    _deliver(wix, wix_event())
    _deliver(wix, wix_event('declined', wix_booking('2', status='DECLINED'), event_id='evt-declined-1'))

    assert _booking(wix)['booking']['status'] == 'cancelled'


def test_a_pending_booking_gets_its_meeting_when_it_is_confirmed(wix):
    pending = wix_event(booking=wix_booking(status='PENDING'))
    assert post(wix, token(pending)) == (202, {'accepted': []})
    assert _queued(wix) == [] and wix.view(f'wix:{BOOKING_ID}')[0] == 404

    _deliver(wix, wix_event('confirmed', wix_booking('2', status='CONFIRMED'), event_id='evt-confirmed-1'))

    view = _booking(wix)
    assert view['meeting']['status'] == 'scheduled' and _applied_revision(wix) == 2


def test_an_update_applies_the_bookings_new_state(wix):
    _deliver(wix, wix_event(booking=wix_booking(payment_status='NOT_PAID')))
    assert _booking(wix)['booking']['payment'] == {'required': True, 'status': 'pending'}

    _deliver(wix, wix_event('updated', wix_booking('2', NEW_START, NEW_END, payment_status='PAID'),
                            event_id='evt-updated-1'))

    booking = _booking(wix)['booking']
    assert booking['payment'] == {'required': True, 'status': 'paid'}
    assert booking['start'].startswith('2027-01-20T09:30:00')

    _deliver(wix, wix_event('updated', wix_booking('3', NEW_START, NEW_END, status='CANCELED'),
                            event_id='evt-updated-2'))

    assert _booking(wix)['booking']['status'] == 'cancelled'


@pytest.mark.parametrize(('payment_status', 'payment'), [
    ('NOT_PAID', {'required': True, 'status': 'pending'}),
    ('PARTIALLY_PAID', {'required': True, 'status': 'pending'}),
    ('PAID', {'required': True, 'status': 'paid'}),
    ('EXEMPT', {'required': False, 'status': 'pending'}),
])
def test_the_payment_follows_the_payment_status(wix, payment_status, payment):
    _deliver(wix, wix_event(booking=wix_booking(payment_status=payment_status)))

    assert _booking(wix)['booking']['payment'] == payment


@pytest.mark.parametrize(('event_type', 'slug'), [
    ('wix.bookings.v2.booking_number_of_participants_updated', 'number_of_participants_updated'),
    ('wix.bookings.v2.booking_number_of_participants_updated', 'updated'),
    ('wix.contacts.v4.contact_created', 'created'),
])
def test_events_that_do_not_change_a_booking_are_acknowledged_whatever_they_carry(wix, event_type, slug):
    event = wix_event(event_type=event_type, slug=slug)
    event['data'].pop('createdEvent')
    event['data']['actionEvent'] = {'body': {'numberOfParticipants': 3}}

    assert post(wix, token(event)) == (202, {'accepted': []})
    assert _queued(wix) == []


def _with_event_data(data: str) -> str:
    claims = claims_of(wix_event())
    return jwt({**claims, 'data': json.dumps({**json.loads(claims['data']), 'data': data})})


def _local_times(**slot_changes) -> dict:
    """A booking whose slot times carry no offset."""
    booking = wix_booking()
    booking['bookedEntity']['slot'] |= {'startDate': '2027-07-18T14:00:00', 'endDate': '2027-07-18T14:45:00',
                                        **slot_changes}
    return booking


def _deep(levels: int) -> str:
    return '[' * levels + ']' * levels


@pytest.mark.parametrize(('body', 'field'), [
    (lambda: jwt({**claims_of(wix_event()), 'data': {'eventType': 'x'}}), 'claims.data'),
    (lambda: jwt({**claims_of(wix_event()), 'data': '{"eventType": '}), 'data'),
    (lambda: jwt({**claims_of(wix_event()), 'data': _deep(100)}), 'data'),
    (lambda: jwt({**claims_of(wix_event()), 'data': json.dumps({'eventType': 'wix.bookings.v2.booking_created'})}),
     'data.data'),
    (lambda: _with_event_data('{"id": ' + '9' * 500 + '}'), 'data.data'),
    (lambda: _with_event_data(_deep(100)), 'data.data'),
    (lambda: _with_event_data('[]'), 'data.data'),
    (lambda: _with_event_data(json.dumps({'id': 'evt-1', 'slug': 'created'})), 'data.data'),
    (lambda: _with_event_data(json.dumps({'id': 'evt-1', 'createdEvent': {'entityAsJson': '{"id": '}})),
     'data.data.createdEvent.entityAsJson'),
    (lambda: token(wix_event(booking={**wix_booking(), 'revision': 'seven'})),
     'data.data.createdEvent.entity.revision'),
    (lambda: token(wix_event(booking={**wix_booking(), 'revision': '9' * 30})),
     'data.data.createdEvent.entity.revision'),
    (lambda: token(wix_event(booking={**wix_booking(), 'id': 'has space'})), 'data.data.createdEvent.entity.id'),
    (lambda: token(wix_event(booking={**wix_booking(), 'bookedEntity': {'title': 'x'}})),
     'data.data.createdEvent.entity.bookedEntity.slot'),
    (lambda: token(wix_event(booking={**wix_booking(), 'contactDetails': {'firstName': 'No email'}})),
     'data.data.createdEvent.entity.contactDetails.email'),
    (lambda: token(wix_event(booking=wix_booking(start=END, end=START))),
     'data.data.createdEvent.entity.bookedEntity.slot.endDate'),
    (lambda: token(wix_event(booking=_local_times(timezone=None))),
     'data.data.createdEvent.entity.bookedEntity.slot.startDate'),
    (lambda: token(wix_event(event_time='2999-01-01T00:00:00Z')), 'data.data.eventTime'),
])
def test_a_verified_token_whose_layers_are_malformed_is_400_naming_the_layer(wix, body, field):
    status, answer = post(wix, body())

    assert status == 400 and answer['error'] == 'invalid_request' and answer['field'] == field, answer
    assert _queued(wix) == []


def test_a_slot_time_without_an_offset_is_read_in_the_slot_time_zone(wix):
    _deliver(wix, wix_event(booking=_local_times()))

    assert _booking(wix)['booking']['start'].startswith('2027-07-18T13:00:00')  # Dublin is UTC+1 in summer


def test_the_booking_is_found_by_its_wix_id(wix):
    assert wix.admin('GET', f'sources/wix/bookings/{BOOKING_ID}')[0] == 404
    _deliver(wix, wix_event())

    status, found = wix.admin('GET', f'sources/wix/bookings/{BOOKING_ID}')

    assert status == 200 and found == {**_booking(wix), 'source': 'wix', 'external_id': BOOKING_ID}
    assert wix.admin('GET', 'sources/wix/bookings/unknown-id')[0] == 404


@pytest.mark.parametrize(('phone', 'kept'), [
    ('+353 1 555 0100', '+35315550100'),  # contactDetails.phone as people type it
    ('00353-1-555.0100', '+35315550100'),  # an international 00 prefix
    ('(01) 555 0100', None),  # a national number: no country, so no SMS (the booking stands)
    ('', None),
])
def test_the_contacts_phone_is_the_clients_in_e164_or_left_out(wix, phone, kept):
    booking = wix_booking()
    booking['contactDetails']['phone'] = phone
    _deliver(wix, wix_event(booking=booking))

    client = _booking(wix)['booking']['client']
    assert client['email'] == 'cleo@example.org'
    assert (client['phone'], client['locale']) == (kept, None)  # Wix sends no client language
