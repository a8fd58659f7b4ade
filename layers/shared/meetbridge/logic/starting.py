"""Starting a meeting: on the booked second by its start request, or early by the provider."""

import time
from datetime import UTC, datetime

from meetbridge import events, outbox, scheduling
from meetbridge.errors import Conflict, NotFound
from meetbridge.store import repository
from meetbridge.store.models import MeetingItem

# A start request arrives less than a second before its start (its delay is whole seconds), so the start
# step never waits longer than this.
MAX_WAIT_SECONDS = 1.0


def mark_started(tenant_id: str, meeting: MeetingItem, by: str, now: datetime, role: str | None = None) -> bool:
    """Moves a scheduled meeting to started; False when someone else already did (or it is gone). `role` is
    the role of the API key that started it by hand (`by` 'manual')."""
    if meeting.status != 'scheduled':
        return False
    meeting.status, meeting.started_at, meeting.started_by, meeting.updated_at = 'started', now, by, now
    meeting.started_by_role = role
    # The meeting and its event in one write: the event goes out even if the bus refuses it now.
    outbox.save(tenant_id, meeting, events.Event(
        subject=f'meeting#{meeting.meeting_key}#started',
        event_id=f'{tenant_id}/{meeting.meeting_key}/started/{now.isoformat()}',
        detail_type=events.MEETING_STARTED,
        detail={
            'tenant_id': tenant_id,
            'meeting_key': meeting.meeting_key,
            'started_by': by,
            'started_by_role': role,
            'start': meeting.start.isoformat(),
            'started_at': now.isoformat(),
        },
    ))
    return True


def remainder_seconds(start: datetime, now: datetime) -> float:
    """How long the start step waits: what is left of the last second; nothing once the start is reached."""
    return min(max((start - now).total_seconds(), 0.0), MAX_WAIT_SECONDS)


def _startable(tenant_id: str, meeting_key: str, start: datetime, now: datetime) -> MeetingItem | str:
    """The meeting, when it is still scheduled at `start` and not over; else why a request for it does nothing
    (a request replayed from the dead-letter queue days later must not start a meeting that has ended)."""
    try:
        meeting = repository.get_meeting(tenant_id, meeting_key)
    except NotFound:
        return 'meeting no longer exists'
    if meeting.start != start:
        return 'stale request: the meeting was moved'
    if meeting.status != 'scheduled':
        return f'nothing to do: meeting is {meeting.status}'
    if now >= meeting.end:
        return 'nothing to do: the meeting is over'
    return meeting


def hand_over(tenant_id: str, meeting_key: str, start: datetime, clock=datetime.now) -> str | None:
    """The coarse step (a schedule fired, or a message that could not wait the whole way arrived): with a
    second or more left, the request goes to the start queue delayed by the whole seconds left, and this
    returns what was done. None when less than a second is left (or the start is reached): start it now."""
    if not scheduling.delay_seconds(start, clock(UTC)):
        return None
    meeting = _startable(tenant_id, meeting_key, start, clock(UTC))
    if isinstance(meeting, str):
        return meeting
    delay = scheduling.delay_seconds(start, clock(UTC))
    if not delay:
        return None  # the check took the last second
    scheduling.send_start_request(tenant_id, meeting_key, start, delay)
    return f'handed over: due in {delay} s'


def start_on_time(tenant_id: str, meeting_key: str, start: datetime, clock=datetime.now, sleep=time.sleep) -> str:
    """The start step, less than a second before the start: waits out that remainder, then starts the meeting
    unless it was cancelled or moved since."""
    sleep(remainder_seconds(start, clock(UTC)))
    try:
        return _start_if_startable(tenant_id, meeting_key, start, clock)
    except Conflict:
        # Another write landed on the meeting since it was read (a class's booking joined, a link was
        # extended): read it again at once, rather than after the message's visibility timeout.
        return _start_if_startable(tenant_id, meeting_key, start, clock)


def _start_if_startable(tenant_id: str, meeting_key: str, start: datetime, clock) -> str:
    meeting = _startable(tenant_id, meeting_key, start, clock(UTC))
    if isinstance(meeting, str):
        return meeting
    return 'started' if mark_started(tenant_id, meeting, 'schedule', clock(UTC)) else 'already started'
