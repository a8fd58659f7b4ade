"""How a meeting's start request reaches the auto_start function on the booked second.

Two steps, and no code runs while either waits. The coarse one is a one-time EventBridge Scheduler
schedule `lead` seconds before the start; Scheduler fires it somewhere in the minute after its time.
auto_start then hands the request over to the fine one: a message on the start queue whose
`DelaySeconds` is the whole seconds left (SQS holds one at most 900 s; a start further off is handed
over again when the message arrives), so it arrives less than a second before the start. A meeting
booked or moved too near its start for a schedule gets that message at once. Every time a schedule or
a message holds is UTC: the `at()` expression (with `ScheduleExpressionTimezone: UTC`) and the request.
"""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from meetbridge import aws, events
from meetbridge.config import (AlertQueuesSettings, ReminderSettings, ScheduleGroupSettings, SchedulingSettings,
                               StartQueueSettings, settings)

# Scheduler needs a little time between creating a schedule and its first moment; a start request sent
# directly waits as long, so the meeting's own save (after the request is made) lands first.
_MIN_DELAY = timedelta(seconds=5)
# SQS's longest per-message delay.
MAX_DELAY_SECONDS = 900
# The start queue's messages are in the bus's shape, so the dead-letter tools name their tenant.
START_DUE = 'meeting.start_due'


def schedule_name(tenant_id: str, meeting_key: str) -> str:
    """Deterministic, so creating twice conflicts instead of duplicating (names allow 64 chars)."""
    return 'meeting-' + hashlib.sha256(f'{tenant_id}|{meeting_key}'.encode()).hexdigest()[:48]


def at_expression(at: datetime) -> str:
    """Scheduler's `at()` takes a wall time without an offset: the instant's UTC wall time, since the
    schedule's timezone is UTC. A naive time has no instant, so it is refused."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError('a schedule needs an aware time')
    return f'at({at.astimezone(UTC):%Y-%m-%dT%H:%M:%S})'


def _put_one_time(name: str, at: datetime, target: dict, replace: bool) -> None:
    """A one-time schedule that deletes itself after it fired; `replace` moves an existing one."""
    config = settings(ScheduleGroupSettings)
    request = {
        'Name': name,
        'GroupName': config.schedule_group,
        'ScheduleExpression': at_expression(at),
        'ScheduleExpressionTimezone': 'UTC',
        'FlexibleTimeWindow': {'Mode': 'OFF'},
        'ActionAfterCompletion': 'DELETE',
        'Target': {
            'RoleArn': config.scheduler_role_arn,
            'DeadLetterConfig': {'Arn': config.scheduler_dlq_arn},
            **target,
        },
    }
    scheduler = aws.client('scheduler')
    try:
        scheduler.create_schedule(**request)
    except scheduler.exceptions.ConflictException:
        if replace:
            scheduler.update_schedule(**request)


def start_request(tenant_id: str, meeting_key: str, start: datetime) -> dict:
    """What the schedule's Input and the start queue's messages carry (auto_start's StartRequest)."""
    return {'tenant_id': tenant_id, 'meeting_key': meeting_key, 'start': start.astimezone(UTC).isoformat()}


def delay_seconds(start: datetime, now: datetime) -> int:
    """The whole seconds left before the start, as long as one message may wait; 0 when less than one is left."""
    return min(max(int((start - now).total_seconds()), 0), MAX_DELAY_SECONDS)


def send_start_request(tenant_id: str, meeting_key: str, start: datetime, delay: int) -> None:
    """The fine step: the request arrives at auto_start `delay` seconds from now."""
    aws.client('sqs').send_message(
        QueueUrl=settings(StartQueueSettings).start_queue_url, DelaySeconds=delay,
        MessageBody=json.dumps({'source': 'meetbridge', 'detail-type': START_DUE,
                                'detail': start_request(tenant_id, meeting_key, start)}))


def put_start_schedule(tenant_id: str, meeting_key: str, start: datetime, now: datetime) -> str | None:
    """Creates or moves the meeting's start schedule. None when there is none: the start has already passed,
    or it is too near for the schedule to fire in time, and the start request is sent to the start queue now
    (the schedule the meeting had before it moved is deleted, or it would fire for nothing)."""
    if start <= now:
        return None
    config = settings(SchedulingSettings)
    name = schedule_name(tenant_id, meeting_key)
    at = start - timedelta(seconds=config.auto_start_lead_seconds)
    if _too_near_for_a_schedule(start, now):
        delete_start_schedule(name)
        send_start_request(tenant_id, meeting_key, start,
                           max(delay_seconds(start, now), int(_MIN_DELAY.total_seconds())))
        return None
    _put_one_time(name, at, {
        'Arn': config.auto_start_function_arn,
        'Input': json.dumps({
            **start_request(tenant_id, meeting_key, start),
            'scheduled_time': '<aws.scheduler.scheduled-time>',
            'execution_id': '<aws.scheduler.execution-id>',
        }),
        'RetryPolicy': {'MaximumRetryAttempts': 3, 'MaximumEventAgeInSeconds': 300},
    }, replace=True)
    return name


def _too_near_for_a_schedule(start: datetime, now: datetime) -> bool:
    return start - timedelta(seconds=settings(SchedulingSettings).auto_start_lead_seconds) < now + _MIN_DELAY


def request_near_start_again(tenant_id: str, meeting_key: str, start: datetime) -> None:
    """Called once the meeting is saved: a start too near for a schedule is requested again, by the clock of
    now. The request `put_start_schedule` sent before the save is there for a worker killed before it
    could save; but a save that took longer than that request's delay (a slow provider, a retried write)
    lets it find the meeting still being made, or at its old start, and do nothing, and its delay counted
    from before the provider's call. Whichever request finds the meeting saved starts it, once."""
    now = datetime.now(UTC)
    if now < start and _too_near_for_a_schedule(start, now):
        send_start_request(tenant_id, meeting_key, start, delay_seconds(start, now))


def put_booking_retry(event: dict, at: datetime) -> str:
    """Queues a booking event again at `at` (after a provider's daily limit resets)."""
    name = 'retry-' + hashlib.sha256(f'{event["tenant_id"]}|{event["event_id"]}'.encode()).hexdigest()[:48]
    _put_one_time(name, at, {
        'Arn': settings(SchedulingSettings).meetings_queue_arn,
        # The shape the bus delivers to the queue, so the meetings function reads it as any other.
        'Input': json.dumps({'source': 'meetbridge', 'detail-type': event['type'], 'detail': event}),
        'RetryPolicy': {'MaximumRetryAttempts': 10, 'MaximumEventAgeInSeconds': 3600},
    }, replace=False)  # the same retry is already waiting
    return name


def delete_start_schedule(name: str | None) -> None:
    if not name:
        return
    scheduler = aws.client('scheduler')
    try:
        scheduler.delete_schedule(Name=name, GroupName=settings(ScheduleGroupSettings).schedule_group)
    except scheduler.exceptions.ResourceNotFoundException:
        pass  # already fired and deleted itself, or deleted by an earlier attempt


# --- reminders ------------------------------------------------------------------------------------


def reminder_schedule_name(tenant_id: str, meeting_key: str, offset: str) -> str:
    """Deterministic per meeting and offset, so a retried or repeated move updates the same schedule."""
    return 'reminder-' + hashlib.sha256(f'{tenant_id}|{meeting_key}|{offset}'.encode()).hexdigest()[:48]


def put_reminder_schedule(tenant_id: str, meeting_key: str, start: datetime, offset: str, at: datetime) -> str:
    """Creates or moves the meeting's reminder `offset` before `start`, due at `at`: a meeting.reminder
    notice put on the notifications queue in the shape the bus delivers (docs/events.md)."""
    name = reminder_schedule_name(tenant_id, meeting_key, offset)
    start_utc = start.astimezone(UTC).isoformat().replace('+00:00', 'Z')
    notice = {
        'notice_id': f'{tenant_id}/{meeting_key}/reminder/{offset}/{start_utc}',
        'tenant_id': tenant_id,
        'meeting_key': meeting_key,
        'change': 'reminder',
        'start': start_utc,
        'offset': offset,
    }
    _put_one_time(name, at, {
        'Arn': settings(ReminderSettings).notifications_queue_arn,
        'Input': json.dumps({'source': events.SOURCE, 'detail-type': events.MEETING_REMINDER, 'detail': notice}),
        # A reminder is worth sending only near its time.
        'RetryPolicy': {'MaximumRetryAttempts': 3, 'MaximumEventAgeInSeconds': 300},
    }, replace=True)
    return name


def delete_reminder_schedules(names: Iterable[str]) -> None:
    scheduler = aws.client('scheduler')
    for name in names:
        try:
            scheduler.delete_schedule(Name=name, GroupName=settings(ScheduleGroupSettings).schedule_group)
        except scheduler.exceptions.ResourceNotFoundException:
            pass  # already sent and deleted itself, or deleted by an earlier attempt


# --- alert digests --------------------------------------------------------------------------------

# What an alert window's schedule puts on the alerts queue when the window ends (logic/alerts.py).
ALERTS_FLUSH_DUE = 'alerts.flush_due'


def put_alert_flush(tenant_id: str, group: str, window_until: datetime, at: datetime) -> str:
    """The one-time schedule, due at `at`, that ends an alert group's window (`window_until`): its digest is
    sent then. Named after the window, so the same window's schedule is made once however often this is called."""
    window = window_until.astimezone(UTC).isoformat().replace('+00:00', 'Z')
    name = 'alerts-' + hashlib.sha256(f'{tenant_id}|{group}|{window}'.encode()).hexdigest()[:48]
    _put_one_time(name, at, {
        'Arn': settings(AlertQueuesSettings).alerts_queue_arn,
        'Input': json.dumps({'source': events.SOURCE, 'detail-type': ALERTS_FLUSH_DUE,
                             'detail': {'tenant_id': tenant_id, 'group': group, 'window_until': window}}),
        # A digest late by hours is still worth sending: its alerts are kept for it alone.
        'RetryPolicy': {'MaximumRetryAttempts': 185, 'MaximumEventAgeInSeconds': 86400},
    }, replace=False)
    return name
