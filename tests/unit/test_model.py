from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest
from pydantic import ValidationError

from meetbridge.domain.model import Booking, BookingEvent, BookingEventType, Client, Payment

from .payloads import booking_payload


def _first_error_location(exc_info) -> tuple:
    return exc_info.value.errors()[0]['loc']


def test_valid_booking_keeps_its_times_as_aware_datetimes():
    booking = Booking.model_validate(booking_payload())

    assert booking.start == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert booking.end - booking.start == timedelta(hours=1)
    assert booking.client.email == 'ann@example.com'


@pytest.mark.parametrize('end', ['2026-12-01T10:00:00+01:00', '2026-12-01T09:59:59+01:00'])
def test_end_must_be_after_start(end):
    with pytest.raises(ValidationError, match='end must be after start'):
        Booking.model_validate(booking_payload(end=end))


def test_end_is_compared_in_absolute_time_across_offsets():
    # 09:30Z is 10:30+01:00: thirty minutes after the start although the wall clock reads earlier.
    booking = Booking.model_validate(booking_payload(end='2026-12-01T09:30:00Z'))

    assert booking.end - booking.start == timedelta(minutes=30)


@pytest.mark.parametrize('field', ['start', 'end'])
def test_naive_datetimes_are_rejected(field):
    with pytest.raises(ValidationError) as exc_info:
        Booking.model_validate(booking_payload(**{field: '2026-12-01T10:30:00'}))

    assert _first_error_location(exc_info) == (field,)
    assert exc_info.value.errors()[0]['type'] == 'timezone_aware'


@pytest.mark.parametrize('zone', ['Mars/Olympus_Mons', 'Europe/Berlinn', 'utc', '../../etc/passwd', '/etc/localtime'])
def test_unknown_time_zone_is_rejected(zone):
    with pytest.raises(ValidationError, match='unknown IANA time zone') as exc_info:
        Booking.model_validate(booking_payload(timezone=zone))

    assert _first_error_location(exc_info) == ('timezone',)


def test_unknown_client_time_zone_is_rejected_but_it_may_be_omitted():
    with pytest.raises(ValidationError, match='unknown IANA time zone'):
        Client(id='c1', name='Ann', email='ann@example.com', timezone='Nowhere/City')

    assert Client(id='c1', name='Ann', email='ann@example.com').timezone is None


@pytest.mark.parametrize(
    'bad_id',
    ['a#b', 'TENANT#t1', 'has space', ' lead', 'x' * 129, '', '-starts-with-dash', 'line\n', 'a/b', 'ü'],
)
@pytest.mark.parametrize('field', ['id', 'service_id', 'provider_id', 'session_id'])
def test_identifiers_with_separators_spaces_or_too_long_are_rejected(field, bad_id):
    with pytest.raises(ValidationError) as exc_info:
        Booking.model_validate(booking_payload(**{field: bad_id}))

    assert _first_error_location(exc_info) == (field,)


@pytest.mark.parametrize('good_id', ['x' * 128, 'a.b_c:d@e-f', '0', 'B1001'])
def test_identifiers_up_to_128_safe_characters_are_accepted(good_id):
    assert Booking.model_validate(booking_payload(id=good_id)).id == good_id


@pytest.mark.parametrize('email', ['ann@example.com', 'a.b+tag@sub.example.co.uk'])
def test_plain_email_addresses_are_accepted(email):
    assert Client(id='c1', name='Ann', email=email).email == email


@pytest.mark.parametrize(
    'email', ['ann', 'ann@example', '@example.com', 'a b@example.com', '<ann@example.com>', 'a@b@example.com',
              'ann@example.com\nBcc: x@evil.test', '"ann"@example.com', 'x' * 250 + '@e.com']
)
def test_malformed_email_addresses_are_rejected(email):
    with pytest.raises(ValidationError) as exc_info:
        Booking.model_validate(booking_payload(client={'id': 'c1', 'name': 'Ann', 'email': email}))

    assert _first_error_location(exc_info) == ('client', 'email')


def test_meeting_key_is_per_booking_for_an_appointment():
    assert Booking.model_validate(booking_payload(id='b-1')).meeting_key == 'booking:b-1'


def test_meeting_key_is_per_session_for_a_class_so_all_its_clients_share_one_meeting():
    first = Booking.model_validate(booking_payload(id='b-1', session_id='yoga-0800'))
    second = Booking.model_validate(booking_payload(id='b-2', session_id='yoga-0800'))

    assert first.meeting_key == second.meeting_key == 'session:yoga-0800'


def test_payment_defaults_to_not_required_and_pending():
    booking = Booking.model_validate(booking_payload())

    assert booking.payment == Payment(required=False, status='pending')


def test_payment_status_outside_pending_and_paid_is_rejected():
    with pytest.raises(ValidationError) as exc_info:
        Booking.model_validate(booking_payload(payment={'required': True, 'status': 'refunded'}))

    assert _first_error_location(exc_info) == ('payment', 'status')


def test_paid_payment_is_read():
    booking = Booking.model_validate(booking_payload(payment={'required': True, 'status': 'paid'}))

    assert booking.payment.required is True
    assert booking.payment.status == 'paid'


def test_booking_event_accepts_each_catalogued_type_and_nothing_else():
    booking = Booking.model_validate(booking_payload())
    common = dict(tenant_id='t1', source='generic', event_id='e1', occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
                  booking=booking)

    assert get_args(BookingEventType) == ('booking.created', 'booking.rescheduled', 'booking.cancelled', 'booking.paid')
    for event_type in get_args(BookingEventType):
        assert BookingEvent(type=event_type, **common).type == event_type
    with pytest.raises(ValidationError):
        BookingEvent(type='booking.deleted', **common)


def test_booking_event_rejects_a_tenant_id_with_a_key_separator():
    booking = Booking.model_validate(booking_payload())

    with pytest.raises(ValidationError) as exc_info:
        BookingEvent(tenant_id='t1#x', source='generic', event_id='e1', type='booking.created',
                     occurred_at=datetime(2026, 11, 1, tzinfo=UTC), booking=booking)

    assert _first_error_location(exc_info) == ('tenant_id',)


def test_models_are_frozen():
    booking = Booking.model_validate(booking_payload())

    with pytest.raises(ValidationError):
        booking.start = datetime(2027, 1, 1, tzinfo=UTC)
    assert booking.start == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_unknown_fields_are_ignored_for_forward_compatibility():
    booking = Booking.model_validate(booking_payload(room='blue', notes='bring a mat'))

    assert not hasattr(booking, 'room')
    assert booking.id == 'b-1001'
