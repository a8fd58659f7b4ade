"""Reminders: the tenant's offsets, and one schedule per meeting and offset that moves with the meeting,
vanishes with it and puts a meeting.reminder notice on the notifications queue."""

import json
import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest
from bookings import booking_event
from integration_stack import sent_emails

from infra.local.scheduler import fire_time, render_input
from meetbridge.scheduling import reminder_schedule_name
from meetbridge.store import repository
from meetbridge.store.models import MeetingItem


def _reminders(stack) -> dict[str, dict]:
    """The tenant's reminder schedules, by offset."""
    scheduler = boto3.client('scheduler')
    summaries = scheduler.list_schedules(GroupName=os.environ['SCHEDULE_GROUP'], NamePrefix='reminder-')['Schedules']
    found = {}
    for summary in summaries:
        schedule = scheduler.get_schedule(GroupName=os.environ['SCHEDULE_GROUP'], Name=summary['Name'])
        found[json.loads(schedule['Target']['Input'])['detail']['offset']] = schedule
    return found


def _due(schedule: dict) -> datetime:
    return fire_time(schedule['ScheduleExpression'], schedule['ScheduleExpressionTimezone'])


def _set_offsets(stack, offsets: list[str]) -> None:
    assert stack.admin('PUT', 'settings/reminders', {'offsets': offsets}) == (200, {'offsets': offsets})


def _meeting(stack, meeting_key: str) -> MeetingItem:
    return repository.find(MeetingItem, MeetingItem.key(stack.tenant.tenant_id, meeting_key))


def test_the_tenants_offsets_default_to_one_hour_and_are_kept_normalised(stack):
    assert stack.admin('GET', 'settings/reminders') == (200, {'offsets': ['PT1H']})

    assert stack.admin('PUT', 'settings/reminders', {'offsets': ['PT24H', 'PT1H']}) == (200, {'offsets': ['P1D', 'PT1H']})
    assert stack.admin('GET', 'settings/reminders') == (200, {'offsets': ['P1D', 'PT1H']})

    _set_offsets(stack, [])
    assert stack.admin('GET', 'settings/reminders') == (200, {'offsets': []})


@pytest.mark.parametrize('body, field', [
    ({'offsets': ['P2D', 'P1D', 'PT1H', 'PT5M']}, 'offsets'),
    ({'offsets': ['PT1H', 'P1M']}, 'offsets.1'),
    ({'offsets': ['P1Y']}, 'offsets.0'),
    ({'offsets': ['PT0M']}, 'offsets.0'),
    ({'offsets': ['-PT1H']}, 'offsets.0'),
    ({'offsets': ['P31D']}, 'offsets.0'),
    ({'offsets': ['PT30S']}, 'offsets.0'),
    ({'offsets': ['P' + '1' * 5000 + 'D']}, 'offsets.0'),
    ({'offsets': ['PT60M', 'PT1H']}, 'offsets'),
    ({'offsets': [3600]}, 'offsets.0'),
    ({'offsets': 'PT1H'}, 'offsets'),
    ({}, 'offsets'),
    ({'offsets': ['PT1H'], 'extra': 1}, 'extra'),
])
def test_bad_offsets_are_refused_naming_the_field_and_change_nothing(stack, body, field):
    _set_offsets(stack, ['PT2H'])

    status, problem = stack.admin('PUT', 'settings/reminders', body)

    assert (status, problem['error'], problem['field']) == (400, 'invalid_request', field)
    assert stack.admin('GET', 'settings/reminders') == (200, {'offsets': ['PT2H']})


def test_each_reminder_is_scheduled_its_offset_before_the_start_in_utc_with_the_notice_as_input(stack):
    stack.setup_online_service()
    _set_offsets(stack, ['P1D', 'PT15M'])
    # A booking written in New York's time: the schedules hold the instant in UTC.
    start = (datetime.now(UTC) + timedelta(days=3)).astimezone(ZoneInfo('America/New_York')).replace(microsecond=0)

    stack.book(booking_event(start=start))

    schedules = _reminders(stack)
    assert sorted(schedules) == ['P1D', 'PT15M']
    start_utc = start.astimezone(UTC).isoformat().replace('+00:00', 'Z')
    notifications = stack.cloud.queues['notifications'].arn
    for offset, before in (('P1D', timedelta(days=1)), ('PT15M', timedelta(minutes=15))):
        schedule = schedules[offset]
        assert schedule['Name'] == reminder_schedule_name(stack.tenant.tenant_id, 'booking:b1', offset)
        assert schedule['ScheduleExpressionTimezone'] == 'UTC'
        assert schedule['ScheduleExpression'] == f'at({(start - before).astimezone(UTC):%Y-%m-%dT%H:%M:%S})'
        assert _due(schedule) == start - before
        assert schedule['ActionAfterCompletion'] == 'DELETE'
        assert schedule['FlexibleTimeWindow'] == {'Mode': 'OFF'}
        assert schedule['Target']['Arn'] == notifications
        assert schedule['Target']['RoleArn'] == os.environ['SCHEDULER_ROLE_ARN']
        assert schedule['Target']['DeadLetterConfig'] == {'Arn': os.environ['SCHEDULER_DLQ_ARN']}
        assert json.loads(schedule['Target']['Input']) == {
            'source': 'meetbridge',
            'detail-type': 'meeting.reminder',
            'detail': {
                'notice_id': f'{stack.tenant.tenant_id}/booking:b1/reminder/{offset}/{start_utc}',
                'tenant_id': stack.tenant.tenant_id,
                'meeting_key': 'booking:b1',
                'change': 'reminder',
                'start': start_utc,
                'offset': offset,
            },
        }
    assert sorted(_meeting(stack, 'booking:b1').reminder_schedule_names) == sorted(
        schedule['Name'] for schedule in schedules.values())


def test_reminders_move_with_a_reschedule_and_vanish_with_a_cancel(stack):
    stack.setup_online_service()
    _set_offsets(stack, ['P1D', 'PT1H'])
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    stack.book(booking_event(start=start))
    names = {offset: schedule['Name'] for offset, schedule in _reminders(stack).items()}

    later = start + timedelta(hours=5)
    stack.book(booking_event('booking.rescheduled', start=later))

    moved = _reminders(stack)
    assert {offset: schedule['Name'] for offset, schedule in moved.items()} == names
    assert _due(moved['P1D']) == later - timedelta(days=1)
    assert _due(moved['PT1H']) == later - timedelta(hours=1)
    assert json.loads(moved['PT1H']['Target']['Input'])['detail']['start'] == later.isoformat().replace('+00:00', 'Z')

    stack.book(booking_event('booking.cancelled', start=later))

    assert _reminders(stack) == {}
    assert _meeting(stack, 'booking:b1').reminder_schedule_names is None


def test_a_reminder_already_passed_or_under_a_minute_away_is_not_created(stack):
    stack.setup_online_service()
    _set_offsets(stack, ['P1D', 'PT1H', 'PT5M'])
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)

    stack.book(booking_event(start=start))

    assert sorted(_reminders(stack)) == ['PT1H', 'PT5M']

    # Moved to start in 5 minutes 30 seconds: the 1-hour reminder has passed, the 5-minute one is 30 s away.
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5, seconds=30)
    stack.book(booking_event('booking.rescheduled', start=soon))

    assert _reminders(stack) == {}
    assert _meeting(stack, 'booking:b1').reminder_schedule_names is None


def test_no_offsets_no_reminders(stack):
    stack.setup_online_service()
    _set_offsets(stack, [])

    stack.book(booking_event())

    assert _reminders(stack) == {}
    assert _meeting(stack, 'booking:b1').schedule_name is not None  # the start is scheduled all the same


def test_a_class_session_has_one_reminder_per_offset_whatever_its_clients(stack):
    stack.setup_online_service()
    _set_offsets(stack, ['P1D', 'PT1H'])
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)

    for booking_id, client_id in (('b1', 'anna'), ('b2', 'ben'), ('b3', 'cleo')):
        stack.book(booking_event(booking_id=booking_id, client_id=client_id, session_id='yoga-mon', start=start))

    schedules = _reminders(stack)
    assert sorted(schedules) == ['P1D', 'PT1H']
    assert {json.loads(s['Target']['Input'])['detail']['meeting_key'] for s in schedules.values()} == {'session:yoga-mon'}

    # One client leaving keeps the session's reminders; the last one leaving takes them away.
    stack.book(booking_event('booking.cancelled', booking_id='b1', client_id='anna', session_id='yoga-mon', start=start))
    assert sorted(_reminders(stack)) == ['P1D', 'PT1H']
    for booking_id, client_id in (('b2', 'ben'), ('b3', 'cleo')):
        stack.book(booking_event('booking.cancelled', booking_id=booking_id, client_id=client_id,
                                 session_id='yoga-mon', start=start))
    assert _reminders(stack) == {}


def test_offsets_changed_later_apply_to_meetings_moved_and_the_old_ones_are_still_deleted(stack):
    stack.setup_online_service()
    _set_offsets(stack, ['P1D', 'PT1H'])
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    stack.book(booking_event(booking_id='b1', client_id='c1', start=start))
    stack.book(booking_event(booking_id='b2', client_id='c2', start=start))

    _set_offsets(stack, ['PT30M'])

    # A meeting made before keeps its reminders until it moves.
    assert sorted(_reminders(stack)) == ['P1D', 'PT1H']
    assert len(_meeting(stack, 'booking:b1').reminder_schedule_names) == 2

    later = start + timedelta(hours=2)
    stack.book(booking_event('booking.rescheduled', booking_id='b1', client_id='c1', start=later))
    assert sorted(_meeting(stack, 'booking:b1').reminder_schedule_names) == [
        reminder_schedule_name(stack.tenant.tenant_id, 'booking:b1', 'PT30M')]

    # b2 was not moved: its cancel deletes the reminders it was given, by the names it recorded.
    stack.book(booking_event('booking.cancelled', booking_id='b2', client_id='c2', start=start))
    remaining = _reminders(stack)
    assert sorted(remaining) == ['PT30M']
    assert _due(remaining['PT30M']) == later - timedelta(minutes=30)


def test_a_fired_reminder_sends_the_reminder_emails_with_the_links(stack):
    stack.setup_online_service()
    stack.book(booking_event())
    [schedule] = _reminders(stack).values()

    # What Scheduler sends to its SQS target: the Input, as it is.
    payload = render_input(schedule['Target']['Input'], scheduled=_due(schedule), execution_id='x1', attempt=1,
                           arn=schedule['Arn'])
    boto3.client('sqs').send_message(QueueUrl=stack.cloud.queues['notifications'].url, MessageBody=json.dumps(payload))

    assert stack.pump()['notifications'] == [{'batchItemFailures': []}]
    links = stack.view('b1')[1]['links']
    reminders = {m.destinations['ToAddresses'][0]: m.body for m in sent_emails() if m.subject.startswith('Reminder')}
    assert sorted(reminders) == ['c1@example.org', 'dana@example.com']
    assert links['clients']['c1'] in reminders['c1@example.org']
    assert links['provider'] in reminders['dana@example.com']
