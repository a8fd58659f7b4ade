"""booking.lookup: a webhook that names only ids is answered at once; the meetings function reads the booking
from the platform's API behind it, retries the platform's outages like a provider's and drops what the
platform refuses.

Driven through the real handlers with a scripted platform registered as a source, so the pipeline is tested
apart from any one platform's API (each platform's own tests go through its sandbox).
"""

import hashlib
import json
import sys
import types
from datetime import UTC, datetime

import pytest

from meetbridge.domain.model import Booking, BookingEvent, Client
from meetbridge.errors import InvalidInput
from meetbridge.sources.base import (Lookup, LookupRefused, NewProvider, NewService, PlatformUnavailable,
                                     Translation, WebhookRequest)
from meetbridge.sources.settings import Secret, SourceSettings

NAME = 'scripted'
KEY = 'scripted-api-key-1'


class ScriptedSettings(SourceSettings):
    api_key: Secret


class ScriptedPlatform:
    """A webhook `{"id", "kind"}` is a pointer; each lookup answers the next scripted outcome: an exception
    to raise, or the booking's start hour as the platform holds it now."""

    name = NAME

    def __init__(self):
        self.outcomes: list[Exception | int] = []
        self.calls: list[tuple[str, str]] = []

    def translate(self, request: WebhookRequest, settings: ScriptedSettings, known) -> Translation:
        pointer = json.loads(request.body)
        return Translation(lookups=[Lookup(
            tenant_id=request.tenant_id, source=NAME, external_id=pointer['id'], booking_id=known(pointer['id']),
            # Two deliveries of two changes are the same bytes: each delivery is its own lookup.
            event_id=f"{NAME}:{pointer['id']}:{request.received_at}", hint={'kind': pointer['kind']})])

    def resolve(self, lookup: Lookup, settings: ScriptedSettings, known, now: float) -> Translation:
        self.calls.append((lookup.external_id, settings.api_key.get_secret_value()))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        booking = Booking(
            id=known(lookup.external_id) or f'{NAME}:{lookup.external_id}', service_id=f'{NAME}:svc',
            provider_id=f'{NAME}:ana', start=f'2026-05-04T{outcome:02}:00:00+02:00',
            end=f'2026-05-04T{outcome:02}:45:00+02:00', timezone='Europe/Berlin',
            client=Client(id=f'{NAME}:c1', name='Client One', email='client@example.org'))
        event_type = 'booking.cancelled' if lookup.hint['kind'] == 'cancel' else \
            'booking.rescheduled' if lookup.booking_id else 'booking.created'
        # Named by the lookup and the state it read, as SimplyBook's and Acuity's are (docs/events.md).
        state = hashlib.sha256(f'{lookup.event_id}{event_type}{booking.model_dump_json()}'.encode()).hexdigest()[:32]
        return Translation(
            events=[BookingEvent(tenant_id=lookup.tenant_id, source=NAME, type=event_type,
                                 occurred_at=datetime.fromtimestamp(now, UTC),
                                 event_id=f'{NAME}:{lookup.external_id}:{state}', booking=booking)],
            services=[NewService(id=f'{NAME}:svc', name='Consultation')],
            providers=[NewProvider(id=f'{NAME}:ana', name='Ana Example', email='ana@provider.example')],
            external_ids={lookup.external_id: booking.id})


@pytest.fixture
def platform(stack, monkeypatch):
    """The scripted platform registered as a source and configured for the tenant, with a meeting account."""
    import meetbridge.sources
    from meetbridge.sources import settings

    scripted = ScriptedPlatform()
    module = types.ModuleType(f'meetbridge.sources.{NAME}')
    module.SOURCE = scripted
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(meetbridge.sources, 'SOURCE_NAMES', (*meetbridge.sources.SOURCE_NAMES, NAME))
    monkeypatch.setitem(settings.SETTINGS_MODELS, NAME, ScriptedSettings)
    assert stack.admin('PUT', f'sources/{NAME}', {'api_key': KEY, 'online': 'all'})[0] == 200
    account = {'type': 'custom_link', 'url': 'https://meet.example.com/room', 'description': 'Room 1'}
    assert stack.admin('PUT', 'accounts/default', account)[0] == 200
    return scripted


def post(stack, external_id: str = '1042', kind: str = 'create') -> tuple[int, dict]:
    from helpers import handler, http_event

    tenant_id = stack.tenant.tenant_id
    body = json.dumps({'id': external_id, 'kind': kind}).encode()
    event = http_event('POST', f'/webhooks/{NAME}/{tenant_id}', '/webhooks/{source}/{tenant_id}',
                       {'source': NAME, 'tenant_id': tenant_id}, body, {'content-type': 'application/json'})
    response = handler('booking_webhook')(event, stack.context)
    return response['statusCode'], json.loads(response['body'])


def run_meetings(stack, records: list[dict]) -> list[dict]:
    from helpers import handler, sqs_event

    return handler('meetings')(sqs_event(records), stack.context)['batchItemFailures']


def _booking(stack, booking_id: str = f'{NAME}:1042') -> dict:
    status, view = stack.view(booking_id)
    assert status == 200, view
    return view


def test_the_webhook_is_answered_before_the_lookup_and_the_lookup_makes_the_meeting(stack, platform):
    platform.outcomes = [9]

    status, answer = post(stack)

    assert status == 202 and len(answer['accepted']) == 1
    assert platform.calls == []  # nothing asked of the platform while it waited for its answer
    stack.pump()
    assert platform.calls == [('1042', KEY)]
    view = _booking(stack)
    assert view['booking']['start'].startswith('2026-05-04T07:00:00') and view['meeting']['status'] == 'scheduled'
    assert stack.admin('GET', f'services/{NAME}:svc')[1]['online'] is True  # the source says online: all
    assert stack.admin('GET', f'providers/{NAME}:ana')[1]['email'] == 'ana@provider.example'
    assert stack.admin('GET', f'sources/{NAME}/bookings/1042')[1]['booking']['id'] == f'{NAME}:1042'


def _look_up(stack) -> list[str]:
    """Runs the lookup waiting on the meetings queue, then the booking events it published; answers their types."""
    [lookup] = stack.cloud.queues['meetings'].receive()
    assert run_meetings(stack, [lookup]) == []
    published = stack.cloud.queues['meetings'].receive()
    if published:
        assert run_meetings(stack, published) == []
    return [json.loads(record['body'])['detail']['type'] for record in published]


def _announced(stack) -> list[str]:
    return [json.loads(record['body'])['detail-type'] for record in stack.cloud.queues['notifications'].receive()]


def test_two_identical_webhooks_for_two_real_changes_are_both_applied_and_a_redelivery_changes_nothing(stack, platform):
    platform.outcomes = [9, 11, 11, 13]  # created at 9; moved to 11; a redelivery re-reads 11; moved to 13
    applied, announced = [], []
    for kind in ('create', 'change', 'change', 'change'):
        assert post(stack, kind=kind)[0] == 202
        applied.append(_look_up(stack))
        announced.append(_announced(stack))

    assert applied == [['booking.created'], ['booking.rescheduled'], ['booking.rescheduled'], ['booking.rescheduled']]
    assert announced == [['meeting.scheduled'], ['meeting.rescheduled'], [], ['meeting.rescheduled']]
    assert _booking(stack)['booking']['start'].startswith('2026-05-04T11:00:00')
    assert len(platform.calls) == 4  # one call to the platform per delivery


def test_the_queue_running_a_lookup_again_publishes_nothing_new(stack, platform):
    platform.outcomes = [9, 9]
    assert post(stack)[0] == 202
    [lookup] = stack.cloud.queues['meetings'].receive()

    assert run_meetings(stack, [lookup]) == []
    # Run again within its publish's lease: retried later by the queue (logic/webhooks.py), nothing published now.
    assert run_meetings(stack, [lookup]) == [{'itemIdentifier': lookup['messageId']}]

    assert len(stack.cloud.queues['meetings'].receive()) == 1


def test_the_platform_down_then_back_keeps_the_change_waiting_visibly_and_applies_it_once(stack, platform):
    platform.outcomes = [9]
    post(stack)
    stack.pump()
    links = _booking(stack)['links']
    platform.outcomes = [PlatformUnavailable('scripted answered GET /bookings/1042: HTTP 503')] * 3 + [15]

    assert post(stack, kind='change')[0] == 202
    [record] = stack.cloud.queues['meetings'].receive()
    for _ in range(3):
        assert run_meetings(stack, [record]) == [{'itemIdentifier': record['messageId']}]
        assert _booking(stack)['booking']['problem'] == \
            'waiting for a retry of its scripted lookup: scripted answered GET /bookings/1042: HTTP 503'

    assert run_meetings(stack, [record]) == []
    stack.pump()
    view = _booking(stack)
    assert view['booking']['start'].startswith('2026-05-04T13:00:00') and view['booking']['problem'] is None
    assert view['links'] == links  # the same booking moved, not a new one
    assert len(platform.calls) == 5


@pytest.mark.parametrize('refusal', [LookupRefused('scripted refused GET /bookings/1042: HTTP 404'),
                                     InvalidInput('start_date_time: not a date')])
def test_a_lookup_the_platform_refuses_creates_nothing_and_is_logged_as_rejected(stack, platform, refusal, caplog):
    platform.outcomes = [refusal]

    assert post(stack)[0] == 202
    [record] = stack.cloud.queues['meetings'].receive()

    assert run_meetings(stack, [record]) == []  # acknowledged: retrying would get the same answer
    assert stack.view(f'{NAME}:1042')[0] == 404
    assert stack.admin('GET', f'services/{NAME}:svc')[0] == 404
    [rejected] = [r for r in caplog.records if r.getMessage().startswith('rejected delivery')]
    assert rejected.reason == str(refusal) and KEY not in caplog.text


def test_a_change_the_platform_answers_as_no_booking_shows_on_the_known_booking_until_a_later_change_applies(stack, platform):
    platform.outcomes = [9, InvalidInput('start_date_time: not a date'), 13]
    post(stack)
    stack.pump()

    assert post(stack, kind='change')[0] == 202
    assert _look_up(stack) == []
    view = _booking(stack)
    assert view['booking']['problem'] == \
        'a change scripted announced was not applied: start_date_time: not a date'
    assert view['booking']['start'].startswith('2026-05-04T07:00:00') and view['meeting']['status'] == 'scheduled'

    assert post(stack, kind='change')[0] == 202
    assert _look_up(stack) == ['booking.rescheduled']
    view = _booking(stack)
    assert view['booking']['problem'] is None and view['booking']['start'].startswith('2026-05-04T11:00:00')


def test_a_lookup_of_a_source_removed_since_its_webhook_changes_nothing(stack, platform):
    platform.outcomes = [9]
    assert post(stack)[0] == 202
    assert stack.admin('DELETE', f'sources/{NAME}')[0] == 200

    [record] = stack.cloud.queues['meetings'].receive()

    assert run_meetings(stack, [record]) == []
    assert platform.calls == [] and stack.view(f'{NAME}:1042')[0] == 404
