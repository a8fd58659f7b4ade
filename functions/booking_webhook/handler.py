"""POST /webhooks/{source}/{tenant_id}: a booking platform's webhook, verified and published."""

import base64
import binascii
import json
import time

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from meetbridge import config
from meetbridge.config import FunctionSettings
from meetbridge.errors import InvalidInput, NotFound
from meetbridge.logic import webhooks
from meetbridge.observability import logger, metrics
from meetbridge.security.signatures import SignatureError
from meetbridge.sources.base import WebhookRequest


class BookingWebhookSettings(FunctionSettings):
    """Verifies with the tenant's sealed webhook secret, publishes to the bus, dedupes deliveries."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(BookingWebhookSettings)

MAX_BODY_BYTES = 256 * 1024


def _json(status: int, body: dict) -> dict:
    return {'statusCode': status, 'headers': {'Content-Type': 'application/json'}, 'body': json.dumps(body)}


def _error(status: int, code: str, message: str, **extra) -> dict:
    return _json(status, {'error': code, 'message': message, **extra})


def _raw_body(event: dict) -> bytes:
    body = event.get('body') or ''
    if event.get('isBase64Encoded'):
        return base64.b64decode(body, validate=True)
    return body.encode()


@config.using(BookingWebhookSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    webhooks.DEDUPE.register_lambda_context(context)
    params = event.get('pathParameters') or {}
    try:
        body = _raw_body(event)
    except (binascii.Error, ValueError):
        return _error(400, 'invalid_request', 'body is not valid base64')
    if len(body) > MAX_BODY_BYTES:
        return _error(413, 'payload_too_large', f'body is larger than {MAX_BODY_BYTES} bytes')
    request = WebhookRequest(
        tenant_id=params.get('tenant_id', ''),
        headers={name.lower(): value for name, value in (event.get('headers') or {}).items()},
        body=body,
        received_at=time.time(),
    )
    source = params.get('source', '')
    logger.append_keys(tenant_id=request.tenant_id, source=source)
    try:
        accepted = webhooks.receive(source, request)
    except NotFound as exc:
        return _error(404, 'not_found', str(exc))
    except SignatureError as exc:
        metrics.add_metric(name='WebhookRejected', unit='Count', value=1)
        logger.warning('webhook signature rejected', extra={'reason': str(exc)})
        return _error(401, 'invalid_signature', str(exc))
    except InvalidInput as exc:
        return _error(400, 'invalid_request', str(exc), field=exc.field)
    except IdempotencyValidationError:
        return _error(409, 'event_id_reused', 'this event_id was already used for a different event')
    except IdempotencyAlreadyInProgressError:
        return _error(409, 'in_progress', 'this event is being processed; retry later')
    metrics.add_metric(name='BookingEventsAccepted', unit='Count', value=len(accepted))
    return _json(202, {'accepted': accepted})
