"""POST /webhooks/calcom/{tenant}: Cal.com's own webhooks, signed with the secret set in the source."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

SECRET = 'cal-webhook-secret-1'
START, END = '2026-03-18T14:00:00Z', '2026-03-18T14:45:00Z'
NEW_START, NEW_END = '2026-03-20T09:30:00.000Z', '2026-03-20T10:15:00.000Z'


def calcom_body(trigger: str = 'BOOKING_CREATED', uid: str = 'Zt6yH1nQa8XcW3vBm5LkPe', created_at: str =
                '2026-03-05T17:00:00.000Z', start: str = START, end: str = END, **extra) -> bytes:
    payload = {
        'type': 'video-consultation', 'title': 'Video consultation between Ana and Client', 'eventTypeId': 1207,
        'eventTitle': 'Video consultation', 'startTime': start, 'endTime': end, 'bookingId': 70689,
        'organizer': {'id': 31, 'name': 'Ana Example', 'email': 'ana@provider.example', 'username': 'ana',
                      'timeZone': 'Europe/Stockholm', 'language': {'locale': 'en'}, 'timeFormat': 'h:mma',
                      'utcOffset': 60},
        'attendees': [{'name': 'Client Example', 'email': 'client@example.org', 'firstName': 'Client',
                       'lastName': 'Example', 'timeZone': 'America/Mexico_City', 'language': {'locale': 'es'},
                       'utcOffset': -360}],
        'location': 'https://meet.example.com/room', 'uid': uid, 'status': 'ACCEPTED', 'price': 0,
        'currency': 'usd', 'length': 45, 'metadata': {}, **extra,
    }
    # Cal.com sends JSON.stringify's compact form.
    return json.dumps({'triggerEvent': trigger, 'createdAt': created_at, 'payload': payload},
                      separators=(',', ':')).encode()


def cal_signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(stack, body: bytes, signature: str | None = '') -> tuple[int, dict]:
    from helpers import handler, http_event

    headers = {'content-type': 'application/json', 'x-cal-webhook-version': '2021-10-20'}
    if signature is not None:
        headers['x-cal-signature-256'] = cal_signature(body) if signature == '' else signature
    tenant_id = stack.tenant.tenant_id
    event = http_event('POST', f'/webhooks/calcom/{tenant_id}', '/webhooks/{source}/{tenant_id}',
                       {'source': 'calcom', 'tenant_id': tenant_id}, body, headers)
    response = handler('booking_webhook')(event, stack.context)
    return response['statusCode'], json.loads(response['body'])


@pytest.fixture
def cal(stack):
    """A tenant with Cal.com configured and a meeting account; Cal.com's event type turned online."""
    assert stack.admin('PUT', 'sources/calcom', {'secret': SECRET})[0] == 200
    account = {'type': 'custom_link', 'url': 'https://meet.example.com/room', 'description': 'Room 1'}
    assert stack.admin('PUT', 'accounts/default', account)[0] == 200
    assert stack.admin('PUT', 'services/calcom:1207', {'name': 'Video consultation', 'online': True})[0] == 200
    return stack


def _queued(stack) -> list[dict]:
    return [json.loads(r['body']) for r in stack.cloud.queues['meetings'].receive()]


def _deliver(stack, body: bytes) -> None:
    assert post(stack, body)[0] == 202
    stack.pump()


def _booking(stack, booking_id: str = 'calcom:Zt6yH1nQa8XcW3vBm5LkPe') -> dict:
    status, view = stack.view(booking_id)
    assert status == 200, view
    return view


def test_a_created_booking_gets_its_meeting_and_links_under_calcom_ids(cal):
    _deliver(cal, calcom_body())

    view = _booking(cal)
    booking = view['booking']
    assert (booking['service_id'], booking['provider_id']) == ('calcom:1207', 'calcom:31')
    assert booking['start'].startswith('2026-03-18T14:00:00') and booking['timezone'] == 'Europe/Stockholm'
    assert booking['client']['email'] == 'client@example.org'
    assert booking['client']['timezone'] == 'America/Mexico_City'
    assert view['meeting']['status'] == 'scheduled' and view['links']['provider'] and view['links']['clients']
    assert cal.admin('GET', 'providers/calcom:31')[1]['email'] == 'ana@provider.example'


def test_a_booking_of_an_unknown_event_type_registers_it_offline_and_makes_no_meeting(cal):
    _deliver(cal, calcom_body(eventTypeId=88, eventTitle='Haircut'))

    assert cal.admin('GET', 'services/calcom:88')[1] == {'id': 'calcom:88', 'name': 'Haircut', 'online': False,
                                                         'kind': 'appointment', 'links_in_messages': None}
    assert cal.view('calcom:Zt6yH1nQa8XcW3vBm5LkPe')[0] == 404


def test_a_source_set_online_all_registers_its_event_types_online(cal):
    assert cal.admin('PUT', 'sources/calcom', {'secret': SECRET, 'online': 'all'})[0] == 200

    _deliver(cal, calcom_body(eventTypeId=88, eventTitle='Haircut'))

    assert cal.admin('GET', 'services/calcom:88')[1]['online'] is True
    assert _booking(cal)['meeting']['status'] == 'scheduled'


def test_an_event_type_the_admin_set_is_not_overwritten_by_a_webhook(cal):
    _deliver(cal, calcom_body(eventTitle='Another title'))

    assert cal.admin('GET', 'services/calcom:1207')[1]['name'] == 'Video consultation'


@pytest.mark.parametrize('case', ['tampered byte', 'wrong key', 'missing', 'no-secret-provided', 'non-ascii'])
def test_a_bad_signature_is_401_and_changes_nothing(cal, case):
    body = calcom_body()
    signature = {'tampered byte': cal_signature(body), 'wrong key': cal_signature(body, 'not-the-secret'),
                 'missing': None, 'no-secret-provided': 'no-secret-provided', 'non-ascii': 'é' * 64}[case]
    if case == 'tampered byte':
        body = body.replace(b'14:45:00Z', b'14:46:00Z')

    status, answer = post(cal, body, signature)

    assert status == 401 and answer['error'] == 'invalid_signature'
    assert SECRET not in json.dumps(answer)
    assert _queued(cal) == []
    assert cal.admin('GET', 'providers/calcom:31')[0] == 404


def test_a_tenant_without_calcom_or_after_removing_it_answers_404(stack):
    assert post(stack, calcom_body())[0] == 404
    stack.admin('PUT', 'sources/calcom', {'secret': SECRET})
    stack.admin('DELETE', 'sources/calcom')

    assert post(stack, calcom_body())[0] == 404


def test_the_same_delivery_twice_is_acknowledged_and_applied_once(cal):
    body = calcom_body()

    first, second = post(cal, body), post(cal, body)

    assert first[0] == 202 and second[0] == 503  # within the first's lease: sent again later (test_webhook_publish.py)
    assert len(_queued(cal)) == 1


def test_a_reschedule_moves_the_same_booking_and_keeps_its_links(cal):
    _deliver(cal, calcom_body())
    before = _booking(cal)

    _deliver(cal, calcom_body('BOOKING_RESCHEDULED', uid='NewUid2', created_at='2026-03-06T08:00:00.000Z',
                              start=NEW_START, end=NEW_END, rescheduleUid='Zt6yH1nQa8XcW3vBm5LkPe',
                              rescheduleStartTime=START, rescheduleEndTime=END))

    after = _booking(cal)
    assert after['booking']['start'].startswith('2026-03-20T09:30:00') and after['booking']['status'] == 'active'
    assert after['links'] == before['links']
    assert cal.view('calcom:NewUid2')[0] == 404  # no second booking


def test_a_second_reschedule_and_a_cancel_naming_the_newest_uid_apply_to_the_same_booking(cal):
    _deliver(cal, calcom_body())
    _deliver(cal, calcom_body('BOOKING_RESCHEDULED', uid='NewUid2', created_at='2026-03-06T08:00:00.000Z',
                              start=NEW_START, end=NEW_END, rescheduleUid='Zt6yH1nQa8XcW3vBm5LkPe'))
    _deliver(cal, calcom_body('BOOKING_RESCHEDULED', uid='NewUid3', created_at='2026-03-07T08:00:00.000Z',
                              start='2026-03-21T09:30:00Z', end='2026-03-21T10:15:00Z', rescheduleUid='NewUid2'))
    assert _booking(cal)['booking']['start'].startswith('2026-03-21T09:30:00')

    _deliver(cal, calcom_body('BOOKING_CANCELLED', uid='NewUid3', created_at='2026-03-08T08:00:00.000Z',
                              start='2026-03-21T09:30:00Z', end='2026-03-21T10:15:00Z', status='CANCELLED',
                              cancellationReason='ill'))

    assert _booking(cal)['booking']['status'] == 'cancelled'


def test_a_reschedule_arriving_before_the_creation_ends_at_the_new_time(cal):
    _deliver(cal, calcom_body('BOOKING_RESCHEDULED', uid='NewUid2', created_at='2026-03-06T08:00:00.000Z',
                              start=NEW_START, end=NEW_END, rescheduleUid='Zt6yH1nQa8XcW3vBm5LkPe'))
    _deliver(cal, calcom_body())  # created earlier at Cal.com, delivered late

    booking = _booking(cal)['booking']
    assert booking['start'].startswith('2026-03-20T09:30:00') and booking['status'] == 'active'


def test_changes_apply_in_the_order_of_created_at_not_of_arrival(cal):
    paid = calcom_body('BOOKING_PAID', created_at='2026-03-05T17:05:00.000Z', price=50, paymentId=9)
    cancelled = calcom_body('BOOKING_CANCELLED', created_at='2026-03-05T18:00:00.000Z', status='CANCELLED')
    _deliver(cal, calcom_body(price=50))
    _deliver(cal, cancelled)
    _deliver(cal, paid)

    assert _booking(cal)['booking']['status'] == 'cancelled'


def test_a_payment_marks_the_booking_paid(cal):
    _deliver(cal, calcom_body('BOOKING_PAYMENT_INITIATED', price=50))
    assert _booking(cal)['booking']['payment'] == {'required': True, 'status': 'pending'}

    _deliver(cal, calcom_body('BOOKING_PAID', created_at='2026-03-05T17:05:00.000Z', price=50, paymentId=9))

    assert _booking(cal)['booking']['payment'] == {'required': True, 'status': 'paid'}


@pytest.mark.parametrize('trigger', ['BOOKING_REQUESTED', 'MEETING_STARTED', 'RECORDING_READY', 'FORM_SUBMITTED'])
def test_triggers_that_do_not_change_a_booking_are_acknowledged(cal, trigger):
    assert post(cal, calcom_body(trigger)) == (202, {'accepted': []})
    assert _queued(cal) == []


def test_the_ping_test_delivery_is_acknowledged(cal):
    body = json.dumps({'triggerEvent': 'PING', 'createdAt': '2026-03-05T17:00:00.000Z',
                       'payload': {'type': 'Test', 'title': 'Test trigger event'}}).encode()

    assert post(cal, body) == (202, {'accepted': []})


def test_a_rejected_request_cancels(cal):
    _deliver(cal, calcom_body())
    _deliver(cal, calcom_body('BOOKING_REJECTED', created_at='2026-03-05T18:00:00.000Z', status='REJECTED'))

    assert _booking(cal)['booking']['status'] == 'cancelled'


@pytest.mark.parametrize(('change', 'field'), [
    ({'eventTypeId': 'x y'}, 'payload.eventTypeId'),
    ({'attendees': []}, 'payload.attendees'),
    ({'uid': 'has space'}, 'payload.uid'),
    ({'endTime': START}, 'payload.endTime'),
])
def test_a_malformed_payload_is_400_naming_the_field(cal, change, field):
    status, answer = post(cal, calcom_body(**change))

    assert status == 400 and answer['field'] == field


def test_a_created_at_in_the_future_is_refused_so_it_cannot_freeze_a_booking(cal):
    status, answer = post(cal, calcom_body(created_at='2999-01-01T00:00:00.000Z'))

    assert status == 400 and answer['field'] == 'createdAt'


def test_the_booking_is_found_by_its_first_and_its_rescheduled_uid(cal):
    assert cal.admin('GET', 'sources/calcom/bookings/Zt6yH1nQa8XcW3vBm5LkPe')[0] == 404
    _deliver(cal, calcom_body())
    _deliver(cal, calcom_body('BOOKING_RESCHEDULED', uid='NewUid2', created_at='2026-03-06T08:00:00.000Z',
                              start=NEW_START, end=NEW_END, rescheduleUid='Zt6yH1nQa8XcW3vBm5LkPe'))
    view = _booking(cal)

    for uid in ('Zt6yH1nQa8XcW3vBm5LkPe', 'NewUid2'):
        status, found = cal.admin('GET', f'sources/calcom/bookings/{uid}')
        assert status == 200
        assert found == {**view, 'source': 'calcom', 'external_id': uid}
    assert cal.admin('GET', 'sources/calcom/bookings/UnknownUid')[0] == 404


@pytest.mark.parametrize('body', [b'{"triggerEvent": ', b'\xff\xfe{}', b'[]',
                                  b'{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-05T17:00:00Z","payload":[]}'])
def test_a_signed_body_that_is_not_a_cal_com_envelope_is_400(cal, body):
    status, answer = post(cal, body)

    assert status == 400 and answer['error'] == 'invalid_request'
    assert _queued(cal) == []


CALL_URL = 'https://app.cal.com/video/Zt6yH1nQa8XcW3vBm5LkPe'


@pytest.mark.parametrize(('extra', 'expected'), [
    ({'location': 'integrations:daily', 'metadata': {'videoCallUrl': CALL_URL}}, CALL_URL),
    ({'location': 'integrations:zoom',
      'videoCallData': {'type': 'zoom_video', 'id': 8, 'password': 'p', 'url': 'https://zoom.example/j/8'}},
     'https://zoom.example/j/8'),
    ({'location': 'integrations:office365_video', 'metadata': {'videoCallUrl': 'http://teams.example/l/1'},
      'videoCallData': {'url': 'https://teams.example/l/1'}}, 'https://teams.example/l/1'),
])
def test_a_video_integrations_call_is_the_bookings_platform_meeting(cal, extra, expected):
    start = datetime.now(UTC) + timedelta(days=1)  # not over yet: the link still opens
    end = start + timedelta(minutes=45)
    _deliver(cal, calcom_body(start=f'{start:%Y-%m-%dT%H:%M:00Z}', end=f'{end:%Y-%m-%dT%H:%M:00Z}', **extra))

    view = _booking(cal)
    assert view['meeting']['provider'] == 'platform' and view['meeting']['account_id'] is None
    clicked = _click(cal, view['links']['provider'])
    assert clicked['statusCode'] == 303 and clicked['headers']['Location'] == expected


@pytest.mark.parametrize('extra', [
    {'location': 'https://meet.example.com/room', 'metadata': {'videoCallUrl': CALL_URL}},  # not an integration
    {'location': 'integrations:daily', 'metadata': {'videoCallUrl': 'http://app.cal.com/video/x'}},  # not https
    {'location': 'integrations:daily', 'metadata': {}},  # no call made
    {'location': 'integrations:daily', 'videoCallData': {'url': 'javascript:alert(1)'}},
])
def test_without_a_video_integrations_https_call_our_own_meeting_is_made(cal, extra):
    _deliver(cal, calcom_body(**extra))

    assert _booking(cal)['meeting']['provider'] == 'custom_link'


@pytest.mark.parametrize(('extra', 'field'), [
    ({'metadata': ['videoCallUrl']}, 'payload.metadata'),
    ({'videoCallData': {'url': {'nested': 1}}}, 'payload.videoCallData.url'),
    ({'location': 7}, 'payload.location'),
])
def test_a_wrongly_typed_location_or_call_is_400_naming_the_field(cal, extra, field):
    status, answer = post(cal, calcom_body(**extra))

    assert status == 400 and answer['field'] == field
    assert _queued(cal) == []


def _click(stack, url: str) -> dict:
    from helpers import handler, join_event

    return handler('join')(join_event(url.rsplit('/', 1)[1], 'POST', {'sec-fetch-site': 'same-origin'}),
                           stack.context)


@pytest.mark.parametrize(('language', 'kept'), [
    ({'locale': 'es'}, 'es'),
    ({'locale': 'pt_br'}, 'pt-BR'),
    ({'locale': 'not a locale'}, None),  # left out: the booking stands, in the tenant's default language
    ({'locale': 12}, None),
    ('fr', None),
    (None, None),
])
def test_the_attendees_language_is_the_clients_locale_or_left_out(cal, language, kept):
    body = json.loads(calcom_body())
    body['payload']['attendees'][0]['language'] = language
    _deliver(cal, json.dumps(body, separators=(',', ':')).encode())

    client = _booking(cal)['booking']['client']
    assert client['email'] == 'client@example.org'
    # Cal.com's attendee carries no phone field the reference names.
    assert (client['locale'], client['phone']) == (kept, None)
