"""SQS consumer of the callbacks queue: the meeting.* events CallbackEventsRule puts there become one delivery per
booking (logic/callbacks.py), and each delivery, a message on the same queue, is posted to the booking platform,
signed; a failed post comes back after a growing delay, for 24 hours, then waits in the dead-letter queue."""

import json
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from meetbridge import config, retries
from meetbridge.config import AlertWebhookSettings, CallbacksQueueSettings, FunctionSettings
from meetbridge.errors import RetryLater
from meetbridge.logic import callbacks
from meetbridge.observability import logger, metrics


class CallbacksSettings(FunctionSettings, CallbacksQueueSettings, AlertWebhookSettings):
    """Queues a delivery per booking and posts it; whether a loopback URL may be posted to (the local stack)."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(CallbacksSettings)

# A batch that failed whole is reported like any other, not raised: raising makes Lambda slow its polling.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> str:
    envelope = json.loads(record.body)  # the bus's shape, from the rule or from our own fan-out and replays
    detail_type, detail, now = envelope['detail-type'], envelope['detail'], datetime.now(UTC)
    try:
        if detail_type == callbacks.DELIVERY:
            outcome = callbacks.deliver(detail, int(record.attributes.approximate_receive_count), now)
        else:
            occurred_at = datetime.fromisoformat(envelope['time'].replace('Z', '+00:00')) if envelope.get('time') else now
            outcome = callbacks.fan_out(detail_type, detail, occurred_at, now, record.message_id)
    except RetryLater as retried:
        _log(detail_type, detail, f'retried: {retried}')
        raise
    _log(detail_type, detail, outcome)
    return outcome


def _log(detail_type: str, detail: dict, outcome: str) -> None:
    # Ids and outcomes only: the URL can carry a token, the body carries the join links.
    logger.info('callback', extra={'tenant_id': detail['tenant_id'], 'type': detail_type,
                                   'id': detail.get('event_id'), 'outcome': outcome})
    # An attempt's outcome only: a message with nothing to post (delivered or failed already, expired) is neither.
    if detail_type == callbacks.DELIVERY and outcome.startswith('delivered'):
        metrics.add_metric(name='CallbacksDelivered', unit='Count', value=1)
    elif detail_type == callbacks.DELIVERY and outcome.startswith(('failed', 'retried')):
        metrics.add_metric(name='CallbacksNotDelivered', unit='Count', value=1)


@config.using(CallbacksSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    retries.delay_failed(event, response, callbacks.retry_delay)
    return response
