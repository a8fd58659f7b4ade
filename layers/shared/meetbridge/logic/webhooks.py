"""Receiving a booking platform's webhook: verify, translate, publish each booking event once."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from meetbridge import events, idempotency
from meetbridge.logic import tenants, waiting
from meetbridge.sources import source_for
from meetbridge.sources.base import WebhookRequest
from meetbridge.store import repository

# Platforms retry for hours (Zoom: up to 60 min, others longer); a week covers them all.
DEDUPE_SECONDS = 7 * 24 * 3600
DEDUPE = idempotency.config(
    key='[tenant_id, source, event_id]', expires_after_seconds=DEDUPE_SECONDS, payload_validation='[type, booking]'
)


def receive(source_name: str, request: WebhookRequest) -> list[str]:
    """Returns the accepted event ids. Raises NotFound, SignatureError, InvalidInput,
    IdempotencyValidationError (an event id reused for different content)."""
    source = source_for(source_name)
    tenant = repository.get_tenant(request.tenant_id)
    received_at = datetime.fromtimestamp(request.received_at, UTC)
    booking_events = source.translate(request, tenants.webhook_secrets(tenant, received_at))
    for event in booking_events:
        # Before the event is on the bus, so the booking is visible whatever happens to the event after.
        waiting.record_received(event, datetime.now(UTC))
        try:
            publish_once(event=event.model_dump(mode='json'))
        except IdempotencyAlreadyInProgressError:
            # A concurrent delivery of the same event is publishing it: accepted, it is applied once. A
            # platform switches off a webhook that keeps failing, so this must not answer an error.
            pass
    return [event.event_id for event in booking_events]


@idempotent_function(data_keyword_argument='event', config=DEDUPE, persistence_store=idempotency.store())
def publish_once(event: dict) -> dict:
    events.publish(event['type'], event)
    return {'event_id': event['event_id']}
