"""The tenant admin API's operations and its request/response models."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import TemplateError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from meetbridge.domain import hosting
from meetbridge.domain.hosting import COMPANY
from meetbridge.domain import templates as rules
from meetbridge.domain.model import Channel, Email, Name, PhoneNumber, TimeZoneName
from meetbridge.errors import Conflict, InvalidInput, InvalidState, NotFound
from meetbridge.logic import (accounts, analytics, bookings, links, notification_settings, online, reminders, starting,
                              templates, tenants)
from meetbridge.providers.base import ProviderRejected
from meetbridge.domain import sms
from meetbridge.notify import locales, render
from meetbridge.notify.defaults import hidden_link_text
from meetbridge.store import repository
from meetbridge.store.tokens import ConnectionUnusable
from meetbridge.store.models import (
    AccountItem,
    AccountPointerItem,
    BookingItem,
    MeetingItem,
    ProviderItem,
    ServiceItem,
    TemplateItem,
    TenantItem,
    tenant_pk,
)


def _now() -> datetime:
    return datetime.now(UTC)


class _Body(BaseModel):
    model_config = ConfigDict(extra='forbid')


# --- services and providers ---------------------------------------------------------------------


class ServiceIn(_Body):
    name: Name
    online: bool = False
    kind: Literal['appointment', 'class'] = 'appointment'
    # Whether its clients' messages show the join link; None: as the tenant's notification settings say.
    links_in_messages: bool | None = None


class ServiceOut(ServiceIn):
    id: str


def put_service(tenant_id: str, service_id: str, body: ServiceIn) -> ServiceOut:
    ServiceItem(*ServiceItem.key(tenant_id, service_id), service_id=service_id, updated_at=_now(),
                **body.model_dump()).save()
    return ServiceOut(id=service_id, **body.model_dump())


def service_out(item: ServiceItem) -> ServiceOut:
    return ServiceOut(id=item.service_id, name=item.name, online=item.online, kind=item.kind,
                      links_in_messages=item.links_in_messages)


def get_service(tenant_id: str, service_id: str) -> ServiceOut:
    return service_out(repository.get_service(tenant_id, service_id))


class ProviderIn(_Body):
    name: Name
    email: Email | None = None
    phone: PhoneNumber | None = None  # E.164: the provider's SMS go there when the tenant sends SMS
    timezone: TimeZoneName | None = None


class ProviderOut(ProviderIn):
    id: str
    company_user: str | None = None


def provider_out(item: ProviderItem) -> ProviderOut:
    return ProviderOut(id=item.provider_id, name=item.name, email=item.email, phone=item.phone,
                       timezone=item.timezone, company_user=item.company_user)


def put_provider(tenant_id: str, provider_id: str, body: ProviderIn) -> ProviderOut:
    """Replaces the provider's details; their mapping to a company account user stays."""
    item = repository.find(ProviderItem, ProviderItem.key(tenant_id, provider_id)) or ProviderItem(
        *ProviderItem.key(tenant_id, provider_id), provider_id=provider_id)
    item.name, item.email, item.phone, item.timezone = body.name, body.email, body.phone, body.timezone
    item.updated_at = _now()
    item.save()
    return provider_out(item)


def get_provider(tenant_id: str, provider_id: str) -> ProviderOut:
    return provider_out(repository.get_provider(tenant_id, provider_id))


class CompanyUserIn(_Body):
    user_id: Annotated[str, Field(min_length=1, max_length=128)] | None


def map_provider(tenant_id: str, provider_id: str, body: CompanyUserIn) -> ProviderOut:
    """Which user of the company meeting account hosts this provider's bookings (None: the account's own)."""
    item = repository.get_provider(tenant_id, provider_id)
    if body.user_id is not None and body.user_id not in {user.id for user in company_users(tenant_id)}:
        raise InvalidInput(f'{body.user_id!r} is not a user of the company meeting account', field='user_id')
    item.company_user = body.user_id
    item.updated_at = _now()
    item.save()
    return provider_out(item)


class AccountUser(BaseModel):
    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


def company_users(tenant_id: str) -> list[AccountUser]:
    account = accounts.used_by(tenant_id, COMPANY)
    if account.status != repository.ACTIVE or account.type != 'zoom':
        raise InvalidInput('the company meeting account is not a connected Zoom account')
    from meetbridge.providers.zoom import PROVIDER

    try:
        users = PROVIDER.users(repository.account_of(account, tenant_id))
    except (ProviderRejected, ConnectionUnusable) as refusal:
        raise InvalidInput(str(refusal)) from None
    return [AccountUser(id=u['id'], email=u.get('email'), first_name=u.get('first_name'),
                        last_name=u.get('last_name')) for u in users]


# --- meeting accounts -----------------------------------------------------------------------------


def _web_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ('https', 'http') or not parts.netloc:
        raise ValueError('must be an http(s) URL')
    return url


class CustomLinkAccountIn(_Body):
    type: Literal['custom_link']
    url: Annotated[str, Field(max_length=2048), AfterValidator(_web_url)]
    password: Annotated[str, Field(max_length=100)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None


class AccountOut(BaseModel):
    id: str  # never changes: a meeting names the account that made it by this id
    type: str
    status: str
    url: str | None = None
    description: str | None = None
    has_password: bool = False
    email: str | None = None  # the provider-side user an OAuth account is connected as
    problem: str | None = None  # why it needs reconnecting
    updated_at: datetime


def _account_out(item: AccountItem) -> AccountOut:
    settings = repository.settings_of(item)
    return AccountOut(id=item.account_id, type=item.type, status=item.status, url=settings.get('url'),
                      description=settings.get('description'), has_password=bool(settings.get('has_password')),
                      email=settings.get('email'), problem=item.problem, updated_at=item.updated_at)


def put_custom_link(tenant_id: str, holder: str, body: CustomLinkAccountIn) -> AccountOut:
    """Edits the holder's custom link in place, so a moved room reaches every meeting it made; any other
    account the holder used is replaced by a new custom link (its meetings keep what they were made with)."""
    now = _now()
    current = repository.account_used_by(tenant_id, holder)
    item = current if current is not None and current.type == body.type else accounts.new_account(
        tenant_id, body.type, now)
    item.status = repository.ACTIVE
    item.problem = None
    item.settings = {'url': body.url, 'description': body.description, 'has_password': body.password is not None}
    item.secret_sealed = (
        repository.seal_json({'password': body.password}, tenant_id, *repository.account_secret_context(item.account_id))
        if body.password is not None else None
    )
    accounts.use(tenant_id, holder, item, now)
    return _account_out(item)


def get_account(tenant_id: str, holder: str) -> AccountOut:
    return _account_out(accounts.used_by(tenant_id, holder))


class AccountSummary(BaseModel):
    id: str
    slot: str | None  # company | provider:<id> | fallback; None: no slot points at it (it still hosts meetings)
    type: str
    connected_as: str | None  # the provider-side user an OAuth account is connected as
    status: str
    last_checked_at: datetime | None  # the last health check that reached the provider
    problem: str | None
    future_meetings: int  # live meetings it hosts that start from now on
    url: str | None = None  # a custom link's room


class AccountsOut(BaseModel):
    accounts: list[AccountSummary]


def list_accounts(tenant_id: str, now: datetime | None = None) -> AccountsOut:
    """Every account a slot points at, whatever its status, and every other account that still hosts future
    meetings. Two Queries of the tenant's partition (its pointers, its accounts) and one count Query of the
    hosted-meetings index per account: the work grows with the tenant's accounts, not its meetings."""
    now = now or _now()
    slot_of = {pointer.account_id: pointer.holder for pointer in AccountPointerItem.query(
        tenant_pk(tenant_id), AccountPointerItem.sk.startswith('ACCOUNTOF#'))}
    listed = []
    for item in AccountItem.query(tenant_pk(tenant_id), AccountItem.sk.startswith('ACCOUNT#')):
        future = repository.count_meetings_hosted_by(tenant_id, item.account_id, now)
        slot = slot_of.get(item.account_id)
        if slot is None and not future:
            continue  # replaced or disconnected, and nothing left on it
        settings = repository.settings_of(item)
        listed.append(AccountSummary(
            id=item.account_id, slot=slot, type=item.type, connected_as=settings.get('email'), status=item.status,
            last_checked_at=item.last_checked_at, problem=item.problem, future_meetings=future,
            url=settings.get('url') if item.type == 'custom_link' else None))
    order = {hosting.COMPANY: 0, hosting.FALLBACK: 2}
    listed.sort(key=lambda account: (account.slot is None, order.get(account.slot, 1), account.slot or '', account.id))
    return AccountsOut(accounts=listed)


def disconnect(tenant_id: str, holder: str) -> AccountOut:
    return _account_out(accounts.disconnect(tenant_id, holder, _now()))


class ConnectLinkIn(_Body):
    provider_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    return_url: Annotated[str, Field(max_length=2048)] | None = None


class ConnectLinkOut(BaseModel):
    url: str
    expires_at: datetime


def connect_link(tenant_id: str, provider_type: str, body: ConnectLinkIn, base_url: str) -> ConnectLinkOut:
    from meetbridge.logic import connect

    url, expires = connect.create_link(tenant_id, provider_type, body.provider_id, body.return_url, base_url, _now())
    return ConnectLinkOut(url=url, expires_at=expires)


def provider_holder(tenant_id: str, provider_id: str) -> str:
    repository.get_provider(tenant_id, provider_id)
    return hosting.provider_holder(provider_id)


# --- meeting settings -----------------------------------------------------------------------------


class MeetingSettings(_Body):
    """How new meetings are set up at providers that have these options (Zoom)."""

    join_before_host: bool = False
    waiting_room: bool = False
    mute_upon_entry: bool = False
    auto_recording: Literal['none', 'local', 'cloud'] = 'none'


def get_meeting_settings(tenant_id: str) -> MeetingSettings:
    stored = repository.get_tenant(tenant_id).meeting_settings
    return MeetingSettings(**stored.as_dict()) if stored else MeetingSettings()


def put_meeting_settings(tenant_id: str, body: MeetingSettings) -> MeetingSettings:
    tenant = repository.get_tenant(tenant_id)
    tenant.update(actions=[TenantItem.meeting_settings.set(body.model_dump())])
    return body


# --- general settings ----------------------------------------------------------------------------


class GeneralSettings(_Body):
    """The tenant's own zone: reports show start times in it."""

    timezone: TimeZoneName = 'UTC'


def get_general_settings(tenant_id: str) -> GeneralSettings:
    return GeneralSettings(timezone=repository.get_tenant(tenant_id).timezone or 'UTC')


def put_general_settings(tenant_id: str, body: GeneralSettings) -> GeneralSettings:
    tenant = repository.get_tenant(tenant_id)
    tenant.update(actions=[TenantItem.timezone.set(body.timezone)])
    return body


# --- return origins -----------------------------------------------------------------------------


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.path not in ('', '/') or parts.query or parts.fragment:
        raise ValueError('must be an origin (scheme, host and port), without a path, query or fragment')
    return tenants.web_origin(url)


class ReturnOrigins(_Body):
    """Where a connect link may send the admin back (`return_url`): the booking platform's own https origins."""

    origins: Annotated[list[Annotated[str, Field(max_length=300), AfterValidator(_origin)]], Field(max_length=20)]


def get_return_origins(tenant_id: str) -> ReturnOrigins:
    return ReturnOrigins(origins=sorted(repository.get_tenant(tenant_id).return_origins or ()))


def put_return_origins(tenant_id: str, body: ReturnOrigins) -> ReturnOrigins:
    tenant = repository.get_tenant(tenant_id)
    origins = set(body.origins)
    tenant.update(actions=[TenantItem.return_origins.set(origins) if origins else TenantItem.return_origins.remove()])
    return ReturnOrigins(origins=sorted(origins))


# --- reminders ----------------------------------------------------------------------------------


class ReminderOffsets(_Body):
    """How long before a meeting's start its reminders are sent: ISO 8601 durations in days, hours and minutes
    (`PT1H`, `P1D`), from PT1M to P30D, at most 3, none with an empty list. They apply to meetings made or moved
    afterwards."""

    offsets: Annotated[
        list[Annotated[str, Field(max_length=reminders.MAX_OFFSET_CHARS), AfterValidator(reminders.normalised)]],
        Field(max_length=reminders.MAX_OFFSETS), AfterValidator(reminders.distinct)]


def get_reminder_offsets(tenant_id: str) -> ReminderOffsets:
    return ReminderOffsets(offsets=reminders.offsets_of(repository.get_tenant(tenant_id)))


def put_reminder_offsets(tenant_id: str, body: ReminderOffsets) -> ReminderOffsets:
    tenant = repository.get_tenant(tenant_id)
    tenant.update(actions=[TenantItem.reminder_offsets.set(body.offsets)])
    return body


# --- templates ----------------------------------------------------------------------------------


class TemplateIn(_Body):
    """New text (an email's subject and body together; an SMS's body), whether the template sends at this level
    (`enabled`; null clears the level's switch), or both. What is left out stays as it is: `{"enabled": false}`
    alone switches a template off and keeps its text, the default's included."""

    subject: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    body: Annotated[str, Field(min_length=1, max_length=render.MAX_TEMPLATE_CHARS)] | None = None
    enabled: bool | None = None


class TemplateOut(BaseModel):
    name: str
    channel: str
    level: str  # service+provider | service | provider | tenant
    service_id: str | None
    provider_id: str | None
    locale: str  # the text's language tag
    subject: str | None  # email only
    body: str | None  # None: no text at this level (its bookings get a less specific level's)
    default: bool  # the text is the built-in one (the tenant level with no text of its own in this locale)
    enabled: bool  # whether it is sent for this level's bookings: the most specific switch set, else the default
    switch: bool | None  # this level's own switch; None: not set here
    variables: list[str]


class ListedTemplate(BaseModel):
    name: str
    channel: str
    level: str
    service_id: str | None
    provider_id: str | None
    locale: str  # '*': the level's on/off switch, for every locale
    subject: str | None
    body: str | None
    enabled: bool | None
    updated_at: datetime


class EmailPreview(BaseModel):
    subject: str
    html: str


class SmsPreview(BaseModel):
    body: str
    segments: int
    encoding: str  # GSM-7 | UCS-2


class EffectiveTemplateOut(BaseModel):
    name: str
    channel: str
    level: str  # service+provider | service | provider | tenant | default (the built-in text)
    locale: str
    subject: str | None
    body: str
    default: bool
    enabled: bool
    preview: EmailPreview | SmsPreview | None  # None when the text cannot render (`problem` says why)
    problem: str | None = None


@dataclass(frozen=True)
class TemplateAt:
    """A template as a request names it: its level (the ids given), channel and locale."""

    tenant_id: str
    name: str
    channel: str
    service_id: str | None
    provider_id: str | None
    locale: str
    default_locale: str
    sms_max_segments: int
    hidden_link_text: str | None  # the tenant's sentence for a hidden link (None: the built-in one)

    @property
    def level(self) -> str:
        return templates.level_of(self.service_id, self.provider_id)

    def key(self, locale: str) -> tuple[str, str]:
        return TemplateItem.key(self.tenant_id, self.name, self.channel, self.service_id, self.provider_id, locale)


def template_at(tenant_id: str, name: str, channel: str, service_id: str | None, provider_id: str | None,
                locale: str | None) -> TemplateAt:
    """Checks what a templates request names: a known template, a channel it has, a service and provider that
    exist, a language tag (omitted: the tenant's default)."""
    if name not in rules.TEMPLATE_NAMES:
        raise NotFound(f'unknown template {name!r}; templates are: {", ".join(rules.TEMPLATE_NAMES)}')
    if channel not in rules.CHANNELS:
        raise InvalidInput(f'channel: one of {", ".join(rules.CHANNELS)}', field='channel')
    if rules.recipient_of(name) == rules.ADMIN:
        if channel != 'email':
            raise InvalidInput(f'channel: {name} is an alert to the admin contacts, sent by email only', field='channel')
        if service_id or provider_id:
            field = 'service_id' if service_id else 'provider_id'
            raise InvalidInput(f'{field}: {name} is an alert to the admin contacts, set for the tenant only', field=field)
    if service_id is not None:
        _must_exist(ServiceItem, ServiceItem.key(tenant_id, service_id), f'service {service_id!r} not found')
    if provider_id is not None:
        _must_exist(ProviderItem, ProviderItem.key(tenant_id, provider_id), f'provider {provider_id!r} not found')
    settings = notification_settings.get(tenant_id)
    if locale is not None:
        try:
            locale = locales.normalize(locale)
        except ValueError as reason:
            raise InvalidInput(f'locale: {reason}', field='locale') from None
    return TemplateAt(tenant_id=tenant_id, name=name, channel=channel, service_id=service_id, provider_id=provider_id,
                      locale=locale or settings.default_locale, default_locale=settings.default_locale,
                      sms_max_segments=settings.sms_max_segments, hidden_link_text=settings.hidden_link_text)


def _must_exist(model, key: tuple[str, str], missing: str) -> None:
    if repository.find(model, key) is None:
        raise NotFound(missing)


def _book(at: TemplateAt) -> templates.TemplateBook:
    return templates.TemplateBook.read(at.tenant_id, [at.name], [at.channel], at.service_id, at.provider_id,
                                       [at.locale], at.default_locale, consistent_read=True)


def get_template(at: TemplateAt, nothing_is_found: bool = False) -> TemplateOut:
    """The text set at exactly this level and locale; the tenant level shows the built-in text until it has its
    own (in the locale's language, else English); another level may have only its switch (no text), or nothing
    (a 404, unless `nothing_is_found`: what a PUT that cleared the level's switch answers)."""
    book = _book(at)
    item = book.stored_at(at.name, at.channel, at.level, at.locale)
    switch = book.switch_at(at.name, at.channel, at.level)
    if item is not None:
        subject, body, locale, default = item.subject, item.body, at.locale, False
    elif at.level == templates.TENANT:
        locale = next(tag for tag in (*locales.language_group(at.locale), templates.ENGLISH)
                      if book.text_at(at.name, at.channel, templates.DEFAULT, tag) is not None)
        (subject, body), default = book.text_at(at.name, at.channel, templates.DEFAULT, locale), True
    elif switch is not None or nothing_is_found:
        subject, body, locale, default = None, None, at.locale, False
    else:
        raise NotFound(f'no {at.channel} {at.name} template is set for this {at.level} in {at.locale}')
    return TemplateOut(name=at.name, channel=at.channel, level=at.level, service_id=at.service_id,
                       provider_id=at.provider_id, locale=locale, subject=subject, body=body, default=default,
                       enabled=book.enabled(at.name, at.channel), switch=switch,
                       variables=list(rules.variables_of(at.name)))


def put_template(at: TemplateAt, body: TemplateIn) -> TemplateOut:
    if at.channel == 'sms' and body.subject is not None:
        raise InvalidInput('subject: an SMS has no subject', field='subject')
    if at.channel == 'email' and (body.subject is None) != (body.body is None):
        missing = 'body' if body.body is None else 'subject'
        raise InvalidInput(f'{missing}: new text takes both subject and body', field=missing)
    new_text = body.body is not None
    sets_switch = 'enabled' in body.model_fields_set
    if not new_text and not sets_switch:
        raise InvalidInput('nothing to change: give the text, enabled, or both', field=None)
    if new_text:
        _check_text(at, body.subject, body.body)
    now = _now()
    book = _book(at)
    with _template_writes() as transaction:
        if new_text:
            transaction.save(_template_item(at, at.locale, now, subject=body.subject, body=body.body))
        if sets_switch and body.enabled is None:
            transaction.delete(TemplateItem(*at.key(TemplateItem.SWITCH)))
        elif sets_switch:
            transaction.save(_template_item(at, TemplateItem.SWITCH, now, enabled=body.enabled))
        _retire_legacy(transaction, at, book, now, text_replaced=new_text and at.locale == at.default_locale,
                       switch_replaced=sets_switch)
    return get_template(at, nothing_is_found=True)


def delete_template(at: TemplateAt) -> None:
    """Removes the level's text in the locale (its switch stays); nothing set there is nothing to remove."""
    book = _book(at)
    with _template_writes() as transaction:
        transaction.delete(TemplateItem(*at.key(at.locale)))
        _retire_legacy(transaction, at, book, _now(), text_replaced=at.locale == at.default_locale,
                       switch_replaced=False)


@contextmanager
def _template_writes() -> Iterator[TransactWrite]:
    """One transaction: a concurrent write to the same items cancels it, and the caller retries (409)."""
    try:
        with TransactWrite(connection=TemplateItem._get_connection().connection) as transaction:
            yield transaction
    except TransactWriteError as exc:
        if exc.cause_response_code == 'TransactionCanceledException':
            raise Conflict('the template was changed by another request at the same moment') from exc
        raise


def _template_item(at: TemplateAt, locale: str, now: datetime, **fields) -> TemplateItem:
    return TemplateItem(*at.key(locale), name=at.name, channel=at.channel, service_id=at.service_id,
                        provider_id=at.provider_id, locale=locale, updated_at=now, **fields)


def _retire_legacy(transaction: TransactWrite, at: TemplateAt, book: templates.TemplateBook, now: datetime,
                   text_replaced: bool, switch_replaced: bool) -> None:
    """A write to the tenant's email template removes the item written before levels in the same transaction,
    keeping what it still decided (its text in the default locale, its switch) as items of the tenant level:
    afterwards one item says each thing."""
    legacy = book.legacy(at.name)
    if at.level != templates.TENANT or at.channel != 'email' or legacy is None:
        return
    # Conditioned on what was read: a write of the same template between the read and this transaction cancels it
    # (409), rather than being overwritten by the old item's copy.
    transaction.delete(legacy, condition=TemplateItem.sk.exists())
    default_text_key = at.key(at.default_locale)
    if legacy.body is not None and not text_replaced and default_text_key not in book.items:
        transaction.save(_template_item(at, at.default_locale, now, subject=legacy.subject, body=legacy.body),
                         condition=TemplateItem.sk.does_not_exist())
    if legacy.enabled is not None and not switch_replaced and at.key(TemplateItem.SWITCH) not in book.items:
        transaction.save(_template_item(at, TemplateItem.SWITCH, now, enabled=legacy.enabled),
                         condition=TemplateItem.sk.does_not_exist())


def _check_text(at: TemplateAt, subject: str | None, body: str) -> None:
    """Refuses a text the template's recipient must not get, that cannot render, or an SMS longer than the
    tenant's limit with an ordinary booking."""
    for field, text in (('subject', subject), ('body', body)):
        forbidden = text is not None and rules.forbidden_variables(at.name, text)
        if forbidden:
            raise InvalidInput(f'{field}: a client template cannot show {", ".join(sorted(forbidden))}: '
                               'it is the host\'s link', field=field)
    if at.channel == 'email':
        render.check(subject, body)
        return
    render.check_text(body)
    # The longest date the template's language writes decides: in French an August start takes "août" (not GSM-7).
    # So does the hidden-link sentence when it is longer than the link, or not GSM-7 (a curly apostrophe).
    hidden = {rules.LINK_HIDDEN: True, rules.CLIENT_LINK: at.hidden_link_text or hidden_link_text(at.locale)}
    samples = [variant for sample in _samples_in(at.locale, every_month=True) for variant in (sample, sample | hidden)]
    count = max((sms.segments(render.render_text(body, sample)) for sample in samples),
                key=lambda counted: (counted.segments, counted.units))
    if count.segments > at.sms_max_segments:
        units = 'septets' if count.encoding == 'GSM-7' else 'UTF-16 units'
        raise InvalidInput(f'body: the SMS is {count.segments} segments ({count.encoding}, {count.units} {units}) '
                           f'with an ordinary booking; the limit is {at.sms_max_segments} '
                           '(sms_max_segments in settings/notifications)', field='body')


def _samples_in(locale: str, every_month: bool = False) -> list[dict]:
    """The ordinary booking with its times written in `locale`: on 9 March at 09:30, or (`every_month`) at 23:45
    on the 28th of each month, where each language writes its longest dates."""
    moments = [datetime(2026, month, 28, 23, 45, tzinfo=UTC) for month in range(1, 13)] if every_month \
        else [datetime(2026, 3, 9, 9, 30, tzinfo=UTC)]
    ordinary = rules.sample_variables()['an ordinary booking']
    return [{**ordinary, **locales.time_variables(moment, moment + timedelta(minutes=45), ZoneInfo('Europe/London'),
                                                  locale)} for moment in moments]


def listed_template(item: TemplateItem, default_locale: str) -> ListedTemplate:
    legacy = item.channel is None  # written before levels: the tenant's email in its default locale
    return ListedTemplate(
        name=item.name, channel=item.channel or 'email', level=templates.level_of(item.service_id, item.provider_id),
        service_id=item.service_id, provider_id=item.provider_id, locale=default_locale if legacy else item.locale,
        subject=item.subject, body=item.body, enabled=item.enabled, updated_at=item.updated_at)


def effective_template(at: TemplateAt) -> EffectiveTemplateOut:
    """The template a booking of this service and provider would get, for a client of `at.locale` (a client of
    no locale is one of the tenant's default), with a preview rendered with an ordinary booking."""
    chosen = _book(at).choose(at.name, at.channel, at.locale)
    [sample] = _samples_in(chosen.locale)
    preview, problem = None, None
    try:
        if at.channel == 'email':
            preview = EmailPreview(**dict(zip(('subject', 'html'), render.render(chosen.subject, chosen.body, sample))))
        else:
            text = render.render_text(chosen.body, sample)
            count = sms.segments(text)
            preview = SmsPreview(body=text, segments=count.segments, encoding=count.encoding)
    except TemplateError as exc:
        problem = f'the template cannot render: {render.failure_reason(exc)}'
    return EffectiveTemplateOut(name=chosen.name, channel=chosen.channel, level=chosen.level, locale=chosen.locale,
                                subject=chosen.subject, body=chosen.body, default=chosen.is_default,
                                enabled=chosen.enabled, preview=preview, problem=problem)


# --- bookings -----------------------------------------------------------------------------------


class ClientOut(BaseModel):
    id: str
    name: str
    email: str
    timezone: str | None = None
    phone: str | None = None
    locale: str | None = None


class PaymentOut(BaseModel):
    required: bool
    status: str


class LinkOpensOut(BaseModel):
    first: datetime | None  # None: never opened
    last: datetime | None
    count: int  # page views a person saw, and clicks on the page's button


class OpensOut(BaseModel):
    client: LinkOpensOut
    provider: LinkOpensOut


class BookingOut(BaseModel):
    id: str
    service_id: str
    provider_id: str
    start: datetime
    end: datetime
    timezone: str
    session_id: str | None
    status: str
    payment: PaymentOut
    client: ClientOut
    problem: str | None
    notice_problem: str | None = None  # a tenant template that failed when a message was sent: the default went
    opens: OpensOut  # when the client and the provider opened their links (join analytics)
    # The start passed and the client never opened their link (None before the start; False when cancelled).
    no_show_evidence: bool | None
    channel: Channel | None = None  # made at a kiosk, it gets no meeting (problem says so); None otherwise
    # The admin's switch that applies (the booking's own, else its class session's) and whether it is online.
    online: online.OnlineOut


class HostingAccountOut(BaseModel):
    id: str
    slot: str | None  # the slot of the hosting chain it was taken from (company | provider:<id> | fallback)
    type: str


class MeetingOut(BaseModel):
    key: str
    status: str
    provider: str
    account_id: str | None  # the account that made it (see the `id` of an account); None for provider `platform`
    account: HostingAccountOut | None  # the account hosting it; None for provider `platform`
    fallback_reason: str | None  # why it is not on the first account of its chain (a fall-back, a re-homing)
    start: datetime
    end: datetime
    started_at: datetime | None
    started_by: str | None  # schedule | provider | manual
    started_by_role: str | None = None  # the role of the API key of a manual start


class LinksOut(BaseModel):
    provider: str | None
    clients: dict[str, str]


class BookingView(BaseModel):
    booking: BookingOut
    meeting: MeetingOut | None
    links: LinksOut


def get_booking(tenant_id: str, booking_id: str) -> BookingView:
    item: BookingItem = repository.get_booking(tenant_id, booking_id)
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, item.meeting_key))
    if meeting is not None and meeting.status == 'creating':
        meeting = None
    client_link = links.open_sealed(item.client_link_sealed, tenant_id, 'client', booking_id)
    provider_link = meeting and links.open_sealed(meeting.provider_link_sealed, tenant_id, 'provider',
                                                   meeting.meeting_key)
    client_opens, provider_opens = analytics.opens_of(tenant_id, booking_id, item.meeting_key)
    override = bookings.override_of(tenant_id, item, item.session_id)
    service = repository.find(ServiceItem, ServiceItem.key(tenant_id, item.service_id))
    live = meeting is not None and meeting.status != 'cancelled' and booking_id in (meeting.booking_ids or set())
    return BookingView(
        booking=BookingOut(
            id=booking_id, service_id=item.service_id, provider_id=item.provider_id, start=item.start, end=item.end,
            timezone=item.timezone, session_id=item.session_id, status=item.status,
            payment=PaymentOut(required=item.payment_required, status=item.payment_status),
            client=ClientOut(**item.client.as_dict()), notice_problem=item.notice_problem, channel=item.channel,
            # A change that waits is shown while it waits, after any problem of the change applied before.
            problem=item.problem or (item.pending if item.status != 'cancelled' else None),
            opens=OpensOut(client=LinkOpensOut(**client_opens.as_dict()),
                           provider=LinkOpensOut(**provider_opens.as_dict())),
            no_show_evidence=analytics.no_show_evidence(item, client_opens, _now()),
            online=online.OnlineOut(override=override, effective=online.effective(
                item, override, service is not None and service.online, live)),
        ),
        meeting=meeting and MeetingOut(
            key=meeting.meeting_key, status=meeting.status, provider=meeting.provider_type,
            account_id=meeting.account_id,
            account=meeting.account_id and HostingAccountOut(id=meeting.account_id, slot=meeting.account_slot,
                                                             type=meeting.provider_type),
            fallback_reason=meeting.fallback_reason, start=meeting.start, end=meeting.end,
            started_at=meeting.started_at, started_by=meeting.started_by, started_by_role=meeting.started_by_role,
        ),
        links=LinksOut(provider=provider_link or None, clients={item.client.id: client_link} if client_link else {}),
    )


def start_booking(tenant_id: str, booking_id: str, role: str, now: datetime | None = None) -> BookingView:
    """Starts the booking's meeting now, by hand, with an API key of `role`: at any time before the booking's
    end. A meeting already started stays as it is; a cancelled or ended booking is refused (409)."""
    now = now or _now()
    booking = repository.get_booking(tenant_id, booking_id)
    if booking.status == 'cancelled':
        raise InvalidState('the booking is cancelled: its meeting cannot be started')
    if now >= booking.end:
        raise InvalidState(f'the booking ended at {booking.end.isoformat()}: its meeting cannot be started now')
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, booking.meeting_key))
    if meeting is None or meeting.status == 'creating':
        raise Conflict("the booking's meeting is still being made")
    if meeting.status == 'cancelled':
        raise InvalidState("the booking's meeting is cancelled: it cannot be started")
    try:
        starting.mark_started(tenant_id, meeting, 'manual', now, role=role)
    except Conflict:
        # The schedule or the provider's click started it at the same moment: that start stands.
        if repository.get_meeting(tenant_id, meeting.meeting_key).status != 'started':
            raise
    return get_booking(tenant_id, booking_id)
