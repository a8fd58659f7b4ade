"""Acuity Scheduling webhooks (docs/api.md, "Acuity Scheduling").

Body: form-urlencoded `action=scheduled&id=1204583921&calendarID=8123456&appointmentTypeID=51234567`;
`X-Acuity-Signature` is the base64 HMAC-SHA256 of the raw body keyed with the account's API key. The
action is `scheduled`, `rescheduled`, `canceled` or `changed`, or the same with `appointment.` in front
(the dynamic webhooks' spelling); `order.completed` and anything else is acknowledged and changes nothing.

The webhook carries only ids, so it becomes a Lookup, answered at once; the meetings pipeline reads the
appointment (`GET /appointments/{id}`, Basic auth with the user id and API key: one call per lookup) and
applies what it says. Acuity keeps one id through reschedules: the booking is `acuity:<id>` for its life.
Nothing in the body tells two deliveries of one change from two changes (a second reschedule, a second
`changed` have the same body), so only `scheduled` and `canceled`, which happen once to an appointment,
dedupe at the webhook; the others are looked up per delivery, and the event read back dedupes on what it
applies. Re-read states are ordered by when they were read.
"""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal
from urllib.parse import parse_qsl

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from meetbridge import config, safe_json
from meetbridge.config import BookingPlatformSettings
from meetbridge.domain.model import Booking, BookingEvent, BookingEventType, Client, Email, Instant, Payment
from meetbridge.errors import InvalidInput, PayloadTooLarge
from meetbridge.security.signatures import SignatureError
from meetbridge.sources import platform_api
from meetbridge.sources.base import (
    KnownBookings,
    Lookup,
    NewProvider,
    NewService,
    OptionalText,
    Translation,
    WebhookRequest,
    each_delivery,
    email_key,
    invalid_input_from,
    known_zone,
    platform_phone,
    read_event_id,
)
from meetbridge.sources.settings import AcuitySettings

SIGNATURE_HEADER = 'x-acuity-signature'
# Acuity's body is four short fields; anything much larger is not Acuity's.
MAX_FORM_BYTES = 2048
MAX_FORM_FIELDS = 16
APPOINTMENT_ACTIONS = ('scheduled', 'rescheduled', 'canceled', 'changed')
DYNAMIC_PREFIX = 'appointment.'
# What happens to an appointment once: its deliveries dedupe on the action and the id.
ONCE_ACTIONS = frozenset({'scheduled', 'canceled'})
LONGEST_MINUTES = 366 * 24 * 60


def _digits(text: str) -> str:
    # Acuity's ids are integers; ours are built from them, so nothing else may reach a key or a path.
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise ValueError('must be a number of at most 18 digits')
    return text


NumericId = Annotated[str, AfterValidator(_digits)]
# Acuity writes money as "80.00"; an empty price is no price rather than a booking refused.
Money = Annotated[Annotated[Decimal, Field(ge=0, max_digits=20)] | None, BeforeValidator(lambda value: value or None)]


class Notification(BaseModel):
    model_config = ConfigDict(extra='ignore', frozen=True)
    action: str = Field(min_length=1, max_length=100)
    id: NumericId
    calendarID: NumericId | None = None  # absent from order.completed
    appointmentTypeID: NumericId | None = None


class Appointment(BaseModel):
    """The part of `GET /appointments/{id}` a booking is made of."""

    model_config = ConfigDict(extra='ignore', frozen=True)
    id: int
    firstName: str = Field(max_length=200)
    lastName: str = Field(max_length=200)
    email: Email
    phone: OptionalText = None  # '' when the client gave none
    datetime: Instant  # the start, with the calendar's offset (-0500, no colon)
    # Elapsed minutes: `endTime` is only a wall-clock time ("11:15am") without a date or an offset, which
    # names no instant across midnight or a DST change.
    duration: int = Field(gt=0, le=LONGEST_MINUTES)
    # Names are cut to what our services and providers hold; bounded here so that nothing huge is copied.
    type: str = Field(max_length=1000)
    appointmentTypeID: int = Field(ge=0)
    calendar: str = Field(max_length=1000)
    calendarID: int = Field(ge=0)
    timezone: str | None = None  # the client's
    calendarTimezone: str | None = None
    canceled: bool = False
    price: Money = None
    paid: str | None = None  # "yes" / "no"



def _verify(request: WebhookRequest, settings: AcuitySettings) -> None:
    signature = request.headers.get(SIGNATURE_HEADER, '').strip()
    if not signature:
        raise SignatureError('missing signature header')
    digest = hmac.new(settings.api_key.get_secret_value().encode(), request.body, hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(digest), signature.encode('ascii', 'replace')):
        raise SignatureError('signature does not match')


def _form(body: bytes) -> dict[str, str]:
    """The fields of a form body, each given once."""
    if len(body) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f'the body is larger than {MAX_FORM_BYTES} bytes')
    text = safe_json.utf8_text(body)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding='utf-8', errors='strict',
                          max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise InvalidInput('the body has a percent-encoded value that is not UTF-8') from None
    except ValueError:
        raise InvalidInput(f'the body must be a form of at most {MAX_FORM_FIELDS} fields: name=value&name=value'
                           ) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise InvalidInput(f'{name[:100]}: is given more than once', field=name[:100])
        fields[name] = value
    return fields


def _event_type(appointment: Appointment, action: str, known: bool) -> BookingEventType:
    """The re-read state first; the action only says whether a live appointment is new."""
    if appointment.canceled:
        return 'booking.cancelled'
    if action == 'scheduled':
        return 'booking.created'
    if action == 'rescheduled':
        return 'booking.rescheduled'
    # `changed`, or `canceled` for an appointment Acuity answers as live: its state is what holds.
    return 'booking.rescheduled' if known else 'booking.created'


class AcuitySource:
    name: Literal['acuity'] = 'acuity'

    def translate(self, request: WebhookRequest, settings: AcuitySettings, known: KnownBookings) -> Translation:
        _verify(request, settings)
        try:
            notification = Notification.model_validate(_form(request.body))
        except ValidationError as exc:
            raise invalid_input_from(exc) from None
        action = notification.action.removeprefix(DYNAMIC_PREFIX)
        if action not in APPOINTMENT_ACTIONS:
            return Translation()
        event_id = f'acuity:{notification.id}:{action}'
        if action not in ONCE_ACTIONS:
            # A second real change has this very body: each delivery is its own lookup.
            event_id += each_delivery(request.received_at)
        return Translation(lookups=[Lookup(
            tenant_id=request.tenant_id, source=self.name, event_id=event_id, external_id=notification.id,
            booking_id=known(notification.id), hint={'action': action},
        )])

    def resolve(self, lookup: Lookup, settings: AcuitySettings, known: KnownBookings, now: float) -> Translation:
        response = platform_api.call(
            'Acuity', config.settings(BookingPlatformSettings).acuity_api_base, 'GET',
            f'/appointments/{lookup.external_id}', auth=(settings.user_id, settings.api_key.get_secret_value()))
        try:
            appointment = Appointment.model_validate(safe_json.loads_object(response.content))
        except ValidationError as exc:
            raise invalid_input_from(exc, 'appointment.') from None
        if str(appointment.id) != lookup.external_id:
            raise InvalidInput(f'appointment.id: Acuity answered another appointment for {lookup.external_id}',
                               field='appointment.id')

        booking_id = f'acuity:{appointment.id}'
        try:
            end = appointment.datetime + timedelta(minutes=appointment.duration)
        except OverflowError:
            raise InvalidInput('appointment.duration: ends after the year 9999', field='appointment.duration'
                               ) from None
        client_zone = known_zone(appointment.timezone)
        calendar_zone = known_zone(appointment.calendarTimezone)
        try:
            service = NewService(id=f'acuity:{appointment.appointmentTypeID}',
                                 name=(appointment.type or str(appointment.appointmentTypeID))[:200])
            provider = NewProvider(id=f'acuity:{appointment.calendarID}',
                                   name=(appointment.calendar or str(appointment.calendarID))[:200],
                                   timezone=calendar_zone)
            booking = Booking(
                id=booking_id, service_id=service.id, provider_id=provider.id,
                start=appointment.datetime, end=end,
                timezone=calendar_zone or client_zone or 'UTC',
                payment=Payment(required=bool(appointment.price), status='paid' if appointment.paid == 'yes'
                                else 'pending'),
                # Acuity gives clients no id: the email names the client.
                client=Client(id='acuity:' + email_key(appointment.email),
                              name=(f'{appointment.firstName} {appointment.lastName}'.strip()
                                    or appointment.email)[:200],
                              email=appointment.email, timezone=client_zone,
                              phone=platform_phone(appointment.phone, self.name)),
            )
        except ValidationError as exc:
            raise invalid_input_from(exc, 'appointment.') from None
        event_type = _event_type(appointment, lookup.hint['action'], known(lookup.external_id) is not None)
        # The same lookup read again (a retry of the queue) finds the same state and is applied once; another
        # delivery is another lookup, so a state that comes back (moved away and back) is applied again.
        event = BookingEvent(
            tenant_id=lookup.tenant_id, source=self.name, type=event_type,
            event_id=read_event_id(lookup, event_type, booking),
            occurred_at=datetime.fromtimestamp(now, UTC), booking=booking,
        )
        return Translation(events=[event], services=[service], providers=[provider],
                           external_ids={lookup.external_id: booking_id})


SOURCE = AcuitySource()
