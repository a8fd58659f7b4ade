"""The Ukrainian and Danish built-in templates: an email and an SMS for every client and provider notice, with
the variables the English ones use, the client's link wrapped for a business that hides it, never the host's
link in a client's message, and every SMS within two segments with ordinary values."""

import math
import re

import pytest
from jinja2 import Environment, meta

from meetbridge.domain.templates import (CLIENT_LINK, PROVIDER_LINK, RECIPIENTS, TEMPLATE_NAMES, VARIABLES,
                                         forbidden_variables, recipient_of, sample_variables)
from meetbridge.notify.defaults import DEFAULT_TEMPLATES, da, uk
from meetbridge.notify.render import SUBJECT_CHARS, check, render, text_alternative

LANGUAGES = {'uk': uk, 'da': da}
NAMES = [name for name in TEMPLATE_NAMES if recipient_of(name) in RECIPIENTS]
CLIENT_NAMES = [name for name in NAMES if recipient_of(name) == 'client']
PROVIDER_NAMES = [name for name in NAMES if recipient_of(name) == 'provider']
# The English emails that carry a link, and those that carry the room's details with it.
CLIENT_LINK_NAMES = [name for name in CLIENT_NAMES if CLIENT_LINK in DEFAULT_TEMPLATES[name][1]]
ROOM_DETAILS_NAMES = [name for name in NAMES if 'online_meeting_password' in DEFAULT_TEMPLATES[name][1]]

HIDDEN = 'online_meeting_link_hidden'
SHORT_TIME = 'start_time_short'
ALLOWED = set(VARIABLES) | {HIDDEN, SHORT_TIME}
# The bracket form of every allowed variable, the two this issue adds included.
_BRACKET = re.compile(r'\[(' + '|'.join(sorted(ALLOWED, key=len, reverse=True)) + r')\]')
LINK = 'https://meet.example.com/j/Q2xpZW50TGluaw'
# The ordinary values SMS lengths are judged with, the short time as each language writes it; the second one
# has the month with the longest abbreviation.
SHORT_TIMES = {'uk': ('9 бер., 09:30', '30 листоп., 23:45'), 'da': ('9. mar. 09.30', '30. sep. 23.45')}


def jinja(text: str) -> str:
    return _BRACKET.sub(r'{{ \1 }}', text)


def variables_in(text: str) -> set[str]:
    return meta.find_undeclared_variables(Environment().parse(jinja(text)))


def ordinary(language: str, hidden: bool = False, short_time: str | None = None) -> dict:
    values = {**sample_variables()['an ordinary booking'], CLIENT_LINK: LINK, PROVIDER_LINK: LINK,
              SHORT_TIME: short_time or SHORT_TIMES[language][0], HIDDEN: hidden}
    if hidden:
        values[CLIENT_LINK] = LANGUAGES[language].HIDDEN_LINK_TEXT
    return values


def render_sms(text: str, values: dict) -> str:
    """Plain text, as a subject is rendered (no HTML escaping)."""
    rendered, _ = render(jinja(text), '', values)
    assert len(rendered) < SUBJECT_CHARS  # so the subject's length cap cut nothing off
    return rendered


# GSM 03.38: the basic set (one septet each) and the extension table (an escape and a septet each).
GSM7_BASIC = frozenset('@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ'
                       'ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà')
GSM7_EXTENSION = frozenset('\f^{}\\[~]|€')


def sms_segments(text: str) -> tuple[str, int]:
    """(encoding, segments): 160 septets in one SMS, 153 in each part of a longer one; else UCS-2 in UTF-16
    code units, 70 in one SMS, 67 in each part."""
    if set(text) <= GSM7_BASIC | GSM7_EXTENSION:
        encoding, units, single, part = 'GSM-7', len(text) + sum(char in GSM7_EXTENSION for char in text), 160, 153
    else:
        encoding, units, single, part = 'UCS-2', len(text.encode('utf-16-le')) // 2, 70, 67
    return encoding, 1 if units <= single else math.ceil(units / part)


def test_the_segment_counter_counts_as_the_standard_does():
    assert sms_segments('a' * 160) == ('GSM-7', 1)
    assert sms_segments('æøå' * 51) == ('GSM-7', 1)
    assert sms_segments('€' * 80) == ('GSM-7', 1)
    assert sms_segments('a' * 161) == ('GSM-7', 2)
    assert sms_segments('a' * 306) == ('GSM-7', 2)
    assert sms_segments('a' * 307) == ('GSM-7', 3)
    assert sms_segments('ї' * 70) == ('UCS-2', 1)
    assert sms_segments('ї' * 71) == ('UCS-2', 2)
    assert sms_segments('ї' * 134) == ('UCS-2', 2)
    assert sms_segments('ї' * 135) == ('UCS-2', 3)
    assert sms_segments('a–b') == ('UCS-2', 1)


@pytest.mark.parametrize('language', LANGUAGES)
def test_every_client_and_provider_notice_has_an_email_and_an_sms(language):
    module = LANGUAGES[language]

    assert len(NAMES) == 14
    assert set(module.EMAIL) == set(NAMES)
    assert set(module.SMS) == set(NAMES)


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_templates_use_only_the_known_variables(language, name):
    module = LANGUAGES[language]

    for text in (*module.EMAIL[name], module.SMS[name]):
        assert variables_in(text) <= ALLOWED
        assert not re.findall(r'\[[a-z_]+\]', jinja(text)), 'a bracket that names no variable'


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_each_email_carries_what_the_english_one_carries(language, name):
    subject, body = LANGUAGES[language].EMAIL[name]
    english_subject, english_body = DEFAULT_TEMPLATES[name]

    assert variables_in(subject) == variables_in(english_subject)
    assert variables_in(body) - {HIDDEN} == variables_in(english_body) - {HIDDEN}


@pytest.mark.parametrize('name', CLIENT_NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_client_templates_never_carry_the_host_link(language, name):
    module = LANGUAGES[language]

    for text in (*module.EMAIL[name], module.SMS[name]):
        assert PROVIDER_LINK not in text
        assert forbidden_variables(name, text) == set()


@pytest.mark.parametrize('name', PROVIDER_NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_provider_templates_carry_the_host_link_where_the_english_one_does(language, name):
    module = LANGUAGES[language]
    has_link = PROVIDER_LINK in DEFAULT_TEMPLATES[name][1]

    for text in (module.EMAIL[name][1], module.SMS[name]):
        assert (f'[{PROVIDER_LINK}]' in text) == has_link
        assert f'[{CLIENT_LINK}]' not in text


# The one place a client's email shows its link: the hidden-link sentence, or the link with its own words.
JOIN_BLOCK = re.compile(
    re.escape('{% if online_meeting_link_hidden %}<p>[online_meeting_link]</p>{% else %}<p><a href="'
              '[online_meeting_link]">') + '[^<]+'
    + re.escape('</a><br>[online_meeting_link]</p>{% endif %}'))


@pytest.mark.parametrize('name', CLIENT_NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_every_client_email_with_the_link_wraps_it_for_a_business_that_hides_it(language, name):
    subject, body = LANGUAGES[language].EMAIL[name]

    if name in CLIENT_LINK_NAMES:
        assert len(JOIN_BLOCK.findall(body)) == 1
        assert CLIENT_LINK not in JOIN_BLOCK.sub('', body), 'the link shown outside the hidden-link block'
    else:
        assert CLIENT_LINK not in body and HIDDEN not in body
    assert CLIENT_LINK not in subject


@pytest.mark.parametrize('name', CLIENT_LINK_NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_a_hidden_link_shows_the_sentence_and_a_shown_one_the_link(language, name):
    subject, body = LANGUAGES[language].EMAIL[name]

    _, hidden = render(jinja(subject), jinja(body), ordinary(language, hidden=True))
    _, shown = render(jinja(subject), jinja(body), ordinary(language))

    assert f'<p>{LANGUAGES[language].HIDDEN_LINK_TEXT}</p>' in hidden
    assert 'href' not in hidden and LINK not in hidden
    assert f'href="{LINK}"' in shown and f'<br>{LINK}</p>' in shown
    assert LANGUAGES[language].HIDDEN_LINK_TEXT not in shown


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_emails_pass_the_template_check_and_render_every_variable(language, name):
    subject, body = LANGUAGES[language].EMAIL[name]
    check(jinja(subject), jinja(body))

    values = {**{variable: f'value-of-{variable}' for variable in VARIABLES}, HIDDEN: False}
    rendered_subject, rendered_body = render(jinja(subject), jinja(body), values)

    assert not re.findall(r'\[[a-z_]+\]', rendered_subject + rendered_body)
    assert '{{' not in rendered_body and '{%' not in rendered_body
    assert 'value-of-company_name' in text_alternative(rendered_body).splitlines()[-1]
    assert rendered_subject and len(rendered_subject) <= SUBJECT_CHARS


@pytest.mark.parametrize('name', ROOM_DETAILS_NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_emails_show_password_and_description_only_when_there_are_some(language, name):
    subject, body = LANGUAGES[language].EMAIL[name]
    password_label = {'uk': 'Пароль: ', 'da': 'Adgangskode: '}[language]

    with_details = render(jinja(subject), jinja(body), ordinary(language))[1]
    without = render(jinja(subject), jinja(body),
                     {**ordinary(language), 'online_meeting_password': '', 'online_meeting_description': ''})[1]

    assert f'{password_label}room-4821' in text_alternative(with_details)
    assert 'Dial-in: +1 555 0100, PIN 4821' in with_details
    assert password_label not in without and 'Dial-in' not in without
    assert '<p></p>' not in without


@pytest.mark.parametrize('name', CLIENT_NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_a_client_message_without_a_provider_name_leaves_the_provider_out(language, name):
    subject, body = LANGUAGES[language].EMAIL[name]
    values = {**ordinary(language), 'provider_name': ''}

    rendered_body = text_alternative(render(jinja(subject), jinja(body), values)[1])
    rendered_sms = render_sms(LANGUAGES[language].SMS[name], values)

    for text in (rendered_body, rendered_sms):
        assert 'Фахівець:' not in text and ' med ' not in text
        assert '  ' not in text and ' ,' not in text and ' .' not in text


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_sms_is_plain_text_with_the_company_first_and_the_time_and_link_where_the_email_has_them(language, name):
    text = LANGUAGES[language].SMS[name]
    english_body = DEFAULT_TEMPLATES[name][1]
    check('', jinja(text))

    assert text.startswith('[company_name]: ')
    assert '<' not in text and '>' not in text
    assert (f'[{SHORT_TIME}]' in text) == ('[start_time]' in english_body)
    assert f'[{CLIENT_LINK}]' in text if name in CLIENT_LINK_NAMES else f'[{CLIENT_LINK}]' not in text


@pytest.mark.parametrize('month', [0, 1], ids=['march', 'longest month'])
@pytest.mark.parametrize('hidden', [False, True], ids=['link', 'hidden link'])
@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_every_sms_fits_in_two_segments_with_ordinary_values(language, name, hidden, month):
    short_time = SHORT_TIMES[language][month]
    rendered = render_sms(LANGUAGES[language].SMS[name], ordinary(language, hidden, short_time))

    encoding, segments = sms_segments(rendered)

    assert segments <= 2, f'{encoding}, {segments} segments: {rendered}'
    assert encoding == {'uk': 'UCS-2', 'da': 'GSM-7'}[language]
    assert rendered.startswith('Studio Nine: ')
    if f'[{SHORT_TIME}]' in LANGUAGES[language].SMS[name]:
        assert short_time in rendered
    assert '[' not in rendered and '{' not in rendered


def test_danish_sms_and_hidden_link_text_stay_within_the_gsm7_alphabet():
    for text in (*da.SMS.values(), da.HIDDEN_LINK_TEXT):
        outside = set(text) - GSM7_BASIC - GSM7_EXTENSION
        assert not outside, f'{outside} would send the SMS as UCS-2: {text}'


# The polite form addressed to one person is written with a capital letter in a Ukrainian letter.
_LOWER_CASE_YOU = re.compile(r'\b(?:ви|вас|вам|вами|ваш\w*)\b')


@pytest.mark.parametrize('name', CLIENT_NAMES)
def test_ukrainian_client_messages_address_the_client_as_capital_vy(name):
    subject, body = uk.EMAIL[name]

    for text in (subject, body, uk.SMS[name], uk.HIDDEN_LINK_TEXT):
        assert not _LOWER_CASE_YOU.findall(text)
    assert re.search(r'\b(?:Ви|Вас|Вам|Ваш\w*)\b', body)
    assert body.startswith('<p>Добрий день, [client_name]!</p>')


@pytest.mark.parametrize('name', CLIENT_NAMES)
def test_danish_client_messages_say_du_not_de(name):
    subject, body = da.EMAIL[name]

    for text in (subject, body, da.SMS[name], da.HIDDEN_LINK_TEXT):
        assert not re.search(r'\b(?:De|Dem|Deres)\b', text)
    assert body.startswith('<p>Hej [client_name]</p>')
    assert re.search(r'\b(?:du|dig|din|dit)\b', body, re.IGNORECASE)


@pytest.mark.parametrize('name', PROVIDER_NAMES)
@pytest.mark.parametrize('language', LANGUAGES)
def test_provider_emails_greet_the_provider(language, name):
    greeting = {'uk': '<p>Вітаю, [provider_name]!</p>', 'da': '<p>Hej [provider_name]</p>'}[language]

    assert LANGUAGES[language].EMAIL[name][1].startswith(greeting)


@pytest.mark.parametrize('language', LANGUAGES)
def test_the_hidden_link_text_is_a_plain_sentence_that_fits_the_setting(language):
    text = LANGUAGES[language].HIDDEN_LINK_TEXT

    assert 1 <= len(text) <= 300  # the bounds of the tenant's own hidden_link_text
    assert text.endswith('.')
    assert not re.search(r'[<>\[\]{}]', text)


@pytest.mark.parametrize('name', NAMES)
def test_danish_sms_puts_no_den_before_the_short_time(name):
    # The short time starts with the weekday ("søn. 15. feb. 14.00"): "den søn. 15. feb." is not Danish.
    assert not re.search(r'\bden \[' + SHORT_TIME + r'\]', da.SMS[name])
