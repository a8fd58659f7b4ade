"""The templates a tenant starts with; any of them can be replaced through the admin API."""

_FOOTER = '<p style="color:#666;font-size:12px">[company_name]</p>'
# Every message that carries a link also carries what the room asks for (a custom link's password).
_ROOM_DETAILS = ('{% if online_meeting_password %}<p>Password: [online_meeting_password]</p>{% endif %}'
                 '{% if online_meeting_description %}<p>[online_meeting_description]</p>{% endif %}')

DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    'client_created': (
        'Your online meeting: [service_name] on [start_date]',
        '<p>Hello [client_name],</p>'
        '<p>your online meeting <b>[service_name]</b> with [provider_name] is booked for '
        '<b>[start_time]</b> ([timezone]).</p>'
        '<p><a href="[online_meeting_link]">Join the meeting</a><br>[online_meeting_link]</p>'
        + _ROOM_DETAILS + '<p>The link opens a waiting page until the meeting starts.</p>' + _FOOTER,
    ),
    'client_rescheduled': (
        'Your online meeting moved: [service_name] on [start_date]',
        '<p>Hello [client_name],</p>'
        '<p>your online meeting <b>[service_name]</b> with [provider_name] now starts at '
        '<b>[start_time]</b> ([timezone]). Your link stays the same:</p>'
        '<p><a href="[online_meeting_link]">Join the meeting</a><br>[online_meeting_link]</p>'
        + _ROOM_DETAILS + _FOOTER,
    ),
    'client_cancelled': (
        'Cancelled: [service_name] on [start_date]',
        '<p>Hello [client_name],</p>'
        '<p>your online meeting <b>[service_name]</b> with [provider_name] on [start_time] ([timezone]) '
        'has been cancelled. Its link no longer opens the meeting.</p>' + _FOOTER,
    ),
    'provider_created': (
        'New online booking: [service_name] with [client_name] on [start_date]',
        '<p>Hello [provider_name],</p>'
        '<p>[client_name] ([client_email]) booked <b>[service_name]</b> for <b>[start_time]</b> ([timezone]).</p>'
        '<p><a href="[online_meeting_provider_link]">Start the meeting</a><br>[online_meeting_provider_link]</p>'
        + _ROOM_DETAILS + '<p>You can open it early to start before the booked time.</p>' + _FOOTER,
    ),
    'provider_rescheduled': (
        'Rescheduled: [service_name] with [client_name] on [start_date]',
        '<p>Hello [provider_name],</p>'
        '<p>the booking of [client_name] for <b>[service_name]</b> now starts at <b>[start_time]</b> '
        '([timezone]).</p>'
        '<p><a href="[online_meeting_provider_link]">Start the meeting</a><br>[online_meeting_provider_link]</p>'
        + _ROOM_DETAILS + _FOOTER,
    ),
    'provider_cancelled': (
        'Cancelled: [service_name] with [client_name] on [start_date]',
        '<p>Hello [provider_name],</p>'
        '<p>[client_name] cancelled <b>[service_name]</b> on [start_time] ([timezone]).</p>' + _FOOTER,
    ),
    'in_person_client': (
        'Now in person: [service_name] on [start_date]',
        '<p>Hello [client_name],</p>'
        '<p>your <b>[service_name]</b> with [provider_name] on <b>[start_time]</b> ([timezone]) now takes place '
        'in person, not online. Your meeting link no longer opens a meeting; it says so.</p>' + _FOOTER,
    ),
    'in_person_provider': (
        'Now in person: [service_name] with [client_name] on [start_date]',
        '<p>Hello [provider_name],</p>'
        '<p><b>[service_name]</b> with [client_name] on <b>[start_time]</b> ([timezone]) now takes place in person: '
        'its online meeting was deleted.</p>' + _FOOTER,
    ),
    'starting_client': (
        'Starting now: [service_name]',
        '<p>Hello [client_name],</p>'
        '<p>your online meeting <b>[service_name]</b> with [provider_name] starts now.</p>'
        '<p><a href="[online_meeting_link]">Join the meeting</a><br>[online_meeting_link]</p>'
        + _ROOM_DETAILS + _FOOTER,
    ),
    'starting_provider': (
        'Starting now: [service_name] with [client_name]',
        '<p>Hello [provider_name],</p>'
        '<p><b>[service_name]</b> with [client_name] starts now.</p>'
        '<p><a href="[online_meeting_provider_link]">Start the meeting</a><br>[online_meeting_provider_link]</p>'
        + _ROOM_DETAILS + _FOOTER,
    ),
    'reminder_client': (
        'Reminder: [service_name] on [start_date]',
        '<p>Hello [client_name],</p>'
        '<p>a reminder: your online meeting <b>[service_name]</b> with [provider_name] is at '
        '<b>[start_time]</b> ([timezone]).</p>'
        '<p><a href="[online_meeting_link]">Join the meeting</a><br>[online_meeting_link]</p>'
        + _ROOM_DETAILS + '<p>The link opens a waiting page until the meeting starts.</p>' + _FOOTER,
    ),
    'reminder_provider': (
        'Reminder: [service_name] with [client_name] on [start_date]',
        '<p>Hello [provider_name],</p>'
        '<p>a reminder: <b>[service_name]</b> with [client_name] is at <b>[start_time]</b> ([timezone]).</p>'
        '<p><a href="[online_meeting_provider_link]">Start the meeting</a><br>[online_meeting_provider_link]</p>'
        + _ROOM_DETAILS + '<p>You can open it early to start before the booked time.</p>' + _FOOTER,
    ),
    'details_changed_client': (
        'New meeting details: [service_name] on [start_date]',
        '<p>Hello [client_name],</p>'
        '<p>your online meeting <b>[service_name]</b> with [provider_name] on <b>[start_time]</b> ([timezone]) '
        'has moved to another meeting room. Your link stays the same:</p>'
        '<p><a href="[online_meeting_link]">Join the meeting</a><br>[online_meeting_link]</p>'
        + _ROOM_DETAILS + '<p>Use the details above, not those you were sent before.</p>' + _FOOTER,
    ),
    'details_changed_provider': (
        'New meeting details: [service_name] with [client_name] on [start_date]',
        '<p>Hello [provider_name],</p>'
        '<p><b>[service_name]</b> with [client_name] on <b>[start_time]</b> ([timezone]) has moved to another '
        'meeting room. Your link stays the same:</p>'
        '<p><a href="[online_meeting_provider_link]">Start the meeting</a><br>[online_meeting_provider_link]</p>'
        + _ROOM_DETAILS + '<p>Use the details above, not those you were sent before.</p>' + _FOOTER,
    ),
}

# Alerts to the admin contacts: the account they are about (when there is one) and the list of alerts,
# in {{ }} form (their variables have no bracket form). Never a join link or a secret.
_ALERT_ACCOUNT = ('{% if account_type %}<p>Account: {{ account_type }}'
                  '{% if account_connected_as %}, connected as {{ account_connected_as }}{% endif %}'
                  '{% if account_slot %} ({{ account_slot }}){% endif %}</p>{% endif %}')
_ALERT_LIST = ('<ul>{% for alert in alerts %}<li>{{ alert.time }}: {{ alert.kind }}'
               '{% if alert.booking_id %}, booking {{ alert.booking_id }}{% endif %}'
               '{% if alert.problem %}: {{ alert.problem }}{% endif %}</li>{% endfor %}</ul>'
               '{% if more_alerts %}<p>and {{ more_alerts }} more.</p>{% endif %}')
_ALERT_FOOTER = '<p style="color:#666;font-size:12px">{{ company_name }}</p>'


def _alert(subject: str, opening: str, advice: str) -> tuple[str, str]:
    return subject, f'<p>{opening}</p>' + _ALERT_ACCOUNT + _ALERT_LIST + f'<p>{advice}</p>' + _ALERT_FOOTER


DEFAULT_TEMPLATES.update({
    'alert_connection_broken': _alert(
        'Alert: a meeting account stopped working{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'A meeting account of {{ company_name }} stopped working.',
        'Connect it again; until then its meetings cannot be made or changed through it.'),
    'alert_connection_expiring': _alert(
        'Alert: a meeting account will stop working{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'A meeting account of {{ company_name }} will stop working unless it is connected again.',
        'Connect it again before it expires.'),
    'alert_meeting_failed': _alert(
        'Alert: a meeting could not be made{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'A booking of {{ company_name }} has no working meeting.',
        'A booking that failed for lack of a usable account gets its meeting as soon as one is connected; its client '
        'has not been told.'),
    'alert_booking_problem': _alert(
        'Alert: a booking needs a look{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'A booking of {{ company_name }} has its meeting, but not where it should be.',
        'Its join links are unchanged.'),
    'alert_accounts_reconciled': _alert(
        'Alert: future meetings were moved{% if alerts|length > 1 %} ({{ alerts|length }} alerts){% endif %}',
        'The future meetings of a meeting account of {{ company_name }} were moved to the next account.',
        'Their join links are unchanged; those that failed need a look.'),
})

# One line each: the same news as the email, short enough for one or two segments.
_SMS: dict[str, str] = {
    'client_created': '[company_name]: [service_name] with [provider_name] is booked for [start_time]. '
                      'Join: [online_meeting_link]',
    'client_rescheduled': '[company_name]: [service_name] now starts at [start_time]. Same link: [online_meeting_link]',
    'client_cancelled': '[company_name]: [service_name] on [start_time] is cancelled.',
    'in_person_client': '[company_name]: [service_name] on [start_time] is now held in person.',
    'starting_client': '[company_name]: [service_name] is starting. Join: [online_meeting_link]',
    'reminder_client': '[company_name]: reminder, [service_name] at [start_time]. Join: [online_meeting_link]',
    'details_changed_client': '[company_name]: [service_name] on [start_time] moved to another room. '
                              'Join: [online_meeting_link]',
    'provider_created': 'New booking: [service_name] with [client_name], [start_time]. '
                        'Start: [online_meeting_provider_link]',
    'provider_rescheduled': 'Rescheduled: [service_name] with [client_name], now [start_time].',
    'provider_cancelled': 'Cancelled: [service_name] with [client_name], [start_time].',
    'in_person_provider': 'In person now: [service_name] with [client_name], [start_time].',
    'starting_provider': 'Starting: [service_name] with [client_name]. Start: [online_meeting_provider_link]',
    'reminder_provider': 'Reminder: [service_name] with [client_name] at [start_time]. '
                         'Start: [online_meeting_provider_link]',
    'details_changed_provider': 'New room: [service_name] with [client_name], [start_time]. '
                                'Start: [online_meeting_provider_link]',
}


def builtin(name: str, channel: str, locale: str) -> tuple[str | None, str] | None:
    """The built-in (subject, body) of a template in a channel and locale; None where there is none."""
    if locale != 'en':
        return None
    if channel == 'email':
        return DEFAULT_TEMPLATES[name]
    return (None, _SMS[name]) if name in _SMS else None
