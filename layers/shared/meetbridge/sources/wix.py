"""Wix Bookings webhooks (docs/api.md, "Wix Bookings").

The whole body is a JWT that Wix signs with RS256; it is verified with the public key the tenant copied
from its Wix app, with the algorithm pinned to RS256 (a token naming `none`, HS256 or any other algorithm is
refused whatever its signature) and `exp` and `iat` required and checked. Its claims are `{data, iat, exp}`;
`data` is the JSON text of `{eventType, instanceId, data, identity}`, whose `data` is JSON text again: the
event `{id, slug, entityId, eventTime, createdEvent | updatedEvent | actionEvent}` carrying the booking. Each
layer is parsed by safe_json and a malformed one is refused naming it; `identity` is not read.

Wix's event id is unique per event and the same on a retry: deliveries dedupe on it. The booking's `revision`
orders its changes. A reschedule is the same Wix booking at a new time: it moves our booking and its links.
The webhook carries the whole booking, so no call is made to Wix's API.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from joserfc import jws
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError, UnsupportedAlgorithmError
from joserfc.jwk import RSAKey
from joserfc.jwt import JWTClaimsRegistry
from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from meetbridge import safe_json
from meetbridge.domain.model import Booking, BookingEvent, BookingEventType, Client, Email, Instant, Name, Payment
from meetbridge.errors import InvalidInput
from meetbridge.security.signatures import SignatureError
from meetbridge.sources.base import (
    KnownBookings,
    NewProvider,
    NewService,
    OptionalText,
    PlatformModel,
    Translation,
    WebhookRequest,
    email_key,
    invalid_input_from,
    known_zone,
    platform_phone,
)
from meetbridge.sources.settings import WixSettings

ALGORITHMS = ['RS256']
# Wix's clock and ours may disagree this much on `exp` and `iat`, and on the event's `eventTime`.
CLOCK_SKEW = timedelta(minutes=1)
# Deliveries dedupe on the event id for a week (logic/webhooks.py): an older token could be replayed unnoticed.
MAX_TOKEN_AGE = timedelta(days=7)
BOOKINGS_EVENT_TYPES = 'wix.bookings.'
# Wix's event names, from the eventType's last segment or the slug, without their `booking_` prefix. Wix's
# own spelling is `canceled`; `cancelled` is matched too. An `updated` event carries the booking's new state.
CHANGES: dict[str, BookingEventType | Literal['updated']] = {
    'created': 'booking.created',
    'confirmed': 'booking.created',  # a PENDING booking the business confirmed
    'rescheduled': 'booking.rescheduled',
    'canceled': 'booking.cancelled',
    'cancelled': 'booking.cancelled',
    'declined': 'booking.cancelled',
    'updated': 'updated',
}
ENDED = frozenset({'CANCELED', 'DECLINED'})
# Waiting for the business to confirm it, or for a free place: no meeting until it is confirmed.
NOT_CONFIRMED = frozenset({'PENDING', 'WAITING_LIST'})
PAID = frozenset({'PAID', 'FULLY_PAID'})
# Free of charge, or no payment status at all: nothing to pay.
NO_PAYMENT = frozenset({'EXEMPT', 'UNDEFINED', None})
# A Wix id becomes part of ours after `wix:`: the characters and length an Identifier allows.
WixId = Annotated[str, Field(min_length=1, max_length=120, pattern=r'^[A-Za-z0-9][A-Za-z0-9._:@-]*$')]


def _int64(value: Any) -> Any:
    """Wix writes 64-bit integers as JSON strings."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 19):
            raise ValueError('must be a non-negative integer')
        return int(value)
    return value


class Claims(PlatformModel):
    data: str


class Envelope(PlatformModel):
    eventType: str = Field(min_length=1, max_length=200)
    instanceId: str | None = Field(None, max_length=200)
    data: str


class CreatedEvent(PlatformModel):
    entity: dict | None = None
    entityAsJson: str | None = None  # older webhooks


class UpdatedEvent(PlatformModel):
    currentEntity: dict | None = None
    currentEntityAsJson: str | None = None


class ActionBody(PlatformModel):
    booking: dict


class ActionEvent(PlatformModel):
    body: ActionBody | None = None
    bodyAsJson: str | None = None


class Event(PlatformModel):
    id: str = Field(min_length=1, max_length=190)
    slug: str | None = Field(None, max_length=200)
    eventTime: Instant | None = None
    # Read once the event is known to change a booking: another event's body is not ours to refuse.
    createdEvent: dict | None = None
    updatedEvent: dict | None = None
    actionEvent: dict | None = None


class Resource(PlatformModel):
    id: WixId
    name: Name | None = None
    email: Email | Literal[''] | None = None


class Slot(PlatformModel):
    serviceId: WixId
    startDate: datetime | None = None
    endDate: datetime | None = None
    timezone: str | None = None
    resource: Resource


class BookedEntity(PlatformModel):
    slot: Slot
    title: Name | None = None


class ContactDetails(PlatformModel):
    contactId: WixId | None = None
    firstName: str | None = Field(None, max_length=200)
    lastName: str | None = Field(None, max_length=200)
    email: Email
    phone: OptionalText = None
    timeZone: str | None = None


class WixBooking(PlatformModel):
    id: WixId
    bookedEntity: BookedEntity
    contactDetails: ContactDetails
    status: str | None = Field(None, max_length=50)
    paymentStatus: str | None = Field(None, max_length=50)
    startDate: datetime | None = None
    endDate: datetime | None = None
    revision: Annotated[int, BeforeValidator(_int64), Field(ge=0, le=2**63 - 1)] | None = None



def _verified_claims(request: WebhookRequest, settings: WixSettings) -> dict:
    """The token's claims, once its RS256 signature, `exp` and `iat` hold. Raises SignatureError."""
    try:
        key = RSAKey.import_key(settings.public_key)
    except (JoseError, ValueError, TypeError):
        raise SignatureError("the source's public_key is not an RSA public key: paste the key Wix shows") from None
    token = request.body.strip()
    if not token:
        raise SignatureError('missing token: the body must be the JWT Wix sends')
    try:
        payload = jws.deserialize_compact(token, key, algorithms=ALGORITHMS).payload
    except UnsupportedAlgorithmError:
        raise SignatureError('the token is not signed with RS256') from None
    except BadSignatureError:
        raise SignatureError('signature does not match') from None
    except JoseError:
        raise SignatureError('the body is not a JWT') from None
    claims = _layer(payload, 'claims')
    now = int(request.received_at)
    registry = JWTClaimsRegistry(now=now, leeway=int(CLOCK_SKEW.total_seconds()),
                                 exp={'essential': True}, iat={'essential': True})
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise SignatureError('the token has expired') from None
    except JoseError as exc:
        raise SignatureError(f'the token is refused: {exc.description or exc.error}') from None
    if claims['iat'] < now - MAX_TOKEN_AGE.total_seconds():
        raise SignatureError(f'the token was issued more than {MAX_TOKEN_AGE.days} days ago')
    return claims


def _layer(text: bytes | str, name: str) -> dict:
    """One JSON layer of the webhook, bounded by safe_json; refused naming the layer."""
    try:
        return safe_json.loads_object(text)
    except InvalidInput as exc:
        raise InvalidInput(f'{name}: {str(exc).removeprefix("the body ")}', field=name) from None


def _model(model: type[BaseModel], document: Any, name: str):
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise invalid_input_from(exc, f'{name}.') from None


def _change(envelope: Envelope, event: Event) -> BookingEventType | Literal['updated'] | None:
    """What the event does, named by its eventType (`…booking_<name>`), else by its slug; None for events
    that change nothing."""
    if not envelope.eventType.startswith(BOOKINGS_EVENT_TYPES):
        return None
    name = envelope.eventType.rsplit('.', 1)[-1]
    if not name.startswith('booking_'):
        name = event.slug or ''
    return CHANGES.get(name.removeprefix('booking_'))


def _booking_document(event: Event) -> tuple[dict, str]:
    """The booking the event carries, and where it was."""
    created = event.createdEvent and _model(CreatedEvent, event.createdEvent, 'data.data.createdEvent')
    updated = event.updatedEvent and _model(UpdatedEvent, event.updatedEvent, 'data.data.updatedEvent')
    action = event.actionEvent and _model(ActionEvent, event.actionEvent, 'data.data.actionEvent')
    if created and created.entity is not None:
        return created.entity, 'data.data.createdEvent.entity'
    if created and created.entityAsJson is not None:
        name = 'data.data.createdEvent.entityAsJson'
        return _layer(created.entityAsJson, name), name
    if updated and updated.currentEntity is not None:
        return updated.currentEntity, 'data.data.updatedEvent.currentEntity'
    if updated and updated.currentEntityAsJson is not None:
        name = 'data.data.updatedEvent.currentEntityAsJson'
        return _layer(updated.currentEntityAsJson, name), name
    if action and action.body is not None:
        return action.body.booking, 'data.data.actionEvent.body.booking'
    if action and action.bodyAsJson is not None:
        name = 'data.data.actionEvent.bodyAsJson'
        body = _model(ActionBody, _layer(action.bodyAsJson, name), name)
        return body.booking, f'{name}.booking'
    raise InvalidInput('data.data: carries no booking (createdEvent.entity, updatedEvent.currentEntity or '
                       'actionEvent.body.booking)', field='data.data')


def _instant(moment: datetime | None, zone: str | None, name: str) -> datetime:
    """A slot's date-time; one written without an offset is read in the slot's time zone."""
    if moment is None:
        raise InvalidInput(f'{name}: is required', field=name)
    if moment.tzinfo is None:
        if zone is None:
            raise InvalidInput(f'{name}: has no offset and the slot no known timezone', field=name)
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f'{name}: is outside the years 1 to 9999 in UTC', field=name) from None


class WixSource:
    name: Literal['wix'] = 'wix'

    def translate(self, request: WebhookRequest, settings: WixSettings, known: KnownBookings) -> Translation:
        claims = _model(Claims, _verified_claims(request, settings), 'claims')
        envelope = _model(Envelope, _layer(claims.data, 'data'), 'data')
        event = _model(Event, _layer(envelope.data, 'data.data'), 'data.data')
        change = _change(envelope, event)
        if change is None:
            return Translation()
        if event.eventTime and event.eventTime > datetime.fromtimestamp(request.received_at, UTC) + CLOCK_SKEW:
            raise InvalidInput('data.data.eventTime: is in the future', field='data.data.eventTime')
        document, where = _booking_document(event)
        wix = _model(WixBooking, document, where)
        known_id = known(wix.id)
        if wix.status in ENDED:
            change = 'booking.cancelled'
        elif wix.status in NOT_CONFIRMED and known_id is None:
            return Translation()
        elif change == 'updated':
            change = 'booking.rescheduled'  # the booking's new state: moved when its time changed

        booking_id = known_id or f'wix:{wix.id}'
        slot, contact = wix.bookedEntity.slot, wix.contactDetails
        zone = known_zone(slot.timezone)
        start = _instant(slot.startDate or wix.startDate, zone, f'{where}.bookedEntity.slot.startDate')
        end = _instant(slot.endDate or wix.endDate, zone, f'{where}.bookedEntity.slot.endDate')
        if end <= start:
            raise InvalidInput(f'{where}.bookedEntity.slot.endDate: must be after startDate',
                               field=f'{where}.bookedEntity.slot.endDate')
        try:
            service = NewService(id=f'wix:{slot.serviceId}', name=wix.bookedEntity.title or slot.serviceId)
            provider = NewProvider(id=f'wix:{slot.resource.id}', name=slot.resource.name or slot.resource.id,
                                   email=slot.resource.email or None)
            # Wix names the client by its contact; without one the email does, as for every platform.
            client_id = contact.contactId or email_key(contact.email)
            booking = Booking(
                id=booking_id, service_id=service.id, provider_id=provider.id, start=start, end=end,
                timezone=zone or known_zone(contact.timeZone) or 'UTC', version=wix.revision,
                payment=Payment(required=wix.paymentStatus not in NO_PAYMENT,
                                status='paid' if wix.paymentStatus in PAID else 'pending'),
                client=Client(id=f'wix:{client_id}',
                              name=(' '.join(filter(None, (contact.firstName, contact.lastName))) or contact.email)[:200],
                              email=contact.email, timezone=known_zone(contact.timeZone),
                              phone=platform_phone(contact.phone, self.name)),
            )
        except ValidationError as exc:
            raise invalid_input_from(exc, f'{where}.') from None
        return Translation(
            events=[BookingEvent(tenant_id=request.tenant_id, source=self.name, type=change,
                                 event_id=f'wix:{event.id}', occurred_at=event.eventTime, booking=booking)],
            services=[service], providers=[provider], external_ids={wix.id: booking_id},
        )


SOURCE = WixSource()
