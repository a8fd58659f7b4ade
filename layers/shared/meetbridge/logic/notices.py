"""Telling the client and the provider about a meeting: tenant templates, rendered and delivered.

A booking's change (created, rescheduled, cancelled) goes to its client and its provider. What happens to
a meeting (starting, reminder, details_changed) goes to the client of each active booking on it (a class session has many)
and to its provider, and only while the meeting still is what the notice says: a notice about a start
that was cancelled or moved since sends nothing.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateError

from meetbridge import events
from meetbridge.domain import templates as rules
from meetbridge.logic import links
from meetbridge.logic.bookings import details_of
from meetbridge.notify import render
from meetbridge.notify.defaults import DEFAULT_TEMPLATES
from meetbridge.observability import logger
from meetbridge.store import repository
from meetbridge.store.models import BookingItem, MeetingItem, ProviderItem, ServiceItem, TemplateItem, TenantItem


@dataclass(frozen=True)
class Message:
    recipient: str  # who it is for, once per notice: 'provider' or 'client:<booking_id>'
    to: str
    subject: str
    html: str


@dataclass(frozen=True)
class Template:
    subject: str
    body: str
    is_default: bool  # the text is the default's (a tenant may have switched a default off without replacing it)
    enabled: bool


def template_for(tenant_id: str, name: str) -> Template:
    return template_of(name, repository.find_template(tenant_id, name))


def template_of(name: str, item: TemplateItem | None) -> Template:
    """The template as the tenant's item (if any) leaves it: its own text or the default's, and whether it sends."""
    enabled = rules.enabled_by_default(name) if item is None or item.enabled is None else item.enabled
    if item is not None and item.body is not None:
        return Template(item.subject, item.body, False, enabled)
    return Template(*DEFAULT_TEMPLATES[name], True, enabled)


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
    provider = repository.find(ProviderItem, ProviderItem.key(tenant_id, booking.provider_id))
    about = _About(tenant_id, repository.get_tenant(tenant_id), meeting, provider,
                   repository.find(ServiceItem, ServiceItem.key(tenant_id, booking.service_id)))
    messages = [about.message('client', change, [booking], booking.start, booking.end, booking.timezone)]
    if provider is not None and provider.email:
        messages.append(about.message('provider', change, [booking], booking.start, booking.end, booking.timezone))
    about.show_problems([booking])
    return [message for message in messages if message is not None]


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
    provider = repository.find(ProviderItem, ProviderItem.key(tenant_id, meeting.provider_id))
    about = _About(tenant_id, repository.get_tenant(tenant_id), meeting, provider,
                   repository.find(ServiceItem, ServiceItem.key(tenant_id, meeting.service_id)))
    messages = [about.message('client', change, [booking], meeting.start, meeting.end, meeting.timezone)
                for booking in bookings]
    # A provider who started the meeting themselves is on its page already.
    if provider is not None and provider.email and notice.get('started_by') != 'provider':
        messages.append(about.message('provider', change, bookings, meeting.start, meeting.end, meeting.timezone))
    about.show_problems(bookings)
    return [message for message in messages if message is not None]


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
    """What one notice's messages share: the tenant, the meeting, its provider and service."""

    tenant_id: str
    tenant: TenantItem
    meeting: MeetingItem | None
    provider: ProviderItem | None
    service: ServiceItem | None

    def __post_init__(self) -> None:
        meeting, details = self.meeting, None
        if meeting is not None and meeting.details_sealed:
            details = details_of(self.tenant_id, meeting)
        self.problems: list[str] = []
        self.templates: dict[str, Template] = {}  # read once per notice, however many clients a class has
        self.provider_link = ''
        if meeting is not None:
            self.provider_link = links.open_sealed(meeting.provider_link_sealed, self.tenant_id, 'provider',
                                                   meeting.meeting_key) or ''
        self.shared = {
            'company_name': self.tenant.name,
            'provider_name': self.provider.name if self.provider else '',
            'online_meeting_password': (details.password if details else None) or '',
            'online_meeting_description': (details.description if details else None) or '',
        }

    def message(self, recipient: str, change: str, bookings: list[BookingItem], start: datetime, end: datetime,
                zone_name: str) -> Message | None:
        """The message to the client of `bookings[0]`, or to the provider of all `bookings`; None when the
        tenant switched its template off."""
        name = rules.name_of(recipient, change)
        if name not in self.templates:
            self.templates[name] = template_for(self.tenant_id, name)
        template = self.templates[name]
        if not template.enabled:
            return None
        first = bookings[0]
        if recipient == 'client':
            address, key, zone = first.client.email, f'client:{first.booking_id}', first.client.timezone
        else:
            address, key, zone = self.provider.email, 'provider', self.provider.timezone
        zone = ZoneInfo(zone or zone_name)
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        variables = {
            **self.shared,
            # A provider's message about a class names every client in it.
            'booking_id': ', '.join(booking.booking_id for booking in bookings),
            'service_name': self.service.name if self.service else first.service_id,
            'client_name': ', '.join(booking.client.name for booking in bookings),
            'client_email': ', '.join(booking.client.email for booking in bookings),
            'start_time': local_start.strftime('%A, %d %B %Y, %H:%M'),
            'start_date': local_start.strftime('%d %B %Y'),
            'end_time': local_end.strftime('%H:%M'),
            'timezone': rules.zone_label(zone.key, start),
            # One client's link; a provider's message about several bookings has none.
            rules.CLIENT_LINK: self._client_link(bookings[0]) if len(bookings) == 1 else '',
            # A client's message never carries the host's link, whatever the template says.
            rules.PROVIDER_LINK: self.provider_link if recipient == 'provider' else '',
        }
        try:
            subject, html = render.render(template.subject, template.body, variables)
        except TemplateError as exc:
            if template.is_default:
                raise
            # A tenant's template that fails at send time must not cost the client their link.
            self.problems.append(f'the {name} template could not be used ({render.failure_reason(exc)}); '
                                 'the default template was sent')
            logger.warning('tenant template failed; sending the default',
                           extra={'tenant_id': self.tenant_id, 'template': name, 'error': render.failure_reason(exc)})
            subject, html = render.render(*DEFAULT_TEMPLATES[name], variables)
        return Message(key, address, subject, html)

    def _client_link(self, booking: BookingItem) -> str:
        return links.open_sealed(booking.client_link_sealed, self.tenant_id, 'client', booking.booking_id) or ''

    def show_problems(self, bookings: list[BookingItem]) -> None:
        if self.problems:
            problem = '; '.join(dict.fromkeys(self.problems))
            for booking in bookings:
                _show_to_the_admin(booking, problem)


def _show_to_the_admin(booking: BookingItem, problem: str) -> None:
    """On the booking (GET .../bookings/{id}); the last write wins, so it never conflicts with the booking's own."""
    if booking.notice_problem != problem:
        repository.update(booking, actions=[BookingItem.notice_problem.set(problem)],
                          condition=BookingItem.pk.exists(), add_version_condition=False)
