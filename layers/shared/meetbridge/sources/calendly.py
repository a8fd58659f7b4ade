"""Calendly webhooks (API v2 webhook subscriptions; docs/api.md, "Calendly").

Body: compact JSON `{created_at, created_by, event, payload}`, `payload` being the Invitee resource with its
`scheduled_event` embedded. `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>` is the HMAC-SHA256 of
`<t>.<raw body>` keyed with the subscription's signing key; a `t` more than 3 minutes from our clock is refused.
A retry is signed again with a new `t` over the same body: deliveries dedupe on the body's digest, and changes
are ordered by the envelope's `created_at` (when Calendly made the event), never by `t` or arrival.

A reschedule is two deliveries, in either order: `invitee.canceled` of the old invitee (`rescheduled: true`,
`new_invitee`) and `invitee.created` of the new one (`old_invitee`). The first only ties the new invitee to the
booking and cancels nothing; the second moves the booking. Our booking is the one the first invitee of the
chain made (`calendly:<first invitee id>`); every invitee of the chain is tied to it, so a later cancel of the
newest invitee cancels it.
"""

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError

from meetbridge import safe_json
from meetbridge.domain.model import Booking, BookingEvent, Client, Email, Instant, Name, Payment
from meetbridge.errors import InvalidInput
from meetbridge.security.signatures import verify_timestamped
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
    platform_phone,
)
from meetbridge.sources.settings import CalendlySettings

SIGNATURE_HEADER = 'calendly-webhook-signature'
# Calendly's own sample receivers refuse a signature more than 3 minutes old.
SIGNATURE_WINDOW_SECONDS = 180
# created_at is Calendly's clock: one far ahead of ours would put its change ahead of every later one.
CLOCK_SKEW = timedelta(minutes=5)
# The id at the end of a resource URI becomes part of our ids: the characters an Identifier allows.
RESOURCE_ID = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,99}')
# The location types of a conference Calendly makes itself; its join_url comes once its status is `pushed`.
CONFERENCE_TYPES = frozenset({'zoom', 'microsoft_teams_conference', 'google_conference', 'webex_conference',
                              'gotomeeting'})


def _resource_id(uri: str) -> str:
    """`https://api.calendly.com/scheduled_events/<uuid>/invitees/<uuid>` -> the last uuid."""
    resource_id = uri.rsplit('/', 1)[-1]
    if not RESOURCE_ID.fullmatch(resource_id):
        raise ValueError('must be a Calendly resource URI ending in its id')
    return resource_id


# A Calendly resource URI, read as the id it ends in.
ResourceId = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_resource_id)]


class Envelope(PlatformModel):
    event: str = Field(min_length=1, max_length=100)
    created_at: Instant
    payload: dict


class Membership(PlatformModel):
    """A host of the scheduled event."""

    user: ResourceId
    user_name: Name
    user_email: Email | None = None


class Location(PlatformModel):
    type: str | None = Field(None, max_length=100)
    # A conference Calendly made (zoom, microsoft_teams_conference, google_conference, ...) once pushed.
    join_url: str | None = None


class ScheduledEvent(PlatformModel):
    name: str | None = Field(None, max_length=200)
    start_time: Instant
    end_time: Instant
    event_type: ResourceId
    location: Location | None = None
    event_memberships: list[Membership] = Field(min_length=1)


class InviteePayment(PlatformModel):
    successful: bool = False


class Invitee(PlatformModel):
    uri: ResourceId
    name: Name
    email: Email
    timezone: str | None = None
    text_reminder_number: OptionalText = None  # the number the invitee gave for text reminders
    rescheduled: bool = False
    old_invitee: ResourceId | None = None
    new_invitee: ResourceId | None = None
    payment: InviteePayment | None = None
    scheduled_event: ScheduledEvent


def _platform_meeting_url(location: Location | None) -> str | None:
    """The conference Calendly made: only an https URL; with any other, meetbridge makes the meeting."""
    return meeting_url_or_none(location and location.join_url)


def _conference_pending(location: Location | None) -> bool:
    """A conference Calendly is still making (`status: processing`): its URL comes with no webhook of its own."""
    return location is not None and location.type in CONFERENCE_TYPES and _platform_meeting_url(location) is None


class CalendlySource:
    name: Literal['calendly'] = 'calendly'

    def translate(self, request: WebhookRequest, settings: CalendlySettings, known: KnownBookings) -> Translation:
        verify_timestamped([settings.signing_key.get_secret_value().encode()], request.headers.get(SIGNATURE_HEADER),
                           request.body, request.received_at, SIGNATURE_WINDOW_SECONDS)
        try:
            envelope = Envelope.model_validate(safe_json.loads_object(request.body))
        except ValidationError as exc:
            raise invalid_input_from(exc) from None
        # invitee_no_show.*, routing_form_submission.created, event_type.*, ... change no booking.
        if envelope.event not in ('invitee.created', 'invitee.canceled'):
            return Translation()
        if envelope.created_at > datetime.fromtimestamp(request.received_at, UTC) + CLOCK_SKEW:
            raise InvalidInput('created_at: is in the future', field='created_at')
        try:
            invitee = Invitee.model_validate(envelope.payload)
        except ValidationError as exc:
            raise invalid_input_from(exc, 'payload.') from None

        # The invitee a reschedule replaced, if any, is named by every event of the new invitee, its cancel too.
        old = invitee.old_invitee
        booking_id = known(invitee.uri) or (old and known(old)) or f'calendly:{old or invitee.uri}'
        external_ids = {invitee_id: booking_id for invitee_id in (invitee.uri, old, invitee.new_invitee) if invitee_id}
        if envelope.event == 'invitee.canceled' and invitee.rescheduled and invitee.new_invitee:
            # The first half of a reschedule: the new invitee's invitee.created moves the booking.
            return Translation(external_ids=external_ids)

        event = BookingEvent(
            tenant_id=request.tenant_id, source=self.name,
            type='booking.cancelled' if envelope.event == 'invitee.canceled' else
            'booking.rescheduled' if old else 'booking.created',
            occurred_at=envelope.created_at,
            # A retry is the same body re-signed; a different change of the same booking is another body.
            event_id=f'calendly:{invitee.uri}:{hashlib.sha256(request.body).hexdigest()[:32]}',
            booking=self._booking(booking_id, invitee),
        )
        return Translation(events=[event], services=[self._service(invitee)], providers=[self._provider(invitee)],
                           external_ids=external_ids)

    @staticmethod
    def _service(invitee: Invitee) -> NewService:
        scheduled = invitee.scheduled_event
        return NewService(id=f'calendly:{scheduled.event_type}', name=scheduled.name or scheduled.event_type)

    @staticmethod
    def _provider(invitee: Invitee) -> NewProvider:
        host = invitee.scheduled_event.event_memberships[0]
        return NewProvider(id=f'calendly:{host.user}', name=host.user_name, email=host.user_email)

    def _booking(self, booking_id: str, invitee: Invitee) -> Booking:
        scheduled = invitee.scheduled_event
        if scheduled.end_time <= scheduled.start_time:
            raise InvalidInput('payload.scheduled_event.end_time: must be after start_time',
                               field='payload.scheduled_event.end_time')
        try:
            return Booking(
                id=booking_id, service_id=self._service(invitee).id, provider_id=self._provider(invitee).id,
                start=scheduled.start_time, end=scheduled.end_time,
                # Calendly gives the host's zone nowhere in the payload.
                timezone=known_zone(invitee.timezone) or 'UTC',
                payment=Payment(required=invitee.payment is not None,
                                status='paid' if invitee.payment and invitee.payment.successful else 'pending'),
                # Calendly's invitee id changes with every reschedule: the email names the client.
                client=Client(id='calendly:' + email_key(invitee.email),
                              name=invitee.name, email=invitee.email, timezone=known_zone(invitee.timezone),
                              phone=platform_phone(invitee.text_reminder_number, self.name)),
                platform_meeting_url=_platform_meeting_url(scheduled.location),
                platform_meeting_pending=_conference_pending(scheduled.location),
            )
        except ValidationError as exc:
            raise invalid_input_from(exc, 'payload.') from None


SOURCE = CalendlySource()
