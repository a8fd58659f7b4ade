"""SQS consumer of meeting.* and connection.* events and of reminders: renders and sends the notifications."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from meetbridge import config, idempotency
from meetbridge.config import EmailSettings, FunctionSettings, SmsSettings
from meetbridge.logic import notices
from meetbridge.notify import email
from meetbridge.observability import logger, metrics


class NotificationsSettings(FunctionSettings, EmailSettings, SmsSettings):
    """Unseals the links and sends the emails and text messages."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(NotificationsSettings)

# A batch that failed whole is reported like any other, not raised: raising makes Lambda slow its polling.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# Keyed per recipient, so a retry after a partial failure does not send the first message twice.
ONCE = idempotency.config(key='[notice_id, recipient]', expires_after_seconds=7 * 24 * 3600)


@idempotent_function(data_keyword_argument='message', config=ONCE, persistence_store=idempotency.store())
def send_once(message: dict) -> dict:
    return {'message_id': email.send_email(message['to'], message['subject'], message['html'])}


def record_handler(record: SQSRecord) -> None:
    event = json.loads(record.body)  # the bus's shape, from a rule or from a reminder's schedule
    notice = notices.notice_of(event['detail-type'], event['detail'])
    if notice is None:
        return  # events that notify nobody (connection.broken, meeting.failed)
    for message in notices.compose(notice):
        send_once(message={'notice_id': notice['notice_id'], 'recipient': message.recipient, 'to': message.to,
                           'subject': message.subject, 'html': message.html})
        metrics.add_metric(name='NotificationsSent', unit='Count', value=1)


@config.using(NotificationsSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    ONCE.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
