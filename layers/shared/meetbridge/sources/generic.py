"""The generic signed format (docs/api.md): one JSON booking event per request.

Header: X-Meetbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from meetbridge import safe_json
from meetbridge.domain.model import Booking, BookingEvent, BookingEventType
from meetbridge.security.signatures import verify_timestamped
from meetbridge.sources.base import WebhookRequest, invalid_input_from

SIGNATURE_HEADER = 'x-meetbridge-signature'
TOLERANCE_SECONDS = 300


class GenericWebhook(BaseModel):
    model_config = ConfigDict(extra='ignore')
    event_id: str = Field(min_length=1, max_length=200)
    type: BookingEventType
    booking: Booking


class GenericSource:
    name: Literal['generic'] = 'generic'

    def translate(self, request: WebhookRequest, secrets: Sequence[bytes]) -> list[BookingEvent]:
        sent_at = verify_timestamped(
            secrets, request.headers.get(SIGNATURE_HEADER), request.body, request.received_at, TOLERANCE_SECONDS
        )
        document = safe_json.loads_object(request.body)
        try:
            webhook = GenericWebhook.model_validate(document)
        except ValidationError as exc:
            raise invalid_input_from(exc) from None
        return [
            BookingEvent(
                tenant_id=request.tenant_id,
                source=self.name,
                event_id=webhook.event_id,
                type=webhook.type,
                occurred_at=datetime.fromtimestamp(sent_at, UTC),
                booking=webhook.booking,
            )
        ]


SOURCE = GenericSource()
