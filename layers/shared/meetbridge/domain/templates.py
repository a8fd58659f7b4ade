"""What a notification template may show, and the bracket variables tenants write."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

CLIENT_LINK = 'online_meeting_link'
PROVIDER_LINK = 'online_meeting_provider_link'
# True when the business keeps links off its clients' messages: [online_meeting_link] then holds a sentence saying
# where to find the link, not a URL.
LINK_HIDDEN = 'online_meeting_link_hidden'

RECIPIENTS = ('client', 'provider')
# A booking's changes, told to its client and its provider (in_person: the admin switched it, or its class
# session, to in person: its meeting is gone and its link says so).
BOOKING_CHANGES = ('created', 'rescheduled', 'cancelled', 'in_person')
# What happens to a meeting: told to the client of each active booking on it and to its provider
# (details_changed: it was made again elsewhere and its room's password, description or provider changed).
MEETING_CHANGES = ('starting', 'reminder', 'details_changed')
CHANGES = BOOKING_CHANGES + MEETING_CHANGES
# The names tenants know: <recipient>_<change> for the booking's changes the platform also has, <change>_<recipient>
# for the others.
_RECIPIENT_FIRST = ('created', 'rescheduled', 'cancelled')
TEMPLATES: dict[str, tuple[str, str]] = {
    (f'{recipient}_{change}' if change in _RECIPIENT_FIRST else f'{change}_{recipient}'): (recipient, change)
    for change in CHANGES for recipient in RECIPIENTS
}
_NAMES = {recipient_and_change: name for name, recipient_and_change in TEMPLATES.items()}
# Alerts to the tenant's admin contacts, one template per kind of event (logic/alerts.py); a digest of several
# kinds is written with the template of its first alert's kind.
ADMIN = 'admin'
ALERT_KINDS = ('connection_broken', 'connection_expiring', 'meeting_failed', 'booking_problem', 'accounts_reconciled')
ALERT_TEMPLATES = {f'alert_{kind}': kind for kind in ALERT_KINDS}
TEMPLATES.update({name: (ADMIN, kind) for name, kind in ALERT_TEMPLATES.items()})
TEMPLATE_NAMES = tuple(TEMPLATES)
# A "starting now" message to every client of a class is opt-in; every other template sends until switched off.
DISABLED_BY_DEFAULT = frozenset({'starting_client'})

# Everything a template can use, as [name] or {{ name }}.
VARIABLES = (
    CLIENT_LINK,
    LINK_HIDDEN,
    PROVIDER_LINK,
    'online_meeting_password',
    'online_meeting_description',
    'company_name',
    'booking_id',
    'service_name',
    'provider_name',
    'client_name',
    'client_email',
    'start_time',
    'start_time_short',
    'end_time',
    'start_date',
    'timezone',
)

# What an alert template can use, as {{ name }}: no join link and no secret is among them. `alerts` is a list of
# {kind, time, booking_id, problem}; `more_alerts` counts those past the list's end.
ALERT_VARIABLES = ('company_name', 'account_type', 'account_connected_as', 'account_slot', 'alerts', 'more_alerts',
                   'alerts_text')

_BRACKET = re.compile(r'\[(' + '|'.join(VARIABLES) + r')\]')


def name_of(recipient: str, change: str) -> str:
    return _NAMES[recipient, change]


def recipient_of(template_name: str) -> str:
    return TEMPLATES[template_name][0]


def variables_of(template_name: str) -> tuple[str, ...]:
    return ALERT_VARIABLES if recipient_of(template_name) == ADMIN else VARIABLES


def enabled_by_default(template_name: str) -> bool:
    return template_name not in DISABLED_BY_DEFAULT


def bracket_to_jinja(text: str) -> str:
    """`[online_meeting_link]` → `{{ online_meeting_link }}`; other brackets stay as written."""
    return _BRACKET.sub(r'{{ \1 }}', text)


def forbidden_variables(template_name: str, text: str) -> set[str]:
    """A client must never receive the host's link."""
    if recipient_of(template_name) == 'client' and re.search(r'\b' + PROVIDER_LINK + r'\b', text):
        return {PROVIDER_LINK}
    return set()


def sample_variables() -> dict[str, dict]:
    """Realistic values a template is tried with before it is saved, by what they are an example of: an
    ordinary booking, every value at the longest the API accepts, the optional values missing (as in a
    client's message, which never has the host's link), and other scripts and half-hour zones."""
    ordinary = {
        CLIENT_LINK: 'https://meet.example.com/j/Q2xpZW50TGluaw', PROVIDER_LINK: 'https://meet.example.com/j/SG9zdA',
        'online_meeting_password': 'room-4821', 'online_meeting_description': 'Dial-in: +1 555 0100, PIN 4821',
        'company_name': 'Studio Nine', 'booking_id': 'bk-1042', 'service_name': 'Consultation',
        'provider_name': 'Dana Smith', 'client_name': 'Chris Client', 'client_email': 'chris@example.com',
        'start_time': 'Monday, 09 March 2026, 09:30', 'end_time': '10:15', 'start_date': '09 March 2026',
        'timezone': 'Europe/London', LINK_HIDDEN: False, 'start_time_short': 'Mon, Mar 9, 9:30 AM',
    }
    name = ('Ana-Maria <b>&</b> "O\'Brien" Ünal ' * 8)[:200]
    longest = {
        **ordinary,
        PROVIDER_LINK: 'https://meetbridge.example.com/j/' + 'y' * 43,
        'online_meeting_password': 'p' * 100, 'online_meeting_description': ('Room 7, floor 3 & <lift> ' * 40)[:1000],
        'company_name': name, 'booking_id': 'b' * 128, 'service_name': name, 'provider_name': name,
        'client_name': name, 'client_email': ('a' * 240) + '@example.com', 'start_time': 'Wednesday, 30 September 2026, 23:45',
        'timezone': 'America/Argentina/ComodRivadavia', 'start_time_short': 'Wednesday, 30 September, 11:45 PM',
        # The link hidden behind the longest sentence a tenant can set (hidden_link_text: 300 characters).
        LINK_HIDDEN: True, CLIENT_LINK: ('Find the link in your booking & on <My bookings>. ' * 6)[:300],
    }
    missing = {**ordinary, PROVIDER_LINK: '', 'online_meeting_password': '', 'online_meeting_description': '',
               'provider_name': ''}
    elsewhere = {
        **ordinary, 'company_name': 'スタジオ九', 'service_name': 'استشارة', 'provider_name': 'राम शर्मा',
        'client_name': 'Łukasz Żółć', 'start_time': 'Sunday, 29 March 2026, 02:45', 'end_time': '03:30',
        'start_date': '29 March 2026', 'timezone': 'Asia/Kathmandu', 'start_time_short': 'нд, 29 бер., 02:45',
    }
    examples = {'an ordinary booking': ordinary, 'the longest values': longest, 'optional values missing': missing,
                'other scripts and zones': elsewhere}
    return {example: {**values, **ALERT_SAMPLES[example]} for example, values in examples.items()}


def _alert_sample(kind: str, booking_id: str, problem: str) -> dict[str, str]:
    return {'kind': kind, 'time': '2026-03-09 09:30 UTC', 'booking_id': booking_id, 'problem': problem}


# The alert templates' variables in the same four examples (what sample_variables adds to each).
ALERT_SAMPLES = {
    'an ordinary booking': {
        'account_type': 'zoom', 'account_connected_as': 'owner@studio.example', 'account_slot': 'company',
        'alerts': [_alert_sample('connection_broken', '', 'Zoom refused the refresh token: connect the account again'),
                   _alert_sample('meeting_failed', 'bk-1042', 'the meeting account must be connected again')],
        'more_alerts': 0, 'alerts_text': 'connection_broken: Zoom refused the refresh token',
    },
    'the longest values': {
        'account_type': 'microsoft', 'account_connected_as': ('a' * 240) + '@example.com',
        'account_slot': 'provider:' + 'p' * 128,
        'alerts': [_alert_sample('booking_problem', 'b' * 128, ('Room 7 & <lift> ' * 60)[:1000])] * 50,
        'more_alerts': 950, 'alerts_text': ('booking_problem: Room 7 & <lift> ' * 200)[:5000],
    },
    'optional values missing': {
        'account_type': '', 'account_connected_as': '', 'account_slot': '',
        'alerts': [_alert_sample('meeting_failed', '', '')], 'more_alerts': 0, 'alerts_text': 'meeting_failed',
    },
    'other scripts and zones': {
        'account_type': 'custom_link', 'account_connected_as': 'スタジオ九', 'account_slot': 'fallback',
        'alerts': [_alert_sample('accounts_reconciled', '', 'استشارة: 3 re-homed, 1 failed')], 'more_alerts': 0,
        'alerts_text': 'accounts_reconciled: استشارة',
    },
}


def zone_label(zone: str, moment: datetime) -> str:
    """The zone with its offset at `moment`, as 'America/New_York, UTC-05:00': the hour that repeats when
    clocks go back reads differently on each side of the change."""
    offset = moment.astimezone(ZoneInfo(zone)).strftime('%z')
    return f'{zone}, UTC{offset[:3]}:{offset[3:]}'
