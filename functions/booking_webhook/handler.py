"""POST /webhooks/{source}/{tenant_id}: a booking platform's webhook, verified and published."""

import json
import time

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source

from meetbridge import config
from meetbridge.config import FunctionSettings
from meetbridge.logic import webhooks
from meetbridge.observability import logger, metrics
from meetbridge.security.signatures import SignatureError
from meetbridge.sources.base import WebhookRequest
from meetbridge.web.errors import answers_errors
from meetbridge.web.request import raw_body


class BookingWebhookSettings(FunctionSettings):
    """Verifies with the tenant's sealed webhook secret or the source's sealed keys, registers the services and
    providers a platform names, publishes to the bus, dedupes deliveries."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(BookingWebhookSettings)


@config.using(BookingWebhookSettings)
@logger.inject_lambda_context
@metrics.log_metrics
@answers_errors
@event_source(data_class=APIGatewayProxyEventV2)
def lambda_handler(event: APIGatewayProxyEventV2, context) -> dict:
    proto = event.headers.get('x-forwarded-proto', 'https')
    request = WebhookRequest(
        tenant_id=event.path_parameters.get('tenant_id', ''),
        headers={name.lower(): value for name, value in event.headers.items()},
        body=raw_body(event),
        received_at=time.time(),
        url=f'{proto}://{event.request_context.domain_name}{event.raw_path}',
        query=event.raw_query_string or '',
    )
    source = event.path_parameters.get('source', '')
    logger.append_keys(tenant_id=request.tenant_id, source=source)
    try:
        accepted = webhooks.receive(source, request, context.get_remaining_time_in_millis)
    except SignatureError:
        metrics.add_metric(name='WebhookRejected', unit='Count', value=1)
        raise
    metrics.add_metric(name='BookingEventsAccepted', unit='Count', value=len(accepted))
    return {'statusCode': 202, 'headers': {'Content-Type': 'application/json'},
            'body': json.dumps({'accepted': accepted})}
