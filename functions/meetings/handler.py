"""SQS consumer of booking.* events: each becomes a meeting, join links and a start schedule; a booking.lookup
reads a booking from its platform's API and publishes what it finds; a connection.connected applies again the
bookings that failed for lack of an account; a connection.broken or connection.disconnected re-homes the account's
future meetings, each a meeting.rehome of its own (logic/rehoming.py); a booking.switch applies a booking the admin
switched online or in person (logic/online.py)."""

import json
import time
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from meetbridge import budget, config, events, idempotency, retries
from meetbridge.config import (BookingPlatformSettings, FunctionSettings, GoogleSettings, LinksSettings,
                               MeetingsQueueSettings, MicrosoftSettings, ReminderSettings, ScheduleGroupSettings,
                               SchedulingSettings, StartQueueSettings, WaitingSettings, ZoomSettings)
from meetbridge.domain.model import BookingEvent
from meetbridge.sources.base import Lookup, LookupRefused
from meetbridge.errors import InvalidInput, MeetbridgeError, NotFound, RetryLater
from meetbridge.logic import bookings, failed_bookings, lookups, online, rehoming, waiting, webhooks
from meetbridge.observability import logger, metrics


class MeetingsSettings(FunctionSettings, ScheduleGroupSettings, SchedulingSettings, StartQueueSettings,
                       ReminderSettings, WaitingSettings, MeetingsQueueSettings, LinksSettings, ZoomSettings,
                       MicrosoftSettings, GoogleSettings, BookingPlatformSettings):
    """Creates meetings at the providers, mints join links and schedules the starts and reminders; tells the
    admin about bookings that wait too long; looks up in the booking platforms' APIs what their webhooks leave
    out; re-homes the future meetings of an account that went away."""


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


# A re-home request is one SQS message: its redelivery returns the first result (made again once).
REHOME_ONCE = idempotency.config(key='[tenant_id, meeting_key, message_id]', expires_after_seconds=7 * 24 * 3600)


@idempotent_function(data_keyword_argument='request', config=REHOME_ONCE, persistence_store=idempotency.store())
def rehome_once(request: dict) -> dict:
    return rehoming.rehome(request, datetime.now(UTC))


# A failed record waits 30 s, then twice as long at each receive up to an hour: with the queue's
# maxReceiveCount of 40, a provider outage is retried for about 34 hours before the dead-letter queue.
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 3600


def retry_delay(receive_count: int) -> int:
    return retries.growing_delay(receive_count, FIRST_RETRY_SECONDS, LONGEST_RETRY_SECONDS)


def _waiting_reason(exc: Exception) -> str:
    """Shown to the admin: a domain error's message is safe; anything else is named by its type only."""
    return str(exc) if isinstance(exc, MeetbridgeError) else type(exc).__name__


def look_up(lookup: Lookup) -> dict:
    try:
        with budget.within(RECORD_SECONDS):
            published = lookups.resolve(lookup, time.time())
    except (LookupRefused, InvalidInput, NotFound) as exc:
        # The platform does not vouch for what the webhook named (a forged pointer, a booking it does not have),
        # or the tenant removed the source: nothing to apply, and retrying would not change the answer.
        metrics.add_metric(name='LookupsRejected', unit='Count', value=1)
        logger.warning('rejected delivery: the lookup changed nothing',
                       extra={'tenant_id': lookup.tenant_id, 'source': lookup.source,
                              'external_id': lookup.external_id, 'reason': str(exc)})
        # What the platform answered cannot be this booking: the admin sees it. A refusal is not shown: a webhook
        # that is only a pointer (SimplyBook's) is anyone's to send, and must not write on a booking.
        if lookup.booking_id and isinstance(exc, InvalidInput):
            waiting.note_not_applied(lookup.tenant_id, lookup.booking_id,
                                     f'a change {lookup.source} announced was not applied: {exc}')
        return {'outcome': 'rejected'}
    except Exception as exc:
        if lookup.booking_id:
            waiting.note_waiting(lookup.tenant_id, lookup.booking_id,
                                 f'waiting for a retry of its {lookup.source} lookup: {_waiting_reason(exc)}',
                                 datetime.now(UTC))
        raise
    logger.info('booking looked up', extra={'tenant_id': lookup.tenant_id, 'source': lookup.source,
                                            'external_id': lookup.external_id, 'published': len(published)})
    return {'outcome': 'looked up', 'published': published}


def record_handler(record: SQSRecord, lambda_context) -> dict:
    envelope = json.loads(record.body)
    try:
        return _handle(record, envelope, lambda_context)
    except Exception as exc:
        if envelope['detail-type'] == events.MEETING_REHOME and \
                int(record.attributes.get('ApproximateReceiveCount') or 1) >= rehoming.MEETINGS_QUEUE_RECEIVES:
            # The message's last receive: it goes to the dead-letter queue whatever failed (its attempt, or a refusal
            # before it: too little time left, an attempt in progress), so its meeting is given up first and its
            # reconciliation can conclude (logic/rehoming.py).
            rehoming.give_up(envelope['detail'], datetime.now(UTC), _waiting_reason(exc))
        raise


def _handle(record: SQSRecord, envelope: dict, lambda_context) -> dict:
    if lambda_context.get_remaining_time_in_millis() < (RECORD_SECONDS + RECORD_RESERVE_SECONDS) * 1000:
        raise RetryLater('not started: too little time left in this invocation')
    if envelope['detail-type'] == webhooks.BOOKING_LOOKUP:
        return look_up(Lookup.model_validate(envelope['detail']))
    if envelope['detail-type'] == events.CONNECTION_CONNECTED:
        with budget.within(RECORD_SECONDS):
            return failed_bookings.retry(envelope['detail'], datetime.now(UTC))
    if envelope['detail-type'] in (events.CONNECTION_BROKEN, events.CONNECTION_DISCONNECTED):
        with budget.within(RECORD_SECONDS):
            return rehoming.reconcile(envelope['detail'], datetime.now(UTC))
    if envelope['detail-type'] == events.MEETING_REHOME:
        with budget.within(RECORD_SECONDS):
            return rehome_once(request={**envelope['detail'], 'message_id': record.message_id})
    if envelope['detail-type'] == online.BOOKING_SWITCH:
        switch = envelope['detail']
        try:
            with budget.within(RECORD_SECONDS):
                return online.apply_switch(switch, datetime.now(UTC))
        except Exception as exc:
            # A switch that keeps failing shows on the booking as a booking change does.
            _note_waiting(switch['tenant_id'], switch['booking_id'], exc)
            raise
    event = BookingEvent.model_validate(envelope['detail'])
    try:
        with budget.within(RECORD_SECONDS):
            return apply_once(event=event.model_dump(mode='json'))
    except Exception as exc:
        _note_waiting(event.tenant_id, event.booking.id, exc)
        raise


def _note_waiting(tenant_id: str, booking_id: str, exc: Exception) -> None:
    waiting.note_waiting(tenant_id, booking_id, f'waiting for a retry: {_waiting_reason(exc)}', datetime.now(UTC))


@config.using(MeetingsSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    ONCE.register_lambda_context(context)
    REHOME_ONCE.register_lambda_context(context)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    retries.delay_failed(event, response, retry_delay)
    return response
