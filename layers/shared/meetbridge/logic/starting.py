"""Starting a meeting: on the booked second by its schedule, or early by the provider."""

import time
from datetime import UTC, datetime

from meetbridge import events, outbox
from meetbridge.errors import NotFound
from meetbridge.store import repository
from meetbridge.store.models import MeetingItem

# The schedule fires up to lead + 60 s before the start; waiting longer than this means a bad input.
MAX_WAIT_SECONDS = 190


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


def start_on_time(tenant_id: str, meeting_key: str, start: datetime, clock=datetime.now, sleep=time.sleep) -> str:
    """Called when the meeting's schedule fires: waits for the exact start, then starts it."""
    try:
        meeting = repository.get_meeting(tenant_id, meeting_key)
    except NotFound:
        return 'meeting no longer exists'
    if meeting.start != start:
        return 'stale schedule: the meeting was moved'
    if meeting.status != 'scheduled':
        return f'nothing to do: meeting is {meeting.status}'
    wait = (start - clock(UTC)).total_seconds()
    if 0 < wait <= MAX_WAIT_SECONDS:
        sleep(wait)
    elif wait > MAX_WAIT_SECONDS:
        return 'schedule fired too early; it will not start the meeting'
    meeting.refresh()
    if meeting.start != start:
        return 'stale schedule: the meeting was moved'
    return 'started' if mark_started(tenant_id, meeting, 'schedule', clock(UTC)) else 'already started'
