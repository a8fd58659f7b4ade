"""Which template a message uses: the level it is set at, its channel and its locale.

A template can be set for the tenant, a service, a provider, or a service and provider together, in each
channel (email, sms) and locale; the built-in texts (notify/defaults) are the last level. The language decides
first and the level second: the most specific level with a text in the client's language wins, else the most
specific level in the tenant's default language, else in English. Whether a template sends is a switch per
level and channel, for every locale: the most specific level with its switch set decides.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from meetbridge.domain import templates as rules
from meetbridge.notify.defaults import builtin
from meetbridge.notify.locales import language_group
from meetbridge.store import repository
from meetbridge.store.models import TemplateItem

# The levels a tenant sets, most specific first, and the built-in texts after them.
SERVICE_AND_PROVIDER, SERVICE, PROVIDER, TENANT, DEFAULT = 'service+provider', 'service', 'provider', 'tenant', 'default'
STORED_LEVELS = (SERVICE_AND_PROVIDER, SERVICE, PROVIDER, TENANT)
LEVELS = STORED_LEVELS + (DEFAULT,)
ENGLISH = 'en'


def level_of(service_id: str | None, provider_id: str | None) -> str:
    """The level a template set for these ids is at."""
    if service_id and provider_id:
        return SERVICE_AND_PROVIDER
    return SERVICE if service_id else PROVIDER if provider_id else TENANT


def ids_at(level: str, service_id: str | None, provider_id: str | None) -> tuple[str | None, str | None]:
    """The ids of a message's service and provider that a level's templates are keyed by."""
    return {SERVICE_AND_PROVIDER: (service_id, provider_id), SERVICE: (service_id, None),
            PROVIDER: (None, provider_id), TENANT: (None, None)}[level]


def levels_for(service_id: str | None, provider_id: str | None) -> tuple[str, ...]:
    """The stored levels that apply to a message about this service and provider, most specific first."""
    applies = {SERVICE_AND_PROVIDER: bool(service_id and provider_id), SERVICE: bool(service_id),
               PROVIDER: bool(provider_id), TENANT: True}
    return tuple(level for level in STORED_LEVELS if applies[level])


def search_order(locale: str | None, default_locale: str) -> tuple[tuple[str, ...], ...]:
    """The language groups tried in turn: the client's, the tenant's default, English (a tag tried once)."""
    groups, seen = [], set()
    for tag in (locale, default_locale, ENGLISH):
        group = tuple(candidate for candidate in (language_group(tag) if tag else ()) if candidate not in seen)
        if group:
            groups.append(group)
            seen.update(group)
    return tuple(groups)


@dataclass(frozen=True)
class Chosen:
    name: str
    channel: str
    locale: str
    level: str  # one of LEVELS
    subject: str | None  # email only
    body: str
    enabled: bool
    is_default: bool  # the built-in text


@dataclass(frozen=True)
class TemplateBook:
    """Every template a notice may need, read in ONE BatchGetItem (legacy keys included)."""

    tenant_id: str
    service_id: str | None
    provider_id: str | None
    default_locale: str
    items: dict[tuple[str, str], TemplateItem]

    @classmethod
    def read(cls, tenant_id: str, names: Iterable[str], channels: Iterable[str], service_id: str | None,
             provider_id: str | None, locales: Iterable[str | None], default_locale: str, *,
             consistent_read: bool = False) -> 'TemplateBook':
        # Keys: names x channels x levels (at most 4) x (tags + the switch), and one legacy key a name. A notice
        # whose client's locale and the tenant's default have two subtags each (fr-CA, en-GB: 5 tags with English
        # and the switch) needs 2 x 2 x 4 x 6 + 2 = 98 keys: one BatchGetItem of at most 100. Locales of three subtags
        # (zh-Hant-TW) or a class whose clients speak several languages need more: pynamodb sends them 100 a request.
        names, channels = tuple(names), tuple(channels)
        tags = dict.fromkeys(tag for locale in locales for group in search_order(locale, default_locale)
                             for tag in group)
        keys = [TemplateItem.key(tenant_id, name, channel, *ids_at(level, service_id, provider_id), tag)
                for name in names for channel in channels for level in levels_for(service_id, provider_id)
                for tag in (*tags, TemplateItem.SWITCH)]
        if 'email' in channels:
            keys += [TemplateItem.legacy_key(tenant_id, name) for name in names]
        return cls(tenant_id, service_id, provider_id, default_locale,
                   repository.templates_by_key(keys, consistent_read=consistent_read))

    def choose(self, name: str, channel: str, locale: str | None) -> Chosen:
        enabled = self.enabled(name, channel)
        for group in search_order(locale, self.default_locale):
            for level in (*levels_for(self.service_id, self.provider_id), DEFAULT):
                for tag in group:
                    text = self.text_at(name, channel, level, tag)
                    if text is not None:
                        return Chosen(name, channel, tag, level, *text, enabled=enabled, is_default=level == DEFAULT)
        raise LookupError(f'no {channel} text for the {name} template, not even in English')

    def text_at(self, name: str, channel: str, level: str, tag: str) -> tuple[str | None, str] | None:
        """(subject, body) of the text set at exactly this level and tag; the built-in one for DEFAULT."""
        if level == DEFAULT:
            return builtin(name, channel, tag)
        item = self.stored_at(name, channel, level, tag)
        return None if item is None else (item.subject, item.body)

    def stored_at(self, name: str, channel: str, level: str, tag: str) -> TemplateItem | None:
        """The item holding a stored level's text in `tag`: the legacy item for the tenant's email in its default
        locale when nothing newer replaced it."""
        item = self.items.get(TemplateItem.key(self.tenant_id, name, channel,
                                               *ids_at(level, self.service_id, self.provider_id), tag))
        if item is None and (level, channel, tag) == (TENANT, 'email', self.default_locale):
            item = self.legacy(name)
        return item if item is not None and item.body is not None else None

    def switch_at(self, name: str, channel: str, level: str) -> bool | None:
        """A stored level's own on/off switch; None: not set there."""
        item = self.items.get(TemplateItem.key(self.tenant_id, name, channel,
                                               *ids_at(level, self.service_id, self.provider_id), TemplateItem.SWITCH))
        if item is None and (level, channel) == (TENANT, 'email'):
            item = self.legacy(name)
        return None if item is None else item.enabled

    def enabled(self, name: str, channel: str) -> bool:
        for level in levels_for(self.service_id, self.provider_id):
            switch = self.switch_at(name, channel, level)
            if switch is not None:
                return switch
        return rules.enabled_by_default(name)

    def legacy(self, name: str) -> TemplateItem | None:
        """The tenant's email template as written before levels (tenant level, default locale), if still there."""
        return self.items.get(TemplateItem.legacy_key(self.tenant_id, name))
