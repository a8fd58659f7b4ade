"""Hourly health checks (meetbridge.logic.health): the schedule's tick puts one message per tenant on the health
queue; each message checks that tenant's OAuth accounts and the meetings they host 24 h and 1 h ahead."""

import json
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from meetbridge import config
from meetbridge.config import FunctionSettings, HealthQueueSettings, MicrosoftSettings, MeetingsQueueSettings, ZoomSettings
from meetbridge.logic import health
from meetbridge.observability import logger, metrics


class HealthSettings(FunctionSettings, HealthQueueSettings, MeetingsQueueSettings, ZoomSettings, MicrosoftSettings):
    """Lists the tenants onto the health queue; checks each tenant's Zoom and Microsoft accounts and asks for
    their soon meetings, sending a missing one to the meetings queue."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(HealthSettings)

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> dict:
    request = json.loads(record.body)
    report = health.check_tenant(request['tenant_id'], datetime.fromisoformat(request['tick']), datetime.now(UTC))
    logger.info('tenant checked', extra={'tenant_id': request['tenant_id'], 'accounts': report.accounts,
                                         'broken': report.broken, 'failing': report.failing,
                                         'meetings_checked': report.meetings_checked,
                                         'missing': len(report.missing), 'provider_calls': report.provider_calls})
    metrics.add_metric(name='HealthAccountsChecked', unit='Count', value=report.accounts)
    metrics.add_metric(name='HealthAccountsBroken', unit='Count', value=report.broken)
    metrics.add_metric(name='HealthMeetingsMissing', unit='Count', value=len(report.missing))
    metrics.add_metric(name='HealthProviderCalls', unit='Count', value=report.provider_calls)
    return {'tenant_id': request['tenant_id'], 'missing': report.missing}


@config.using(HealthSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    if 'Records' in event:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    tick = health.tick_time(event)  # the Schedule event: EventBridge's "Scheduled Event"
    sent = health.fan_out(tick)
    logger.info('health checks requested', extra={'tick': tick.isoformat(), 'tenants': sent})
    metrics.add_metric(name='HealthChecksRequested', unit='Count', value=sent)
    return {'tick': tick.isoformat(), 'tenants': sent}
