"""Cal.com webhooks (docs/api.md, "Cal.com").

Body: compact JSON `{triggerEvent, createdAt, payload}`; `X-Cal-Signature-256` is the lowercase hex
HMAC-SHA256 of the raw body keyed with the webhook's secret (`no-secret-provided` when the webhook has none,
which is refused). Nothing is timestamped in the signature, so a replay is the same body: deliveries dedupe
on the body's digest, and changes are ordered by the body's `createdAt`.

A reschedule is a new Cal.com booking (new `uid`) whose `rescheduleUid` names the one it replaces: it moves
our booking, the one the first uid of the chain made (`calcom:<first uid>`), and every uid of the chain is
tied to it, so a later cancel naming the new uid cancels it.

A booking whose location is one of Cal.com's video integrations (`integrations:zoom`, `integrations:daily`, ...)
carries the call Cal.com made: its https URL (`metadata.videoCallUrl`, else `videoCallData.url`) becomes the
booking's `platform_meeting_url`, and no second meeting is made.
"""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationError

from meetbridge import safe_json
from meetbridge.domain.model import Booking, BookingEvent, BookingEventType, Client, Instant, Payment
from meetbridge.errors import InvalidInput
from meetbridge.security.signatures import SignatureError, hmac_sha256_hex
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
    meeting_url_or_none,
    platform_locale,
)
from meetbridge.sources.settings import CalcomSettings

SIGNATURE_HEADER = 'x-cal-signature-256'
# A uid becomes part of our booking id: the characters an Identifier allows.
UID = r'^[A-Za-z0-9][A-Za-z0-9.-]*$'
NO_SECRET = 'no-secret-provided'
# createdAt is the sender's clock: one far ahead of ours would put its change ahead of every later one.
CLOCK_SKEW = timedelta(minutes=5)
# The triggers that change a booking; every other one (PING, BOOKING_REQUESTED before it is confirmed,
# MEETING_STARTED, RECORDING_READY, ...) is acknowledged and changes nothing.
TRIGGERS: dict[str, BookingEventType] = {
    'BOOKING_CREATED': 'booking.created',
    'BOOKING_PAYMENT_INITIATED': 'booking.created',
    'BOOKING_RESCHEDULED': 'booking.rescheduled',
    'BOOKING_PAID': 'booking.paid',
    'BOOKING_CANCELLED': 'booking.cancelled',
    'BOOKING_REJECTED': 'booking.cancelled',
}
VIDEO_INTEGRATION = 'integrations:'


class Envelope(PlatformModel):
    triggerEvent: str = Field(min_length=1, max_length=100)
    createdAt: Instant
    payload: dict


class Organizer(PlatformModel):
    id: int
    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    timeZone: str | None = None


def _object_or_none(value: object) -> object:
    return value if isinstance(value, dict) else None


class Language(PlatformModel):
    locale: OptionalText = None


class Attendee(PlatformModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    timeZone: str | None = None
    # `language {locale}`: any other shape is left out, never failing the booking.
    language: Annotated[Language | None, BeforeValidator(_object_or_none)] = None


class VideoCall(PlatformModel):
    url: str | None = None


class Metadata(PlatformModel):
    videoCallUrl: str | None = None


class Payload(PlatformModel):
    uid: str = Field(min_length=1, max_length=100, pattern=UID)
    eventTypeId: int
    eventTitle: str | None = None
    type: str | None = None  # the event type's slug
    startTime: Instant
    endTime: Instant
    organizer: Organizer
    attendees: list[Attendee] = Field(min_length=1)
    rescheduleUid: str | None = Field(None, max_length=100, pattern=UID)
    price: float | None = None
    location: str | None = None
    metadata: Metadata | None = None
    videoCallData: VideoCall | None = None



def _platform_meeting_url(payload: Payload) -> str | None:
    """The call Cal.com made itself: only for a video integration, and only an https URL."""
    if not (payload.location or '').startswith(VIDEO_INTEGRATION):
        return None
    sent = (payload.metadata and payload.metadata.videoCallUrl, payload.videoCallData and payload.videoCallData.url)
    return next(filter(None, map(meeting_url_or_none, sent)), None)


def _verify(request: WebhookRequest, settings: CalcomSettings) -> None:
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature or signature == NO_SECRET:
        raise SignatureError('missing signature header')
    expected = hmac_sha256_hex(settings.secret.get_secret_value().encode(), request.body)
    if not hmac.compare_digest(expected, signature.encode('ascii', 'replace').decode()):
        raise SignatureError('signature does not match')


class CalcomSource:
    name: Literal['calcom'] = 'calcom'

    def translate(self, request: WebhookRequest, settings: CalcomSettings, known: KnownBookings) -> Translation:
        _verify(request, settings)
        try:
            envelope = Envelope.model_validate(safe_json.loads_object(request.body))
        except ValidationError as exc:
            raise invalid_input_from(exc) from None
        event_type = TRIGGERS.get(envelope.triggerEvent)
        if event_type is None:
            return Translation()
        if envelope.createdAt > datetime.fromtimestamp(request.received_at, UTC) + CLOCK_SKEW:
            raise InvalidInput('createdAt: is in the future', field='createdAt')
        try:
            payload = Payload.model_validate(envelope.payload)
        except ValidationError as exc:
            raise invalid_input_from(exc, 'payload.') from None

        if payload.endTime <= payload.startTime:
            raise InvalidInput('payload.endTime: must be after startTime', field='payload.endTime')
        rescheduled = payload.rescheduleUid if event_type == 'booking.rescheduled' else None
        booking_id = known(payload.uid) or (rescheduled and known(rescheduled)) or \
            f'calcom:{rescheduled or payload.uid}'
        organizer, attendee = payload.organizer, payload.attendees[0]
        try:
            service = NewService(id=f'calcom:{payload.eventTypeId}',
                                 name=(payload.eventTitle or payload.type or str(payload.eventTypeId))[:200])
            provider = NewProvider(id=f'calcom:{organizer.id}', name=organizer.name, email=organizer.email,
                                   timezone=known_zone(organizer.timeZone))
            booking = Booking(
                id=booking_id, service_id=service.id, provider_id=provider.id,
                start=payload.startTime, end=payload.endTime,
                timezone=known_zone(organizer.timeZone) or known_zone(attendee.timeZone) or 'UTC',
                payment=Payment(required=bool(payload.price), status='paid' if event_type == 'booking.paid'
                                else 'pending'),
                # Cal.com gives attendees no id: the email names the client.
                client=Client(id='calcom:' + email_key(attendee.email),
                              name=attendee.name, email=attendee.email, timezone=known_zone(attendee.timeZone),
                              locale=platform_locale(attendee.language and attendee.language.locale, self.name)),
                platform_meeting_url=_platform_meeting_url(payload),
            )
        except ValidationError as exc:
            raise invalid_input_from(exc, 'payload.') from None
        event = BookingEvent(
            tenant_id=request.tenant_id, source=self.name, type=event_type, occurred_at=envelope.createdAt,
            # The same delivery again is the same body; a different change of the same booking is another body.
            event_id=f'calcom:{payload.uid}:{hashlib.sha256(request.body).hexdigest()[:32]}',
            booking=booking,
        )
        # A cancel of a uid never seen ties nothing: a reschedule naming that uid, arriving later, decides.
        external_ids = {} if event_type == 'booking.cancelled' else {
            uid: booking_id for uid in (payload.uid, rescheduled) if uid}
        return Translation(events=[event], services=[service], providers=[provider], external_ids=external_ids)


SOURCE = CalcomSource()
