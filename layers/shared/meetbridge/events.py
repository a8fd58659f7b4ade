"""The event catalogue (docs/events.md) and publishing onto the bus.

booking.*     from booking sources, consumed by the meetings function
meeting.*     what happened to a meeting, consumed by the notifications function
connection.*  meeting-account health, consumed by the notifications function
"""

import json
from typing import Any

from meetbridge import aws
from meetbridge.config import EventsSettings, settings
from meetbridge.errors import RetryLater

SOURCE = 'meetbridge'

MEETING_SCHEDULED = 'meeting.scheduled'
MEETING_RESCHEDULED = 'meeting.rescheduled'
MEETING_CANCELLED = 'meeting.cancelled'
MEETING_STARTED = 'meeting.started'
MEETING_FAILED = 'meeting.failed'
# A booking's change has waited longer than the meetings function's WAITING_NOTICE_SECONDS (told once).
MEETING_DELAYED = 'meeting.delayed'
CONNECTION_BROKEN = 'connection.broken'


def publish(detail_type: str, detail: dict[str, Any]) -> None:
    result = aws.client('events').put_events(
        Entries=[
            {
                'Source': SOURCE,
                'DetailType': detail_type,
                'Detail': json.dumps(detail, separators=(',', ':'), default=str),
                'EventBusName': settings(EventsSettings).event_bus_name,
            }
        ]
    )
    if result.get('FailedEntryCount'):
        raise RetryLater(f'event bus refused {detail_type}')
