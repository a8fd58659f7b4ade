"""Square Appointments webhooks (docs/api.md, "Square").

Body: `{merchant_id, location_id, type, event_id, created_at, data: {type: "booking", id, object: {booking}}}`.
`x-square-hmacsha256-signature` is the base64 HMAC-SHA256, keyed with the subscription's signature key, of the
notification URL exactly as registered (the source's `notification_url`) followed by the raw body. Nothing in
it is timestamped: a retry carries the same `event_id`, and every real change a new one, so deliveries dedupe
on `event_id`, and a booking's changes are ordered by its `version`.

The booking names its customer and team member by id only. `translate` answers at once with a lookup whose
hint is the booking as the webhook gave it; `resolve`, in the meetings pipeline, reads the customer (one
call) and, only while the team member is not yet a provider of the tenant, the team member (a second one).
A reschedule is the same booking id at a higher version with a new `start_at`: the same booking moves.
"""

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, ValidationError

from meetbridge import config, safe_json
from meetbridge.config import BookingPlatformSettings
from meetbridge.domain.model import Booking, BookingEvent, BookingEventType, Client, Instant, Revision
from meetbridge.errors import InvalidInput
from meetbridge.security.signatures import SignatureError
from meetbridge.sources import platform_api
from meetbridge.sources.base import (
    KnownBookings,
    Lookup,
    NewProvider,
    NewService,
    OptionalText,
    PlatformModel,
    Translation,
    WebhookRequest,
    invalid_input_from,
    platform_phone,
    read_event_id,
)
from meetbridge.sources.settings import SquareSettings
from meetbridge.store import repository
from meetbridge.store.models import ProviderItem

SIGNATURE_HEADER = 'x-square-hmacsha256-signature'
# The answers' shapes are those of this release, whatever version the application is set to in Square.
SQUARE_VERSION = '2025-10-16'
# Square's ids (bookings, customers, team members, catalog objects) become parts of ours.
SQUARE_ID = r'^[A-Za-z0-9][A-Za-z0-9_-]*$'
WEBHOOK_TYPES = ('booking.created', 'booking.updated')
ACTIVE = frozenset({'PENDING', 'ACCEPTED'})
ENDED = frozenset({'CANCELLED_BY_CUSTOMER', 'CANCELLED_BY_SELLER', 'DECLINED'})
# A customer read is reused this long (seconds) in a container: a booking changed several times in a row, or a
# customer booked into several sessions at once, is then one read.
CUSTOMER_READ_SECONDS = 300
CUSTOMER_READS_KEPT = 1000


class Segment(PlatformModel):
    duration_minutes: int = Field(strict=True, ge=0, le=1500)
    service_variation_id: str = Field(min_length=1, max_length=36, pattern=SQUARE_ID)
    team_member_id: str = Field(min_length=1, max_length=32, pattern=SQUARE_ID)
    # Square: the time between the end of this segment and the start of the next one.
    intermission_minutes: int = Field(0, strict=True, ge=0, le=1500)


class SquareBooking(PlatformModel):
    id: str = Field(min_length=1, max_length=64, pattern=SQUARE_ID)
    version: Revision
    status: str = Field(min_length=1, max_length=64)
    start_at: Instant
    customer_id: str = Field(min_length=1, max_length=64, pattern=SQUARE_ID)
    appointment_segments: list[Segment] = Field(min_length=1, max_length=50)

    @property
    def end(self) -> datetime:
        """The end of the last segment: every segment's duration and the intermissions between them (the one
        after the last segment is not part of the appointment)."""
        segments = self.appointment_segments
        minutes = sum(s.duration_minutes for s in segments) + sum(s.intermission_minutes for s in segments[:-1])
        return self.start_at + timedelta(minutes=minutes)


class BookingObject(PlatformModel):
    booking: SquareBooking


class Data(PlatformModel):
    type: Literal['booking']
    object: BookingObject


class Envelope(PlatformModel):
    merchant_id: str = Field(min_length=1, max_length=64)
    location_id: str | None = Field(None, max_length=64)
    type: str = Field(min_length=1, max_length=100)
    event_id: str = Field(min_length=1, max_length=100, pattern=SQUARE_ID)
    data: dict


class Person(PlatformModel):
    """The fields read from a customer or a team member."""

    given_name: str | None = None
    family_name: str | None = None
    email_address: str | None = None
    phone_number: OptionalText = None

    @property
    def name(self) -> str:
        return ' '.join(part.strip() for part in (self.given_name, self.family_name) if part and part.strip())


def _change(webhook_type: str, status: str) -> BookingEventType | None:
    """What a delivery does to the booking. NO_SHOW changes nothing: the meeting took place, or its time went
    by, either way there is nothing to move or cancel. A status Square adds later changes nothing either."""
    if status in ENDED:
        return 'booking.cancelled'
    if status in ACTIVE:
        # booking.updated also covers a PENDING booking accepted and a note edited: the meetings function
        # moves the meeting only when the time is new.
        return 'booking.created' if webhook_type == 'booking.created' else 'booking.rescheduled'
    return None


def _verify(request: WebhookRequest, settings: SquareSettings) -> None:
    # The legacy x-square-signature (HMAC-SHA1 of the same message) is never enough alone: Square sends the
    # SHA-256 header with every delivery, so a request carrying only the weaker one is not Square's.
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise SignatureError('missing signature header')
    signed = settings.notification_url.encode() + request.body
    digest = hmac.new(settings.signature_key.get_secret_value().encode(), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(digest), signature.encode('ascii', 'replace')):
        raise SignatureError('signature does not match')


class SquareSource:
    name: Literal['square'] = 'square'

    def translate(self, request: WebhookRequest, settings: SquareSettings, known: KnownBookings) -> Translation:
        _verify(request, settings)
        try:
            envelope = Envelope.model_validate(safe_json.loads_object(request.body))
        except ValidationError as exc:
            raise invalid_input_from(exc) from None
        if envelope.type not in WEBHOOK_TYPES:
            return Translation()
        try:
            booking = Data.model_validate(envelope.data).object.booking
        except ValidationError as exc:
            raise invalid_input_from(exc, 'data.') from None
        try:
            end = booking.end
        except OverflowError:
            raise InvalidInput('data.object.booking.start_at: the booking would end after the year 9999',
                               field='data.object.booking.start_at') from None
        if end == booking.start_at:
            raise InvalidInput('data.object.booking.appointment_segments: add up to 0 minutes',
                               field='data.object.booking.appointment_segments')
        if _change(envelope.type, booking.status) is None:
            return Translation()
        service_variation = booking.appointment_segments[0].service_variation_id
        return Translation(
            lookups=[Lookup(
                tenant_id=request.tenant_id, source=self.name, event_id=f'square:{envelope.event_id}',
                external_id=booking.id, booking_id=known(booking.id),
                hint={'type': envelope.type, 'event_id': envelope.event_id, 'merchant_id': envelope.merchant_id,
                      'location_id': envelope.location_id, 'booking': booking.model_dump(mode='json')},
            )],
            # Square's Catalog would name it: the admin names it instead, as it turns it online.
            services=[NewService(id=f'square:{service_variation}', name=f'Square service {service_variation}')],
        )

    def resolve(self, lookup: Lookup, settings: SquareSettings, known: KnownBookings, now: float) -> Translation:
        try:
            booking = SquareBooking.model_validate(lookup.hint.get('booking'))
        except ValidationError as exc:
            raise invalid_input_from(exc, 'booking.') from None
        event_type = _change(str(lookup.hint.get('type')), booking.status)
        if event_type is None:
            return Translation()
        api = _Api(config.settings(BookingPlatformSettings).square_api_base, settings)
        segment = booking.appointment_segments[0]
        customer = api.customer(lookup.tenant_id, booking.customer_id, now)
        if not customer.email_address:
            raise InvalidInput('customer.email_address: the customer has none, and the client is sent the links by '
                               'e-mail', field='customer.email_address')
        provider_id = f'square:{segment.team_member_id}'
        provider = repository.find(ProviderItem, ProviderItem.key(lookup.tenant_id, provider_id))
        new_providers = [] if provider else [api.team_member(segment.team_member_id, provider_id)]
        booking_id = f'square:{booking.id}'
        try:
            translated = Booking(
                id=booking_id, service_id=f'square:{segment.service_variation_id}', provider_id=provider_id,
                start=booking.start_at, end=booking.end,
                # Square gives the location's zone only through its Locations API, which is not read: the
                # provider's zone as the admin set it, else the source's, else UTC.
                timezone=(provider and provider.timezone) or settings.timezone or 'UTC', version=booking.version,
                client=Client(id=f'square:{booking.customer_id}',
                              name=(customer.name or customer.email_address)[:200], email=customer.email_address,
                              phone=platform_phone(customer.phone_number, self.name)),
            )
        except ValidationError as exc:
            raise invalid_input_from(exc) from None
        event = BookingEvent(
            tenant_id=lookup.tenant_id, source=self.name, type=event_type, booking=translated,
            event_id=read_event_id(lookup, event_type, translated),
        )
        return Translation(events=[event], providers=new_providers, external_ids={booking.id: booking_id})


class _Api:
    """Square's Customers and Team APIs with the source's access token."""

    def __init__(self, base_url: str, settings: SquareSettings):
        self.base_url = base_url
        self.headers = {'Authorization': f'Bearer {settings.access_token.get_secret_value()}',
                        'Square-Version': SQUARE_VERSION, 'Accept': 'application/json'}

    def _read(self, path: str, wrapper: str) -> Person:
        response = platform_api.call('square', self.base_url, 'GET', path, headers=self.headers)
        answer = safe_json.loads_object(response.content).get(wrapper)
        try:
            return Person.model_validate(answer)
        except ValidationError as exc:
            raise invalid_input_from(exc, f'{wrapper}.') from None

    def customer(self, tenant_id: str, customer_id: str, now: float) -> Person:
        key = (self.base_url, tenant_id, customer_id)
        read = _customer_reads.pop(key, None)
        if read is None or now - read[0] > CUSTOMER_READ_SECONDS:
            read = now, self._read(f'/v2/customers/{customer_id}', 'customer')
        _customer_reads[key] = read  # the most recently used last
        if len(_customer_reads) > CUSTOMER_READS_KEPT:
            del _customer_reads[next(iter(_customer_reads))]
        return read[1]

    def team_member(self, team_member_id: str, provider_id: str) -> NewProvider:
        member = self._read(f'/v2/team-members/{team_member_id}', 'team_member')
        try:
            return NewProvider(id=provider_id, name=(member.name or f'Square team member {team_member_id}')[:200],
                               email=member.email_address)
        except ValidationError as exc:
            raise invalid_input_from(exc, 'team_member.') from None


# (API base, tenant, customer id) -> (when it was read, the customer), oldest first.
_customer_reads: dict[tuple[str, str, str], tuple[float, Person]] = {}


SOURCE = SquareSource()
