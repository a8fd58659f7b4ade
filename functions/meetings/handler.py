"""SQS consumer of booking.* events: each becomes a meeting, join links and a start schedule."""

import json
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from meetbridge import budget, config, idempotency
from meetbridge.config import FunctionSettings, LinksSettings, MicrosoftSettings, SchedulingSettings, ZoomSettings
from meetbridge.domain.model import BookingEvent
from meetbridge.errors import RetryLater
from meetbridge.logic import bookings
from meetbridge.observability import logger, metrics


class MeetingsSettings(FunctionSettings, SchedulingSettings, LinksSettings, ZoomSettings, MicrosoftSettings):
    """Creates meetings at the providers, mints join links and schedules the starts."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(MeetingsSettings)

# A batch that failed whole is reported like any other, not raised: raising makes Lambda slow its polling.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# A record's own time: its provider calls and their waits are cut to it. A record starts only while that
# and what no cut reaches (waiting for another invocation's token refresh, up to 15 s, and the AWS calls)
# still fit in the invocation; a record that does not fit is reported failed and retried, so one slow
# record never times its batch out.
RECORD_SECONDS = 25
RECORD_RESERVE_SECONDS = 20
ONCE = idempotency.config(key='[tenant_id, source, event_id]', expires_after_seconds=7 * 24 * 3600)


@idempotent_function(data_keyword_argument='event', config=ONCE, persistence_store=idempotency.store())
def apply_once(event: dict) -> dict:
    result = bookings.apply(BookingEvent.model_validate(event), datetime.now(UTC))
    logger.info('booking event applied', extra={'tenant_id': event['tenant_id'], 'booking_id': event['booking']['id'],
                                                'type': event['type'], 'outcome': result.outcome})
    return {'outcome': result.outcome, 'notice': result.notice}


def record_handler(record: SQSRecord, lambda_context) -> dict:
    if lambda_context.get_remaining_time_in_millis() < (RECORD_SECONDS + RECORD_RESERVE_SECONDS) * 1000:
        raise RetryLater('not started: too little time left in this invocation')
    bus_event = json.loads(record.body)
    with budget.within(RECORD_SECONDS):
        return apply_once(event=BookingEvent.model_validate(bus_event['detail']).model_dump(mode='json'))


@config.using(MeetingsSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    ONCE.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
