"""UTC everywhere: a booking written in any offset and zone starts on its instant.

A property-based run of the lifecycle (webhook, start schedule, auto_start, waiting page, emails)
over offsets from -12:00 to +14:00, half- and quarter-hour zones, and starts on both sides of the
DST changes of the client's and the provider's zones. Derandomized and without a database, so each
run tries the same examples.
"""

import functools
import itertools
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import boto3
from bookings import booking_event
from helpers import Clock, LambdaContext, handler, join_event, sqs_event
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from integration_stack import sent_emails

from infra.local.scheduler import fire_time, render_input
from meetbridge.scheduling import schedule_name

LEAD = timedelta(seconds=int(os.environ['AUTO_START_LEAD_SECONDS']))
FIXED_ZONES = ['Etc/GMT+12', 'Pacific/Pago_Pago', 'Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Tehran', 'UTC',
               'Pacific/Kiritimati']  # -12:00 ... +14:00, half and quarter hours, no DST
DST_ZONES = ['America/St_Johns', 'America/New_York', 'America/Santiago', 'Europe/London', 'Europe/Berlin',
             'Australia/Adelaide', 'Australia/Lord_Howe', 'Pacific/Chatham']  # Lord Howe moves by 30 min
ZONES = FIXED_ZONES + DST_ZONES


@functools.cache
def transitions(zone_name: str) -> list[datetime]:
    """The instants in 2030-2031 at which the zone's offset changes, to the minute."""
    zone, found = ZoneInfo(zone_name), []
    hour = datetime(2030, 1, 1, tzinfo=UTC)
    while hour.year < 2032:
        following = hour + timedelta(hours=1)
        if hour.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            found.extend(minute for minute in (hour + timedelta(minutes=m) for m in range(1, 61))
                         if minute.astimezone(zone).utcoffset() != (minute - timedelta(minutes=1)).astimezone(zone).utcoffset())
        hour = following
    return found


@dataclass(frozen=True)
class Case:
    start: datetime  # the instant, UTC
    written: timezone | None  # the offset the platform writes the start in; None: the provider's zone's own
    provider_zone: str  # also the booking's time zone
    client_zone: str | None  # None: the client's emails and page use the booking's zone
    late_seconds: int  # Scheduler fires within the minute after the schedule's time


@st.composite
def cases(draw) -> Case:
    provider_zone, client_zone = draw(st.sampled_from(ZONES)), draw(st.sampled_from(ZONES + [None]))
    near = draw(st.sampled_from(['provider', 'client', 'anywhere']))
    if near != 'anywhere':
        zone = draw(st.sampled_from(DST_ZONES))
        provider_zone, client_zone = (zone, client_zone) if near == 'provider' else (provider_zone, zone)
        start = draw(st.sampled_from(transitions(zone))) + timedelta(seconds=draw(st.integers(-3 * 3600, 3 * 3600)))
    else:
        start = draw(st.datetimes(datetime(2030, 1, 1), datetime(2031, 12, 31), timezones=st.just(UTC)))
    written = draw(st.one_of(st.none(), st.integers(-48, 56).map(lambda q: timezone(timedelta(minutes=15 * q)))))
    return Case(start.replace(microsecond=0), written, provider_zone, client_zone, draw(st.integers(0, 59)))


def _label(zone_name: str, moment: datetime) -> str:
    """How a page or an email names the reader's zone: with its offset at that moment."""
    minutes = int(moment.astimezone(ZoneInfo(zone_name)).utcoffset().total_seconds() // 60)
    return f"{zone_name}, UTC{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _local(moment: datetime, zone_name: str, layout: str) -> str:
    return moment.astimezone(ZoneInfo(zone_name)).strftime(layout)


def _in_english(moment: datetime, zone_name: str) -> str:
    """The start as an English email writes it (CLDR's full date and short time): Monday, June 3, 2030, 12:45 PM."""
    local = moment.astimezone(ZoneInfo(zone_name))
    return f'{local:%A}, {local:%B} {local.day}, {local.year}, {local.hour % 12 or 12}:{local:%M} {local:%p}'


def test_the_lifecycle_keeps_every_instant_in_any_zone_and_offset(stack):
    stack.setup_online_service()
    numbers = itertools.count()

    @settings(max_examples=20, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(cases())
    # The bookings: 09:00-05:00 was scheduled five hours early, a +02:00 one two hours late.
    @example(Case(datetime(2030, 3, 14, 14, 0, tzinfo=UTC), timezone(timedelta(hours=-5)), 'America/New_York',
                  'America/New_York', 0))
    @example(Case(datetime(2030, 6, 3, 7, 0, tzinfo=UTC), None, 'Europe/Berlin', 'Asia/Kathmandu', 59))
    # A quarter-hour zone's DST change, and the hour New York lives twice.
    @example(Case(transitions('Pacific/Chatham')[0] - timedelta(minutes=1), None, 'Pacific/Chatham',
                  'Pacific/Chatham', 30))
    @example(Case(datetime(2030, 11, 3, 6, 30, tzinfo=UTC), None, 'Europe/London', 'America/New_York', 1))
    def one_booking(case: Case):
        n = next(numbers)
        booking_id, client, provider = f'tz{n}', f'cl{n}', f'pr{n}'
        assert stack.admin('PUT', f'providers/{provider}', {'name': 'Dana Doe', 'email': f'{provider}@example.com',
                                                            'timezone': case.provider_zone})[0] == 200
        body = booking_event(booking_id=booking_id, client_id=client, provider_id=provider,
                             start=case.start.astimezone(case.written or ZoneInfo(case.provider_zone)))
        body['booking']['timezone'] = case.provider_zone
        body['booking']['client']['timezone'] = case.client_zone
        stack.book(body)
        view = stack.view(booking_id)[1]
        assert datetime.fromisoformat(view['booking']['start']) == case.start
        client_zone = case.client_zone or case.provider_zone

        # The schedule: its at() in its timezone is the instant, `lead` before the start.
        schedule = boto3.client('scheduler').get_schedule(
            Name=schedule_name(stack.tenant.tenant_id, view['meeting']['key']), GroupName=os.environ['SCHEDULE_GROUP'])
        assert schedule['ScheduleExpressionTimezone'] == 'UTC'
        fires_at = fire_time(schedule['ScheduleExpression'], schedule['ScheduleExpressionTimezone'])
        assert fires_at == case.start - LEAD

        # The waiting page, before the start, in the client's zone.
        page = handler('join')(join_event(view['links']['clients'][client].rsplit('/', 1)[1]), stack.context)
        assert page['statusCode'] == 200
        client_label, provider_label = _label(client_zone, case.start), _label(case.provider_zone, case.start)
        assert f"{_local(case.start, client_zone, '%A %d %B %Y, %H:%M')} ({client_label})" in page['body']

        # Each email in its reader's zone.
        [client_mail] = [m for m in sent_emails() if m.destinations['ToAddresses'] == [f'{client}@example.org']]
        [provider_mail] = [m for m in sent_emails() if m.destinations['ToAddresses'] == [f'{provider}@example.com']]
        assert f"{_in_english(case.start, client_zone)}</b> ({client_label})" in client_mail.body
        assert f"{_in_english(case.start, case.provider_zone)}</b> ({provider_label})" in provider_mail.body

        # The schedule fires (its Input as Scheduler renders it) late in its minute, auto_start hands over to
        # a message delayed by the seconds left, and that message starts the meeting on the booked second.
        clock = Clock(fires_at + timedelta(seconds=case.late_seconds))
        payload = render_input(schedule['Target']['Input'], scheduled=fires_at, execution_id=f'x{n}', attempt=1,
                               arn=schedule['Arn'])
        with clock.running_auto_start():
            assert handler('auto_start')(payload, LambdaContext())['outcome'].startswith('handed over')
            [(delay, record)] = stack.cloud.queues['start'].take_delayed()
            assert delay == (LEAD - timedelta(seconds=case.late_seconds)).total_seconds()
            clock.now += timedelta(seconds=delay)
            assert handler('auto_start')(sqs_event([record]), LambdaContext()) == {'batchItemFailures': []}
        meeting = stack.view(booking_id)[1]['meeting']
        assert (meeting['status'], datetime.fromisoformat(meeting['started_at'])) == ('started', case.start)
        started = [json.loads(r['body'])['detail'] for r in stack.cloud.queues['notifications'].receive()]
        assert [datetime.fromisoformat(e['started_at']) for e in started] == [case.start]

    one_booking()
