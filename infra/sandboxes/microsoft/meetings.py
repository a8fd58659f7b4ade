"""Graph's onlineMeeting resource: the checks on a create (POST) or update (PATCH) body, and times.

Graph answers an invalid body with ``400 {"error": {"code": "BadRequest", "message": …}}`` and stops
at the first problem, so ``validate`` raises ``Invalid`` with that one message. Times are kept as
integer ticks (100 ns, as .NET counts them) since the Unix epoch, so that Graph's seven fraction
digits come back unchanged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

TICKS = 10_000_000  # per second
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TIME_RE = re.compile(r'(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})')

LOBBY_SCOPES = ('organizer', 'organization', 'organizationAndFederated', 'everyone', 'invited',
                'organizationExcludingGuests')
# lobbyBypassScope members declared after unknownFutureValue: Graph only returns them to a request that
# sends ``Prefer: include-unknown-enum-members``; otherwise they read back as ``unknownFutureValue``.
LATE_LOBBY_SCOPES = ('invited', 'organizationExcludingGuests')
PRESENTERS = ('everyone', 'organization', 'roleIsPresenter', 'organizer')
MEETING_CHAT = ('enabled', 'disabled', 'limited')
CHAT_HISTORY = ('all', 'none')
LIVE_SHARE = ('enabled', 'disabled')
ROLES = ('attendee', 'presenter', 'producer', 'coorganizer')
BOOLEANS = ('allowAttendeeToEnableCamera', 'allowAttendeeToEnableMic', 'allowParticipantsToChangeName',
            'allowRecording', 'allowTeamworkReactions', 'allowTranscription', 'isEntryExitAnnounced',
            'recordAutomatically', 'allowWhiteboard', 'allowPowerPointSharing', 'allowBreakoutRooms',
            'allowCopyingAndSharingMeetingContent', 'isEndToEndEncryptionEnabled')
STRINGS = ('subject', 'externalId', 'meetingTemplateId')
ENUMS = {'allowedPresenters': ('microsoft.graph.onlineMeetingPresenters', PRESENTERS),
         'allowMeetingChat': ('microsoft.graph.meetingChatMode', MEETING_CHAT),
         'shareMeetingChatHistoryDefault': ('microsoft.graph.meetingChatHistoryDefaultMode', CHAT_HISTORY),
         'allowLiveShare': ('microsoft.graph.meetingLiveShareOptions', LIVE_SHARE)}
OBJECTS = ('watermarkProtection', 'chatRestrictions', 'meetingOptionsWebUrl')  # kept as given, not modelled
READ_ONLY = ('id', 'joinWebUrl', 'joinUrl', 'creationDateTime', 'chatInfo', 'videoTeleconferenceId',
             'audioConferencing', 'joinInformation', 'isBroadcast', 'broadcastSettings', 'meetingInfo',
             'capabilities', 'autoAdmittedUsers', 'outerMeetingAutoAdmittedUsers')
SUBJECT_MAX = 255


class Invalid(Exception):
    """A body Graph refuses: 400 BadRequest with this message."""


def parse_time(value: Any, name: str) -> int:
    """An ISO 8601 date-time with ``Z`` or an offset, as ticks since the epoch (UTC)."""
    match = TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise Invalid(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset' "
                      f"(property '{name}'). Use ISO 8601 with Z or an offset, e.g. 2030-03-04T09:30:00Z.")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        offset = timedelta(0) if zone == 'Z' else (1 if zone[0] == '+' else -1) * timedelta(
            hours=int(zone[1:3]), minutes=int(zone[4:6]))
        if abs(offset) > timedelta(hours=14) or int(zone[4:6] if zone != 'Z' else 0) >= 60:
            raise ValueError('offset')
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC)
    except ValueError:
        raise Invalid(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset' "
                      f"(property '{name}').") from None
    whole = int((local - offset - _EPOCH).total_seconds())
    return whole * TICKS + int((fraction or '0').ljust(7, '0'))


def ticks_of(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * TICKS + delta.microseconds * 10


def format_time(ticks: int) -> str:
    """Graph's UTC form: ``2030-03-04T08:30:00Z``, or ``…:00.1234567Z`` when there is a fraction."""
    whole, fraction = divmod(ticks, TICKS)
    text = (_EPOCH + timedelta(seconds=whole)).strftime('%Y-%m-%dT%H:%M:%S')
    return f'{text}.{fraction:07d}Z' if fraction else f'{text}Z'


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Invalid(message)


def _literal(value: Any, kind: str) -> str:
    return f"Cannot convert the literal '{value}' to the expected type '{kind}'."


def _identity_user_id(participant: Any, where: str) -> tuple[str | None, str | None]:
    """(identity.user.id, upn) of a meetingParticipantInfo, after checking its shape."""
    _expect(isinstance(participant, dict), f'{where} must be an object (meetingParticipantInfo).')
    upn = participant.get('upn')
    _expect(upn is None or isinstance(upn, str), _literal(upn, 'Edm.String') + f' ({where}.upn)')
    role = participant.get('role')
    _expect(role is None or role in ROLES, f"Invalid value '{role}' for {where}.role "
                                          f"(microsoft.graph.onlineMeetingRole: {', '.join(ROLES)}).")
    identity = participant.get('identity')
    user_id = None
    if identity is not None:
        _expect(isinstance(identity, dict), f'{where}.identity must be an object (identitySet).')
        user = identity.get('user')
        if user is not None:
            _expect(isinstance(user, dict), f'{where}.identity.user must be an object (identity).')
            user_id = user.get('id')
            _expect(user_id is None or isinstance(user_id, str), _literal(user_id, 'Edm.String'))
    _expect(user_id is not None or upn is not None, f'{where} needs identity.user.id or upn.')
    return user_id, upn


def _attendees(value: Any) -> list[dict[str, Any]]:
    _expect(isinstance(value, list), 'participants.attendees must be an array of meetingParticipantInfo.')
    out = []
    for index, participant in enumerate(value):
        user_id, upn = _identity_user_id(participant, f'participants.attendees[{index}]')
        user = dict((participant.get('identity') or {}).get('user') or {})
        out.append({'upn': upn, 'role': participant.get('role') or 'attendee',
                    'identity': {'user': {**user, 'id': user_id}} if user_id else {}})
    return out


def validate(body: Any, *, organizer: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The accepted fields of a POST (``current`` None) or PATCH body; raises ``Invalid``.

    Times come back as ``start_ticks``/``end_ticks``; ``participants`` as ``attendees`` (the organizer
    cannot be set to anyone but ``organizer``, the signed-in user, nor changed by a PATCH).
    """
    _expect(isinstance(body, dict), 'Unable to read JSON request payload. Please ensure Content-Type header is '
                                    'set and payload is of valid JSON format.')
    creating = current is None
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith('@odata.') or name in READ_ONLY or name in ('startDateTime', 'endDateTime'):
            continue
        if name in STRINGS:
            _expect(value is None or isinstance(value, str), _literal(value, 'Edm.String') + f" (property '{name}')")
            if name == 'subject':
                _expect(value is None or len(value) <= SUBJECT_MAX, f'subject is longer than {SUBJECT_MAX} characters.')
            if name == 'externalId' and not creating:
                raise Invalid('externalId cannot be changed after the meeting is created.')
            out[name] = value
        elif name in BOOLEANS:
            _expect(isinstance(value, bool), _literal(value, 'Edm.Boolean') + f" (property '{name}')")
            out[name] = value
        elif name in ENUMS:
            kind, members = ENUMS[name]
            _expect(value in members, f"Invalid value '{value}' for property '{name}' ({kind}: "
                                      f"{', '.join(members)}).")
            out[name] = value
        elif name == 'lobbyBypassSettings':
            _expect(isinstance(value, dict), "Property 'lobbyBypassSettings' must be an object (lobbyBypassSettings).")
            unknown = sorted(set(value) - {'scope', 'isDialInBypassEnabled', '@odata.type'})
            _expect(not unknown, f"The property '{unknown[0] if unknown else ''}' does not exist on type "
                                 "'microsoft.graph.lobbyBypassSettings'.")
            scope = value.get('scope', 'organization')  # a complex value is replaced whole, on PATCH too
            _expect(scope in LOBBY_SCOPES, f"Invalid value '{scope}' for lobbyBypassSettings.scope "
                                           f"(microsoft.graph.lobbyBypassScope: {', '.join(LOBBY_SCOPES)}).")
            dial_in = value.get('isDialInBypassEnabled', False)
            _expect(isinstance(dial_in, bool), _literal(dial_in, 'Edm.Boolean') +
                    ' (lobbyBypassSettings.isDialInBypassEnabled)')
            out[name] = {'scope': scope, 'isDialInBypassEnabled': dial_in}
        elif name == 'joinMeetingIdSettings':
            _expect(isinstance(value, dict), "Property 'joinMeetingIdSettings' must be an object.")
            _expect(value.get('passcode') is None, 'A custom passcode is not supported: Teams generates it.')
            required = value.get('isPasscodeRequired', True)
            _expect(isinstance(required, bool), _literal(required, 'Edm.Boolean') +
                    ' (joinMeetingIdSettings.isPasscodeRequired)')
            out['isPasscodeRequired'] = required
        elif name == 'participants':
            _expect(isinstance(value, dict), "Property 'participants' must be an object (meetingParticipants).")
            if value.get('organizer') is not None:
                user_id, upn = _identity_user_id(value['organizer'], 'participants.organizer')
                same = (user_id or '').lower() == organizer['id'] or (upn or '').lower() == organizer['email'].lower()
                if not same:
                    raise Invalid('The organizer of a meeting cannot be changed.' if not creating else
                                  'participants.organizer must be the signed-in user for /me/onlineMeetings.')
            if 'attendees' in value and value['attendees'] is not None:
                out['attendees'] = _attendees(value['attendees'])
        elif name in OBJECTS:
            _expect(value is None or isinstance(value, (dict, str)), f"Property '{name}' has the wrong type.")
            out[name] = value
        else:
            raise Invalid(f"The property '{name}' does not exist on type 'microsoft.graph.onlineMeeting'. Make sure "
                          'to only use property names that are defined by the type.')

    has_start, has_end = body.get('startDateTime') is not None, body.get('endDateTime') is not None
    if creating:
        _expect(has_start and has_end, 'startDateTime and endDateTime are required (ISO 8601 with Z or an offset).')
    elif has_start != has_end:
        raise Invalid('To change the time of a meeting send both startDateTime and endDateTime.')
    if has_start and has_end:
        start = parse_time(body['startDateTime'], 'startDateTime')
        end = parse_time(body['endDateTime'], 'endDateTime')
        _expect(end > start, 'endDateTime must be later than startDateTime.')
        out['start_ticks'], out['end_ticks'] = start, end
    return out


CREATE_OR_GET_PARAMETERS = ('externalId', 'startDateTime', 'endDateTime', 'subject', 'participants')
HOUR_TICKS = 3600 * TICKS


def validate_create_or_get(body: Any, *, organizer: dict[str, Any], now_ticks: int) -> dict[str, Any]:
    """The parameters of the ``createOrGet`` action (only those five; ``externalId`` required), checked
    and defaulted as Graph does: no start means now, no end means the start plus one hour, and an end
    without a start (or before it) is refused. Returns what ``validate`` returns for a create."""
    _expect(isinstance(body, dict), 'Unable to read JSON request payload. Please ensure Content-Type header is '
                                    'set and payload is of valid JSON format.')
    unknown = [name for name in body if name not in CREATE_OR_GET_PARAMETERS]
    _expect(not unknown, f"The parameter '{unknown[0] if unknown else ''}' in the request payload is not a valid "
                         "parameter for the operation 'createOrGet'.")
    external_id = body.get('externalId')
    _expect(isinstance(external_id, str) and external_id.strip() != '',
            "The parameter 'externalId' is required and must be a non-empty string.")
    start, end = body.get('startDateTime'), body.get('endDateTime')
    _expect(start is not None or end is None, 'endDateTime was given without startDateTime.')
    start_ticks = now_ticks if start is None else parse_time(start, 'startDateTime')
    end_ticks = start_ticks + HOUR_TICKS if end is None else parse_time(end, 'endDateTime')
    # Equal times are refused as on a create (the page only documents refusing an earlier end).
    _expect(end_ticks > start_ticks, 'endDateTime must be later than startDateTime.')
    given = {name: body[name] for name in ('externalId', 'subject', 'participants') if name in body}
    return validate({**given, 'startDateTime': format_time(start_ticks), 'endDateTime': format_time(end_ticks)},
                    organizer=organizer)


def present(meeting: dict[str, Any], *, late_enum_members: bool) -> dict[str, Any]:
    """The meeting as Graph answers it: without ``Prefer: include-unknown-enum-members`` a lobby scope
    declared after ``unknownFutureValue`` reads ``unknownFutureValue``."""
    lobby = meeting.get('lobbyBypassSettings') or {}
    if not late_enum_members and lobby.get('scope') in LATE_LOBBY_SCOPES:
        return {**meeting, 'lobbyBypassSettings': {**lobby, 'scope': 'unknownFutureValue'}}
    return meeting
