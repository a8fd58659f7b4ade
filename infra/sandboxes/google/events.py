"""Pure helpers for the Calendar side: Google's error bodies, the event id rule, reading an event's
``start``/``end`` as Google does, and the conference a new event gets.

No state here; the sandbox keeps the events (docs: provider-apis.md section 3, pitfall 30, and
interfaces15.md's "Calendar" part).
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import UTC, date, datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..web import Response, json_response

CALENDAR_JSON = 'application/json; charset=UTF-8'
EVENT_ID_RE = re.compile(r'[a-v0-9]{5,1024}')  # base32hex, lowercase (Events resource, `id`)
DATE_TIME_RE = re.compile(r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?')
DATE_RE = re.compile(r'\d{4}-\d{2}-\d{2}')
SEND_UPDATES = ('all', 'externalOnly', 'none')
EVENT_STATUSES = ('confirmed', 'tentative', 'cancelled')
CONFERENCE_TYPES = ('hangoutsMeet',)  # what a consumer or Workspace calendar allows (allowedConferenceSolutionTypes)
MEET_ICON = 'https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png'
USAGE_DOMAIN = 'usageLimits'

# reason -> (domain, message) for the bodies the sandbox answers without a more specific message
REASONS = {
    'authError': ('global', 'Invalid Credentials'),
    'insufficientPermissions': ('global', 'Insufficient Permission'),
    'rateLimitExceeded': (USAGE_DOMAIN, 'Rate Limit Exceeded'),
    'userRateLimitExceeded': (USAGE_DOMAIN, 'User Rate Limit Exceeded'),
    'quotaExceeded': (USAGE_DOMAIN, 'Calendar usage limits exceeded.'),
    'notFound': ('global', 'Not Found'),
    'duplicate': ('global', 'The requested identifier already exists.'),
    'deleted': ('global', 'Resource has been deleted'),
    'backendError': ('global', 'Backend Error'),
}
STATUS_REASONS = {400: 'badRequest', 401: 'authError', 403: 'forbidden', 404: 'notFound', 409: 'conflict',
                  410: 'deleted', 429: 'rateLimitExceeded', 500: 'backendError', 502: 'backendError',
                  503: 'backendError'}


class Invalid(Exception):
    """A request Google answers 400 (or ``status``) with ``reason`` and ``message``."""

    def __init__(self, reason: str, message: str, status: int = 400, **extra: str):
        super().__init__(message)
        self.reason, self.message, self.status, self.extra = reason, message, status, extra


def calendar_error(status: int, reason: str, message: str | None = None, *, top_message: str | None = None,
                   headers: Mapping[str, str] | None = None, **extra: str) -> Response:
    """Google's error body::

        {"error": {"errors": [{"domain": "global", "reason": "notFound", "message": "Not Found"}],
                   "code": 404, "message": "Not Found"}}

    ``top_message`` is the outer message where Google words it differently from the item's (403
    insufficientPermissions: "Request had insufficient authentication scopes.").
    """
    domain, default = REASONS.get(reason, ('global', reason))
    message = message or default
    item = {'domain': domain, 'reason': reason, 'message': message, **extra}
    return json_response(status, {'error': {'errors': [item], 'code': status, 'message': top_message or message}},
                         headers, content_type=CALENDAR_JSON)


def rate_limit_body(status: int) -> dict[str, Any]:
    """Google's rateLimitExceeded body (403 or 429)."""
    message = REASONS['rateLimitExceeded'][1]
    return {'error': {'errors': [{'domain': USAGE_DOMAIN, 'reason': 'rateLimitExceeded', 'message': message}],
                      'code': status, 'message': message}}


def check_event_id(event_id: Any) -> str:
    if not isinstance(event_id, str) or EVENT_ID_RE.fullmatch(event_id) is None:
        raise Invalid('invalid', 'Invalid resource id value.')
    return event_id


def new_event_id() -> str:
    """What Google picks when the client gives no id: 26 base32hex characters."""
    alphabet = string.digits + 'abcdefghijklmnopqrstuv'
    return ''.join(secrets.choice(alphabet) for _ in range(26))


def new_conference_id(taken: set[str]) -> str:
    """A Meet code like ``abc-mnop-xyz`` (3-4-3 lowercase letters), not yet in ``taken``."""
    while True:
        letters = ''.join(secrets.choice(string.ascii_lowercase) for _ in range(10))
        code = f'{letters[:3]}-{letters[3:7]}-{letters[7:]}'
        if code not in taken:
            return code


def rfc3339(moment: datetime) -> str:
    """``created``/``updated`` as Google writes them: UTC with milliseconds and ``Z``."""
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.') + f'{moment.microsecond // 1000:03d}Z'


def _zone(name: Any, which: str) -> ZoneInfo:
    if not isinstance(name, str) or not name or name.startswith(('/', '.')) or '..' in name:
        raise Invalid('invalid', f'Invalid time zone definition for {which} time.')
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid('invalid', f'Invalid time zone definition for {which} time.') from None


def read_time(value: Any, which: str) -> dict[str, Any]:
    """An event's ``start`` or ``end`` (``which``), checked: ``{dateTime, timeZone?}`` or ``{date}``.

    Returns ``{'kind': 'dateTime'|'date', 'at': aware datetime or date, 'timeZone': str|None}``.
    """
    if value is None:
        raise Invalid('required', f'Missing {which} time.')
    if not isinstance(value, dict):
        raise Invalid('invalid', f'Invalid {which} time.')
    zone_name = value.get('timeZone')
    zone = _zone(zone_name, which) if zone_name is not None else None
    has_date_time, has_date = value.get('dateTime') is not None, value.get('date') is not None
    if has_date_time == has_date:  # neither, or both
        raise Invalid('required' if not has_date_time else 'invalid',
                      f'Missing {which} time.' if not has_date_time else f'Invalid {which} time.')
    if has_date:
        text = value['date']
        if not isinstance(text, str) or DATE_RE.fullmatch(text) is None:
            raise Invalid('invalid', f'Invalid {which} time.')
        try:
            return {'kind': 'date', 'at': date.fromisoformat(text), 'timeZone': zone_name}
        except ValueError:
            raise Invalid('invalid', f'Invalid {which} time.') from None
    text = value['dateTime']
    match = DATE_TIME_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise Invalid('invalid', f'Invalid {which} time.')
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        raise Invalid('invalid', f'Invalid {which} time.') from None
    if moment.tzinfo is None:  # a local time needs the zone it is local to
        if zone is None:
            raise Invalid('required', f'Missing time zone definition for {which} time.')
        moment = moment.replace(tzinfo=zone)
    try:  # an instant at the edge of year 1 or 9999 that UTC or its zone cannot show
        moment.astimezone(UTC).astimezone(zone or UTC)
    except OverflowError:
        raise Invalid('invalid', f'Invalid {which} time.') from None
    return {'kind': 'dateTime', 'at': moment, 'timeZone': zone_name}


def check_range(start: dict[str, Any], end: dict[str, Any]) -> None:
    if start['kind'] != end['kind']:
        raise Invalid('invalid', 'Start and end times must either both be date or both be dateTime.')
    empty = end['at'] <= start['at'] if start['kind'] == 'date' else end['at'] < start['at']
    if empty:
        raise Invalid('timeRangeEmpty', 'The specified time range is empty.', location='end.dateTime'
                      if end['kind'] == 'dateTime' else 'end.date', locationType='parameter')


def present_time(stored: dict[str, Any]) -> dict[str, str]:
    """How Google answers a start or end: the instant in its ``timeZone``'s offset (UTC, ``Z``, without
    one: the sandbox calendars' own zone is UTC)."""
    if stored['kind'] == 'date':
        return {'date': stored['at'].isoformat()}
    zone_name = stored['timeZone']
    if zone_name is None:
        return {'dateTime': stored['at'].astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}
    local = stored['at'].astimezone(ZoneInfo(zone_name))
    text = local.replace(microsecond=0).isoformat()
    return {'dateTime': text[:-6] + 'Z' if text.endswith('+00:00') else text, 'timeZone': zone_name}


def query_int(query: Mapping[str, str], name: str, default: int, allowed: range) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value not in allowed:
        raise Invalid('invalid', f'Invalid value for: {name}', location=name, locationType='parameter')
    return value


def send_updates(query: Mapping[str, str]) -> str:
    value = query.get('sendUpdates', 'none')
    if value not in SEND_UPDATES:
        raise Invalid('invalid', f"Invalid value '{value}'. Values must match the following regular expression: "
                                 "'all|externalOnly|none'", location='sendUpdates', locationType='parameter')
    return value


def create_request(conference: Any) -> dict[str, Any] | None:
    """The ``conferenceData.createRequest`` of a body (conferenceDataVersion=1), checked; None without one."""
    if conference is None:
        return None
    if not isinstance(conference, dict):
        raise Invalid('invalid', 'Invalid conference data.')
    request = conference.get('createRequest')
    if request is None:
        return None
    if not isinstance(request, dict):
        raise Invalid('invalid', 'Invalid conference create request.')
    request_id = request.get('requestId')
    if not isinstance(request_id, str) or not request_id:
        raise Invalid('invalid', 'Invalid conference create request.')
    key = request.get('conferenceSolutionKey')
    kind = key.get('type') if isinstance(key, dict) else None
    if kind not in CONFERENCE_TYPES:
        raise Invalid('invalid', 'Invalid conference type value.')
    return {'requestId': request_id, 'type': kind}
