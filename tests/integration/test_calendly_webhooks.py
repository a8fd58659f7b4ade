"""POST /webhooks/calendly/{tenant}: Calendly's own webhooks, signed with the signing key set in the source."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
import time

import pytest
from test_platform_meetings import _target, _zoom_calls

SIGNING_KEY = 'calendly-signing-key-1'
API = 'https://api.calendly.com'
SCHEDULED_EVENT = f'{API}/scheduled_events/GBGBDCAADAEDCRZ2'
EVENT_TYPE_ID, HOST_ID = 'AAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBB'
FIRST, SECOND, THIRD = 'INV1AAAAAAAAAAAA', 'INV2BBBBBBBBBBBB', 'INV3CCCCCCCCCCCC'
START, END = '2026-03-18T14:00:00.000000Z', '2026-03-18T14:45:00.000000Z'
NEW_START, NEW_END = '2026-03-20T09:30:00.000000Z', '2026-03-20T10:15:00.000000Z'
LATER_START, LATER_END = '2026-03-21T09:30:00.000000Z', '2026-03-21T10:15:00.000000Z'
ZOOM_URL = 'https://us02web.zoom.us/j/81234567890?pwd=abc'
ZOOM = {'data': {'id': 81234567890, 'settings': {'global_dial_in_numbers': []}}, 'join_url': ZOOM_URL,
        'status': 'pushed', 'type': 'zoom'}
PHYSICAL = {'location': '12 Main Street', 'type': 'physical'}
CUSTOM = {'location': 'https://meet.example.com/x', 'type': 'custom'}
# A conference Calendly is still making: no join_url until it is pushed, and no webhook when it is.
PROCESSING = {'status': 'processing', 'type': 'zoom'}


def invitee_uri(invitee_id: str) -> str:
    return f'{SCHEDULED_EVENT}/invitees/{invitee_id}'


def calendly_body(event: str = 'invitee.created', invitee: str = FIRST, created_at: str = '2026-03-05T17:00:00.000000Z',
                  start: str = START, end: str = END, location: dict | None = None, scheduled: dict | None = None,
                  **fields) -> bytes:
    """A delivery as Calendly sends it: the Invitee with its scheduled event, keys in alphabetical order."""
    scheduled_event = {
        'created_at': created_at, 'end_time': end, 'event_guests': [],
        'event_memberships': [{'user': f'{API}/users/{HOST_ID}', 'user_email': 'ana@provider.example',
                               'user_name': 'Ana Example'}],
        'event_type': f'{API}/event_types/{EVENT_TYPE_ID}', 'invitees_counter': {'active': 1, 'limit': 1, 'total': 1},
        'location': ZOOM if location is None else location, 'meeting_notes_html': None, 'meeting_notes_plain': None,
        'name': 'Video consultation', 'start_time': start, 'status': 'active', 'updated_at': created_at,
        'uri': SCHEDULED_EVENT, **(scheduled or {}),
    }
    payload = {
        'cancel_url': f'https://calendly.com/cancellations/{invitee}', 'created_at': created_at,
        'email': 'client@example.org', 'event': SCHEDULED_EVENT, 'first_name': None, 'invitee_scheduled_by': None,
        'last_name': None, 'name': 'Client Example', 'new_invitee': None, 'no_show': None, 'old_invitee': None,
        'payment': None, 'questions_and_answers': [], 'reconfirmation': None,
        'reschedule_url': f'https://calendly.com/reschedulings/{invitee}', 'rescheduled': False,
        'routing_form_submission': None, 'scheduled_event': scheduled_event, 'scheduling_method': None,
        'status': 'canceled' if event == 'invitee.canceled' else 'active', 'text_reminder_number': None,
        'timezone': 'America/Mexico_City', 'tracking': {'utm_campaign': None, 'utm_source': None},
        'updated_at': created_at, 'uri': invitee_uri(invitee), **fields,
    }
    envelope = {'created_at': created_at, 'created_by': f'{API}/users/{HOST_ID}', 'event': event, 'payload': payload}
    return json.dumps(envelope, separators=(',', ':'), sort_keys=True).encode()


def canceled_for_reschedule(old: str, new: str, created_at: str, start: str = START, end: str = END, **fields) -> bytes:
    """The first half of a reschedule: the old invitee canceled, naming the new one."""
    cancellation = {'canceled_by': 'Client Example', 'canceler_type': 'invitee', 'created_at': created_at,
                    'reason': None}
    return calendly_body('invitee.canceled', old, created_at, start, end, rescheduled=True,
                         new_invitee=invitee_uri(new), cancellation=cancellation, **fields)


def created_by_reschedule(new: str, old: str, created_at: str, start: str = NEW_START, end: str = NEW_END,
                          **fields) -> bytes:
    """The second half: the new invitee created, naming the one it replaces."""
    return calendly_body('invitee.created', new, created_at, start, end, old_invitee=invitee_uri(old), **fields)


def calendly_signature(body: bytes, at: float | None = None, key: str = SIGNING_KEY) -> str:
    timestamp = int(time.time() if at is None else at)
    digest = hmac.new(key.encode(), f'{timestamp}.'.encode() + body, hashlib.sha256).hexdigest()
    return f't={timestamp},v1={digest}'


def post(stack, body: bytes, signature: str | None = '') -> tuple[int, dict]:
    from helpers import handler, http_event

    headers = {'content-type': 'application/json', 'user-agent': 'Calendly'}
    if signature is not None:
        headers['calendly-webhook-signature'] = calendly_signature(body) if signature == '' else signature
    tenant_id = stack.tenant.tenant_id
    event = http_event('POST', f'/webhooks/calendly/{tenant_id}', '/webhooks/{source}/{tenant_id}',
                       {'source': 'calendly', 'tenant_id': tenant_id}, body, headers)
    response = handler('booking_webhook')(event, stack.context)
    return response['statusCode'], json.loads(response['body'])


@pytest.fixture
def calendly(stack):
    """A tenant with Calendly configured and a meeting account; Calendly's event type turned online."""
    assert stack.admin('PUT', 'sources/calendly', {'signing_key': SIGNING_KEY})[0] == 200
    account = {'type': 'custom_link', 'url': 'https://meet.example.com/room', 'description': 'Room 1'}
    assert stack.admin('PUT', 'accounts/default', account)[0] == 200
    assert stack.admin('PUT', f'services/calendly:{EVENT_TYPE_ID}', {'name': 'Video consultation', 'online': True}
                       )[0] == 200
    return stack


def _queued(stack) -> list[dict]:
    """The booking events waiting for the meetings function."""
    return [json.loads(r['body'])['detail'] for r in stack.cloud.queues['meetings'].receive()]


def _deliver(stack, body: bytes, signature: str | None = '') -> None:
    status, answer = post(stack, body, signature)
    assert status == 202, answer
    stack.pump()


def _booking(stack, booking_id: str = f'calendly:{FIRST}') -> dict:
    status, view = stack.view(booking_id)
    assert status == 200, view
    return view


def test_a_created_invitee_gets_its_meeting_and_links_under_calendly_ids(calendly):
    _deliver(calendly, calendly_body(location=PHYSICAL))

    view = _booking(calendly)
    booking = view['booking']
    assert (booking['service_id'], booking['provider_id']) == (f'calendly:{EVENT_TYPE_ID}', f'calendly:{HOST_ID}')
    assert booking['start'].startswith('2026-03-18T14:00:00') and booking['end'].startswith('2026-03-18T14:45:00')
    # Calendly names no host zone: the invitee's is the booking's.
    assert booking['timezone'] == 'America/Mexico_City'
    assert booking['client']['email'] == 'client@example.org' and booking['client']['name'] == 'Client Example'
    assert booking['client']['timezone'] == 'America/Mexico_City'
    assert booking['client']['id'] == 'calendly:' + hashlib.sha256(b'client@example.org').hexdigest()[:32]
    assert booking['payment'] == {'required': False, 'status': 'pending'}
    assert view['meeting']['status'] == 'scheduled' and view['links']['provider'] and view['links']['clients']
    assert calendly.admin('GET', f'providers/calendly:{HOST_ID}')[1]['email'] == 'ana@provider.example'


def test_an_invitee_zone_this_runtime_does_not_know_leaves_the_booking_in_utc(calendly):
    _deliver(calendly, calendly_body(timezone='Mars/Olympus_Mons'))

    booking = _booking(calendly)['booking']
    assert booking['timezone'] == 'UTC' and booking['client'].get('timezone') is None


def test_a_booking_of_an_unknown_event_type_registers_it_offline_and_makes_no_meeting(calendly):
    # At an address: no conference of Calendly's makes it online either.
    _deliver(calendly, calendly_body(scheduled={'event_type': f'{API}/event_types/HAIRCUT0000', 'name': 'Haircut'},
                                     location=PHYSICAL))

    assert calendly.admin('GET', 'services/calendly:HAIRCUT0000')[1] == {
        'id': 'calendly:HAIRCUT0000', 'name': 'Haircut', 'online': False,
        'kind': 'appointment', 'links_in_messages': None}
    assert calendly.view(f'calendly:{FIRST}')[0] == 404


def test_a_source_set_online_all_registers_its_event_types_online(calendly):
    assert calendly.admin('PUT', 'sources/calendly', {'signing_key': SIGNING_KEY, 'online': 'all'})[0] == 200

    _deliver(calendly, calendly_body(scheduled={'event_type': f'{API}/event_types/HAIRCUT0000', 'name': 'Haircut'}))

    assert calendly.admin('GET', 'services/calendly:HAIRCUT0000')[1]['online'] is True
    assert _booking(calendly)['meeting']['status'] == 'scheduled'


@pytest.mark.parametrize('case', ['tampered byte', 'wrong key', 'missing', 'stale', 'ahead', 'no timestamp',
                                  'no v1', 'non-ascii'])
def test_a_bad_signature_is_401_and_changes_nothing(calendly, case):
    body = calendly_body()
    now = time.time()
    signature = {
        'tampered byte': calendly_signature(body), 'wrong key': calendly_signature(body, key='not-the-key'),
        'missing': None, 'stale': calendly_signature(body, now - 181), 'ahead': calendly_signature(body, now + 181),
        'no timestamp': calendly_signature(body).split(',')[1], 'no v1': calendly_signature(body).split(',')[0],
        'non-ascii': f't={int(now)},v1=' + 'é' * 64,
    }[case]
    if case == 'tampered byte':
        body = body.replace(b'14:45:00', b'14:46:00')

    status, answer = post(calendly, body, signature)

    assert status == 401 and answer['error'] == 'invalid_signature'
    assert SIGNING_KEY not in json.dumps(answer)
    assert _queued(calendly) == []
    assert calendly.admin('GET', f'providers/calendly:{HOST_ID}')[0] == 404


def test_a_signature_within_the_three_minute_window_is_accepted(calendly):
    body = calendly_body()

    assert post(calendly, body, calendly_signature(body, time.time() - 170))[0] == 202


def test_a_tenant_without_calendly_or_after_removing_it_answers_404(stack):
    assert post(stack, calendly_body())[0] == 404
    stack.admin('PUT', 'sources/calendly', {'signing_key': SIGNING_KEY})
    stack.admin('DELETE', 'sources/calendly')

    assert post(stack, calendly_body())[0] == 404


def test_a_retry_signed_again_is_acknowledged_and_applied_once(calendly):
    body = calendly_body()

    first = post(calendly, body, calendly_signature(body, time.time() - 60))
    retry = post(calendly, body, calendly_signature(body))

    assert first[0] == 202 and retry[0] == 503  # within the first's lease: sent again later (test_webhook_publish.py)
    assert len(_queued(calendly)) == 1


def _reschedule_pair(first_half_first: bool) -> list[bytes]:
    halves = [canceled_for_reschedule(FIRST, SECOND, '2026-03-06T08:00:00.000000Z'),
              created_by_reschedule(SECOND, FIRST, '2026-03-06T08:00:00.400000Z')]
    return halves if first_half_first else halves[::-1]


@pytest.mark.parametrize('first_half_first', [True, False], ids=['canceled-old first', 'created-new first'])
def test_a_reschedule_pair_in_either_order_moves_the_same_booking_and_keeps_its_links(calendly, first_half_first):
    _deliver(calendly, calendly_body())
    before = _booking(calendly)

    for body in _reschedule_pair(first_half_first):
        _deliver(calendly, body)

    after = _booking(calendly)
    assert after['booking']['start'].startswith('2026-03-20T09:30:00') and after['booking']['status'] == 'active'
    assert after['links'] == before['links'] and after['meeting']['status'] == 'scheduled'
    assert calendly.view(f'calendly:{SECOND}')[0] == 404  # no second booking


@pytest.mark.parametrize('first_half_first', [True, False], ids=['canceled-old first', 'created-new first'])
def test_each_half_of_a_reschedule_delivered_twice_is_applied_once(calendly, first_half_first):
    _deliver(calendly, calendly_body())
    before = _booking(calendly)

    for body in _reschedule_pair(first_half_first):
        _deliver(calendly, body, calendly_signature(body))
        # Within the first's lease a half that published is sent again later (test_webhook_publish.py); one that
        # published nothing is accepted again. Either way nothing is applied twice.
        assert post(calendly, body, calendly_signature(body))[0] in (202, 503)

    after = _booking(calendly)
    assert after['booking']['start'].startswith('2026-03-20T09:30:00') and after['booking']['status'] == 'active'
    assert after['links'] == before['links']


def test_the_first_half_of_a_reschedule_cancels_nothing_and_publishes_nothing(calendly):
    _deliver(calendly, calendly_body())

    assert post(calendly, canceled_for_reschedule(FIRST, SECOND, '2026-03-06T08:00:00.000000Z')) == (
        202, {'accepted': []})

    assert _queued(calendly) == []
    assert _booking(calendly)['booking']['status'] == 'active'


def test_a_reschedule_arriving_before_the_creation_ends_at_the_new_time(calendly):
    for body in _reschedule_pair(first_half_first=False):
        _deliver(calendly, body)
    _deliver(calendly, calendly_body())  # created earlier at Calendly, delivered late

    booking = _booking(calendly)['booking']
    assert booking['start'].startswith('2026-03-20T09:30:00') and booking['status'] == 'active'
    assert calendly.view(f'calendly:{SECOND}')[0] == 404


def test_a_chain_of_two_reschedules_then_a_cancel_of_the_newest_invitee_apply_to_the_same_booking(calendly):
    _deliver(calendly, calendly_body())
    before = _booking(calendly)
    _deliver(calendly, created_by_reschedule(SECOND, FIRST, '2026-03-06T08:00:00.000000Z'))
    _deliver(calendly, canceled_for_reschedule(FIRST, SECOND, '2026-03-06T08:00:00.000000Z'))
    # The second reschedule's halves come the other way round; the canceled one names the first invitee as the
    # one its invitee replaced.
    _deliver(calendly, canceled_for_reschedule(SECOND, THIRD, '2026-03-07T08:00:00.000000Z', NEW_START, NEW_END,
                                               old_invitee=invitee_uri(FIRST)))
    _deliver(calendly, created_by_reschedule(THIRD, SECOND, '2026-03-07T08:00:00.000000Z', LATER_START, LATER_END))

    after = _booking(calendly)
    assert after['booking']['start'].startswith('2026-03-21T09:30:00') and after['links'] == before['links']
    assert {calendly.view(f'calendly:{invitee}')[0] for invitee in (SECOND, THIRD)} == {404}

    cancellation = {'canceled_by': 'Ana Example', 'canceler_type': 'host', 'created_at': '2026-03-08T08:00:00.000000Z',
                    'reason': 'ill'}
    _deliver(calendly, calendly_body('invitee.canceled', THIRD, '2026-03-08T08:00:00.000000Z', LATER_START,
                                     LATER_END, old_invitee=invitee_uri(SECOND), cancellation=cancellation))

    assert _booking(calendly)['booking']['status'] == 'cancelled'


def test_changes_apply_in_the_order_of_created_at_not_of_arrival_nor_of_the_signature_time(calendly):
    _deliver(calendly, calendly_body())
    _deliver(calendly, canceled_for_reschedule(FIRST, SECOND, '2026-03-06T08:00:00.000000Z'))
    second = created_by_reschedule(SECOND, FIRST, '2026-03-06T08:00:00.000000Z')
    third = created_by_reschedule(THIRD, SECOND, '2026-03-07T08:00:00.000000Z', LATER_START, LATER_END)
    # The newer move arrives first, signed earlier; the older one arrives last, signed later.
    _deliver(calendly, third, calendly_signature(third, time.time() - 120))
    _deliver(calendly, second, calendly_signature(second))

    booking = _booking(calendly)['booking']
    assert booking['start'].startswith('2026-03-21T09:30:00') and booking['status'] == 'active'


def test_a_cancel_cancels_and_a_late_creation_does_not_bring_it_back(calendly):
    cancelled = calendly_body('invitee.canceled', created_at='2026-03-05T18:00:00.000000Z',
                              cancellation={'canceled_by': 'Client Example', 'canceler_type': 'invitee',
                                            'created_at': '2026-03-05T18:00:00.000000Z', 'reason': 'busy'})
    _deliver(calendly, cancelled)
    _deliver(calendly, calendly_body())

    assert _booking(calendly)['booking']['status'] == 'cancelled'


def test_a_cancel_marked_rescheduled_without_a_new_invitee_cancels(calendly):
    _deliver(calendly, calendly_body())

    _deliver(calendly, calendly_body('invitee.canceled', created_at='2026-03-05T18:00:00.000000Z', rescheduled=True))

    assert _booking(calendly)['booking']['status'] == 'cancelled'


@pytest.mark.parametrize(('payment', 'expected'), [
    (None, {'required': False, 'status': 'pending'}),
    ({'amount': 50.0, 'currency': 'USD', 'external_id': 'ch_1', 'provider': 'stripe', 'successful': True,
      'terms': 'Pay now'}, {'required': True, 'status': 'paid'}),
    ({'amount': 50.0, 'currency': 'USD', 'external_id': 'ch_1', 'provider': 'stripe', 'successful': False,
      'terms': 'Pay now'}, {'required': True, 'status': 'pending'}),
])
def test_the_invitee_payment_is_the_booking_payment(calendly, payment, expected):
    _deliver(calendly, calendly_body(payment=payment))

    assert _booking(calendly)['booking']['payment'] == expected


def test_a_conference_calendly_made_is_carried_as_the_platform_meeting(calendly):
    assert post(calendly, calendly_body())[0] == 202
    assert [event['booking']['platform_meeting_url'] for event in _queued(calendly)] == [ZOOM_URL]

    teams_url = 'https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0'
    teams = {'join_url': teams_url, 'status': 'pushed', 'type': 'microsoft_teams_conference'}
    assert post(calendly, created_by_reschedule(SECOND, FIRST, '2026-03-06T08:00:00.000000Z', location=teams))[0] == 202
    (moved,) = _queued(calendly)
    assert moved['booking']['id'] == f'calendly:{FIRST}' and moved['booking']['platform_meeting_url'] == teams_url


@pytest.mark.parametrize(('location', 'pending'), [
    (PHYSICAL, False), (CUSTOM, False), (PROCESSING, True),
    ({'status': 'processing', 'type': 'google_conference'}, True),
    ({'join_url': 'http://zoom.example/j/1', 'status': 'pushed', 'type': 'zoom'}, True),
], ids=['physical', 'custom', 'zoom processing', 'meet processing', 'zoom without https'])
def test_a_location_without_an_https_join_url_carries_no_platform_meeting(calendly, location, pending):
    """A conference Calendly is still making is carried as pending: its URL comes later, with no webhook."""
    assert post(calendly, calendly_body(location=location))[0] == 202

    assert [(event['booking']['platform_meeting_url'], event['booking']['platform_meeting_pending'])
            for event in _queued(calendly)] == [(None, pending)]


@pytest.mark.parametrize('event', ['invitee_no_show.created', 'invitee_no_show.deleted',
                                   'routing_form_submission.created', 'event_type.updated'])
def test_events_that_do_not_change_a_booking_are_acknowledged(calendly, event):
    body = json.dumps({'created_at': '2026-03-05T17:00:00.000000Z', 'created_by': f'{API}/users/{HOST_ID}',
                       'event': event, 'payload': {'invitee': invitee_uri(FIRST)}}).encode()

    assert post(calendly, body) == (202, {'accepted': []})
    assert _queued(calendly) == []


def test_the_booking_is_found_by_its_first_and_its_rescheduled_invitee(calendly):
    assert calendly.admin('GET', f'sources/calendly/bookings/{FIRST}')[0] == 404
    _deliver(calendly, calendly_body())
    for body in _reschedule_pair(first_half_first=True):
        _deliver(calendly, body)
    view = _booking(calendly)

    for invitee in (FIRST, SECOND):
        status, found = calendly.admin('GET', f'sources/calendly/bookings/{invitee}')
        assert status == 200
        assert found == {**view, 'source': 'calendly', 'external_id': invitee}
    assert calendly.admin('GET', 'sources/calendly/bookings/UNKNOWN0000')[0] == 404


@pytest.mark.parametrize(('fields', 'scheduled', 'field'), [
    ({'uri': invitee_uri('has space')}, {}, 'payload.uri'),
    ({'uri': 12}, {}, 'payload.uri'),
    ({'email': 'not-an-email'}, {}, 'payload.email'),
    ({'old_invitee': f'{API}/invitees/'}, {}, 'payload.old_invitee'),
    ({'payment': {'successful': 'maybe'}}, {}, 'payload.payment.successful'),
    ({'scheduled_event': None}, {}, 'payload.scheduled_event'),
    ({}, {'event_memberships': []}, 'payload.scheduled_event.event_memberships'),
    ({}, {'event_memberships': [{'user': f'{API}/users/X', 'user_name': 'Ana', 'user_email': 'nope'}]},
     'payload.scheduled_event.event_memberships.0.user_email'),
    ({}, {'start_time': ['2026']}, 'payload.scheduled_event.start_time'),
    ({}, {'end_time': START}, 'payload.scheduled_event.end_time'),
    ({}, {'location': {'join_url': ['https://zoom.example/j/1'], 'type': 'zoom'}},
     'payload.scheduled_event.location.join_url'),
])
def test_a_malformed_invitee_is_400_naming_the_field(calendly, fields, scheduled, field):
    status, answer = post(calendly, calendly_body(scheduled=scheduled, **fields))

    assert status == 400 and answer['field'] == field
    assert _queued(calendly) == []


def test_a_created_at_in_the_future_is_refused_so_it_cannot_freeze_a_booking(calendly):
    status, answer = post(calendly, calendly_body(created_at='2999-01-01T00:00:00.000000Z'))

    assert status == 400 and answer['field'] == 'created_at'


@pytest.mark.parametrize(('body', 'says'), [
    (b'{"event": ', 'not valid JSON'),
    (b'\xff\xfe{}', 'not UTF-8 text'),
    (b'[]', 'must be a JSON object'),
    (b'{"a":' * 3000 + b'1' + b'}' * 3000, 'deeper than 64 levels'),
    (b'{"created_at":"2026-03-05T17:00:00Z","event":"invitee.created","payload":' + b'7' * 5000 + b'}',
     'integer longer than 100 digits'),
    (b'{"created_at":"2026-03-05T17:00:00Z","event":"invitee.created","payload":[]}', 'payload'),
    (b'{"created_at":12,"event":["invitee.created"],"payload":{}}', 'event'),
])
def test_a_signed_body_that_is_not_a_calendly_envelope_is_400(calendly, body, says):
    status, answer = post(calendly, body)

    assert status == 400 and answer['error'] == 'invalid_request' and says in answer['message']
    assert _queued(calendly) == []


def _calendly_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.000000Z')


def test_a_conference_calendly_made_is_the_bookings_meeting_and_its_links_follow_the_latest(calendly):
    now = datetime.now(UTC)
    start, end = _calendly_time(now - timedelta(minutes=1)), _calendly_time(now + timedelta(minutes=44))
    _deliver(calendly, calendly_body(start=start, end=end))
    view = _booking(calendly)
    assert (view['meeting']['provider'], view['meeting']['account_id']) == ('platform', None)
    links = view['links']
    assert _target(calendly, links['clients'][view['booking']['client']['id']]) == ZOOM_URL
    assert _target(calendly, links['provider']) == ZOOM_URL

    teams_url = 'https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0'
    teams = {'join_url': teams_url, 'status': 'pushed', 'type': 'microsoft_teams_conference'}
    created_at = _calendly_time(now)
    for body in (created_by_reschedule(SECOND, FIRST, created_at, start, end, location=teams),
                 canceled_for_reschedule(FIRST, SECOND, created_at, start, end)):
        _deliver(calendly, body)

    moved = _booking(calendly)
    assert moved['links'] == links and moved['meeting']['provider'] == 'platform'
    assert _target(calendly, links['clients'][view['booking']['client']['id']]) == teams_url


# --- a conference Calendly is still making ---------------------------------------------------------


@pytest.fixture
def calendly_zoom(stack, zoom):
    """Calendly with its event type online and Zoom as the company's account: a meeting of ours is made there."""
    from integration_stack import connect_zoom

    assert stack.admin('PUT', 'sources/calendly', {'signing_key': SIGNING_KEY})[0] == 200
    assert stack.admin('PUT', f'services/calendly:{EVENT_TYPE_ID}', {'name': 'Video consultation', 'online': True}
                       )[0] == 200
    connect_zoom(stack, zoom)
    zoom.reset_calls()
    return stack


def _reschedule(stack, location: dict, start: datetime, end: datetime, created_at: datetime,
                first_half_first: bool = True) -> None:
    halves = [canceled_for_reschedule(FIRST, SECOND, _calendly_time(created_at)),
              created_by_reschedule(SECOND, FIRST, _calendly_time(created_at), _calendly_time(start),
                                    _calendly_time(end), location=location)]
    for body in halves if first_half_first else reversed(halves):
        _deliver(stack, body)


def _targets(stack, view: dict) -> set[str]:
    links = view['links']
    return {_target(stack, links['provider']), _target(stack, links['clients'][view['booking']['client']['id']])}


@pytest.mark.parametrize('first_half_first', [True, False], ids=['canceled-old first', 'created-new first'])
def test_a_reschedule_to_a_conference_still_being_made_keeps_the_pushed_one_and_makes_no_second_meeting(
        calendly_zoom, zoom, first_half_first):
    now = datetime.now(UTC).replace(microsecond=0)
    _deliver(calendly_zoom, calendly_body(start=_calendly_time(now - timedelta(minutes=1)),
                                          end=_calendly_time(now + timedelta(minutes=44))))
    before = _booking(calendly_zoom)
    assert before['meeting']['provider'] == 'platform'

    moved_start = now - timedelta(minutes=2)
    _reschedule(calendly_zoom, PROCESSING, moved_start, now + timedelta(minutes=58), now, first_half_first)

    after = _booking(calendly_zoom)
    assert after['links'] == before['links'] and after['booking']['problem'] is None
    assert (after['meeting']['provider'], after['meeting']['status']) == ('platform', 'scheduled')
    assert after['meeting']['start'].startswith(moved_start.strftime('%Y-%m-%dT%H:%M'))
    assert _targets(calendly_zoom, after) == {ZOOM_URL}
    assert _zoom_calls(zoom) == [] and zoom.meetings == {}


def test_a_conference_still_being_made_first_makes_none_of_ours_and_the_pushed_one_is_wrapped_later(
        calendly_zoom, zoom):
    now = datetime.now(UTC).replace(microsecond=0)
    _deliver(calendly_zoom, calendly_body(start=_calendly_time(now - timedelta(minutes=1)),
                                          end=_calendly_time(now + timedelta(minutes=44)), location=PROCESSING))
    waiting = _booking(calendly_zoom)
    assert 'has not sent its link' in waiting['booking']['problem'] and waiting['booking']['status'] == 'active'
    assert _zoom_calls(zoom) == [] and zoom.meetings == {}

    _reschedule(calendly_zoom, ZOOM, now - timedelta(minutes=2), now + timedelta(minutes=58), now)

    wrapped = _booking(calendly_zoom)
    assert wrapped['booking']['problem'] is None
    assert (wrapped['meeting']['provider'], wrapped['meeting']['status']) == ('platform', 'scheduled')
    assert _targets(calendly_zoom, wrapped) == {ZOOM_URL}
    assert _zoom_calls(zoom) == [] and zoom.meetings == {}


@pytest.mark.parametrize('location', [PHYSICAL, CUSTOM], ids=['physical', 'custom'])
def test_a_physical_or_custom_location_gets_our_meeting_and_keeps_it_when_calendly_then_makes_a_conference(
        calendly_zoom, zoom, location):
    now = datetime.now(UTC).replace(microsecond=0)
    _deliver(calendly_zoom, calendly_body(start=_calendly_time(now - timedelta(minutes=1)),
                                          end=_calendly_time(now + timedelta(minutes=44)), location=location))
    before = _booking(calendly_zoom)
    [(meeting_id, join_url)] = [(meeting['id'], meeting['join_url']) for meeting in zoom.meetings.values()]
    assert before['meeting']['provider'] == 'zoom' and _zoom_calls(zoom) == ['create_meeting']
    zoom.reset_calls()

    # Our Zoom meeting is the booking's until Calendly sends its own conference's link: moved, not deleted.
    moved_start = now - timedelta(minutes=2)
    _reschedule(calendly_zoom, PROCESSING, moved_start, now + timedelta(minutes=58), now)

    after = _booking(calendly_zoom)
    assert after['links'] == before['links'] and after['booking']['problem'] is None
    assert after['meeting']['provider'] == 'zoom' and _zoom_calls(zoom) == ['update_meeting']
    assert [meeting['id'] for meeting in zoom.meetings.values()] == [meeting_id]
    assert zoom.meetings[meeting_id]['start_time'].startswith(moved_start.strftime('%Y-%m-%dT%H:%M'))
    assert _target(calendly_zoom, after['links']['clients'][after['booking']['client']['id']]) == join_url


@pytest.mark.parametrize(('number', 'kept'), [
    ('+1 415-555-0132', '+14155550132'),  # the number the invitee gave for text reminders
    ('0044 (20) 7946 0958', '+442079460958'),
    ('555-0132', None),  # not international: left out, the booking stands
    (None, None),
])
def test_the_text_reminder_number_is_the_clients_phone_in_e164_or_left_out(calendly, number, kept):
    _deliver(calendly, calendly_body(location=PHYSICAL, text_reminder_number=number))

    client = _booking(calendly)['booking']['client']
    assert client['email'] == 'client@example.org'
    assert (client['phone'], client['locale']) == (kept, None)  # Calendly sends no invitee language
