"""The built-in templates: one module per language in BUILTIN_LOCALES (EMAIL, SMS, HIDDEN_LINK_TEXT), and the admin
alerts, in English by email only. A language's module is imported when a message in it is first needed."""

import importlib
from types import ModuleType

from meetbridge.domain.templates import ADMIN, recipient_of
from meetbridge.notify.defaults import en
from meetbridge.notify.defaults.alerts import ALERTS
from meetbridge.notify.locales import BUILTIN_LOCALES

# The English emails and the alerts, by template name: (subject, HTML body).
DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {**en.EMAIL, **ALERTS}


def _texts(locale: str) -> ModuleType:
    """The built-in texts of a tag in BUILTIN_LOCALES."""
    return importlib.import_module(f'{__name__}.{locale}')


def builtin(name: str, channel: str, locale: str) -> tuple[str | None, str] | None:
    """The built-in (subject, body) of a template in a language: subject None for SMS. None for a tag not in
    BUILTIN_LOCALES (a regional tag falls back to its language through locales.language_group), and for an alert by
    SMS. Alerts are built in English only, so a tenant's own alert text in any language comes before them."""
    if recipient_of(name) == ADMIN:
        return ALERTS[name] if channel == 'email' and locale == 'en' else None
    if locale not in BUILTIN_LOCALES:
        return None
    texts = _texts(locale)
    return texts.EMAIL[name] if channel == 'email' else (None, texts.SMS[name])


def hidden_link_text(locale: str) -> str:
    """The built-in sentence that stands for a hidden link: the one of the tag's language, else English."""
    language = locale.split('-')[0]
    return _texts(language if language in BUILTIN_LOCALES else 'en').HIDDEN_LINK_TEXT
