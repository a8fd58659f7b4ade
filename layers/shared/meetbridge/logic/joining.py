"""Opening a join link: decided when clicked (time, payment, role, account health).

Mail security scanners (Outlook Safe Links, Gmail) fetch every link of an email, and some run its
page's script, before a person does. So looking at a link (`view_link`, a GET) only reads: the page
it renders has a button, and only the person's click (`follow_link`, a POST) records an open,
starts the meeting early for its provider and asks the provider for the room's address. The page's own
script, once the page is visible, posts that a person opened it (`record_page_open`).
"""

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from meetbridge.domain.access import (
    LinkState,
    Outcome,
    Phase,
    Role,
    decide,
    phase,
    provider_click_starts_meeting,
    waiting_ends,
)
from meetbridge.errors import NotFound, RetryLater
from meetbridge.logic import analytics, starting
from meetbridge.logic.bookings import attendee_of, details_of
from meetbridge.providers import provider_for
from meetbridge.security import secrets
from meetbridge.store import repository
from meetbridge.store.models import AccountItem, BookingItem, JoinLinkItem, MeetingItem, ProviderItem, ServiceItem

# The accounts whose meetings' links still open them: in use, or replaced (see store/repository.py).
SERVING = (repository.ACTIVE, repository.RETIRED, repository.REVOKED)


@dataclass(frozen=True)
class LinkStatus:
    """What the waiting page's script needs to know: whether the page has changed, and the start."""
    phase: Phase
    start: datetime
    started: bool


@dataclass(frozen=True)
class JoinView:
    outcome: Outcome
    role: Role
    phase: Phase
    location: str | None = None  # set by a click that opens the meeting: never logged, never shown
    starts_meeting: bool = False  # the provider's click now starts the meeting for everyone
    started: bool = False
    waiting_ends: datetime | None = None  # when a waiting page turns into the meeting's page
    service_name: str = ''
    provider_name: str = ''
    start: datetime | None = None
    timezone: str = 'UTC'
    password: str | None = None
    description: str | None = None

    @property
    def local_start(self) -> datetime | None:
        return self.start.astimezone(ZoneInfo(self.timezone)) if self.start else None


@dataclass(frozen=True)
class _OpenedLink:
    link: JoinLinkItem
    meeting: MeetingItem
    booking: BookingItem | None
    made_by: AccountItem | None  # None for a meeting the booking platform made: there is no account of ours
    state: LinkState


def view_link(token: str, now: datetime) -> JoinView:
    """What the link shows now. Reads only: a scanner's fetch records nothing and starts nothing."""
    opened = _read(token)
    return _view(opened, decide(opened.state, now), now)


def link_status(token: str, now: datetime) -> LinkStatus:
    """The link's phase now, for the page's script: reads only, and shows nothing the page did not."""
    state = _read(token).state
    return LinkStatus(phase(state, now), state.start, state.meeting_started)


def record_page_open(token: str, now: datetime) -> None:
    """A person has the link's page in front of them (its script says so): one open of the link."""
    analytics.record_open(_find_link(token), now)


def follow_link(token: str, now: datetime) -> JoinView:
    """A person's click: recorded, checked again (payment, time) and, when the meeting opens, where to go.

    A client's click before the start opens nothing yet: the handler answers the waiting page again, now
    marked so that its script takes the person in at the start (it posts this same form for them)."""
    opened = _read(token)
    outcome = decide(opened.state, now)
    analytics.record_open(opened.link, now)
    view = _view(opened, outcome, now)
    if outcome is not Outcome.REDIRECT:
        return view

    tenant_id, meeting, booking = opened.link.tenant_id, opened.meeting, opened.booking
    if view.starts_meeting:
        try:
            starting.mark_started(tenant_id, meeting, 'provider', now)
        except RetryLater:
            pass  # another click or the schedule started it at the same moment
    account = repository.account_of(opened.made_by, tenant_id) if opened.made_by is not None else None
    adapter = provider_for(meeting.provider_type)
    details = details_of(tenant_id, meeting)
    if view.role is Role.PROVIDER and account is not None and account.status == repository.REVOKED:
        location = details.join_url  # no token to ask for a host link: the host signs in on the meeting's own
    elif view.role is Role.PROVIDER:
        location = adapter.host_url(account, details)  # a Zoom start URL is minted here, at the click
    else:
        location = adapter.attendee_url(account, details, attendee_of(tenant_id, booking) if booking else None)
    return replace(view, location=location)


def _find_link(token: str) -> JoinLinkItem:
    link = token and len(token) <= 128 and repository.find(JoinLinkItem, JoinLinkItem.key(secrets.digest(token)))
    if not link:
        raise NotFound('unknown link')
    return link


def _read(token: str) -> _OpenedLink:
    link = _find_link(token)
    tenant_id = link.tenant_id
    meeting = repository.get_meeting(tenant_id, link.meeting_key)
    booking = repository.get_booking(tenant_id, link.booking_id) if link.booking_id else None
    # A platform's meeting has no account: the platform keeps it usable, or not, beyond our sight.
    made_by = meeting.account_id and repository.find(AccountItem, AccountItem.key(tenant_id, meeting.account_id))
    state = LinkState(
        role=Role(link.role),
        link_active=link.status == 'active',
        booking_cancelled=booking is not None and booking.status == 'cancelled',
        meeting_cancelled=meeting.status == 'cancelled',
        meeting_started=meeting.status == 'started',
        payment_required=booking is not None and booking.payment_required,
        paid=booking is not None and booking.payment_status == 'paid',
        account_usable=meeting.account_id is None or (made_by is not None and made_by.status in SERVING),
        start=meeting.start,
        end=meeting.end,
        # The client's booking held in person (its class session may be online for others), or, for the
        # provider's link, a meeting deleted because its bookings went in person.
        in_person=bool(booking.in_person) if booking is not None else bool(meeting.in_person),
    )
    return _OpenedLink(link, meeting, booking, made_by, state)


def _view(opened: _OpenedLink, outcome: Outcome, now: datetime) -> JoinView:
    tenant_id, meeting, booking, role = opened.link.tenant_id, opened.meeting, opened.booking, opened.state.role
    service = repository.find(ServiceItem, ServiceItem.key(tenant_id, meeting.service_id))
    provider = repository.find(ProviderItem, ProviderItem.key(tenant_id, meeting.provider_id))
    details = details_of(tenant_id, meeting) if outcome is Outcome.WAIT and meeting.details_sealed else None
    return JoinView(
        outcome,
        role,
        phase(opened.state, now),
        starts_meeting=outcome is Outcome.REDIRECT and provider_click_starts_meeting(opened.state, now),
        started=opened.state.meeting_started,
        waiting_ends=waiting_ends(opened.state),
        service_name=service.name if service else '',
        provider_name=provider.name if provider else '',
        # A class session's meeting stays where it was while a booking of it is held in person and moved.
        start=booking.start if role is Role.CLIENT and booking is not None and booking.in_person else meeting.start,
        timezone=_viewer_zone(role, booking, provider, meeting.timezone),
        password=details and details.password,
        description=details and details.description,
    )


def _viewer_zone(role: Role, booking: BookingItem | None, provider: ProviderItem | None, fallback: str) -> str:
    if role is Role.CLIENT and booking is not None and booking.client.timezone:
        return booking.client.timezone
    if role is Role.PROVIDER and provider is not None and provider.timezone:
        return provider.timezone
    return fallback
