"""SQS consumer of meeting.* and connection.* events, of reminders and of replayed undelivered messages: renders
and sends the notifications, by email and SMS."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from botocore.exceptions import BotoCoreError, ClientError

from meetbridge import aws, config, idempotency, retries
from meetbridge.config import EmailSettings, FunctionSettings, NotificationsDeadLetterSettings, SmsSettings, settings
from meetbridge.errors import RetryLater
from meetbridge.logic import notices
from meetbridge.notify import email, sms
from meetbridge.observability import logger, metrics


class NotificationsSettings(FunctionSettings, EmailSettings, SmsSettings, NotificationsDeadLetterSettings):
    """Unseals the links, sends the emails and SMS, and keeps what could not be sent on the dead-letter queue."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(NotificationsSettings)

# A batch that failed whole is reported like any other, not raised: raising makes Lambda slow its polling.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# Keyed per message (notices.Message.dedupe_key), so a retry after a partial failure sends nothing twice.
ONCE = idempotency.config(key='dedupe_key', expires_after_seconds=7 * 24 * 3600)
# The slowest answer a send may take (aws.MESSAGING: 2 attempts of 1 s to connect and 3 s to read) and a margin.
SEND_RESERVE_MS = 10_000
REFUSED_FOR_GOOD = email.REFUSED_FOR_GOOD | sms.REFUSED_FOR_GOOD


@idempotent_function(data_keyword_argument='message', config=ONCE, persistence_store=idempotency.store())
def send_once(message: dict) -> dict:
    if message['channel'] == notices.SMS:
        outcome = sms.send_sms(message['to'], message['body'])
        return {'status': outcome.status, 'message_id': outcome.message_id}
    return {'status': 'sent', 'message_id': email.send_email(message['to'], message['subject'], message['body'])}


def deliver(tenant_id: str, messages: list[dict], lambda_context) -> list[dict]:
    """Sends each message once; returns those refused for a passing reason, or not tried for lack of time, to be
    sent again later. What is refused for good is shown on the bookings the messages were about."""
    unsent, refusals = [], {}
    for message in messages:
        # A send is started only with time for its slowest answer (aws.py's messaging timeouts), so an SES or SNS
        # that hangs fails this record, which comes back after its growing delay, instead of timing the batch out.
        if lambda_context.get_remaining_time_in_millis() < SEND_RESERVE_MS:
            unsent.append(message)
            continue
        described = {'tenant_id': tenant_id, 'recipient': message['recipient'], 'channel': message['channel']}
        whom = message['recipient'].split(':')[0]
        try:
            sent = send_once(message=message)
        except ClientError as error:
            code = error.response['Error']['Code']
            if code not in REFUSED_FOR_GOOD:
                logger.warning('message not sent; it is tried again', extra={**described, 'error': code})
                unsent.append(message)
                continue
            logger.warning('message refused', extra={**described, 'error': code})
            metrics.add_metric(name='NotificationsRefused', unit='Count', value=1)
            refusal = f'the {message["channel"]} to the {whom} was refused ({code})'
        except BotoCoreError as error:  # no answer: a timeout, a connection refused
            logger.warning('message not sent; it is tried again', extra={**described, 'error': type(error).__name__})
            unsent.append(message)
            continue
        else:
            if sent.get('status') != 'opted_out':  # records written before SMS have no status
                metrics.add_metric(name='NotificationsSent', unit='Count', value=1)
                continue
            logger.info('SMS not sent: the number opted out', extra=described)
            metrics.add_metric(name='SmsOptedOut', unit='Count', value=1)
            refusal = f'no SMS to the {whom}: the number replied STOP'
        for booking_id in message['booking_ids']:
            refusals.setdefault(booking_id, []).append(refusal)
    notices.show_refusals(tenant_id, refusals)
    return unsent


def record_handler(record: SQSRecord, lambda_context) -> str:
    event = json.loads(record.body)  # the bus's shape, from a rule, from a reminder's schedule or from a replay
    detail = event['detail']
    if event['detail-type'] == notices.NOTIFICATION_RENDERED:
        notice_id, booking_id, messages = detail['notice_id'], detail.get('booking_id'), notices.unpark(detail)
    else:
        notice = notices.notice_of(event['detail-type'], detail)
        if notice is None:
            return 'nothing to tell'  # events that notify nobody (connection.broken, meeting.failed)
        notice_id, booking_id = notice['notice_id'], notice.get('booking_id')
        messages = [{'notice_id': notice_id, 'dedupe_key': message.dedupe_key(notice_id),
                     'recipient': message.recipient, 'channel': message.channel, 'to': message.to,
                     'subject': message.subject, 'body': message.body, 'booking_ids': list(message.booking_ids)}
                    for message in notices.compose(notice)]
    unsent = deliver(detail['tenant_id'], messages, lambda_context)
    if not unsent:
        return 'sent'
    if int(record.attributes.get('ApproximateReceiveCount') or 1) < notices.NOTIFICATIONS_QUEUE_RECEIVES:
        raise RetryLater(f'{len(unsent)} of {len(messages)} messages not sent yet')
    # The last receive: what is still unsent waits on the dead-letter queue as it was written, for a replay.
    parked = notices.park(detail['tenant_id'], notice_id, booking_id, unsent)
    aws.client('sqs').send_message(QueueUrl=settings(NotificationsDeadLetterSettings).notifications_dead_letter_queue_url,
                                   MessageBody=json.dumps(parked))
    logger.warning('messages kept on the dead-letter queue', extra={'tenant_id': detail['tenant_id'],
                                                                    'notice_id': notice_id, 'unsent': len(unsent)})
    metrics.add_metric(name='NotificationsParked', unit='Count', value=len(unsent))
    return 'parked'


def retry_delay(receive_count: int) -> int:
    return retries.growing_delay(receive_count, notices.FIRST_RETRY_SECONDS, notices.LONGEST_RETRY_SECONDS)


@config.using(NotificationsSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    ONCE.register_lambda_context(context)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    retries.delay_failed(event, response, retry_delay)
    return response
