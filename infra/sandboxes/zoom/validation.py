"""The checks Zoom applies to a meeting's create (POST) or update (PATCH) body.

Failures are collected as Zoom reports them: ``{"field": ..., "message": ...}`` items of a
``{"code": 300, "message": "Validation Failed.", "errors": [...]}`` answer.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime
from typing import Any

MEETING_TYPES = (1, 2, 3, 8)  # instant, scheduled, recurring without and with a fixed time
SCHEDULED = 2
APPROVAL_TYPES = (0, 1, 2)  # automatic, manual, no registration
TOPIC_MAX = 200
AGENDA_MAX = 2000
PASSWORD_RE = re.compile(r'[A-Za-z0-9@_*-]{1,10}')
UTC_TIME_RE = re.compile(r'(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z')
LOCAL_TIME_RE = re.compile(r'(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})')
BOOLEAN_SETTINGS = ('join_before_host', 'waiting_room', 'mute_upon_entry', 'host_video', 'participant_video',
                    'use_pmi')


@functools.cache
def iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_iana_zone(value: Any) -> bool:
    return isinstance(value, str) and value in iana_zones()


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def _wall_clock(match: re.Match) -> datetime | None:
    try:
        return datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def validate_meeting(body: dict[str, Any], *, current: dict[str, Any] | None = None) -> tuple[dict[str, Any], list]:
    """(the accepted fields, normalised; the errors). ``current`` is the stored meeting for a PATCH.

    ``start_time`` comes back as an aware UTC datetime under ``start_at``; ``settings`` only holds
    what the body gave (the caller merges it over the defaults or the stored settings).
    """
    partial = current is not None
    errors: list[dict[str, str]] = []
    out: dict[str, Any] = {}

    def fail(field: str, message: str) -> None:
        errors.append({'field': field, 'message': message})

    if 'type' in body:
        if is_int(body['type']) and body['type'] in MEETING_TYPES:
            out['type'] = body['type']
        else:
            fail('type', 'Invalid field: type must be one of 1, 2, 3, 8.')
    meeting_type = out.get('type', current['type'] if partial else SCHEDULED)

    for field, limit in (('topic', TOPIC_MAX), ('agenda', AGENDA_MAX)):
        if field in body:
            value = body[field]
            if not isinstance(value, str):
                fail(field, f'Invalid field: {field} must be a string.')
            elif len(value) > limit:
                fail(field, f'{field} must be at most {limit} characters.')
            else:
                out[field] = value

    if 'timezone' in body:
        if is_iana_zone(body['timezone']):
            out['timezone'] = body['timezone']
        else:
            fail('timezone', 'Invalid field: timezone must be an IANA time zone ID such as America/Los_Angeles.')

    if 'start_time' in body:
        value = body['start_time']
        utc = UTC_TIME_RE.fullmatch(value) if isinstance(value, str) else None
        local = LOCAL_TIME_RE.fullmatch(value) if isinstance(value, str) and not utc else None
        wall = _wall_clock(utc or local) if (utc or local) else None
        if wall is None:
            fail('start_time', 'Invalid field: start_time must be yyyy-MM-ddTHH:mm:ssZ (UTC) '
                               'or yyyy-MM-ddTHH:mm:ss with a timezone.')
        elif utc:
            out['start_at'] = wall.replace(tzinfo=UTC)
        elif 'timezone' not in body:
            fail('start_time', 'start_time without Z is a local time: timezone is required.')
        elif 'timezone' in out:
            out['start_at'] = wall.replace(tzinfo=zoneinfo.ZoneInfo(out['timezone'])).astimezone(UTC)
    elif not partial and meeting_type == SCHEDULED:
        fail('start_time', 'start_time is required for a scheduled meeting (type 2).')

    if 'duration' in body:
        if is_int(body['duration']) and body['duration'] > 0:
            out['duration'] = body['duration']
        else:
            fail('duration', 'Invalid field: duration must be a positive integer (minutes).')

    if 'password' in body:
        value = body['password']
        if isinstance(value, str) and PASSWORD_RE.fullmatch(value):
            out['password'] = value
        else:
            fail('password', 'Password must be at most 10 characters from [a-z A-Z 0-9 @ - _ *].')

    if 'schedule_for' in body:
        if isinstance(body['schedule_for'], str) and body['schedule_for']:
            out['schedule_for'] = body['schedule_for']
        else:
            fail('schedule_for', 'Invalid field: schedule_for must be a user ID or email.')

    if 'recurrence' in body:
        if isinstance(body['recurrence'], dict):
            out['recurrence'] = body['recurrence']
        else:
            fail('recurrence', 'Invalid field: recurrence must be an object.')

    if 'settings' in body:
        settings = body['settings']
        if not isinstance(settings, dict):
            fail('settings', 'Invalid field: settings must be an object.')
        else:
            clean = dict(settings)
            if 'approval_type' in settings and not (
                    is_int(settings['approval_type']) and settings['approval_type'] in APPROVAL_TYPES):
                fail('settings.approval_type', 'Invalid field: approval_type must be 0, 1 or 2.')
            for name in BOOLEAN_SETTINGS:
                if name in settings and not isinstance(settings[name], bool):
                    fail(f'settings.{name}', f'Invalid field: {name} must be a boolean.')
            out['settings'] = clean
    return out, errors
