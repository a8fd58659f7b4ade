"""Receiving a booking platform's webhook: verify, translate, publish each booking event once."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from meetbridge import events, idempotency
from meetbridge.logic import sources, tenants, waiting
from meetbridge.sources import source_for
from meetbridge.sources.base import Translation, WebhookRequest
from meetbridge.store import repository

# Platforms retry for hours (Zoom: up to 60 min, others longer); a week covers them all.
DEDUPE_SECONDS = 7 * 24 * 3600
DEDUPE = idempotency.config(
    key='[tenant_id, source, event_id]', expires_after_seconds=DEDUPE_SECONDS, payload_validation='[type, booking]'
)
# The detail type of a Lookup (sources/base.py) on the bus.
BOOKING_LOOKUP = 'booking.lookup'


def _verifier(source_name: str, request: WebhookRequest):
    """The generic source is verified with the tenant's own webhook secrets; a platform with its source's
    settings (404 when the tenant has not configured it, or removed it)."""
    tenant = repository.get_tenant(request.tenant_id)
    if source_name == 'generic':
        return tenants.webhook_secrets(tenant, datetime.fromtimestamp(request.received_at, UTC))
    return sources.settings_of(tenant.tenant_id, source_name)


def receive(source_name: str, request: WebhookRequest) -> list[str]:
    """Returns the accepted event ids. Raises NotFound, SignatureError, InvalidInput,
    IdempotencyValidationError (an event id reused for different content)."""
    source = source_for(source_name)
    verifier = _verifier(source_name, request)
    translation = source.translate(request, verifier,
                                   lambda external_id: sources.known_booking(request.tenant_id, source_name, external_id))
    online = source_name != 'generic' and verifier.online == 'all'
    return publish_translation(request.tenant_id, source_name, translation, online=online)


def publish_translation(tenant_id: str, source_name: str, translation: Translation, online: bool) -> list[str]:
    """What a webhook, or the lookup it asked for, carried: its services and providers registered when new,
    its platform ids tied to our bookings, each booking recorded as received and its event published once,
    each lookup published. Returns the ids published."""
    if translation.services or translation.providers:
        sources.register_first_seen(tenant_id, translation.services, translation.providers, online=online)
    sources.record_external_ids(tenant_id, source_name, translation.external_ids)
    for event in translation.events:
        # Before the event is on the bus, so the booking is visible whatever happens to the event after.
        waiting.record_received(event, datetime.now(UTC))
        _publish(event.model_dump(mode='json'))
    for lookup in translation.lookups:
        _publish({**lookup.model_dump(mode='json'), 'type': BOOKING_LOOKUP})
    return [event.event_id for event in translation.events] + [lookup.event_id for lookup in translation.lookups]


def _publish(event: dict) -> None:
    try:
        publish_once(event=event)
    except IdempotencyAlreadyInProgressError:
        # A concurrent delivery of the same event is publishing it: accepted, it is applied once. A
        # platform switches off a webhook that keeps failing, so this must not answer an error.
        pass


@idempotent_function(data_keyword_argument='event', config=DEDUPE, persistence_store=idempotency.store())
def publish_once(event: dict) -> dict:
    events.publish(event['type'], event)
    return {'event_id': event['event_id']}
