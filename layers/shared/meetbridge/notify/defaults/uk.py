"""Ukrainian built-in templates: a business writing to its client in the polite register (Ви, Вас, Ваш written
with a capital letter, as in a letter to one person), and a short colleague's notice to its provider. They carry
what the English ones carry, with the same variables.

A name given in a variable cannot be declined ("з Даною Сміт"), so the service, the provider and the client are
given on labelled lines rather than inside a sentence, and no verb names who did what (a past tense would need
the person's gender).
"""

_ROOM_DETAILS = ('{% if online_meeting_password %}<p>Пароль: [online_meeting_password]</p>{% endif %}'
                 '{% if online_meeting_description %}<p>[online_meeting_description]</p>{% endif %}')
# A business that hides the links gets the sentence in [online_meeting_link] in place of the link.
_CLIENT_JOIN = ('{% if online_meeting_link_hidden %}<p>[online_meeting_link]</p>{% else %}'
                '<p><a href="[online_meeting_link]">Приєднатися до зустрічі</a><br>[online_meeting_link]</p>'
                '{% endif %}')
_PROVIDER_JOIN = ('<p><a href="[online_meeting_provider_link]">Розпочати зустріч</a>'
                  '<br>[online_meeting_provider_link]</p>')
_CLIENT_GREETING = '<p>Добрий день, [client_name]!</p>'
_PROVIDER_GREETING = '<p>Вітаю, [provider_name]!</p>'
_CLIENT_FOOTER = '<p style="color:#666;font-size:12px">З повагою,<br>[company_name]</p>'
_PROVIDER_FOOTER = '<p style="color:#666;font-size:12px">[company_name]</p>'

_WHEN = 'Дата й час: <b>[start_time]</b> ([timezone])'
_SERVICE = 'Послуга: <b>[service_name]</b>{% if provider_name %}<br>Фахівець: [provider_name]{% endif %}'
_CLIENT_MEETING = f'<p>{_SERVICE}<br>{_WHEN}</p>'
_PROVIDER_MEETING = f'<p>Клієнт: [client_name]<br>Послуга: <b>[service_name]</b><br>{_WHEN}</p>'
_WAITING_PAGE = '<p>До початку зустрічі посилання відкриває сторінку очікування.</p>'
_OPEN_EARLY = '<p>Зустріч можна відкрити заздалегідь і почати раніше запланованого часу.</p>'
_USE_NEW_DETAILS = '<p>Будь ласка, користуйтеся даними, наведеними вище, а не тими, що надходили раніше.</p>'

EMAIL: dict[str, tuple[str, str]] = {
    'client_created': (
        'Ваш запис підтверджено: [service_name], [start_date]',
        _CLIENT_GREETING + '<p>Вашу онлайн-зустріч заплановано:</p>' + _CLIENT_MEETING
        + _CLIENT_JOIN + _ROOM_DETAILS + _WAITING_PAGE + _CLIENT_FOOTER,
    ),
    'client_rescheduled': (
        'Вашу онлайн-зустріч перенесено: [service_name], [start_date]',
        _CLIENT_GREETING + '<p>Вашу онлайн-зустріч перенесено на інший час:</p>' + _CLIENT_MEETING
        + '<p>Посилання для входу не змінилося:</p>' + _CLIENT_JOIN + _ROOM_DETAILS + _CLIENT_FOOTER,
    ),
    'client_cancelled': (
        'Зустріч скасовано: [service_name], [start_date]',
        _CLIENT_GREETING + '<p>Вашу онлайн-зустріч скасовано:</p>' + _CLIENT_MEETING
        + '<p>Посилання на цю зустріч більше не діє.</p>' + _CLIENT_FOOTER,
    ),
    'in_person_client': (
        'Зустріч відбудеться очно: [service_name], [start_date]',
        _CLIENT_GREETING + '<p>Ваша зустріч відбудеться очно, а не онлайн:</p>' + _CLIENT_MEETING
        + '<p>Посилання на онлайн-зустріч більше не діє: відкривши його, Ви побачите про це повідомлення.</p>'
        + _CLIENT_FOOTER,
    ),
    'starting_client': (
        'Зустріч починається: [service_name]',
        _CLIENT_GREETING + '<p>Ваша онлайн-зустріч уже починається.</p>' + f'<p>{_SERVICE}</p>'
        + _CLIENT_JOIN + _ROOM_DETAILS + _CLIENT_FOOTER,
    ),
    'reminder_client': (
        'Нагадування: [service_name], [start_date]',
        _CLIENT_GREETING + '<p>Нагадуємо про Вашу онлайн-зустріч:</p>' + _CLIENT_MEETING
        + _CLIENT_JOIN + _ROOM_DETAILS + _WAITING_PAGE + _CLIENT_FOOTER,
    ),
    'details_changed_client': (
        'Оновлені дані зустрічі: [service_name], [start_date]',
        _CLIENT_GREETING + '<p>Вашу онлайн-зустріч перенесено в іншу кімнату. Час зустрічі й посилання для входу '
        'не змінилися:</p>' + _CLIENT_MEETING + _CLIENT_JOIN + _ROOM_DETAILS + _USE_NEW_DETAILS + _CLIENT_FOOTER,
    ),
    'provider_created': (
        'Новий запис: [service_name], [client_name], [start_date]',
        _PROVIDER_GREETING + '<p>Новий запис на онлайн-зустріч:</p>'
        f'<p>Клієнт: [client_name] ([client_email])<br>Послуга: <b>[service_name]</b><br>{_WHEN}</p>'
        + _PROVIDER_JOIN + _ROOM_DETAILS + _OPEN_EARLY + _PROVIDER_FOOTER,
    ),
    'provider_rescheduled': (
        'Запис перенесено: [service_name], [client_name], [start_date]',
        _PROVIDER_GREETING + '<p>Запис перенесено на інший час:</p>' + _PROVIDER_MEETING
        + _PROVIDER_JOIN + _ROOM_DETAILS + _PROVIDER_FOOTER,
    ),
    'provider_cancelled': (
        'Запис скасовано: [service_name], [client_name], [start_date]',
        _PROVIDER_GREETING + '<p>Запис скасовано:</p>' + _PROVIDER_MEETING + _PROVIDER_FOOTER,
    ),
    'in_person_provider': (
        'Тепер очно: [service_name], [client_name], [start_date]',
        _PROVIDER_GREETING + '<p>Зустріч тепер відбудеться очно, а не онлайн:</p>' + _PROVIDER_MEETING
        + '<p>Онлайн-кімнату видалено.</p>' + _PROVIDER_FOOTER,
    ),
    'starting_provider': (
        'Зустріч починається: [service_name], [client_name]',
        _PROVIDER_GREETING + '<p>Онлайн-зустріч починається зараз.</p>'
        '<p>Клієнт: [client_name]<br>Послуга: <b>[service_name]</b></p>'
        + _PROVIDER_JOIN + _ROOM_DETAILS + _PROVIDER_FOOTER,
    ),
    'reminder_provider': (
        'Нагадування: [service_name], [client_name], [start_date]',
        _PROVIDER_GREETING + '<p>Нагадування про онлайн-зустріч:</p>' + _PROVIDER_MEETING
        + _PROVIDER_JOIN + _ROOM_DETAILS + _OPEN_EARLY + _PROVIDER_FOOTER,
    ),
    'details_changed_provider': (
        'Оновлені дані зустрічі: [service_name], [client_name], [start_date]',
        _PROVIDER_GREETING + '<p>Онлайн-зустріч перенесено в іншу кімнату. Час і посилання для входу '
        'не змінилися:</p>' + _PROVIDER_MEETING + _PROVIDER_JOIN + _ROOM_DETAILS
        + '<p>Користуйтеся даними, наведеними вище, а не тими, що надходили раніше.</p>' + _PROVIDER_FOOTER,
    ),
}

# Cyrillic goes as UCS-2: 70 characters in one SMS, 67 in each part of a longer one. Each of these fits in two
# parts with ordinary values, so the provider's name, the room's details and the time zone are left to the email.
SMS: dict[str, str] = {
    'client_created': '[company_name]: Вашу онлайн-зустріч «[service_name]» заплановано на [start_time_short]. '
                      '[online_meeting_link]',
    'client_rescheduled': '[company_name]: Вашу онлайн-зустріч «[service_name]» перенесено на [start_time_short]. '
                          '[online_meeting_link]',
    'client_cancelled': '[company_name]: Вашу онлайн-зустріч «[service_name]» на [start_time_short] скасовано.',
    'in_person_client': '[company_name]: Ваша зустріч «[service_name]» на [start_time_short] відбудеться очно, '
                        'а не онлайн.',
    'starting_client': '[company_name]: Ваша онлайн-зустріч «[service_name]» починається зараз. [online_meeting_link]',
    'reminder_client': '[company_name]: Нагадуємо про Вашу онлайн-зустріч «[service_name]» на [start_time_short]. '
                       '[online_meeting_link]',
    'details_changed_client': '[company_name]: Нові дані зустрічі «[service_name]» на [start_time_short] — у листі. '
                              '[online_meeting_link]',
    'provider_created': '[company_name]: Новий запис: «[service_name]», [client_name], [start_time_short]. '
                        '[online_meeting_provider_link]',
    'provider_rescheduled': '[company_name]: Запис перенесено: «[service_name]», [client_name], тепер '
                            '[start_time_short]. [online_meeting_provider_link]',
    'provider_cancelled': '[company_name]: Запис скасовано: «[service_name]», [client_name], [start_time_short].',
    'in_person_provider': '[company_name]: «[service_name]», [client_name], [start_time_short] — тепер очно, '
                          'онлайн-кімнату видалено.',
    'starting_provider': '[company_name]: Починається онлайн-зустріч «[service_name]», [client_name]. '
                         '[online_meeting_provider_link]',
    'reminder_provider': '[company_name]: Нагадування: «[service_name]», [client_name], [start_time_short]. '
                         '[online_meeting_provider_link]',
    'details_changed_provider': '[company_name]: Нові дані зустрічі «[service_name]», [client_name], '
                                '[start_time_short] — у листі. [online_meeting_provider_link]',
}

HIDDEN_LINK_TEXT = 'Посилання на зустріч — у Вашому записі на сайті.'
