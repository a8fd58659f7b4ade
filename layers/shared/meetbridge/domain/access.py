"""Whether a join link may open now, and what the person sees instead."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

# A link still opens this long after the booked end, for meetings that run over.
AFTER_END_GRACE = timedelta(hours=1)


class Role(str, Enum):
    CLIENT = 'client'
    PROVIDER = 'provider'


class Outcome(str, Enum):
    REDIRECT = 'redirect'
    WAIT = 'wait'
    PAYMENT_REQUIRED = 'payment_required'
    CANCELLED = 'cancelled'
    ENDED = 'ended'
    UNAVAILABLE = 'unavailable'
    IN_PERSON = 'in_person'


class Phase(str, Enum):
    """What the link's page is now, in one word: what its script reads from `/j/{token}/state`."""
    WAITING = 'waiting'
    OPEN = 'open'
    PAYMENT_REQUIRED = 'payment_required'
    CANCELLED = 'cancelled'
    ENDED = 'ended'
    UNAVAILABLE = 'unavailable'
    IN_PERSON = 'in_person'


@dataclass(frozen=True)
class LinkState:
    role: Role
    link_active: bool
    booking_cancelled: bool
    meeting_cancelled: bool
    meeting_started: bool
    payment_required: bool
    paid: bool
    account_usable: bool
    start: datetime
    end: datetime
    in_person: bool = False  # switched to in person by the admin: its meeting is gone, the link says so


def decide(state: LinkState, now: datetime) -> Outcome:
    if state.booking_cancelled:
        return Outcome.CANCELLED
    # Before the link's own status: switching to in person revokes the provider's link with the meeting.
    if state.in_person:
        return Outcome.IN_PERSON
    if not state.link_active or state.meeting_cancelled:
        return Outcome.CANCELLED
    if now > state.end + AFTER_END_GRACE:
        return Outcome.ENDED
    if not state.account_usable:
        return Outcome.UNAVAILABLE
    if state.role is Role.PROVIDER:
        # The provider may always open the meeting, which starts it early.
        return Outcome.REDIRECT
    if state.payment_required and not state.paid:
        return Outcome.PAYMENT_REQUIRED
    if state.meeting_started or now >= state.start:
        return Outcome.REDIRECT
    return Outcome.WAIT


# A provider opening the link this close to the start starts the meeting for everyone.
EARLY_START_WINDOW = timedelta(minutes=15)


def provider_click_starts_meeting(state: LinkState, now: datetime) -> bool:
    return (
        state.role is Role.PROVIDER
        and not state.meeting_started
        and waiting_ends(state) <= now <= state.end
    )


def waiting_ends(state: LinkState) -> datetime:
    """When the link's waiting page turns into the meeting's page: the start for a client; for the provider,
    the start of the window in which their click starts the meeting (before it they may open the room only)."""
    return state.start - EARLY_START_WINDOW if state.role is Role.PROVIDER else state.start


def phase(state: LinkState, now: datetime) -> Phase:
    outcome = decide(state, now)
    if outcome is Outcome.WAIT:
        return Phase.WAITING
    if outcome is Outcome.REDIRECT:
        # Only the provider opens a meeting that is neither started nor due: their page still waits.
        return Phase.WAITING if not state.meeting_started and now < waiting_ends(state) else Phase.OPEN
    return Phase(outcome.value)
