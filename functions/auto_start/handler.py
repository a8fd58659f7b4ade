"""Starts a meeting on the booked second: the target of its Scheduler schedule and the start queue's consumer."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel

from meetbridge import config
from meetbridge.config import FunctionSettings, StartQueueSettings
from meetbridge.domain.model import Instant
from meetbridge.logic import starting
from meetbridge.observability import logger, metrics


class AutoStartSettings(FunctionSettings, StartQueueSettings):
    """Hands start requests over to the start queue, marks the meeting started and publishes it."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(AutoStartSettings)

# A batch that failed whole is reported like any other, not raised: raising makes Lambda slow its polling.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class StartRequest(BaseModel):
    """The schedule's Input, or the `detail` of a start queue message (meetbridge.scheduling writes both)."""

    tenant_id: str
    meeting_key: str
    start: Instant  # one instant, whatever offset wrote it
    scheduled_time: str | None = None
    execution_id: str | None = None


def on_time(request: StartRequest) -> str:
    """Hands the request over while a second or more is left; starts the meeting in the last one.

    No idempotency record: the start is a versioned write from `scheduled` to `started`, so a repeated or
    concurrent request finds the meeting started (or loses the write and is retried, then finds it), and
    the record's two writes would be a third of the start path's DynamoDB cost."""
    outcome = starting.hand_over(request.tenant_id, request.meeting_key, request.start)
    if outcome is None:
        outcome = starting.start_on_time(request.tenant_id, request.meeting_key, request.start)
    logger.info('auto start', extra={'tenant_id': request.tenant_id, 'meeting_key': request.meeting_key,
                                     'outcome': outcome})
    return outcome


def record_handler(record: SQSRecord) -> None:
    try:
        request = StartRequest.model_validate(json.loads(record.body)['detail'])
    except (ValueError, KeyError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        # No retry can make it a start request: acknowledged and logged (by id, not body), not redelivered.
        logger.warning('rejected start request', extra={'message_id': record.message_id,
                                                         'reason': type(exc).__name__})
        metrics.add_metric(name='StartRequestsRejected', unit='Count', value=1)
        return
    on_time(request)


@config.using(AutoStartSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    if 'Records' in event:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    return {'outcome': on_time(StartRequest.model_validate(event))}
