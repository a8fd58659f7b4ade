"""SQS consumer of the alerts queue (alert events from the bus, the windows' digests from their schedules) and
of the alert webhook queue (signed POSTs, retried with growing delays, then kept in its dead-letter queue)."""

import json
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from meetbridge import aws, config, idempotency, scheduling
from meetbridge.config import (AlertQueuesSettings, AlertWebhookSettings, EmailSettings, FunctionSettings,
                               ScheduleGroupSettings, settings)
from meetbridge.logic import alerts
from meetbridge.notify import email
from meetbridge.observability import logger, metrics
from meetbridge.store import repository


class AlertsSettings(FunctionSettings, ScheduleGroupSettings, AlertQueuesSettings, AlertWebhookSettings, EmailSettings):
    """Groups the alerts, schedules the windows' digests, emails them and posts the signed webhooks."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(AlertsSettings)

# A batch that failed whole is reported like any other, not raised: raising makes Lambda slow its polling.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# Keyed per message and recipient: a message decided once is sent once to each, however often it is retried.
ONCE = idempotency.config(key='[message_id, recipient]', expires_after_seconds=7 * 24 * 3600)
WEBHOOK = 'webhook'

# A webhook the receiver did not take waits 30 s, then twice as long at each receive up to 30 min: with the
# queue's maxReceiveCount of 10, about 2.5 hours of retries before the dead-letter queue.
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 1800


@idempotent_function(data_keyword_argument='message', config=ONCE, persistence_store=idempotency.store())
def send_once(message: dict) -> dict:
    return {'message_id': email.send_email(message['to'], message['subject'], message['html'])}


@idempotent_function(data_keyword_argument='message', config=ONCE, persistence_store=idempotency.store())
def queue_webhook_once(message: dict) -> dict:
    alerts.queue_webhook(message['webhook'])
    return {'queued': True}


def deliver(tenant_id: str, message: dict) -> None:
    tenant = repository.get_tenant(tenant_id)
    for mail in alerts.emails(tenant, message):
        send_once(message={'message_id': message['message_id'], 'recipient': mail.to, 'to': mail.to,
                           'subject': mail.subject, 'html': mail.html})
        metrics.add_metric(name='AlertEmailsSent', unit='Count', value=1)
    webhook = alerts.webhook_message(tenant, message)
    if webhook is not None:
        queue_webhook_once(message={'message_id': message['message_id'], 'recipient': WEBHOOK, 'webhook': webhook})


def record_handler(record: SQSRecord) -> str:
    envelope = json.loads(record.body)  # the bus's shape, from the rule, a window's schedule or our own queue
    detail_type, detail, now = envelope['detail-type'], envelope['detail'], datetime.now(UTC)
    if detail_type == alerts.ALERT_WEBHOOK:
        outcome = alerts.post_webhook(detail, now)
        logger.info('alert webhook', extra={'tenant_id': detail['tenant_id'], 'id': detail['event_id'],
                                            'outcome': outcome})
        return outcome
    if detail_type == scheduling.ALERTS_FLUSH_DUE:
        message = alerts.flush(detail['tenant_id'], detail['group'], detail['window_until'], now)
    else:
        at = datetime.fromisoformat(envelope['time'].replace('Z', '+00:00')) if envelope.get('time') else now
        message = alerts.take(detail['tenant_id'], alerts.alert_of(detail_type, detail, at), now)
    if message is None:
        return 'kept'
    deliver(detail['tenant_id'], message)
    logger.info('alert sent', extra={'tenant_id': detail['tenant_id'], 'group': message['group'],
                                     'alerts': len(message['alerts']), 'id': message['message_id']})
    return 'sent'


def retry_delay(receive_count: int) -> int:
    return min(FIRST_RETRY_SECONDS * 2 ** (max(receive_count, 1) - 1), LONGEST_RETRY_SECONDS)


def delay_failed_webhooks(event: dict, response: dict) -> None:
    """Each webhook the receiver did not take becomes visible again after its growing delay."""
    failed = {failure['itemIdentifier'] for failure in response['batchItemFailures']}
    webhook_queue = settings(AlertQueuesSettings).alert_webhook_queue_url
    sqs = aws.client('sqs')
    for record in event['Records']:
        name = record['eventSourceARN'].rsplit(':', 1)[1]
        if record['messageId'] not in failed or not webhook_queue.endswith('/' + name):
            continue
        try:
            sqs.change_message_visibility(
                QueueUrl=webhook_queue, ReceiptHandle=record['receiptHandle'],
                VisibilityTimeout=retry_delay(int(record['attributes'].get('ApproximateReceiveCount', 1))))
        except ClientError as error:
            # The record still comes back, after the queue's own visibility timeout.
            logger.warning('retry delay not set', extra={'message_id': record['messageId'],
                                                         'error': error.response['Error']['Code']})


@config.using(AlertsSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    ONCE.register_lambda_context(context)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    delay_failed_webhooks(event, response)
    return response
