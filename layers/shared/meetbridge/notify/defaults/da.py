"""Danish built-in templates: a business writing to its client as Danish businesses do (du, "Hej", signed
"Venlig hilsen"), and a short colleague's notice to its provider. They carry what the English ones carry, with
the same variables.

The time is given after "til", "starter" or between commas, so it reads well whether the date before the time
names the weekday or not.
"""

_ROOM_DETAILS = ('{% if online_meeting_password %}<p>Adgangskode: [online_meeting_password]</p>{% endif %}'
                 '{% if online_meeting_description %}<p>[online_meeting_description]</p>{% endif %}')
# A business that hides the links gets the sentence in [online_meeting_link] in place of the link.
_CLIENT_JOIN = ('{% if online_meeting_link_hidden %}<p>[online_meeting_link]</p>{% else %}'
                '<p><a href="[online_meeting_link]">Deltag i mødet</a><br>[online_meeting_link]</p>{% endif %}')
_PROVIDER_JOIN = '<p><a href="[online_meeting_provider_link]">Start mødet</a><br>[online_meeting_provider_link]</p>'
_CLIENT_GREETING = '<p>Hej [client_name]</p>'
_PROVIDER_GREETING = '<p>Hej [provider_name]</p>'
_CLIENT_FOOTER = '<p style="color:#666;font-size:12px">Venlig hilsen<br>[company_name]</p>'
_PROVIDER_FOOTER = '<p style="color:#666;font-size:12px">[company_name]</p>'

_WITH_PROVIDER = '{% if provider_name %} med [provider_name]{% endif %}'
_WAITING_PAGE = '<p>Linket åbner en venteside, indtil mødet starter.</p>'
_OPEN_EARLY = '<p>Du kan åbne mødet i forvejen og starte før det bookede tidspunkt.</p>'
_USE_NEW_DETAILS = '<p>Brug oplysningerne ovenfor, ikke dem, du har fået tidligere.</p>'

EMAIL: dict[str, tuple[str, str]] = {
    'client_created': (
        'Din booking er bekræftet: [service_name] den [start_date]',
        _CLIENT_GREETING + '<p>Dit onlinemøde <b>[service_name]</b>' + _WITH_PROVIDER
        + ' er booket til <b>[start_time]</b> ([timezone]).</p>' + _CLIENT_JOIN + _ROOM_DETAILS + _WAITING_PAGE
        + _CLIENT_FOOTER,
    ),
    'client_rescheduled': (
        'Dit onlinemøde er flyttet: [service_name] den [start_date]',
        _CLIENT_GREETING + '<p>Dit onlinemøde <b>[service_name]</b>' + _WITH_PROVIDER
        + ' er flyttet til <b>[start_time]</b> ([timezone]). Du bruger det samme link som før:</p>'
        + _CLIENT_JOIN + _ROOM_DETAILS + _CLIENT_FOOTER,
    ),
    'client_cancelled': (
        'Aflyst: [service_name] den [start_date]',
        _CLIENT_GREETING + '<p>Dit onlinemøde <b>[service_name]</b>' + _WITH_PROVIDER
        + ', som var booket til [start_time] ([timezone]), er aflyst. Linket åbner ikke længere mødet.</p>'
        + _CLIENT_FOOTER,
    ),
    'in_person_client': (
        'Nu med fysisk fremmøde: [service_name] den [start_date]',
        _CLIENT_GREETING + '<p>Din aftale <b>[service_name]</b>' + _WITH_PROVIDER
        + ', som er booket til <b>[start_time]</b> ([timezone]), holdes nu ved fysisk fremmøde i stedet for online. '
        'Dit mødelink åbner ikke længere et møde; det fremgår, når du åbner det.</p>' + _CLIENT_FOOTER,
    ),
    'starting_client': (
        'Dit onlinemøde starter nu: [service_name]',
        _CLIENT_GREETING + '<p>Dit onlinemøde <b>[service_name]</b>' + _WITH_PROVIDER + ' starter nu.</p>'
        + _CLIENT_JOIN + _ROOM_DETAILS + _CLIENT_FOOTER,
    ),
    'reminder_client': (
        'Påmindelse: [service_name] den [start_date]',
        _CLIENT_GREETING + '<p>Vi minder dig om, at dit onlinemøde <b>[service_name]</b>' + _WITH_PROVIDER
        + ' starter <b>[start_time]</b> ([timezone]).</p>' + _CLIENT_JOIN + _ROOM_DETAILS + _WAITING_PAGE
        + _CLIENT_FOOTER,
    ),
    'details_changed_client': (
        'Nye mødeoplysninger: [service_name] den [start_date]',
        _CLIENT_GREETING + '<p>Dit onlinemøde <b>[service_name]</b>' + _WITH_PROVIDER
        + ', <b>[start_time]</b> ([timezone]), er flyttet til et andet mødelokale. Du bruger det samme link '
        'som før:</p>' + _CLIENT_JOIN + _ROOM_DETAILS + _USE_NEW_DETAILS + _CLIENT_FOOTER,
    ),
    'provider_created': (
        'Ny onlinebooking: [service_name] med [client_name] den [start_date]',
        _PROVIDER_GREETING + '<p>[client_name] ([client_email]) har booket <b>[service_name]</b> til '
        '<b>[start_time]</b> ([timezone]).</p>' + _PROVIDER_JOIN + _ROOM_DETAILS + _OPEN_EARLY + _PROVIDER_FOOTER,
    ),
    'provider_rescheduled': (
        'Flyttet: [service_name] med [client_name] den [start_date]',
        _PROVIDER_GREETING + '<p>Bookingen af <b>[service_name]</b> med [client_name] er flyttet til '
        '<b>[start_time]</b> ([timezone]).</p>' + _PROVIDER_JOIN + _ROOM_DETAILS + _PROVIDER_FOOTER,
    ),
    'provider_cancelled': (
        'Aflyst: [service_name] med [client_name] den [start_date]',
        _PROVIDER_GREETING + '<p><b>[service_name]</b> med [client_name], som var booket til [start_time] '
        '([timezone]), er aflyst.</p>' + _PROVIDER_FOOTER,
    ),
    'in_person_provider': (
        'Nu med fysisk fremmøde: [service_name] med [client_name] den [start_date]',
        _PROVIDER_GREETING + '<p><b>[service_name]</b> med [client_name], <b>[start_time]</b> ([timezone]), holdes '
        'nu ved fysisk fremmøde. Onlinemødet er slettet.</p>' + _PROVIDER_FOOTER,
    ),
    'starting_provider': (
        'Starter nu: [service_name] med [client_name]',
        _PROVIDER_GREETING + '<p><b>[service_name]</b> med [client_name] starter nu.</p>'
        + _PROVIDER_JOIN + _ROOM_DETAILS + _PROVIDER_FOOTER,
    ),
    'reminder_provider': (
        'Påmindelse: [service_name] med [client_name] den [start_date]',
        _PROVIDER_GREETING + '<p>Påmindelse: <b>[service_name]</b> med [client_name] starter <b>[start_time]</b> '
        '([timezone]).</p>' + _PROVIDER_JOIN + _ROOM_DETAILS + _OPEN_EARLY + _PROVIDER_FOOTER,
    ),
    'details_changed_provider': (
        'Nye mødeoplysninger: [service_name] med [client_name] den [start_date]',
        _PROVIDER_GREETING + '<p><b>[service_name]</b> med [client_name], <b>[start_time]</b> ([timezone]), er '
        'flyttet til et andet mødelokale. Dit link er det samme:</p>' + _PROVIDER_JOIN + _ROOM_DETAILS
        + _USE_NEW_DETAILS + _PROVIDER_FOOTER,
    ),
}

# Only characters of the GSM 7-bit alphabet (æ, ø and å are in it; a dash or typographic quote is not and would
# send the whole SMS as UCS-2, 70 characters a part instead of 160).
SMS: dict[str, str] = {
    'client_created': '[company_name]: Dit onlinemøde [service_name]' + _WITH_PROVIDER
                      + ' er booket til [start_time_short]. [online_meeting_link]',
    'client_rescheduled': '[company_name]: Dit onlinemøde [service_name]' + _WITH_PROVIDER
                          + ' er flyttet til [start_time_short]. Linket er det samme. [online_meeting_link]',
    'client_cancelled': '[company_name]: Dit onlinemøde [service_name]' + _WITH_PROVIDER
                        + ' ([start_time_short]) er aflyst.',
    'in_person_client': '[company_name]: Dit møde [service_name]' + _WITH_PROVIDER
                        + ' ([start_time_short]) holdes nu ved fysisk fremmøde, ikke online.',
    'starting_client': '[company_name]: Dit onlinemøde [service_name]' + _WITH_PROVIDER
                       + ' starter nu. [online_meeting_link]',
    'reminder_client': '[company_name]: Husk dit onlinemøde [service_name]' + _WITH_PROVIDER
                       + ', der starter [start_time_short]. [online_meeting_link]',
    'details_changed_client': '[company_name]: Dit onlinemøde [service_name] ([start_time_short]) er flyttet til '
                              'et andet mødelokale; se detaljerne i vores mail. '
                              '[online_meeting_link]',
    'provider_created': '[company_name]: Ny booking: [service_name] med [client_name] ([start_time_short]). '
                        '[online_meeting_provider_link]',
    'provider_rescheduled': '[company_name]: [service_name] med [client_name] er flyttet til [start_time_short]. '
                            '[online_meeting_provider_link]',
    'provider_cancelled': '[company_name]: [service_name] med [client_name] ([start_time_short]) er aflyst.',
    'in_person_provider': '[company_name]: [service_name] med [client_name] ([start_time_short]) holdes nu ved '
                          'fysisk fremmøde. Onlinemødet er slettet.',
    'starting_provider': '[company_name]: [service_name] med [client_name] starter nu. '
                         '[online_meeting_provider_link]',
    'reminder_provider': '[company_name]: Påmindelse: [service_name] med [client_name] starter [start_time_short]. '
                         '[online_meeting_provider_link]',
    'details_changed_provider': '[company_name]: [service_name] med [client_name] ([start_time_short]) er flyttet '
                                'til et andet mødelokale; se detaljerne i mailen. '
                                '[online_meeting_provider_link]',
}

HIDDEN_LINK_TEXT = 'Du finder linket til mødet under din booking på vores bookingside.'
