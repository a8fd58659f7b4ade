"""One-time EventBridge Scheduler schedules that start meetings.

Scheduler fires within the minute after its time, so a meeting's schedule is set `lead` seconds
before the start and the auto_start function waits for the exact second. Every time a schedule
holds is UTC: its `at()` expression (with `ScheduleExpressionTimezone: UTC`) and its Input.
"""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from meetbridge import aws, events
from meetbridge.config import ReminderSettings, SchedulingSettings, settings

# Scheduler needs a little time between creating a schedule and its first moment.
_MIN_DELAY = timedelta(seconds=5)


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
    config = settings(SchedulingSettings)
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


def put_start_schedule(tenant_id: str, meeting_key: str, start: datetime, now: datetime) -> str | None:
    """Creates or moves the meeting's start schedule; None when the start has already passed."""
    if start <= now:
        return None
    config = settings(SchedulingSettings)
    name = schedule_name(tenant_id, meeting_key)
    _put_one_time(name, max(start - timedelta(seconds=config.auto_start_lead_seconds), now + _MIN_DELAY), {
        'Arn': config.auto_start_function_arn,
        'Input': json.dumps({
            'tenant_id': tenant_id,
            'meeting_key': meeting_key,
            'start': start.astimezone(UTC).isoformat(),
            'scheduled_time': '<aws.scheduler.scheduled-time>',
            'execution_id': '<aws.scheduler.execution-id>',
        }),
        'RetryPolicy': {'MaximumRetryAttempts': 3, 'MaximumEventAgeInSeconds': 300},
    }, replace=True)
    return name


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
        scheduler.delete_schedule(Name=name, GroupName=settings(SchedulingSettings).schedule_group)
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
            scheduler.delete_schedule(Name=name, GroupName=settings(SchedulingSettings).schedule_group)
        except scheduler.exceptions.ResourceNotFoundException:
            pass  # already sent and deleted itself, or deleted by an earlier attempt
