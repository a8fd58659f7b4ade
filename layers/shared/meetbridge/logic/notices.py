"""Telling the client and the provider about a meeting: tenant templates, rendered and delivered.

A booking's change (created, rescheduled, cancelled) goes to its client and its provider. What happens to
a meeting (starting, reminder, details_changed) goes to the client of each active booking on it (a class session has many)
and to its provider, and only while the meeting still is what the notice says: a notice about a start
that was cancelled or moved since sends nothing.

Each recipient gets an email when they have an address and an SMS when the tenant switched SMS on and they
have a number, each in their language (the client's locale, else the tenant's default) through the most
specific template set for the booking's service and provider (logic/templates.py). A business that hides
the links from its messages gets a sentence in place of the client's link; the provider's link is never
hidden (it is the host's own message).
"""

import base64
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateError
from markupsafe import escape

from meetbridge import events
from meetbridge.domain import templates as rules
from meetbridge.logic import links, notification_settings
from meetbridge.logic.bookings import details_of
from meetbridge.logic.templates import Chosen, TemplateBook
from meetbridge.notify import defaults, locales, render
from meetbridge.observability import logger
from meetbridge.store import repository
from meetbridge.store.models import BookingItem, MeetingItem, ProviderItem, ServiceItem, TenantItem

EMAIL, SMS = 'email', 'sms'


@dataclass(frozen=True)
class Message:
    recipient: str  # who it is for, once per notice: 'provider' or 'client:<booking_id>'
    channel: str  # 'email' or 'sms'
    to: str  # an address or an E.164 number
    subject: str | None  # email only
    body: str  # HTML for an email, plain text for an SMS
    booking_ids: tuple[str, ...]  # the bookings it is about: where a refusal is shown to the admin

    def dedupe_key(self, notice_id: str) -> list[str]:
        """(notice, recipient, channel): the notice names the booking or meeting and the change. An email's key
        leaves its channel out, as the keys written before SMS did, so a notice in flight then is not sent twice."""
        return [notice_id, self.recipient] if self.channel == EMAIL else [notice_id, self.recipient, self.channel]


def notice_of(detail_type: str, detail: dict[str, Any]) -> dict[str, Any] | None:
    """The notice an event on the notifications queue carries, or None for an event that tells nobody."""
    if detail_type == events.MEETING_STARTED:
        start = _utc(detail['start'])
        return {
            # One per start of the meeting: a start marked twice (a retry) is told once.
            'notice_id': f'{detail["tenant_id"]}/{detail["meeting_key"]}/starting/{start.isoformat()}',
            'tenant_id': detail['tenant_id'], 'meeting_key': detail['meeting_key'], 'change': 'starting',
            'start': detail['start'], 'started_by': detail.get('started_by'),
        }
    return detail if 'notice_id' in detail else None


def compose(notice: dict[str, Any], now: datetime | None = None) -> list[Message]:
    change = notice['change']
    if change in rules.BOOKING_CHANGES:
        return _booking_messages(notice)
    if change in rules.MEETING_CHANGES:
        return _meeting_messages(notice, now or datetime.now(UTC))
    return []


def _booking_messages(notice: dict[str, Any]) -> list[Message]:
    tenant_id, change = notice['tenant_id'], notice['change']
    booking = repository.find(BookingItem, BookingItem.key(tenant_id, notice['booking_id']))
    if booking is None:
        _nothing_to_send(notice, 'the booking no longer exists')
        return []
    # A booking switched to in person and back (or back and again) queues both notices, taken in either order:
    # only the one that still says how it is held is sent.
    if (change == 'in_person' and not booking.in_person) or \
            (change in ('created', 'rescheduled') and booking.in_person):
        _nothing_to_send(notice, 'the booking was switched online or in person since')
        return []
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, notice['meeting_key']))
    about = _About.of(tenant_id, change, meeting, [booking], booking.service_id, booking.provider_id)
    messages = about.messages('client', [booking], booking.start, booking.end, booking.timezone)
    messages += about.messages('provider', [booking], booking.start, booking.end, booking.timezone)
    about.show_problems([booking])
    return messages


def _meeting_messages(notice: dict[str, Any], now: datetime) -> list[Message]:
    tenant_id, change = notice['tenant_id'], notice['change']
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, notice['meeting_key']))
    if meeting is None:
        _nothing_to_send(notice, 'the meeting no longer exists')
        return []
    stale = _why_stale(meeting, change, _utc(notice['start']), now)
    if stale:
        _nothing_to_send(notice, stale)
        return []
    bookings = [booking for booking in (repository.find(BookingItem, BookingItem.key(tenant_id, booking_id))
                                        for booking_id in sorted(meeting.booking_ids or set()))
                if booking is not None and booking.status == 'active' and booking.meeting_key == meeting.meeting_key]
    if not bookings:
        _nothing_to_send(notice, 'the meeting has no active booking')
        return []
    about = _About.of(tenant_id, change, meeting, bookings, meeting.service_id, meeting.provider_id)
    messages = [message for booking in bookings
                for message in about.messages('client', [booking], meeting.start, meeting.end, meeting.timezone)]
    # A provider who started the meeting themselves is on its page already.
    if notice.get('started_by') != 'provider':
        messages += about.messages('provider', bookings, meeting.start, meeting.end, meeting.timezone)
    about.show_problems(bookings)
    return messages


def _utc(text: str) -> datetime:
    """A start as notices carry it: ISO 8601 in UTC, with `Z`, `+00:00` or (taken as UTC) no offset."""
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _why_stale(meeting: MeetingItem, change: str, start: datetime, now: datetime) -> str | None:
    if meeting.start != start:
        return 'the meeting was moved'
    if meeting.status == 'cancelled':
        return 'the meeting was cancelled'
    if change == 'starting' and meeting.status != 'started':
        return f'the meeting is {meeting.status}, not started'
    if change == 'starting' and now >= meeting.end:
        return 'the meeting is over'
    if change == 'reminder' and now >= meeting.start:
        return 'the start has passed; a reminder is not sent late'
    if change == 'details_changed' and now >= meeting.end:
        return 'the meeting is over'
    return None


def _nothing_to_send(notice: dict[str, Any], reason: str) -> None:
    logger.info('notice not sent', extra={'notice_id': notice['notice_id'], 'change': notice['change'],
                                          'reason': reason})


@dataclass
class _About:
    """What one notice's messages share: the tenant and its settings, the meeting, its provider and service, and
    every template the notice may use (read once, however many clients a class has)."""

    tenant_id: str
    change: str
    tenant: TenantItem
    settings: notification_settings.NotificationSettings
    meeting: MeetingItem | None
    provider: ProviderItem | None
    service: ServiceItem | None
    book: TemplateBook

    @classmethod
    def of(cls, tenant_id: str, change: str, meeting: MeetingItem | None, bookings: list[BookingItem],
           service_id: str, provider_id: str) -> '_About':
        tenant = repository.get_tenant(tenant_id)
        settings = notification_settings.of(tenant)
        channels = (EMAIL, SMS) if settings.sms else (EMAIL,)
        book = TemplateBook.read(tenant_id, [rules.name_of(recipient, change) for recipient in rules.RECIPIENTS],
                                 channels, service_id, provider_id,
                                 {booking.client.locale for booking in bookings} | {None}, settings.default_locale)
        return cls(tenant_id, change, tenant, settings, meeting,
                   repository.find(ProviderItem, ProviderItem.key(tenant_id, provider_id)),
                   repository.find(ServiceItem, ServiceItem.key(tenant_id, service_id)), book)

    def __post_init__(self) -> None:
        meeting, details = self.meeting, None
        if meeting is not None and meeting.details_sealed:
            details = details_of(self.tenant_id, meeting)
        self.problems: list[str] = []
        self.provider_link = ''
        if meeting is not None:
            self.provider_link = links.open_sealed(meeting.provider_link_sealed, self.tenant_id, 'provider',
                                                   meeting.meeting_key) or ''
        self.links_hidden = not (self.service.links_in_messages if self.service is not None
                                 and self.service.links_in_messages is not None else self.settings.links_in_messages)
        self.shared = {
            'company_name': self.tenant.name,
            'provider_name': self.provider.name if self.provider else '',
            'online_meeting_password': (details.password if details else None) or '',
            'online_meeting_description': (details.description if details else None) or '',
        }

    def messages(self, recipient: str, bookings: list[BookingItem], start: datetime, end: datetime,
                 zone_name: str) -> list[Message]:
        """The messages to the client of `bookings[0]`, or to the provider of all `bookings`: an email to an
        address, an SMS to a number when the tenant sends SMS, each unless its template is switched off."""
        first = bookings[0]
        if recipient == 'client':
            key, locale, zone = f'client:{first.booking_id}', first.client.locale, first.client.timezone
            addresses = {EMAIL: first.client.email, SMS: first.client.phone if self.settings.sms else None}
        else:
            if self.provider is None:
                return []
            key, locale, zone = 'provider', None, self.provider.timezone
            addresses = {EMAIL: self.provider.email, SMS: self.provider.phone if self.settings.sms else None}
        name = rules.name_of(recipient, self.change)
        messages = []
        for channel, address in addresses.items():
            if not address:
                continue
            template = self.book.choose(name, channel, locale)
            if not template.enabled:
                continue
            zone_info = ZoneInfo(zone or zone_name)
            variables = self._variables(recipient, bookings, start, end, zone_info, _writing(locale, template.locale))
            try:
                subject, body = _render(template, variables)
            except TemplateError as exc:
                if template.is_default:
                    raise
                # A tenant's template that fails at send time must not cost the client their link.
                self.problems.append(f'the {template.name} {template.channel} template could not be used '
                                     f'({render.failure_reason(exc)}); the default template was sent')
                logger.warning('tenant template failed; sending the default', extra={
                    'tenant_id': self.tenant_id, 'template': template.name, 'channel': template.channel,
                    'error': render.failure_reason(exc)})
                template = _builtin_for(template)
                variables = self._variables(recipient, bookings, start, end, zone_info,
                                            _writing(locale, template.locale))
                subject, body = _render(template, variables)
            messages.append(Message(key, channel, address, subject, body,
                                    tuple(booking.booking_id for booking in bookings)))
        return messages

    def _variables(self, recipient: str, bookings: list[BookingItem], start: datetime, end: datetime,
                   zone: ZoneInfo, locale: str) -> dict[str, Any]:
        first = bookings[0]
        hidden = recipient == 'client' and self.links_hidden
        client_link = ''
        if len(bookings) == 1:  # one client's link; a provider's message about several bookings has none
            client_link = self.settings.hidden_link_text or defaults.hidden_link_text(locale) if hidden \
                else self._client_link(first)
        return {
            **self.shared,
            **locales.time_variables(start, end, zone, locale),
            # A provider's message about a class names every client in it.
            'booking_id': ', '.join(booking.booking_id for booking in bookings),
            'service_name': self.service.name if self.service else first.service_id,
            'client_name': ', '.join(booking.client.name for booking in bookings),
            'client_email': ', '.join(booking.client.email for booking in bookings),
            rules.CLIENT_LINK: client_link,
            rules.LINK_HIDDEN: hidden,
            # A client's message never carries the host's link, whatever the template says.
            rules.PROVIDER_LINK: self.provider_link if recipient == 'provider' else '',
        }

    def _client_link(self, booking: BookingItem) -> str:
        return links.open_sealed(booking.client_link_sealed, self.tenant_id, 'client', booking.booking_id) or ''

    def show_problems(self, bookings: list[BookingItem]) -> None:
        if self.problems:
            problem = '; '.join(dict.fromkeys(self.problems))
            for booking in bookings:
                show_to_the_admin(booking, problem)


def _writing(recipient_locale: str | None, template_locale: str) -> str:
    """The locale dates are written in: the recipient's own (en-GB: 15 February, 14:00) when the template is in
    their language, else the template's, so a sentence and its dates are in one language."""
    if recipient_locale and locales.language_group(recipient_locale)[-1] == locales.language_group(template_locale)[-1]:
        return recipient_locale
    return template_locale


def _builtin_for(template: Chosen) -> Chosen:
    """The built-in text standing in for a tenant's template that failed: in its language, else in English."""
    for tag in (*locales.language_group(template.locale), 'en'):
        text = defaults.builtin(template.name, template.channel, tag)
        if text is not None:
            return replace(template, locale=tag, level='default', subject=text[0], body=text[1], is_default=True)
    raise LookupError(f'no built-in {template.channel} text for the {template.name} template')


def _render(template: Chosen, variables: dict[str, Any]) -> tuple[str | None, str]:
    if template.channel == SMS:
        return None, render.render_text(template.body, variables)
    subject, body = render.render(template.subject, template.body, variables)
    # A tenant's email that wraps [online_meeting_link] in a link of its own shows the sentence as text instead.
    return subject, _unlinked(body, variables[rules.CLIENT_LINK]) if variables[rules.LINK_HIDDEN] else body


def _unlinked(html_body: str, sentence: str) -> str:
    """A tenant's email that wraps [online_meeting_link] in a link of its own (`href="[online_meeting_link]"`,
    single-quoted, or with a query after it) shows the hidden-link sentence as text rather than as a link to
    nowhere."""
    shown = str(escape(sentence))  # as the template's autoescape wrote it
    pattern = re.compile(r'<a\b[^>]*\bhref\s*=\s*(["\'])' + re.escape(shown) + r'[^"\']*\1[^>]*>.*?</a>',
                         re.IGNORECASE | re.DOTALL)
    return pattern.sub(lambda _: shown, html_body)


def show_refusals(tenant_id: str, refusals: dict[str, list[str]]) -> None:
    """Messages their service refused for good (an address SES will not send to, a number the recipient
    switched off with STOP), by the booking they were about: shown on it, since no retry will change them."""
    for booking_id, problems in refusals.items():
        booking = repository.find(BookingItem, BookingItem.key(tenant_id, booking_id))
        if booking is not None:
            show_to_the_admin(booking, '; '.join(problems))


# --- messages that could not be delivered ----------------------------------------------------------------------
# A message its service keeps refusing for a passing reason (SES or SNS down, throttled) is retried with growing
# delays for about five hours (NOTIFICATIONS_QUEUE_RECEIVES receives, template.yaml). At its last receive the
# messages still unsent are put, rendered and sealed, on the notifications dead-letter queue as one
# notification.rendered message: `meetbridge dlq replay` sends it back and they are sent as they were written,
# each still once (its dedupe key is kept).

NOTIFICATION_RENDERED = 'notification.rendered'
NOTIFICATIONS_QUEUE_RECEIVES = 12
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 3600
_SEALED_AS = 'notification'


def park(tenant_id: str, notice_id: str, booking_id: str | None, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The dead-letter queue's message keeping `messages` (the handler's shape, with their dedupe keys): the notice
    and booking shown in listings, the messages themselves sealed, since they carry join links."""
    sealed = repository.seal_json({'messages': messages}, tenant_id, _SEALED_AS, notice_id)
    return {'detail-type': NOTIFICATION_RENDERED,
            'detail': {'tenant_id': tenant_id, 'notice_id': notice_id, 'booking_id': booking_id,
                       'messages_sealed': base64.b64encode(sealed).decode()}}


def unpark(detail: dict[str, Any]) -> list[dict[str, Any]]:
    sealed = base64.b64decode(detail['messages_sealed'])
    return repository.unseal_json(sealed, detail['tenant_id'], _SEALED_AS, detail['notice_id'])['messages']


def show_to_the_admin(booking: BookingItem, problem: str) -> None:
    """On the booking (GET .../bookings/{id}); the last write wins, so it never conflicts with the booking's own."""
    if booking.notice_problem != problem:
        repository.update(booking, actions=[BookingItem.notice_problem.set(problem)],
                          condition=BookingItem.pk.exists(), add_version_condition=False)
