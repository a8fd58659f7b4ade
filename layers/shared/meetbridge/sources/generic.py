"""The generic signed format (docs/api.md): one JSON booking event per request.

Header: X-Meetbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from meetbridge import safe_json
from meetbridge.domain.model import Booking, BookingEvent, BookingEventType, Instant
from meetbridge.errors import InvalidInput
from meetbridge.security.signatures import verify_timestamped
from meetbridge.sources.base import KnownBookings, Translation, WebhookRequest, invalid_input_from

SIGNATURE_HEADER = 'x-meetbridge-signature'
TOLERANCE_SECONDS = 300
# The sender's clocks may disagree by this much between stamping occurred_at and signing.
SIGNING_SKEW = timedelta(seconds=TOLERANCE_SECONDS)


class GenericWebhook(BaseModel):
    model_config = ConfigDict(extra='ignore')
    event_id: str = Field(min_length=1, max_length=200)
    type: BookingEventType
    occurred_at: Instant | None = None  # when the change happened at the source: orders changes without a version
    booking: Booking


class GenericSource:
    name: Literal['generic'] = 'generic'

    def translate(self, request: WebhookRequest, secrets: Sequence[bytes], known: KnownBookings) -> Translation:
        """`secrets`: the tenant's webhook secrets in force. Its ids are ours as sent: `known` is not needed."""
        sent_at = verify_timestamped(
            secrets, request.headers.get(SIGNATURE_HEADER), request.body, request.received_at, TOLERANCE_SECONDS
        )
        document = safe_json.loads_object(request.body)
        try:
            webhook = GenericWebhook.model_validate(document)
        except ValidationError as exc:
            raise invalid_input_from(exc) from None
        # A change is signed after it happened; a later occurred_at would put it ahead of every real change.
        if webhook.occurred_at and webhook.occurred_at > datetime.fromtimestamp(sent_at, UTC) + SIGNING_SKEW:
            raise InvalidInput(f'occurred_at: is more than {TOLERANCE_SECONDS} s after the request was signed',
                               field='occurred_at')
        return Translation(events=[
            BookingEvent(
                tenant_id=request.tenant_id,
                source=self.name,
                event_id=webhook.event_id,
                type=webhook.type,
                occurred_at=webhook.occurred_at,
                booking=webhook.booking,
            )
        ])


SOURCE = GenericSource()
