"""Reminders before a meeting's start: the tenant's offsets and the meeting's reminder schedules.

An offset is an ISO 8601 duration before the start in days, hours and minutes (`P1D`, `PT1H`, `PT1H30M`),
from SHORTEST to LONGEST; a tenant has at most MAX_OFFSETS of them, DEFAULT_OFFSETS until it sets its own,
and none once it sets an empty list. Each is kept in pydantic's ISO 8601 spelling of its value (`PT24H` is
kept as `P1D`), so two spellings of one offset are one offset.

A meeting gets one schedule per offset (a class session too, whatever its number of clients), set when the
meeting is made or moved with the tenant's offsets of that moment; the meeting records the names, so a
cancel or a move deletes exactly those, whatever the offsets are by then.
"""

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from meetbridge import scheduling
from meetbridge.store import repository
from meetbridge.store.models import MeetingItem, TenantItem

DEFAULT_OFFSETS = ('PT1H',)
MAX_OFFSETS = 3
# Scheduler fires within the minute after a schedule's time: a shorter offset could arrive after the start.
SHORTEST = timedelta(minutes=1)
LONGEST = timedelta(days=30)
# A reminder whose time is closer than this when its meeting is made or moved is skipped, not sent late.
SOONEST = timedelta(minutes=1)
# Whole days, hours and minutes only: no months or years (of no fixed length), weeks, seconds or fractions.
_DURATION = re.compile(r'P(?=[0-9]|T[0-9])([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?)?')
_DURATIONS = TypeAdapter(timedelta)
MAX_OFFSET_CHARS = 16  # more than any offset in range needs; a longer string is refused unparsed


def value_of(offset: str) -> timedelta:
    """The duration an offset stands for; ValueError saying what is accepted."""
    if not _DURATION.fullmatch(offset):
        raise ValueError('must be an ISO 8601 duration in days, hours and minutes, such as PT1H, PT30M or P1D')
    try:
        value = _DURATIONS.validate_python(offset)
    except ValidationError:  # more days than a timedelta holds
        value = None
    if value is None or not SHORTEST <= value <= LONGEST:
        raise ValueError(f'must be from {_spelling(SHORTEST)} to {_spelling(LONGEST)} before the start')
    return value


def _spelling(value: timedelta) -> str:
    return _DURATIONS.dump_python(value, mode='json')


def normalised(offset: str) -> str:
    """The offset in its one spelling (`PT24H` -> `P1D`); ValueError when it is not one."""
    return _spelling(value_of(offset))


def distinct(offsets: list[str]) -> list[str]:
    """Normalised offsets, each once; ValueError naming the one given twice."""
    seen = set()
    for offset in offsets:
        if offset in seen:
            raise ValueError(f'{offset} is given twice')
        seen.add(offset)
    return offsets


def offsets_of(tenant: TenantItem) -> list[str]:
    return list(DEFAULT_OFFSETS if tenant.reminder_offsets is None else tenant.reminder_offsets)


def due(start: datetime, offsets: Iterable[str], now: datetime) -> list[tuple[str, datetime]]:
    """(offset, when) of each reminder still to send for a meeting at `start`."""
    times = ((offset, start - value_of(offset)) for offset in offsets)
    return [(offset, at) for offset, at in times if at - now >= SOONEST]


def schedule(tenant_id: str, meeting: MeetingItem, now: datetime) -> None:
    """Sets the meeting's reminders for its start with the tenant's current offsets and deletes those it had
    that are not among them (a move, or offsets changed since); the caller saves the meeting."""
    offsets = offsets_of(repository.get_tenant(tenant_id))
    names = [scheduling.put_reminder_schedule(tenant_id, meeting.meeting_key, meeting.start, offset, at)
             for offset, at in due(meeting.start, offsets, now)]
    scheduling.delete_reminder_schedules(sorted(set(meeting.reminder_schedule_names or ()) - set(names)))
    meeting.reminder_schedule_names = names or None


def unschedule(meeting: MeetingItem) -> None:
    """Deletes the meeting's reminder schedules (cancelled); the caller saves the meeting."""
    scheduling.delete_reminder_schedules(meeting.reminder_schedule_names or ())
    meeting.reminder_schedule_names = None
