"""Telling the client and the provider about a meeting: tenant templates, rendered and delivered."""

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateError

from meetbridge.domain import templates as rules
from meetbridge.logic import links
from meetbridge.logic.bookings import details_of
from meetbridge.notify import render
from meetbridge.notify.defaults import DEFAULT_TEMPLATES
from meetbridge.observability import logger
from meetbridge.store import repository
from meetbridge.store.models import BookingItem, MeetingItem, ProviderItem, ServiceItem


@dataclass(frozen=True)
class Message:
    recipient: str  # client | provider
    to: str
    subject: str
    html: str


def template_for(tenant_id: str, name: str) -> tuple[str, str, bool]:
    """(subject, body, is_default)"""
    item = repository.find_template(tenant_id, name)
    if item is not None:
        return item.subject, item.body, False
    subject, body = DEFAULT_TEMPLATES[name]
    return subject, body, True


def compose(notice: dict[str, Any]) -> list[Message]:
    tenant_id, change = notice['tenant_id'], notice['change']
    if change not in rules.CHANGES:
        return []
    tenant = repository.get_tenant(tenant_id)
    booking: BookingItem = repository.get_booking(tenant_id, notice['booking_id'])
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, notice['meeting_key']))
    service = repository.find(ServiceItem, ServiceItem.key(tenant_id, booking.service_id))
    provider = repository.find(ProviderItem, ProviderItem.key(tenant_id, booking.provider_id))
    details = details_of(tenant_id, meeting) if meeting is not None and meeting.details_sealed else None

    shared = {
        'company_name': tenant.name,
        'booking_id': booking.booking_id,
        'service_name': service.name if service else booking.service_id,
        'provider_name': provider.name if provider else '',
        'client_name': booking.client.name,
        'client_email': booking.client.email,
        'online_meeting_password': (details.password if details else None) or '',
        'online_meeting_description': (details.description if details else None) or '',
    }
    client_link = links.open_sealed(booking.client_link_sealed, tenant_id, 'client', booking.booking_id) or ''
    provider_link = ''
    if meeting is not None:
        provider_link = links.open_sealed(meeting.provider_link_sealed, tenant_id, 'provider', meeting.meeting_key) or ''

    recipients = [('client', booking.client.email, booking.client.timezone)]
    if provider is not None and provider.email:
        recipients.append(('provider', provider.email, provider.timezone))
    messages, problems = [], []
    for recipient, address, zone_name in recipients:
        zone = ZoneInfo(zone_name or booking.timezone)
        start, end = booking.start.astimezone(zone), booking.end.astimezone(zone)
        variables = {
            **shared,
            'start_time': start.strftime('%A, %d %B %Y, %H:%M'),
            'start_date': start.strftime('%d %B %Y'),
            'end_time': end.strftime('%H:%M'),
            'timezone': rules.zone_label(zone.key, booking.start),
            rules.CLIENT_LINK: client_link,
            # A client's message never carries the host's link, whatever the template says.
            rules.PROVIDER_LINK: provider_link if recipient == 'provider' else '',
        }
        name = f'{recipient}_{change}'
        subject, body, is_default = template_for(tenant_id, name)
        try:
            subject, html = render.render(subject, body, variables)
        except TemplateError as exc:
            if is_default:
                raise
            # A tenant's template that fails at send time must not cost the client their link.
            problems.append(f'the {name} template could not be used ({render.failure_reason(exc)}); '
                            'the default template was sent')
            logger.warning('tenant template failed; sending the default',
                           extra={'tenant_id': tenant_id, 'template': name, 'error': render.failure_reason(exc)})
            subject, html = render.render(*DEFAULT_TEMPLATES[name], variables)
        messages.append(Message(recipient, address, subject, html))
    if problems:
        _show_to_the_admin(booking, '; '.join(problems))
    return messages


def _show_to_the_admin(booking: BookingItem, problem: str) -> None:
    """On the booking (GET .../bookings/{id}); the last write wins, so it never conflicts with the booking's own."""
    if booking.notice_problem != problem:
        repository.update(booking, actions=[BookingItem.notice_problem.set(problem)],
                          condition=BookingItem.pk.exists(), add_version_condition=False)

