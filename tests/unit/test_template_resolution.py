"""Which template a message gets: the language decides first, the level second; the switch goes by level."""

from datetime import UTC, datetime

import pytest

from meetbridge.logic import templates
from meetbridge.logic.templates import TemplateBook
from meetbridge.notify import defaults, locales
from meetbridge.store.models import TemplateItem

TENANT = 't_0123456789abcdef0123'
NAME = 'client_created'
NOW = datetime(2026, 3, 1, tzinfo=UTC)
LEVEL_IDS = {'service+provider': ('svc', 'dana'), 'service': ('svc', None), 'provider': (None, 'dana'),
             'tenant': (None, None)}


def _contract_builtin(name: str, channel: str, locale: str):
    """notify.defaults.builtin as interfaces promise it: a text for every tag in BUILTIN_LOCALES, none else."""
    if locale not in locales.BUILTIN_LOCALES:
        return None
    return (f'built-in {locale}' if channel == 'email' else None), f'built-in {channel} {locale}'


@pytest.fixture
def builtins_in_every_language(monkeypatch):
    monkeypatch.setattr(templates, 'builtin', _contract_builtin)


def _text(level: str, locale: str, channel: str = 'email', body: str | None = None) -> TemplateItem:
    service_id, provider_id = LEVEL_IDS[level]
    return TemplateItem(*TemplateItem.key(TENANT, NAME, channel, service_id, provider_id, locale), name=NAME,
                        channel=channel, service_id=service_id, provider_id=provider_id, locale=locale,
                        subject='s' if channel == 'email' else None, body=body or f'{level} {locale}',
                        updated_at=NOW)


def _switch(level: str, enabled: bool, channel: str = 'email') -> TemplateItem:
    service_id, provider_id = LEVEL_IDS[level]
    return TemplateItem(*TemplateItem.key(TENANT, NAME, channel, service_id, provider_id, TemplateItem.SWITCH),
                        name=NAME, channel=channel, service_id=service_id, provider_id=provider_id,
                        locale=TemplateItem.SWITCH, enabled=enabled, updated_at=NOW)


def _legacy(**fields) -> TemplateItem:
    return TemplateItem(*TemplateItem.legacy_key(TENANT, NAME), name=NAME, updated_at=NOW, **fields)


def _book(*items: TemplateItem, default_locale: str = 'en', service_id='svc', provider_id='dana') -> TemplateBook:
    return TemplateBook(TENANT, service_id, provider_id, default_locale, {(item.pk, item.sk): item for item in items})


def _chosen(book: TemplateBook, locale: str | None, channel: str = 'email') -> tuple[str, str]:
    chosen = book.choose(NAME, channel, locale)
    return chosen.level, chosen.locale


@pytest.mark.parametrize('channel', ['email', 'sms'])
def test_each_level_beats_the_next(channel, builtins_in_every_language):
    levels = list(LEVEL_IDS)
    for index, level in enumerate(levels):
        book = _book(*(_text(other, 'en', channel) for other in levels[index:]))
        chosen = book.choose(NAME, channel, 'en')
        assert (chosen.level, chosen.body, chosen.is_default) == (level, f'{level} en', False)
    default = _book().choose(NAME, channel, 'en')
    assert (default.level, default.locale, default.is_default) == ('default', 'en', True)


def test_a_level_that_does_not_apply_is_not_read(builtins_in_every_language):
    # A provider's message about no service, or a service without a provider: only their own levels count.
    everything = [_text(level, 'en') for level in LEVEL_IDS]
    assert _chosen(_book(*everything, service_id=None), 'en') == ('provider', 'en')
    assert _chosen(_book(*everything, provider_id=None), 'en') == ('service', 'en')
    assert _chosen(_book(*everything, service_id=None, provider_id=None), 'en') == ('tenant', 'en')


def test_the_language_decides_before_the_level(builtins_in_every_language):
    # A French client of a tenant that only customised English gets the built-in French.
    assert _chosen(_book(_text('tenant', 'en')), 'fr') == ('default', 'fr')
    # A tenant's French service template beats the built-in French, and any English one.
    assert _chosen(_book(_text('tenant', 'en'), _text('service+provider', 'en'), _text('service', 'fr')),
                   'fr') == ('service', 'fr')


def test_a_regional_client_takes_its_language(builtins_in_every_language):
    assert _chosen(_book(_text('tenant', 'fr'), _text('service', 'en')), 'fr-CA') == ('tenant', 'fr')
    assert _chosen(_book(), 'fr-CA') == ('default', 'fr')
    # The regional text, where there is one, beats its language's at the same level.
    assert _chosen(_book(_text('tenant', 'fr'), _text('tenant', 'fr-CA')), 'fr-CA') == ('tenant', 'fr-CA')
    # ... but not a more specific level's text in the language.
    assert _chosen(_book(_text('service', 'fr'), _text('tenant', 'fr-CA')), 'fr-CA') == ('service', 'fr')


def test_an_unsupported_language_falls_to_the_default_locale_then_english(builtins_in_every_language):
    # German: nobody wrote it, and there is no built-in German: the tenant's default language decides.
    assert _chosen(_book(default_locale='da'), 'de') == ('default', 'da')
    assert _chosen(_book(_text('tenant', 'da'), default_locale='da'), 'de') == ('tenant', 'da')
    assert _chosen(_book(_text('tenant', 'en'), default_locale='da'), 'de') == ('default', 'da')
    # A default locale without built-in texts either: English, the tenant's own first.
    assert _chosen(_book(default_locale='de-AT'), 'pt-BR') == ('default', 'en')
    assert _chosen(_book(_text('provider', 'en'), default_locale='de-AT'), 'pt-BR') == ('provider', 'en')
    assert _chosen(_book(_text('provider', 'de'), default_locale='de-AT'), 'pt-BR') == ('provider', 'de')
    # No client locale: the tenant's default.
    assert _chosen(_book(_text('tenant', 'uk'), default_locale='uk'), None) == ('tenant', 'uk')


def test_the_search_tries_each_tag_once():
    assert templates.search_order('fr-CA', 'fr') == (('fr-CA', 'fr'), ('en',))
    assert templates.search_order(None, 'en') == (('en',),)
    assert templates.search_order('en-GB', 'da') == (('en-GB', 'en'), ('da',))


def test_the_switch_goes_by_level_for_every_locale(builtins_in_every_language):
    assert _book().choose('starting_client', 'email', 'fr').enabled is False  # off by default
    assert _book().choose(NAME, 'email', 'fr').enabled is True
    levels = list(LEVEL_IDS)
    for index, level in enumerate(levels):
        # The most specific switch set decides, whatever the less specific ones say.
        book = _book(*(_switch(other, other != level) for other in levels[index + 1:]), _switch(level, False))
        assert book.choose(NAME, 'email', 'fr').enabled is False, level
        assert book.choose(NAME, 'email', 'en').enabled is False, level
        book = _book(*(_switch(other, False) for other in levels[index + 1:]), _switch(level, True))
        assert book.choose(NAME, 'email', 'fr').enabled is True, level
    # Per channel: SMS switched off leaves the email on.
    book = _book(_switch('tenant', False, 'sms'))
    assert book.choose(NAME, 'sms', 'en').enabled is False and book.choose(NAME, 'email', 'en').enabled is True
    # A switch alone is no text.
    assert _chosen(_book(_switch('service', True)), 'en') == ('default', 'en')


def test_a_legacy_item_is_the_tenant_email_in_the_default_locale(builtins_in_every_language):
    legacy = _legacy(subject='Old', body='old body', enabled=False)
    chosen = _book(legacy, default_locale='fr').choose(NAME, 'email', 'fr')
    assert (chosen.level, chosen.locale, chosen.body, chosen.enabled) == ('tenant', 'fr', 'old body', False)
    # Only in the default locale, only for email; a more specific level still wins.
    assert _chosen(_book(legacy, default_locale='fr'), 'da') == ('default', 'da')
    assert _chosen(_book(legacy, default_locale='fr'), 'fr', 'sms') == ('default', 'fr')
    assert _chosen(_book(legacy, _text('service', 'fr'), default_locale='fr'), 'fr') == ('service', 'fr')
    assert _book(legacy).choose(NAME, 'sms', 'en').enabled is True  # its switch is the email's
    # Written since, the tenant's own items replace what the legacy one said.
    newer = _book(legacy, _text('tenant', 'en', body='new body'), _switch('tenant', True))
    assert (newer.choose(NAME, 'email', 'en').body, newer.choose(NAME, 'email', 'en').enabled) == ('new body', True)
    # A legacy item that only switched the default off.
    switched = _book(_legacy(enabled=False)).choose(NAME, 'email', 'en')
    assert (switched.level, switched.enabled) == ('default', False)


def test_the_real_english_builtin_is_the_last_resort():
    chosen = _book(default_locale='de').choose(NAME, 'email', 'pt')
    assert (chosen.level, chosen.locale, chosen.is_default) == ('default', 'en', True)
    assert chosen.subject and chosen.body
    sms = _book().choose(NAME, 'sms', None)
    assert (sms.level, sms.locale, sms.subject) == ('default', 'en', None) and sms.body


@pytest.mark.skipif(defaults.builtin(NAME, 'email', 'fr') is None, reason='the French built-in texts are not here yet')
def test_a_french_client_gets_the_real_french_builtin_over_an_english_tenant_template():
    for locale in ('fr', 'fr-CA'):
        chosen = _book(_text('tenant', 'en')).choose(NAME, 'email', locale)
        assert (chosen.level, chosen.locale, chosen.is_default) == ('default', 'fr', True)


def test_a_tenants_own_english_alert_is_used_when_its_default_language_is_another():
    key = TemplateItem.key('t_1', 'alert_meeting_failed', 'email', None, None, 'en')
    book = TemplateBook('t_1', None, None, 'fr', {key: TemplateItem(*key, subject='Ours', body='<p>ours</p>')})
    chosen = book.choose('alert_meeting_failed', 'email', None)
    assert (chosen.level, chosen.locale, chosen.subject) == ('tenant', 'en', 'Ours')
