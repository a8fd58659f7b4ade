"""Hourly health checks (meetbridge.logic.health): the schedule's tick puts one message per tenant on the health
queue; a tenant's message puts one message per OAuth account on it; an account's message checks the account and
asks for the meetings it hosts 24 h and 1 h ahead, handing the rest on when the invocation runs short of time."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from meetbridge import config
from meetbridge.config import (FunctionSettings, GoogleSettings, HealthQueueSettings, MeetingsQueueSettings,
                               MicrosoftSettings, ZoomSettings)
from meetbridge.logic import health
from meetbridge.observability import logger, metrics


class HealthSettings(FunctionSettings, HealthQueueSettings, MeetingsQueueSettings, ZoomSettings, MicrosoftSettings,
                     GoogleSettings):
    """Lists the tenants, then each tenant's accounts, onto the health queue; checks each Zoom, Microsoft and
    Google account and asks for its soon meetings, sending a missing one to the meetings queue."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(HealthSettings)

# Each record is one tenant or one account: a failure is reported for that record alone and retried by the queue.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context) -> dict:
    request = health.request_of(record.body)
    if isinstance(request, health.TenantCheck):
        sent = health.check_tenant(request)
        logger.info('tenant listed', extra={'tenant_id': request.tenant_id, 'accounts': sent})
        metrics.add_metric(name='HealthAccountsRequested', unit='Count', value=sent)
        return {'tenant_id': request.tenant_id, 'accounts': sent}

    def seconds_left() -> float:
        return lambda_context.get_remaining_time_in_millis() / 1000

    if isinstance(request, health.AccountCheck):
        report = health.check_account(request, datetime.now(UTC), seconds_left)
    else:
        report = health.check_more_meetings(request, seconds_left)
    logger.info('account checked', extra={'tenant_id': request.tenant_id, 'account_id': request.account_id,
                                          'kind': request.kind, 'outcome': report.outcome,
                                          'meetings_checked': report.meetings_checked, 'missing': len(report.missing),
                                          'provider_calls': report.provider_calls, 'continued': report.continued})
    if report.outcome in ('working', 'broken', 'failing'):
        metrics.add_metric(name='HealthAccountsChecked', unit='Count', value=1)
    if report.outcome == 'broken':
        metrics.add_metric(name='HealthAccountsBroken', unit='Count', value=1)
    if report.continued or report.outcome == 'passed on':
        metrics.add_metric(name='HealthChecksPassedOn', unit='Count', value=1)
    metrics.add_metric(name='HealthMeetingsMissing', unit='Count', value=len(report.missing))
    metrics.add_metric(name='HealthProviderCalls', unit='Count', value=report.provider_calls)
    return {'tenant_id': request.tenant_id, 'account_id': request.account_id, 'outcome': report.outcome,
            'missing': report.missing}


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
