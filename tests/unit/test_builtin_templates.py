"""Every built-in language's templates, by email and by SMS: complete, renderable, the right link to the right person,
no link at all when the business hides it, and text messages within two segments."""

import html
import importlib
import re
from datetime import datetime, timezone
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest
from jinja2 import Environment, meta
from markupsafe import escape

from meetbridge.domain.templates import (ADMIN, CLIENT_LINK, LINK_HIDDEN, PROVIDER_LINK, TEMPLATE_NAMES, TEMPLATES,
                                         VARIABLES, bracket_to_jinja, forbidden_variables, recipient_of,
                                         sample_variables)
from meetbridge.notify import render
from meetbridge.notify.defaults import DEFAULT_TEMPLATES, builtin, en, hidden_link_text
from meetbridge.notify.defaults.alerts import ALERTS
from meetbridge.notify.locales import BUILTIN_LOCALES, time_variables

NAMES = [name for name in TEMPLATE_NAMES if recipient_of(name) != ADMIN]
CLIENT_NAMES = [name for name in NAMES if recipient_of(name) == 'client']
PROVIDER_NAMES = [name for name in NAMES if recipient_of(name) == 'provider']
# The messages that carry the recipient's own link (a cancelled or in-person meeting has none to give).
LINK_CHANGES = ('created', 'rescheduled', 'starting', 'reminder', 'details_changed')
# Languages written in this part: their tests never skip.
ALWAYS_PRESENT = ('en', 'fr')
URL = re.compile(r'https?://|www\.', re.IGNORECASE)
CLIENT_URL, PROVIDER_URL = 'https://meet.test/j/client-token-123', 'https://meet.test/j/provider-token-456'


def carries_link(name: str) -> bool:
    return TEMPLATES[name][1] in LINK_CHANGES


def texts(locale: str) -> ModuleType:
    """The language's module; a language written elsewhere is skipped only while its module does not exist."""
    module = f'meetbridge.notify.defaults.{locale}'
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as missing:
        if missing.name != module or locale in ALWAYS_PRESENT:
            raise
        pytest.skip(f'{module} is not written yet')


def template(locale: str, channel: str, name: str) -> tuple[str, str]:
    module = texts(locale)
    return module.EMAIL[name] if channel == 'email' else ('', module.SMS[name])


def rendered(channel: str, subject: str, body: str, variables: dict) -> str:
    """The message as its recipient reads it. There is no plain-text renderer in notify.render yet: an SMS is
    rendered as an autoescaped body and unescaped, the same text for a template without markup of its own."""
    rendered_subject, rendered_body = render.render(subject, body, variables)
    return rendered_subject + '\n' + rendered_body if channel == 'email' else html.unescape(rendered_body)


def ordinary(locale: str, **changes) -> dict:
    """The ordinary booking, its time as the recipient would read it in their language."""
    start = datetime(2026, 3, 9, 9, 30, tzinfo=timezone.utc)
    return {**sample_variables()['an ordinary booking'],
            **time_variables(start, datetime(2026, 3, 9, 10, 15, tzinfo=timezone.utc), ZoneInfo('Europe/London'),
                             locale), **changes}


def hidden(locale: str) -> dict:
    return ordinary(locale, **{LINK_HIDDEN: True, CLIENT_LINK: texts(locale).HIDDEN_LINK_TEXT})


def segments(text: str) -> tuple[str, int]:
    """(encoding, segments) of a text message: GSM-7 (extension characters count two septets) in 160, or 153 a
    part; else UCS-2 in UTF-16 units, 70, or 67 a part, a surrogate pair kept whole. domain.sms.segments is the
    project's own count; this one keeps these tests independent of it."""
    basic = ('@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§'
             '¿abcdefghijklmnopqrstuvwxyzäöñüà')
    if all(char in basic or char in '^{}\\[~]|€\f' for char in text):
        units, single, part, encoding = [1 if char in basic else 2 for char in text], 160, 153, 'GSM-7'
    else:
        units, single, part, encoding = [len(char.encode('utf-16-le')) // 2 for char in text], 70, 67, 'UCS-2'
    if sum(units) <= single:
        return encoding, 1 if units else 0
    parts, filled = 1, 0
    for size in units:
        if filled + size > part:
            parts, filled = parts + 1, 0
        filled += size
    return encoding, parts


@pytest.mark.parametrize('locale', BUILTIN_LOCALES)
def test_every_client_and_provider_template_in_both_channels_and_a_hidden_link_sentence(locale):
    module = texts(locale)

    assert set(module.EMAIL) == set(NAMES)
    assert set(module.SMS) == set(NAMES)
    assert module.HIDDEN_LINK_TEXT.strip() and not URL.search(module.HIDDEN_LINK_TEXT)


@pytest.mark.parametrize('locale', [locale for locale in BUILTIN_LOCALES if locale != 'en'])
def test_every_language_is_written_in_it_not_copied_from_english(locale):
    module = texts(locale)

    for name in NAMES:
        assert module.EMAIL[name][0] != en.EMAIL[name][0] and module.EMAIL[name][1] != en.EMAIL[name][1]
        assert module.SMS[name] != en.SMS[name]
    assert module.HIDDEN_LINK_TEXT != en.HIDDEN_LINK_TEXT


@pytest.mark.parametrize('channel', ['email', 'sms'])
@pytest.mark.parametrize('locale', BUILTIN_LOCALES)
def test_templates_use_only_known_variables_and_pass_the_save_checks(locale, channel):
    environment = Environment()
    for name in NAMES:
        subject, body = template(locale, channel, name)
        for text in (subject, body):
            assert set(re.findall(r'\[([a-z_]+)\]', text)) <= set(VARIABLES), (name, text)
            assert meta.find_undeclared_variables(environment.parse(bracket_to_jinja(text))) <= set(VARIABLES)
        render.check(subject, body)


@pytest.mark.parametrize('example', sample_variables())
@pytest.mark.parametrize('channel', ['email', 'sms'])
@pytest.mark.parametrize('locale', BUILTIN_LOCALES)
def test_every_template_renders_with_every_sample(locale, channel, example):
    variables = sample_variables()[example]
    for name in NAMES:
        message = rendered(channel, *template(locale, channel, name), variables)

        assert '{{' not in message and '{%' not in message
        assert not re.search(r'\[(' + '|'.join(VARIABLES) + r')\]', message)
        if channel == 'sms':
            # Plain text that says who writes first.
            assert message.startswith(variables['company_name'])
            assert not re.search(r'<[a-z/]', template(locale, channel, name)[1])
        else:
            assert escape(variables['company_name']) in message


@pytest.mark.parametrize('channel', ['email', 'sms'])
@pytest.mark.parametrize('locale', BUILTIN_LOCALES)
def test_client_messages_carry_the_client_link_and_never_the_providers(locale, channel):
    variables = ordinary(locale, **{CLIENT_LINK: CLIENT_URL, PROVIDER_LINK: PROVIDER_URL})
    for name in CLIENT_NAMES:
        subject, body = template(locale, channel, name)
        message = rendered(channel, subject, body, variables)

        assert PROVIDER_LINK not in subject + body and forbidden_variables(name, subject + body) == set()
        assert PROVIDER_URL not in message
        assert (CLIENT_URL in message) == carries_link(name), name
        if channel == 'email' and carries_link(name):
            assert f'href="{CLIENT_URL}"' in message


@pytest.mark.parametrize('channel', ['email', 'sms'])
@pytest.mark.parametrize('locale', BUILTIN_LOCALES)
def test_provider_messages_carry_the_providers_link(locale, channel):
    variables = ordinary(locale, **{CLIENT_LINK: CLIENT_URL, PROVIDER_LINK: PROVIDER_URL})
    for name in PROVIDER_NAMES:
        message = rendered(channel, *template(locale, channel, name), variables)

        assert (PROVIDER_URL in message) == carries_link(name), name
        assert CLIENT_URL not in message


@pytest.mark.parametrize('example', sample_variables())
@pytest.mark.parametrize('channel', ['email', 'sms'])
@pytest.mark.parametrize('locale', BUILTIN_LOCALES)
def test_a_hidden_link_leaves_no_url_in_any_client_message(locale, channel, example):
    sentence = texts(locale).HIDDEN_LINK_TEXT
    variables = {**sample_variables()[example], LINK_HIDDEN: True, CLIENT_LINK: sentence}
    for name in CLIENT_NAMES:
        message = rendered(channel, *template(locale, channel, name), variables)

        assert not URL.search(message), (name, message)
        assert 'href=' not in message
        # Where the link would be, the client reads where to find it.
        shown = escape(sentence) if channel == 'email' else sentence
        assert (shown in message) == carries_link(name), name


@pytest.mark.parametrize('channel', ['email', 'sms'])
@pytest.mark.parametrize('locale', ALWAYS_PRESENT)
def test_a_client_message_without_a_provider_name_leaves_the_provider_out(locale, channel):
    # A platform may send no provider's name: "with ." or "avec ," would be left in the text.
    with_provider = {'en': ' with Dana Provider', 'fr': ' avec Dana Provider'}[locale]
    for name in CLIENT_NAMES:
        named = rendered(channel, *template(locale, channel, name), ordinary(locale, provider_name='Dana Provider'))
        nameless = rendered(channel, *template(locale, channel, name), ordinary(locale, provider_name=''))

        assert nameless == named.replace(with_provider, ''), name


@pytest.mark.parametrize('variables_of', [ordinary, hidden], ids=['link shown', 'link hidden'])
@pytest.mark.parametrize('locale', BUILTIN_LOCALES)
def test_text_messages_fit_in_two_segments(locale, variables_of):
    too_long = {}
    for name in NAMES:
        encoding, count = segments(rendered('sms', *template(locale, 'sms', name), variables_of(locale)))
        if count > 2:
            too_long[name] = f'{count} segments ({encoding})'
    assert too_long == {}


@pytest.mark.parametrize('locale', ALWAYS_PRESENT)
def test_english_and_french_text_messages_keep_to_gsm_7(locale):
    # 160 characters a segment instead of 70: a single â, ç or ’ in the text would cost that.
    for name in NAMES:
        for variables in (ordinary(locale), hidden(locale)):
            assert segments(rendered('sms', *template(locale, 'sms', name), variables))[0] == 'GSM-7', name


@pytest.mark.parametrize('month', range(1, 13))
@pytest.mark.parametrize('locale', ['en', 'fr', 'da'])
def test_text_messages_keep_to_gsm_7_and_two_segments_in_every_month(locale, month):
    # The month's and weekday's abbreviations come from CLDR through time_variables: one letter outside GSM-7 (the û
    # of French "août") would send the whole message as UCS-2. The 15th falls on every weekday across the year.
    start = datetime(2026, month, 15, 13, tzinfo=timezone.utc)
    variables = {**sample_variables()['an ordinary booking'],
                 **time_variables(start, start.replace(hour=14), ZoneInfo('Europe/Paris'), locale)}
    for name in NAMES:
        for shown in (variables, {**variables, LINK_HIDDEN: True, CLIENT_LINK: texts(locale).HIDDEN_LINK_TEXT}):
            assert segments(rendered('sms', *template(locale, 'sms', name), shown)) in {('GSM-7', 1), ('GSM-7', 2)}, (
                name, variables['start_time_short'])


@pytest.mark.parametrize('locale', ALWAYS_PRESENT)
def test_builtin_gives_each_language_its_own_texts(locale):
    module = texts(locale)
    for name in NAMES:
        assert builtin(name, 'email', locale) == module.EMAIL[name]
        assert builtin(name, 'sms', locale) == (None, module.SMS[name])
    assert hidden_link_text(locale) == module.HIDDEN_LINK_TEXT
    assert hidden_link_text(f'{locale}-CA') == module.HIDDEN_LINK_TEXT


def test_builtin_has_nothing_for_a_regional_tag_or_another_language():
    # A regional tag reaches its language through locales.language_group.
    assert builtin('client_created', 'email', 'fr-CA') is None
    assert builtin('client_created', 'sms', 'de') is None
    assert hidden_link_text('de-AT') == en.HIDDEN_LINK_TEXT


def test_alerts_are_built_in_as_english_emails_only():
    for name in ALERTS:
        assert builtin(name, 'email', 'en') == ALERTS[name]
        # Other languages have none, so a tenant's own alert text in any language is found before the English.
        assert builtin(name, 'email', 'fr') is None and builtin(name, 'email', 'de-AT') is None
        assert builtin(name, 'sms', 'en') is None


def test_default_templates_are_the_english_emails_and_the_alerts():
    assert DEFAULT_TEMPLATES == {**en.EMAIL, **ALERTS}
    assert set(DEFAULT_TEMPLATES) == set(TEMPLATE_NAMES)


@pytest.mark.parametrize(('text', 'expected'), [
    ('', ('GSM-7', 0)), ('a' * 160, ('GSM-7', 1)), ('a' * 161, ('GSM-7', 2)), ('€' * 80, ('GSM-7', 1)),
    ('€' * 81, ('GSM-7', 2)), ('é' * 306, ('GSM-7', 2)), ('ç' * 70, ('UCS-2', 1)), ('ç' * 71, ('UCS-2', 2)),
    ('😀' * 35, ('UCS-2', 1)), ('a' * 66 + '😀' + 'a' * 66, ('UCS-2', 3)),
])
def test_the_local_segment_count(text, expected):
    assert segments(text) == expected
