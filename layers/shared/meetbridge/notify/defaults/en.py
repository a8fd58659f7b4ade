"""The built-in English templates: what a tenant starts with; any of them can be replaced through the admin API."""

_FOOTER = '<p style="color:#666;font-size:12px">[company_name]</p>'
# Every message that carries a link also carries what the room asks for (a custom link's password).
_ROOM_DETAILS = ('{% if online_meeting_password %}<p>Password: [online_meeting_password]</p>{% endif %}'
                 '{% if online_meeting_description %}<p>[online_meeting_description]</p>{% endif %}')
# A client's link, or where to find it when the business keeps its links off its messages (then
# [online_meeting_link] holds that sentence).
_CLIENT_LINK = ('{% if online_meeting_link_hidden %}<p>[online_meeting_link]</p>{% else %}'
                '<p><a href="[online_meeting_link]">Join the meeting</a><br>[online_meeting_link]</p>{% endif %}')

# A booking's provider may have no name (a platform that sends none): the client's messages then leave it out.
_WITH_PROVIDER = '{% if provider_name %} with [provider_name]{% endif %}'

EMAIL: dict[str, tuple[str, str]] = {
    'client_created': (
        'Your online meeting: [service_name] on [start_date]',
        '<p>Hello [client_name],</p>'
        '<p>your online meeting <b>[service_name]</b>' + _WITH_PROVIDER + ' is booked for '
        '<b>[start_time]</b> ([timezone]).</p>'
        + _CLIENT_LINK + _ROOM_DETAILS + '<p>The link opens a waiting page until the meeting starts.</p>' + _FOOTER,
    ),
    'client_rescheduled': (
        'Your online meeting moved: [service_name] on [start_date]',
        '<p>Hello [client_name],</p>'
        '<p>your online meeting <b>[service_name]</b>' + _WITH_PROVIDER + ' now starts at '
        '<b>[start_time]</b> ([timezone]). Your link stays the same:</p>'
        + _CLIENT_LINK + _ROOM_DETAILS + _FOOTER,
    ),
    'client_cancelled': (
        'Cancelled: [service_name] on [start_date]',
        '<p>Hello [client_name],</p>'
        '<p>your online meeting <b>[service_name]</b>' + _WITH_PROVIDER + ' on [start_time] ([timezone]) '
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
        '<p>your <b>[service_name]</b>' + _WITH_PROVIDER + ' on <b>[start_time]</b> ([timezone]) now takes place '
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
        '<p>your online meeting <b>[service_name]</b>' + _WITH_PROVIDER + ' starts now.</p>'
        + _CLIENT_LINK + _ROOM_DETAILS + _FOOTER,
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
        '<p>a reminder: your online meeting <b>[service_name]</b>' + _WITH_PROVIDER + ' is at '
        '<b>[start_time]</b> ([timezone]).</p>'
        + _CLIENT_LINK + _ROOM_DETAILS + '<p>The link opens a waiting page until the meeting starts.</p>' + _FOOTER,
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
        '<p>your online meeting <b>[service_name]</b>' + _WITH_PROVIDER + ' on <b>[start_time]</b> ([timezone]) '
        'has moved to another meeting room. Your link stays the same:</p>'
        + _CLIENT_LINK + _ROOM_DETAILS + '<p>Use the details above, not those you were sent before.</p>' + _FOOTER,
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

HIDDEN_LINK_TEXT = 'You will find the link to join in your booking on our website.'

# Text messages: plain text, the company first so the recipient knows who writes, short enough for two segments.
_SMS_CLIENT_LINK = ('{% if online_meeting_link_hidden %}[online_meeting_link]{% else %}Join: [online_meeting_link]'
                    '{% endif %}{% if online_meeting_password %} Password: [online_meeting_password]{% endif %}')
_SMS_PROVIDER_LINK = ('Start: [online_meeting_provider_link]'
                      '{% if online_meeting_password %} Password: [online_meeting_password]{% endif %}')

SMS: dict[str, str] = {
    'client_created': '[company_name]: your online meeting [service_name]' + _WITH_PROVIDER + ' is booked for '
                      '[start_time_short] ([timezone]). ' + _SMS_CLIENT_LINK,
    'client_rescheduled': '[company_name]: your online meeting [service_name]' + _WITH_PROVIDER + ' has moved to '
                          '[start_time_short] ([timezone]). Your link stays the same. ' + _SMS_CLIENT_LINK,
    'client_cancelled': '[company_name]: your online meeting [service_name]' + _WITH_PROVIDER + ' on '
                        '[start_time_short] ([timezone]) has been cancelled.',
    'in_person_client': '[company_name]: your [service_name]' + _WITH_PROVIDER + ' on [start_time_short] ([timezone]) '
                        'now takes place in person, not online.',
    'starting_client': '[company_name]: your online meeting [service_name]' + _WITH_PROVIDER + ' starts now. '
                       + _SMS_CLIENT_LINK,
    'reminder_client': '[company_name]: a reminder of your online meeting [service_name]' + _WITH_PROVIDER + ' on '
                       '[start_time_short] ([timezone]). ' + _SMS_CLIENT_LINK,
    'details_changed_client': '[company_name]: your online meeting [service_name] on [start_time_short] ([timezone]) '
                              'has moved to another meeting room. Your link stays the same. ' + _SMS_CLIENT_LINK,
    'provider_created': '[company_name]: [client_name] booked [service_name] for [start_time_short] ([timezone]). '
                        + _SMS_PROVIDER_LINK,
    'provider_rescheduled': '[company_name]: [service_name] with [client_name] has moved to [start_time_short] '
                            '([timezone]). ' + _SMS_PROVIDER_LINK,
    'provider_cancelled': '[company_name]: [client_name] cancelled [service_name] on [start_time_short] ([timezone]).',
    'in_person_provider': '[company_name]: [service_name] with [client_name] on [start_time_short] ([timezone]) now '
                          'takes place in person; its online meeting was deleted.',
    'starting_provider': '[company_name]: [service_name] with [client_name] starts now. ' + _SMS_PROVIDER_LINK,
    'reminder_provider': '[company_name]: a reminder of [service_name] with [client_name] on [start_time_short] '
                         '([timezone]). ' + _SMS_PROVIDER_LINK,
    'details_changed_provider': '[company_name]: [service_name] with [client_name] on [start_time_short] '
                                '([timezone]) has moved to another meeting room; your link stays the same. '
                                + _SMS_PROVIDER_LINK,
}
