"""SQS consumer of the alerts queue (alert events from the bus, the windows' digests from their schedules) and
of the alert webhook queue (signed POSTs, retried with growing delays, then kept in its dead-letter queue)."""

import json
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from botocore.exceptions import ClientError

from meetbridge import config, idempotency, retries, scheduling
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


# SES refuses these for one address for good (an address it will not send to, an unverified recipient while the
# account is in SES's sandbox): the other recipients and the webhook still get the alert.
def deliver(tenant_id: str, message: dict) -> None:
    """The webhook is queued first: it does not depend on any address SES may refuse."""
    tenant = repository.get_tenant(tenant_id)
    webhook = alerts.webhook_message(tenant, message)
    if webhook is not None:
        queue_webhook_once(message={'message_id': message['message_id'], 'recipient': WEBHOOK, 'webhook': webhook})
    for position, mail in enumerate(alerts.emails(tenant, message)):
        try:
            send_once(message={'message_id': message['message_id'], 'recipient': mail.to, 'to': mail.to,
                               'subject': mail.subject, 'html': mail.html})
        except ClientError as error:
            code = error.response['Error']['Code']
            if code not in email.REFUSED_FOR_GOOD:
                raise  # throttled or unavailable: the record is retried, what was sent is not sent again
            # Named by its place in the contacts, not its address.
            logger.warning('alert email refused for one recipient', extra={
                'tenant_id': tenant_id, 'id': message['message_id'], 'recipient_position': position, 'error': code})
            metrics.add_metric(name='AlertEmailsRefused', unit='Count', value=1)
            continue
        metrics.add_metric(name='AlertEmailsSent', unit='Count', value=1)


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
    return retries.growing_delay(receive_count, FIRST_RETRY_SECONDS, LONGEST_RETRY_SECONDS)


@config.using(AlertsSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    ONCE.register_lambda_context(context)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    # Only webhooks wait longer between tries: an alert itself is retried at the queue's pace.
    webhook_queue = settings(AlertQueuesSettings).alert_webhook_queue_url.rsplit('/', 1)[1]
    retries.delay_failed(event, response, retry_delay, queue_names={webhook_queue})
    return response
