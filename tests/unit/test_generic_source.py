import json
from datetime import UTC, datetime, timedelta

import pytest

from helpers import sign
from meetbridge.domain.ordering import change_digest
from meetbridge.errors import InvalidInput
from meetbridge.security.signatures import SignatureError
from meetbridge.sources import source_for
from meetbridge.sources.base import WebhookRequest
from meetbridge.sources.generic import SIGNATURE_HEADER, GenericSource

from .payloads import booking_payload, webhook_payload

SECRET = 'whsec_generic-unit'
NOW = 1_800_000_000


def request(body: bytes | dict | list, signed_at: int = NOW, secret: str = SECRET, now: float = NOW,
            signature: str | None = None) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = signature if signature is not None else sign(secret, raw, signed_at)
    return WebhookRequest(tenant_id='tenant-1', headers={SIGNATURE_HEADER: header}, body=raw, received_at=now)


def translate(req: WebhookRequest) -> list:
    return GenericSource().translate(req, [SECRET.encode()], lambda external_id: None).events


def test_valid_request_becomes_one_booking_event_never_ordered_by_the_signature_time():
    events = translate(request(webhook_payload(), signed_at=NOW - 120))

    assert len(events) == 1
    event = events[0]
    assert event.occurred_at is None and event.booking.version is None
    assert (event.tenant_id, event.source, event.event_id, event.type) == (
        'tenant-1', 'generic', 'evt-1', 'booking.created')
    assert event.booking.id == 'b-1001'
    assert event.booking.client.email == 'ann@example.com'
    assert event.booking.meeting_key == 'booking:b-1001'


def test_source_registry_returns_the_generic_source():
    assert source_for('generic').name == 'generic'


def test_invalid_json_is_invalid_input():
    with pytest.raises(InvalidInput, match='not valid JSON'):
        translate(request(b'{"event_id": "evt-1",'))


def test_body_that_is_not_utf8_is_invalid_input():
    with pytest.raises(InvalidInput, match='not UTF-8 text'):
        translate(request(b'\xff\xfe\x00{'))


@pytest.mark.parametrize('document', [[webhook_payload()], 'booking', 42, None])
def test_json_that_is_not_an_object_is_invalid_input(document):
    with pytest.raises(InvalidInput, match='JSON object'):
        translate(request(document))


def test_missing_booking_start_names_the_field():
    booking = booking_payload()
    del booking['start']

    with pytest.raises(InvalidInput) as exc_info:
        translate(request(webhook_payload(booking=booking)))

    assert exc_info.value.field == 'booking.start'
    assert str(exc_info.value).startswith('booking.start:')


def test_unknown_event_type_names_the_field():
    with pytest.raises(InvalidInput) as exc_info:
        translate(request(webhook_payload(type='booking.exploded')))

    assert exc_info.value.field == 'type'


def test_bad_client_email_names_the_nested_field():
    booking = booking_payload(client={'id': 'cl-1', 'name': 'Ann', 'email': 'not-an-address'})

    with pytest.raises(InvalidInput) as exc_info:
        translate(request(webhook_payload(booking=booking)))

    assert exc_info.value.field == 'booking.client.email'


def test_unknown_time_zone_names_the_field_and_the_zone():
    with pytest.raises(InvalidInput, match="unknown IANA time zone 'Mars/Base'") as exc_info:
        translate(request(webhook_payload(booking=booking_payload(timezone='Mars/Base'))))

    assert exc_info.value.field == 'booking.timezone'


def test_end_before_start_is_explained():
    booking = booking_payload(start='2026-12-01T11:00:00+01:00', end='2026-12-01T10:00:00+01:00')

    with pytest.raises(InvalidInput, match='end must be after start') as exc_info:
        translate(request(webhook_payload(booking=booking)))

    assert exc_info.value.field == 'booking'
    assert 'Value error' not in str(exc_info.value)


def test_bad_signature_is_rejected_before_the_body_is_parsed():
    with pytest.raises(SignatureError):
        translate(request(b'this is not json at all', secret='whsec_wrong'))


def test_missing_signature_header_is_rejected_before_the_body_is_parsed():
    req = WebhookRequest(tenant_id='tenant-1', headers={}, body=b'not json', received_at=NOW)

    with pytest.raises(SignatureError, match='missing'):
        translate(req)


def test_stale_request_is_rejected_even_when_the_body_is_valid():
    with pytest.raises(SignatureError, match='outside the allowed window'):
        translate(request(webhook_payload(), signed_at=NOW - 301))


def test_class_session_booking_keeps_its_session_key():
    booking = booking_payload(session_id='yoga-0800', payment={'required': True, 'status': 'pending'})

    event = translate(request(webhook_payload(type='booking.paid', booking=booking)))[0]

    assert event.booking.meeting_key == 'session:yoga-0800'
    assert event.type == 'booking.paid'
    assert event.booking.payment.required is True


def test_the_order_comes_from_the_body_version_and_occurred_at_held_in_utc():
    body = webhook_payload(occurred_at='2027-01-15T08:57:30.250+01:00', booking=booking_payload(version=7))

    [event] = translate(request(body))

    assert event.booking.version == 7
    assert event.occurred_at == datetime(2027, 1, 15, 7, 57, 30, 250000, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC and event.booking.start.tzinfo is UTC
    assert event.booking.start == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # sent as 10:00+01:00
    assert event.order.version == 7 and event.order.occurred_at == event.occurred_at


@pytest.mark.parametrize('version', [-1, 1.5, '3', True, 2**63, None])
def test_a_version_must_be_a_non_negative_integer(version):
    body = webhook_payload(booking=booking_payload(version=version))
    if version is None:
        assert translate(request(body))[0].booking.version is None
        return
    with pytest.raises(InvalidInput) as exc_info:
        translate(request(body))
    assert exc_info.value.field == 'booking.version'


@pytest.mark.parametrize('occurred_at', ['2027-01-15T08:00:00', 'yesterday', ''])
def test_occurred_at_must_be_an_instant_with_an_offset(occurred_at):
    with pytest.raises(InvalidInput) as exc_info:
        translate(request(webhook_payload(occurred_at=occurred_at)))
    assert exc_info.value.field == 'occurred_at'


def test_occurred_at_after_the_signature_is_refused_so_it_cannot_freeze_a_booking():
    signed = datetime.fromtimestamp(NOW, UTC)
    within = webhook_payload(occurred_at=(signed + timedelta(seconds=300)).isoformat())
    beyond = webhook_payload(occurred_at=(signed + timedelta(seconds=301)).isoformat())

    assert translate(request(within))[0].occurred_at == signed + timedelta(seconds=300)
    with pytest.raises(InvalidInput, match='after the request was signed') as exc_info:
        translate(request(beyond))
    assert exc_info.value.field == 'occurred_at'


@pytest.mark.parametrize('changes, field', [
    ({'booking': booking_payload(start='9999-12-31T23:00:00-14:00', end='9999-12-31T23:30:00-14:00')}, 'booking.start'),
    ({'occurred_at': '0001-01-01T00:00:00+14:00'}, 'occurred_at'),
])
def test_an_instant_outside_the_utc_calendar_is_invalid_input(changes, field):
    with pytest.raises(InvalidInput, match='outside the years 1 to 9999') as exc_info:
        translate(request(webhook_payload(**changes)))
    assert exc_info.value.field == field


def test_a_kiosk_booking_says_so_and_has_a_meeting_key_of_its_own_in_a_class_session():
    [event] = translate(request(webhook_payload(booking=booking_payload(channel='kiosk', session_id='yoga-1'))))

    assert event.booking.channel == 'kiosk'
    assert event.booking.meeting_key == 'booking:b-1001'


@pytest.mark.parametrize('booking', [booking_payload(), booking_payload(channel=None)])
def test_a_booking_without_a_channel_digests_as_before_the_channel_existed(booking):
    [event] = translate(request(webhook_payload(booking=booking)))

    assert event.booking.channel is None
    before = {key: value for key, value in event.booking.model_dump(mode='json').items() if key != 'channel'}
    assert event.order.change == change_digest('booking.created', before)


@pytest.mark.parametrize('channel', ['online', 'phone', 'Kiosk', 'KIOSK', '', 1, True, ['kiosk'], {'type': 'kiosk'}])
def test_an_unknown_channel_names_the_field(channel):
    with pytest.raises(InvalidInput) as exc_info:
        translate(request(webhook_payload(booking=booking_payload(channel=channel))))

    assert exc_info.value.field == 'booking.channel'
