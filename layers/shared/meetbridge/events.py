"""The event catalogue (docs/events.md) and publishing onto the bus.

booking.*     from booking sources, consumed by the meetings function (booking.problem: by the alerts)
meeting.*     what happened to a meeting, consumed by the notifications function
connection.*  meeting-account health, consumed by the meetings function (re-homing) and the alerts
accounts.*    summaries of re-homing, consumed by the alerts

A state change that announces an event goes through meetbridge.outbox, which publishes it here.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
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
# One booking or class session switched to in person by the admin: its meeting is deleted, its links say so.
MEETING_IN_PERSON = 'meeting.in_person'
# A reminder before the start, put on the notifications queue by its own schedule (meetbridge.scheduling).
MEETING_REMINDER = 'meeting.reminder'
# A booking's change has waited longer than the meetings function's WAITING_NOTICE_SECONDS (told once).
MEETING_DELAYED = 'meeting.delayed'
# The meeting's room changed (re-made on another account, or again after it was deleted at the provider): its
# people are told the new details; their links stay the same.
MEETING_DETAILS_CHANGED = 'meeting.details_changed'
# A request to the meetings function to make a live meeting again, on the account its chain names now.
MEETING_REHOME = 'meeting.rehome'
CONNECTION_BROKEN = 'connection.broken'
# Disconnected by the admin (DELETE of the account) or replaced by another account of its holder.
CONNECTION_DISCONNECTED = 'connection.disconnected'
# An account was connected or set (OAuth, a custom link, the fallback): bookings that failed for lack of one
# get their meetings.
CONNECTION_CONNECTED = 'connection.connected'
# An account will stop working unless someone acts (its tokens cannot be renewed ahead of their expiry).
CONNECTION_EXPIRING = 'connection.expiring'
# A booking needs the admin's attention though it has (or will get) a meeting: it fell back, or its meeting was
# made again.
BOOKING_PROBLEM = 'booking.problem'
# The future meetings of an account that went away were re-homed: a summary (re-homed, failed, why).
ACCOUNTS_RECONCILED = 'accounts.reconciled'


@dataclass(frozen=True)
class Event:
    """An event as the outbox keeps it until it is on the bus."""

    subject: str  # what it is about: a newer event about the same subject replaces one not yet published
    event_id: str  # the same on every publication; it is put into the detail as `event_id`
    detail_type: str
    detail: dict[str, Any]


def connection_broken(tenant_id: str, item, problem: str, reason: str) -> Event:
    """A meeting account stopped working; `item` is its AccountItem as read, before the write that marks it.
    `reason`: refused (a refresh) | deauthorized (by its user at the provider) | check_failed (a health check)."""
    return Event(
        subject=f'account#{item.account_id}',
        # The version the marking write gives the account: a redelivery repeats it, a later breakage does not.
        event_id=f'{tenant_id}/{item.account_id}/broken/v{(item.version or 0) + 1}',
        detail_type=CONNECTION_BROKEN,
        detail={'tenant_id': tenant_id, 'account_id': item.account_id, 'holder': item.holder, 'type': item.type,
                'problem': problem, 'reason': reason},
    )


def connection_disconnected(tenant_id: str, item, holder: str | None, reason: str) -> Event:
    """An account let go on our side (reason admin: its DELETE; replaced: its holder connected another one);
    `item` as read before the write that marks it, `holder` the one it had."""
    return Event(
        subject=f'account#{item.account_id}',
        event_id=f'{tenant_id}/{item.account_id}/disconnected/v{(item.version or 0) + 1}',
        detail_type=CONNECTION_DISCONNECTED,
        detail={'tenant_id': tenant_id, 'account_id': item.account_id, 'holder': holder, 'type': item.type,
                'reason': reason},
    )


def booking_problem(tenant_id: str, meeting_key: str, booking_id: str | None, account_id: str | None, kind: str,
                    problem: str, occurrence: str) -> Event:
    """`occurrence` tells this problem of the meeting from another of the same kind (a generation, an account)."""
    event_id = f'{tenant_id}/{meeting_key}/{kind}/{occurrence}'
    return Event(
        subject=f'problem#{event_id}',
        event_id=event_id,
        detail_type=BOOKING_PROBLEM,
        detail={'tenant_id': tenant_id, 'booking_id': booking_id, 'meeting_key': meeting_key,
                'account_id': account_id, 'kind': kind, 'problem': problem},
    )


def meeting_details_changed(tenant_id: str, meeting_key: str, generation: int, start) -> Event:
    """The room of the meeting's `generation` differs from what its people were sent: they are told once."""
    notice_id = f'{tenant_id}/{meeting_key}/details_changed/g{generation}'
    return Event(
        subject=f'meeting#{meeting_key}#details',
        event_id=notice_id,
        detail_type=MEETING_DETAILS_CHANGED,
        detail={'notice_id': notice_id, 'tenant_id': tenant_id, 'meeting_key': meeting_key,
                'change': 'details_changed', 'start': start.isoformat()},
    )


def accounts_reconciled(tenant_id: str, account_id: str, cause_id: str, summary: dict[str, Any]) -> Event:
    """One per reconciliation of an account, `cause_id` the event id of the connection event that started it;
    `summary`: holder, type, reason, rehomed, failed (the first ones), failed_count,
    ended_untouched, old_meetings."""
    event_id = f'{tenant_id}/{account_id}/reconciled/{cause_id}'
    return Event(
        subject=f'reconciled#{event_id}',
        event_id=event_id,
        detail_type=ACCOUNTS_RECONCILED,
        detail={'tenant_id': tenant_id, 'account_id': account_id, **summary},
    )


def connection_expiring(tenant_id: str, item, problem: str, episode: datetime, expires_at: datetime | None) -> Event:
    """A meeting account will stop working unless someone acts; one event per episode (`episode`: when its
    checks began to fail), so a redelivery repeats it and a later episode is told again."""
    return Event(
        subject=f'account#{item.account_id}',
        event_id=f'{tenant_id}/{item.account_id}/expiring/{episode.astimezone(UTC):%Y%m%dT%H%M%SZ}',
        detail_type=CONNECTION_EXPIRING,
        detail={'tenant_id': tenant_id, 'account_id': item.account_id, 'holder': item.holder, 'type': item.type,
                'problem': problem, 'expires_at': expires_at.astimezone(UTC).isoformat() if expires_at else None},
    )


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
