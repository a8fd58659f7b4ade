"""What a booking event does to its booking, meeting, join links and start schedule.

Every step can run again (SQS and EventBridge deliver at least once): meetings are keyed by
booking or class session and claimed before a provider is called, links are minted once, and a
change is announced through `pending_notice`, which is saved with the change and its event in one
transaction (meetbridge.outbox) and cleared only after the event is on the bus.
"""

import hashlib
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from meetbridge import events, outbox, scheduling
from meetbridge.domain import hosting, ordering
from meetbridge.domain.model import Booking, BookingEvent, Client, Payment
from meetbridge.errors import Conflict, RetryLater
from meetbridge.logic import links, reminders, waiting
from meetbridge.store.tokens import ConnectionUnusable
from meetbridge.observability import logger
from meetbridge.providers import provider_for
from meetbridge.providers.base import Attendee, DailyLimit, MeetingSpec, ProviderMeeting, ProviderRejected
from meetbridge.store import repository
from meetbridge.store.repository import Account
from meetbridge.store.models import (AccountItem, BookingItem, ClientMap, MeetingItem, ProviderItem, ServiceItem,
                                     SessionItem)

# Retries after a provider's daily limit spread over a few minutes past midnight.
RETRY_SPREAD = timedelta(minutes=5)

# A meeting claim older than this is taken over: its holder died between claiming and saving the meeting.
# Well over the meetings function's timeout, so a holder that is still running is never overtaken.
CLAIM_LEASE = timedelta(minutes=5)
# Another booking of the same class session waits this long for the meeting being made, in its own
# invocation, instead of a retry's delay (a provider answers a create within seconds).
CREATION_WAIT_SECONDS = 10
# Its reads start quick and slow down, so that a burst of waiting bookings leaves the table to the creator.
CREATION_POLL_SECONDS = 0.2
CREATION_POLL_LONGEST_SECONDS = 1.0
NO_ACCOUNT = ('No meeting account can host the meeting: connect a company account, the provider\'s own account or '
              'a fallback custom link.')
# The provider of a meeting the booking platform made itself (providers/platform.py): no account, no calls.
PLATFORM = 'platform'
PLATFORM_MEETING_GONE = ('The booking platform no longer attaches its own meeting, and the service is not an online '
                         'meeting service: the booking has no meeting. Mark the service online to get one made.')
PLATFORM_MEETING_PENDING = ('The booking platform is still making its own meeting and has not sent its link: none of '
                            'ours is made beside it. The next change of the booking that carries the link gets it '
                            'wrapped.')
# The seeds refuse online meetings to bookings made at a kiosk: the person is there, in person.
KIOSK = 'online meetings are not available for kiosk bookings'

NOTICE_EVENTS = {
    'created': events.MEETING_SCHEDULED,
    'rescheduled': events.MEETING_RESCHEDULED,
    'cancelled': events.MEETING_CANCELLED,
    'failed': events.MEETING_FAILED,
    'in_person': events.MEETING_IN_PERSON,
}


@dataclass(frozen=True)
class Result:
    outcome: str
    notice: str | None = None


def apply(event: BookingEvent, now: datetime) -> Result:
    booking = event.booking
    existing = repository.find(BookingItem, BookingItem.key(event.tenant_id, booking.id))
    received = waiting.is_received(existing)
    if received:
        existing = None  # only recorded by its webhook: no change of it is applied yet
    if existing is not None:
        if existing.status == 'cancelled':
            return Result('ignored: the booking is already cancelled')
        if ordering.is_older(event.order, _applied_order(existing)):
            return Result('ignored: older than the change already applied')
    if event.type == 'booking.cancelled':
        return _cancel(event, existing, now)
    if existing is not None:
        # Where a booking was made is settled by its first event: a later change neither makes nor takes a kiosk
        # booking (nor moves its meeting key).
        booking = booking.model_copy(update={'channel': existing.channel})
    booking = _settle_pending(event.tenant_id, booking, existing)
    if booking.session_id and (existing is None or existing.session_id != booking.session_id):
        # Before its override is read: a switch of the session stored after that read finds the booking.
        _record_in_session(event.tenant_id, booking.session_id, booking.id, now)
    service = repository.find(ServiceItem, ServiceItem.key(event.tenant_id, booking.service_id))
    override = override_of(event.tenant_id, existing, booking.session_id)
    # A meeting the platform made, or is making, is wrapped whatever the service says: the platform decided the
    # booking is online. So is a booking the admin switched online (its session, for a booking not seen before).
    if existing is None and booking.platform_meeting_url is None and not booking.platform_meeting_pending and \
            override is not True and (service is None or not service.online):
        if received:
            waiting.forget_received(event.tenant_id, booking.id)
        return Result('ignored: the service is not an online meeting service')
    if booking.channel == 'kiosk':
        return _record_kiosk(event, booking, existing, now)
    if override is False:
        return _record_in_person(event, booking, existing, now)
    try:
        return _ensure(event, booking, existing, service, now, wanted_online=override is True)
    except DailyLimit as limit:
        return _wait_for_limit(event, booking, existing, limit, now)


def _record_kiosk(event: BookingEvent, booking: Booking, existing: BookingItem | None, now: datetime) -> Result:
    """A kiosk booking is recorded with its problem and no meeting or link, and announced to no one: it is not a
    failure (no account would change it), so it is neither listed as failed nor applied again."""
    item = existing or BookingItem(*BookingItem.key(event.tenant_id, booking.id), booking_id=booking.id)
    item.channel = booking.channel
    _copy(event, booking, item, KIOSK, now)
    _save_and_announce(event.tenant_id, item)
    return Result('recorded: ' + KIOSK)


def override_of(tenant_id: str, item: BookingItem | None, session_id: str | None) -> bool | None:
    """Whether the admin switched the booking online (True) or to in person (False), whatever its service's switch
    says: its own override, else its class session's; None when neither did (the service decides)."""
    if item is not None and item.online is not None:
        return item.online
    if session_id is None:
        return None
    # Consistent: a switch of the session stored just before is seen, or it sees this booking (_join, _hold_in_session).
    session = repository.find_consistent(SessionItem, SessionItem.key(tenant_id, session_id))
    return session.online if session is not None else None


def _record_in_person(event: BookingEvent, booking: Booking, existing: BookingItem | None, now: datetime) -> Result:
    """An override says in person: the booking leaves its meeting (the last one out has it deleted at the provider,
    its start and reminder schedules with it) and keeps its links, which answer that the session is now in person.
    A booking whose people were sent its links is announced `in_person` once; a later change of it, none."""
    tenant_id = event.tenant_id
    item = existing or BookingItem(*BookingItem.key(tenant_id, booking.id), booking_id=booking.id)
    switched = existing is not None and not existing.in_person
    # Also for a booking in person or new: a switch flipped again may have listed it in a meeting before the booking
    # could be saved (a no-op when the booking is in no live meeting).
    _leave(tenant_id, existing.meeting_key if existing else booking.meeting_key, booking.id,
           attendee_of(tenant_id, existing) if existing else None, now, in_person=True)
    item.attendee_sealed = None  # the client's entry went with the meeting
    _copy(event, booking, item, None, now)
    item.in_person = True
    _keep_in_person_links(tenant_id, item)
    if booking.session_id:
        _hold_in_session(tenant_id, booking.session_id, booking.id, now)
    if switched and item.client_link_sealed is not None:
        # Links never announced (their 'created' is still pending) are not announced as in person either.
        item.pending_notice = None if item.pending_notice == 'created' else 'in_person'
    _save_and_announce(tenant_id, item)
    return Result('recorded in person', item.pending_notice if switched else None)


def _keep_in_person_links(tenant_id: str, item: BookingItem) -> None:
    """A booking held in person keeps its links alive until it ends, also when it is rescheduled later: they say it
    is in person and open its meeting again back online. The booking's own meeting (cancelled while it is in person)
    moves with it, so that its pages show the time it now has; a class session's is the session's."""
    links.extend(links.open_sealed(item.client_link_sealed, tenant_id, 'client', item.booking_id), item.end)
    if item.meeting_key != f'booking:{item.booking_id}':
        return
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, item.meeting_key))
    if meeting is None or meeting.status != 'cancelled':
        return
    links.extend(_provider_url(tenant_id, meeting), item.end)
    if (meeting.start, meeting.end, meeting.timezone) != (item.start, item.end, item.timezone):
        repository.update(meeting, actions=[MeetingItem.start.set(item.start), MeetingItem.end.set(item.end),
                                            MeetingItem.timezone.set(item.timezone)])


def _record_in_session(tenant_id: str, session_id: str, booking_id: str, now: datetime) -> None:
    """Notes a booking of the session, whatever its meeting or outcome (the platform's own meeting, a failure), so
    that the session's switch finds every booking. An atomic add, once per booking and session (a booking stored
    with this session was noted when first applied), that makes the session's item when it has none."""
    # A version of 0 makes pynamodb ADD 1 to the stored one: a switch that read it before conflicts, not overwrites.
    session = SessionItem(*SessionItem.key(tenant_id, session_id), version=0)
    repository.update(session, actions=[SessionItem.session_id.set(session_id),
                                        SessionItem.booking_ids.add({booking_id}), SessionItem.updated_at.set(now)],
                      add_version_condition=False)


def _hold_in_session(tenant_id: str, session_id: str, booking_id: str, now: datetime) -> None:
    """Notes a booking of the session held in person (no meeting lists it), for the session's switch back online.
    An atomic add that makes the session's item when it has none, only while the session is not switched online:
    a switch stored meanwhile did not see this booking, so the booking is applied again (Conflict)."""
    # A version of 0 makes pynamodb ADD 1 to the stored one (not set it to 1): a switch that read it before conflicts.
    session = SessionItem(*SessionItem.key(tenant_id, session_id), version=0)
    repository.update(session, actions=[SessionItem.session_id.set(session_id),
                                        SessionItem.in_person_ids.add({booking_id}), SessionItem.updated_at.set(now)],
                      condition=SessionItem.online.does_not_exist() | (SessionItem.online == False),  # noqa: E712
                      add_version_condition=False)


def _settle_pending(tenant_id: str, booking: Booking, existing: BookingItem | None) -> Booking:
    """A meeting the platform is still making leaves the booking's live meeting as it is: the platform's keeps
    the URL it last sent (Calendly sends no webhook once its new link is ready), ours stays ours. Only a booking
    without one waits for the URL (PLATFORM_MEETING_PENDING), so that a platform's meeting is never deleted or
    doubled."""
    if not booking.platform_meeting_pending:
        return booking
    meeting_key = existing.meeting_key if existing is not None else booking.meeting_key
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, meeting_key))
    if meeting is None or meeting.status == 'cancelled':
        return booking
    url = details_of(tenant_id, meeting).join_url if meeting.provider_type == PLATFORM else None
    return booking.model_copy(update={'platform_meeting_pending': False, 'platform_meeting_url': url})


def _spec(booking: Booking, service: ServiceItem | None, meeting_settings: dict | None = None) -> MeetingSpec:
    return MeetingSpec(
        settings=meeting_settings,
        topic=service.name if service else booking.service_id,
        start=booking.start,
        end=booking.end,
        timezone=booking.timezone,
        kind='class' if booking.session_id or (service and service.kind == 'class') else 'appointment',
        platform_meeting_url=booking.platform_meeting_url,
    )


def _ensure(event: BookingEvent, booking: Booking, existing: BookingItem | None, service: ServiceItem | None,
            now: datetime, wanted_online: bool = False) -> Result:
    """Applies `event` as `booking`, its booking with a pending platform meeting settled (_settle_pending).
    `wanted_online`: an override switched it online, whatever its service says."""
    tenant_id = event.tenant_id
    if existing is not None and existing.meeting_key != booking.meeting_key:
        _leave_meeting(tenant_id, existing, now)  # moved to another class session, or to or from a platform's meeting
        existing.attendee_sealed = None  # the client's entry went with it

    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, booking.meeting_key))
    tenant = repository.get_tenant(tenant_id)
    spec = _spec(booking, service, tenant.meeting_settings.as_dict() if tenant.meeting_settings else None)
    problem = None
    try:
        if meeting is not None and meeting.status == 'creating' and not _claim_expired(meeting, now):
            meeting, now = _await_creation(tenant_id, booking.meeting_key, now)
        if _switches(meeting, booking):
            # The platform attached its own meeting, or took it away: the meeting it replaces goes first (ours is
            # deleted at the provider through the account that made it), the new one keeps the same links.
            _leave(tenant_id, meeting.meeting_key, booking.id, None, now)
            meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, booking.meeting_key))
            if existing is not None:
                existing.attendee_sealed = None  # the client's entry went with the meeting
        if booking.platform_meeting_url and (meeting is None or meeting.status == 'cancelled'):
            meeting = _make_platform_meeting(tenant_id, booking, spec, meeting, now)
        elif booking.platform_meeting_pending:
            # The booking has no live meeting (_settle_pending): the platform's is on its way, ours would double it.
            meeting, problem = None, PLATFORM_MEETING_PENDING
        elif not wanted_online and _platform_meeting_gone(meeting, booking, service):
            # Only the platform's meeting made this booking online: without it, ours is made for online services only.
            meeting, problem = None, PLATFORM_MEETING_GONE
        elif meeting is None or meeting.status == 'cancelled' or _claim_expired(meeting, now):
            try:
                meeting = _create_meeting(tenant_id, booking, spec, meeting, now)
            except Conflict:
                # Another booking of the class session claimed the meeting first: it is being made.
                meeting, now = _await_creation(tenant_id, booking.meeting_key, now)
                if meeting is None or meeting.status in ('cancelled', 'creating'):
                    raise
        elif _on_gone_account(tenant_id, meeting, booking, now):
            # Its account was replaced or disconnected (and its re-homing could not make it elsewhere, or has not
            # yet): the chain's first usable account makes it again; the join links name the meeting, so they stay.
            meeting = _create_meeting(tenant_id, booking, spec, meeting, now)
        elif (meeting.start, meeting.end) != (booking.start, booking.end) or \
                _new_platform_url(tenant_id, meeting, booking):
            _move_meeting(tenant_id, meeting, spec, now, existing)
    except (ProviderRejected, ConnectionUnusable) as refusal:
        problem = str(refusal)
        if meeting is not None and meeting.status == 'creating':
            meeting = None

    item = existing or BookingItem(*BookingItem.key(tenant_id, booking.id), booking_id=booking.id)
    change = _change(existing, booking, problem)
    if meeting is not None and problem is None:
        _join(tenant_id, meeting, booking, now, follows_session=existing is None or existing.online is None)
        if not item.attendee_sealed:
            attendee = _add_attendee(tenant_id, meeting, spec, booking)
            if attendee is not None:
                item.attendee_sealed = repository.seal_json(attendee.to_dict(), tenant_id, 'attendee', booking.id)
        if not item.client_link_sealed:
            _, item.client_link_sealed = links.mint(
                tenant_id, 'client', meeting.meeting_key, meeting.end, now,
                booking_id=booking.id, client_id=booking.client.id,
            )
        elif change in ('rescheduled', 'created'):  # moved, or back online after it was held in person
            links.extend(links.open_sealed(item.client_link_sealed, tenant_id, 'client', booking.id), meeting.end)

    _copy(event, booking, item, problem, now)
    item.pending_notice = _merge_notice(item.pending_notice, change)
    _save_and_announce(tenant_id, item)
    return Result('meeting ready' if problem is None else 'failed: ' + problem, change)


def _change(existing: BookingItem | None, booking: Booking, problem: str | None) -> str | None:
    if problem is not None:
        return 'failed' if existing is None or existing.problem is None else None
    if existing is None or existing.problem is not None or existing.in_person:
        return 'created'
    if (existing.start, existing.end) != (booking.start, booking.end):
        return 'rescheduled'
    return None


def _merge_notice(pending: str | None, change: str | None) -> str | None:
    """A change not yet announced is folded into the next: a never-announced booking is still 'created'."""
    if change is None:
        return pending
    if pending == 'created' and change == 'rescheduled':
        return 'created'
    return change


def _copy(event: BookingEvent, booking: Booking, item: BookingItem, problem: str | None, now: datetime) -> None:
    item.source = event.source
    item.service_id = booking.service_id
    item.provider_id = booking.provider_id
    item.start = booking.start
    item.end = booking.end
    item.timezone = booking.timezone
    item.session_id = booking.session_id
    item.meeting_key = booking.meeting_key
    item.payment_required = booking.payment.required
    # A payment once confirmed stays confirmed, whatever order the events arrive in.
    if item.payment_status != 'paid':
        item.payment_status = 'paid' if event.type == 'booking.paid' else booking.payment.status
    item.client = ClientMap(**booking.client.model_dump())
    item.status = 'active'
    item.problem = problem
    item.pending = item.waiting_since = item.waiting_noticed = None
    item.in_person = None  # set again by a change applied in person
    _record_order(item, event)
    item.updated_at = now


def _applied_order(item: BookingItem) -> ordering.SourceOrder:
    return ordering.SourceOrder(item.source_version, item.source_occurred_at, item.source_change)


def _record_order(item: BookingItem, event: BookingEvent) -> None:
    order = ordering.merged(_applied_order(item), event.order)
    item.source_version, item.source_occurred_at, item.source_change = order.version, order.occurred_at, order.change


def _save_and_announce(tenant_id: str, item: BookingItem) -> None:
    """Saves the booking; a pending notice is written with it in one transaction and then published."""
    subject = f'booking#{item.booking_id}'
    if not item.pending_notice:
        outbox.save_withdrawing(tenant_id, item, subject)
        return
    change = item.pending_notice
    # The version this write gives the booking: a retry repeats it, a later change never does.
    notice_id = f'{tenant_id}/{item.booking_id}/{change}/v{(item.version or 0) + 1}'
    outbox.save(tenant_id, item, events.Event(
        subject=subject,
        event_id=notice_id,
        detail_type=NOTICE_EVENTS[change],
        detail={
            'notice_id': notice_id,
            'tenant_id': tenant_id,
            'booking_id': item.booking_id,
            'meeting_key': item.meeting_key,
            'change': change,
            'version': (item.version or 0) + 1,
            'start': item.start.isoformat(),
            'end': item.end.isoformat(),
            'problem': item.problem,
        },
    ), marker=BookingItem.pending_notice)


# --- meetings ---------------------------------------------------------------------------------


class CancelledWhileMade(RetryLater):
    """The booking was cancelled while its meeting was being made: what was made is removed again."""


def _claim_expired(meeting: MeetingItem, now: datetime) -> bool:
    """A claim past its lease (its holder died) or released by a failed attempt."""
    return meeting.status == 'creating' and (meeting.claimed_until is None or now >= meeting.claimed_until)


def _reference(tenant_id: str, meeting_key: str, generation: int) -> str:
    return hashlib.sha256(f'{tenant_id}\n{meeting_key}\n{generation}'.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Candidate:
    """An account of the hosting chain, by the slot that points at it."""

    slot: str
    account: AccountItem
    host_user: str | None  # the company account's user who hosts for the provider (its mapped user)

    def unusable(self, why: str) -> str:
        settings = repository.settings_of(self.account)
        return f'{hosting.describe(self.slot, self.account.type, settings.get("email"))} {why}'


class NoAccount(ProviderRejected):
    """No account of the hosting chain can host the meeting; the message names each one skipped and why."""


def _chain(tenant_id: str, provider_id: str) -> list[_Candidate]:
    """The accounts of the provider's hosting chain (hosting.chain_for), a slot without an account left out."""
    provider = repository.find(ProviderItem, ProviderItem.key(tenant_id, provider_id))
    chain = []
    for slot in hosting.chain_for(provider_id):
        account = repository.account_used_by(tenant_id, slot)
        if account is not None:
            chain.append(_Candidate(slot, account, provider.company_user if provider and slot == hosting.COMPANY
                                    else None))
    return chain


def _told_of(skipped: list[tuple['_Candidate', str]]) -> AccountItem | None:
    """The first skipped account the admin is told about. One the admin disconnected themselves (no problem
    recorded) is their own choice: the booking says why it is hosted further on, but no alert is raised for it at
    every booking. One disconnected at the provider (its problem says so) is told until the admin acts."""
    for candidate, _ in skipped:
        if not (candidate.account.status == repository.DISCONNECTED and candidate.account.problem is None):
            return candidate.account
    return None


def _why_unusable(account: AccountItem) -> str:
    if account.status == repository.NEEDS_RECONNECT:
        return 'needs reconnecting' + (f': {account.problem}' if account.problem else '')
    return f'is {account.status}'


def _create_meeting(tenant_id: str, booking: Booking, spec: MeetingSpec, previous: MeetingItem | None,
                    now: datetime, reason: str | None = None) -> MeetingItem:
    """Makes the meeting on the first account of the hosting chain that can host it. An account that is not
    active is skipped; one that refuses (ConnectionUnusable, a refusal about the account) is left for the next
    one in the same invocation, the claim moved onto it (same reference, one more attempt: a retry after a crash
    looks there and adopts what this attempt made). A transient failure is raised: the booking is retried.
    `reason` (a re-homing's) is kept as the meeting's fallback_reason; otherwise a fall-back is announced
    (booking.problem) before the claim that records it. NoAccount when no account can host it."""
    chain = _chain(tenant_id, booking.provider_id)
    skipped: list[tuple[_Candidate, str]] = []
    carried_reason = None
    if previous is not None and previous.status == 'creating':
        # An earlier attempt's claim on an account that still works: resumed there, so that what it may have
        # made is adopted; the accounts before it were skipped by that attempt.
        resumed = [index for index, candidate in enumerate(chain) if candidate.account.account_id ==
                   previous.account_id and candidate.account.status == repository.ACTIVE]
        if resumed:
            chain, carried_reason = chain[resumed[0]:], previous.fallback_reason
    claim = None  # this invocation's claim, once made
    for candidate in chain:
        if candidate.account.status != repository.ACTIVE:
            skipped.append((candidate, candidate.unusable(_why_unusable(candidate.account))))
            continue
        fallback_reason = reason or '; '.join(why for _, why in skipped) or carried_reason
        claim = _claim(tenant_id, booking, claim or previous, candidate, fallback_reason, now,
                       refused_here=claim is not None,
                       fell_back_from=_told_of(skipped) if reason is None else None)
        try:
            return _make_on(tenant_id, claim, candidate, spec, now)
        except ConnectionUnusable:
            skipped.append((candidate, candidate.unusable('needs reconnecting: the meeting account needs to be '
                                                          'connected again')))
        except ProviderRejected as refusal:
            if not refusal.about_account:
                _give_back(tenant_id, claim, now)
                raise
            skipped.append((candidate, candidate.unusable(f'refused: {refusal}')))
        logger.warning('meeting account refused; the next one of the chain is tried', extra={
            'tenant_id': tenant_id, 'meeting_key': claim.meeting_key, 'account_id': candidate.account.account_id})
    if claim is not None:
        _give_back(tenant_id, claim, now, unhosted=True)
    raise NoAccount(' '.join([NO_ACCOUNT, *(f'{why}.' for _, why in skipped)]))


def _claim(tenant_id: str, booking: Booking, previous: MeetingItem | None, candidate: _Candidate,
           fallback_reason: str | None, now: datetime, refused_here: bool,
           fell_back_from: AccountItem | None) -> MeetingItem:
    """Claims the meeting for the candidate's account: exactly one invocation calls the provider for a booking or
    class session. `refused_here`: `previous` is this invocation's claim on an account that refused (nothing was
    made there), moved onto the next account."""
    chosen = candidate.account
    if previous is not None and previous.status == 'creating' and previous.account_id != chosen.account_id and \
            not refused_here:
        try:
            _discard_attempt(tenant_id, previous)  # the earlier attempt went to an account no longer chosen
        except (ProviderRejected, ConnectionUnusable) as refusal:
            logger.warning('an earlier attempt\'s meeting could not be looked for', extra={
                'tenant_id': tenant_id, 'meeting_key': previous.meeting_key, 'reason': str(refusal)})
    meeting = previous or MeetingItem(*MeetingItem.key(tenant_id, booking.meeting_key), meeting_key=booking.meeting_key)
    if previous is not None and previous.status != 'creating':
        # Made again, after a cancellation or off an account that is gone: a new reference, so that a
        # meeting of an earlier generation is never adopted.
        meeting.generation += 1
        meeting.attempts = 0
        if meeting.status == 'cancelled':
            meeting.booking_ids = set()
    meeting.reference = _reference(tenant_id, meeting.meeting_key, meeting.generation)
    meeting.attempts += 1
    meeting.claimed_until = now + CLAIM_LEASE
    meeting.claim_host = candidate.host_user
    # The booking is in it from the claim on, so that its cancellation reaches a meeting still being made.
    meeting.booking_ids = (meeting.booking_ids or set()) | {booking.id}
    meeting.service_id = booking.service_id
    meeting.provider_id = booking.provider_id
    meeting.account_id = chosen.account_id
    meeting.account_slot = candidate.slot
    meeting.fallback_reason = fallback_reason
    meeting.provider_type = chosen.type
    meeting.start, meeting.end, meeting.timezone = booking.start, booking.end, booking.timezone
    meeting.status = 'creating'
    meeting.in_person = None
    meeting.started_at = meeting.started_by = meeting.started_by_role = None
    meeting.updated_at = now
    if fell_back_from is not None:
        # Before the write it describes: a crash in between announces it again, under the same id.
        outbox.announce(tenant_id, _fell_back(tenant_id, meeting, booking.id, fell_back_from))
    repository.save(meeting, condition=MeetingItem.pk.does_not_exist() if previous is None else None)
    return meeting


def _fell_back(tenant_id: str, meeting: MeetingItem, booking_id: str, skipped: AccountItem) -> events.Event:
    return events.Event(
        subject=f'meeting#{meeting.meeting_key}#problem',
        # One per generation of the meeting and account it falls back to: a retry repeats it, a later one does not.
        event_id=f'{tenant_id}/{meeting.meeting_key}/fell_back/g{meeting.generation}/{meeting.account_id}',
        detail_type=events.BOOKING_PROBLEM,
        detail={'tenant_id': tenant_id, 'booking_id': booking_id, 'meeting_key': meeting.meeting_key,
                'account_id': skipped.account_id, 'kind': 'fell_back',
                'problem': f'{meeting.fallback_reason}; it is hosted by the next account of the chain '
                           f'({meeting.account_slot}) instead, with the same join links.'},
    )


def _make_on(tenant_id: str, meeting: MeetingItem, candidate: _Candidate, spec: MeetingSpec,
             now: datetime) -> MeetingItem:
    """Makes the claimed meeting at the provider and saves it scheduled. A refusal of the account
    (ConnectionUnusable, ProviderRejected) is raised with the claim kept, for the next account; anything else
    gives the claim back first."""
    chosen = candidate.account
    account = repository.account_of(chosen, tenant_id)
    adapter = provider_for(chosen.type)
    spec = replace(spec, host_user=candidate.host_user, reference=meeting.reference)
    try:
        # After a lost answer or a dead worker the meeting may exist already: adopted, not made twice.
        made = (adapter.find(account, spec) if meeting.attempts > 1 else None) or adapter.create(account, spec)
    except (ConnectionUnusable, ProviderRejected):
        raise
    except Exception:
        _give_back(tenant_id, meeting, now)
        raise
    meeting = _record_made(tenant_id, meeting, made)

    _open_provider_link_and_schedule(tenant_id, meeting, now)
    meeting.status = 'scheduled'
    meeting.claimed_until = None
    meeting.updated_at = now
    try:
        repository.save(meeting)
    except Conflict:
        current = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting.meeting_key))
        if current is None or current.status != 'creating' or current.attempts != meeting.attempts:
            # Cancelled meanwhile: the canceller removed the meeting (its id was saved) but could not see
            # the schedule.
            scheduling.delete_start_schedule(meeting.schedule_name)
            reminders.unschedule(meeting)
            raise CancelledWhileMade('the booking was cancelled while its meeting was being made') from None
        for name in ('provider_link_sealed', 'schedule_name', 'reminder_schedule_names', 'status', 'claimed_until',
                     'updated_at'):
            setattr(current, name, getattr(meeting, name))  # another booking of the session left meanwhile
        meeting = current
        repository.save(meeting)
    scheduling.request_near_start_again(tenant_id, meeting.meeting_key, meeting.start)
    logger.info('meeting created', extra={'tenant_id': tenant_id, 'meeting_key': meeting.meeting_key,
                                          'provider': chosen.type, 'account_id': chosen.account_id,
                                          'slot': candidate.slot, 'attempt': meeting.attempts})
    return meeting


def make_meeting_again(tenant_id: str, meeting: MeetingItem, booking_item: BookingItem, reason: str,
                       now: datetime) -> MeetingItem | None:
    """Makes the live `meeting` again (a re-homing) on the first account of its booking's hosting chain that can
    host it: the next generation, with the same join links, `reason` kept as its fallback_reason. None when no
    account of the chain can host it. The meeting it replaces is the caller's to delete at its provider."""
    booking = booking_of(booking_item)
    service = repository.find(ServiceItem, ServiceItem.key(tenant_id, booking.service_id))
    tenant = repository.get_tenant(tenant_id)
    spec = _spec(booking, service, tenant.meeting_settings.as_dict() if tenant.meeting_settings else None)
    try:
        remade = _create_meeting(tenant_id, booking, spec, meeting, now, reason=reason)
    except NoAccount:
        return None
    # A class's clients registered in the old meeting are registered in the new one, so their links keep working.
    _register_again(tenant_id, remade, details_of(tenant_id, remade), replace(spec, reference=remade.reference), None)
    return remade


def booking_of(item: BookingItem) -> Booking:
    """The booking as stored, as its source would send it (its order aside: see apply_again)."""
    return Booking(id=item.booking_id, service_id=item.service_id, provider_id=item.provider_id, start=item.start,
                   end=item.end, timezone=item.timezone, version=item.source_version, session_id=item.session_id,
                   payment=Payment(required=item.payment_required, status=item.payment_status),
                   client=Client(**item.client.as_dict()), channel=item.channel)


class _StoredBookingEvent(BookingEvent):
    """A booking applied again as stored: its order is the one recorded, so it is neither older nor newer than
    the change applied last, and the order the booking records does not move."""

    recorded_order: ordering.SourceOrder

    @property
    def order(self) -> ordering.SourceOrder:
        return self.recorded_order


def lacks_account(item: BookingItem) -> bool:
    """A booking that failed because no account of its chain could host its meeting."""
    return item.status == 'active' and item.problem is not None and item.problem.startswith(NO_ACCOUNT)


def apply_again(tenant_id: str, item: BookingItem, event_id: str, now: datetime) -> Result:
    """Applies a booking again as stored: one that failed for lack of an account (an account was connected), or
    one the admin switched online or in person. A meeting the platform made stays the booking's, with the URL it
    last sent, also when it was let go for in person (the platform's meeting is the platform's to keep)."""
    booking = booking_of(item)
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, item.meeting_key))
    if meeting is not None and meeting.provider_type == PLATFORM and meeting.details_sealed and \
            (meeting.status != 'cancelled' or meeting.in_person):
        booking = booking.model_copy(update={'platform_meeting_url': details_of(tenant_id, meeting).join_url})
    event = _StoredBookingEvent(tenant_id=tenant_id, source=item.source, event_id=event_id, type='booking.created',
                                occurred_at=item.source_occurred_at, booking=booking,
                                recorded_order=_applied_order(item))
    return apply(event, now)


def _open_provider_link_and_schedule(tenant_id: str, meeting: MeetingItem, now: datetime) -> None:
    """The provider's link (minted once, the same one again after the meeting is made anew), the start's schedule
    and the reminders'."""
    if not meeting.provider_link_sealed:
        _, meeting.provider_link_sealed = links.mint(tenant_id, 'provider', meeting.meeting_key, meeting.end, now)
    else:
        provider_url = _provider_url(tenant_id, meeting)
        links.set_status(provider_url, 'active')
        links.extend(provider_url, meeting.end)  # also when the meeting is made again later than it was
    meeting.schedule_name = scheduling.put_start_schedule(tenant_id, meeting.meeting_key, meeting.start, now)
    reminders.schedule(tenant_id, meeting, now)


def _on_gone_account(tenant_id: str, meeting: MeetingItem, booking: Booking, now: datetime) -> bool:
    """A meeting of ours whose account was replaced or disconnected, to be made again: when it is moved, or while it
    has not begun (one under way is left to end where it is, as its re-homing leaves it: logic/rehoming.py)."""
    if meeting.provider_type == PLATFORM or meeting.account_id is None:
        return False
    moved = (meeting.start, meeting.end) != (booking.start, booking.end)
    not_begun = meeting.status == 'scheduled' and meeting.start > now
    return (moved or not_begun) and _account_for(tenant_id, meeting).status in repository.GONE


def _switches(meeting: MeetingItem | None, booking: Booking) -> bool:
    """Whether the booking's live meeting is of the other kind than the change asks for: ours, or the platform's."""
    if meeting is None or meeting.status == 'cancelled':
        return False
    return (meeting.provider_type == PLATFORM) != (booking.platform_meeting_url is not None)


def _platform_meeting_gone(meeting: MeetingItem | None, booking: Booking, service: ServiceItem | None) -> bool:
    return booking.platform_meeting_url is None and meeting is not None and meeting.status == 'cancelled' and \
        meeting.provider_type == PLATFORM and not (service is not None and service.online)


def _new_platform_url(tenant_id: str, meeting: MeetingItem, booking: Booking) -> bool:
    return meeting.provider_type == PLATFORM and details_of(tenant_id, meeting).join_url != booking.platform_meeting_url


def _make_platform_meeting(tenant_id: str, booking: Booking, spec: MeetingSpec, previous: MeetingItem | None,
                           now: datetime) -> MeetingItem:
    """Wraps the meeting the booking platform made: no account and no provider call, so no claim either."""
    made = provider_for(PLATFORM).create(None, spec)
    meeting = previous or MeetingItem(*MeetingItem.key(tenant_id, booking.meeting_key), meeting_key=booking.meeting_key)
    if previous is not None:  # cancelled: made anew, as _create_meeting does
        meeting.generation += 1
    meeting.booking_ids = {booking.id}  # a platform's meeting is its booking's own (Booking.meeting_key)
    meeting.service_id = booking.service_id
    meeting.provider_id = booking.provider_id
    meeting.account_id = meeting.reference = meeting.claim_host = meeting.claimed_until = None
    meeting.account_slot = meeting.fallback_reason = None
    meeting.attempts = 0
    meeting.provider_type = PLATFORM
    meeting.in_person = None
    meeting.external_id = None
    meeting.details_sealed = repository.seal_json(made.to_dict(), tenant_id, 'meeting', meeting.meeting_key)
    meeting.start, meeting.end, meeting.timezone = booking.start, booking.end, booking.timezone
    _open_provider_link_and_schedule(tenant_id, meeting, now)
    meeting.status = 'scheduled'
    meeting.started_at = meeting.started_by = meeting.started_by_role = None
    meeting.updated_at = now
    repository.save(meeting, condition=MeetingItem.pk.does_not_exist() if previous is None else None)
    logger.info('platform meeting wrapped', extra={'tenant_id': tenant_id, 'meeting_key': meeting.meeting_key})
    return meeting


def _record_made(tenant_id: str, meeting: MeetingItem, made: ProviderMeeting) -> MeetingItem:
    """Saves the provider's id before anything else, on the claim still being ours; a claim cancelled
    meanwhile gets the meeting deleted again."""
    claim = meeting.attempts
    for _ in range(3):  # a booking leaving the session changes the item too; the claim is still ours
        meeting.external_id = made.external_id
        meeting.details_sealed = repository.seal_json(made.to_dict(), tenant_id, 'meeting', meeting.meeting_key)
        try:
            repository.save(meeting)
            return meeting
        except Conflict:
            current = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting.meeting_key))
        if current is None or current.status != 'creating' or current.attempts != claim:
            break
        meeting = current
    if current is not None and current.status == 'creating' and current.reference == meeting.reference:
        raise Conflict('the meeting claim was taken over')  # the new holder adopts what this attempt made
    provider_for(meeting.provider_type).delete(_account_for(tenant_id, meeting), made)
    raise CancelledWhileMade('the booking was cancelled while its meeting was being made')


def _give_back(tenant_id: str, meeting: MeetingItem, now: datetime, unhosted: bool = False) -> None:
    """A failed attempt releases its claim at once, keeping the reference: the next attempt looks for what
    this one may have made (an answer lost on the way). A claim cancelled meanwhile is cleaned up here.
    `unhosted`: no account of the chain could host it, so it leaves the index of what accounts host (an update
    does not derive the index keys as a save does); the account stays named for the next attempt's look."""
    actions = [MeetingItem.claimed_until.set(now)]
    if unhosted:
        actions += [MeetingItem.gsi1pk.remove(), MeetingItem.gsi1sk.remove()]
    try:
        repository.update(meeting, actions=actions)
        return
    except Conflict:
        current = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting.meeting_key))
    if current is not None and current.status == 'cancelled' and current.reference == meeting.reference:
        _discard_attempt(tenant_id, meeting)


def _discard_attempt(tenant_id: str, meeting: MeetingItem) -> None:
    """Deletes what an unfinished creation under the claim's reference may have made at the provider."""
    if not meeting.attempts or not meeting.reference:
        return
    spec = MeetingSpec(topic=meeting.service_id, start=meeting.start, end=meeting.end, timezone=meeting.timezone,
                       kind='appointment', host_user=meeting.claim_host, reference=meeting.reference)
    adapter, account = provider_for(meeting.provider_type), _account_for(tenant_id, meeting)
    found = adapter.find(account, spec)
    if found is not None:
        adapter.delete(account, found)


def details_of(tenant_id: str, meeting: MeetingItem) -> ProviderMeeting:
    return ProviderMeeting.from_dict(repository.unseal_json(meeting.details_sealed, tenant_id, 'meeting', meeting.meeting_key))


def _provider_url(tenant_id: str, meeting: MeetingItem) -> str | None:
    return links.open_sealed(meeting.provider_link_sealed, tenant_id, 'provider', meeting.meeting_key)


def _move_meeting(tenant_id: str, meeting: MeetingItem, spec: MeetingSpec, now: datetime,
                  moving: BookingItem | None = None) -> None:
    """A reschedule changes the same meeting through the account that made it. A meeting deleted at the
    provider meanwhile is made again for the same host, and a class's clients are registered in it again
    (`moving`, the booking being applied, is saved by the caller). A platform's meeting takes the latest URL
    the platform sent, whether or not its time changed."""
    before, account = details_of(tenant_id, meeting), _account_for(tenant_id, meeting)
    retimed = (meeting.start, meeting.end) != (spec.start, spec.end)
    adapter = provider_for(meeting.provider_type)
    spec = replace(spec, host_user=before.host, reference=meeting.reference)
    moved = adapter.update(account, before, spec)
    if moved.external_id != before.external_id:
        _register_again(tenant_id, meeting, moved, spec, moving)
    meeting.external_id = moved.external_id
    meeting.details_sealed = repository.seal_json(moved.to_dict(), tenant_id, 'meeting', meeting.meeting_key)
    meeting.start, meeting.end, meeting.timezone = spec.start, spec.end, spec.timezone
    if retimed:
        if meeting.status == 'started':
            meeting.status, meeting.started_at, meeting.started_by, meeting.started_by_role = 'scheduled', None, None, None
        meeting.schedule_name = scheduling.put_start_schedule(tenant_id, meeting.meeting_key, spec.start, now)
        reminders.schedule(tenant_id, meeting, now)
    meeting.updated_at = now
    repository.save(meeting)
    if retimed:
        scheduling.request_near_start_again(tenant_id, meeting.meeting_key, meeting.start)
        links.extend(_provider_url(tenant_id, meeting), meeting.end)


def _register_again(tenant_id: str, meeting: MeetingItem, remade: ProviderMeeting, spec: MeetingSpec,
                    moving: BookingItem | None) -> None:
    """Each client registered in the old meeting gets a registration in the new one, so their links keep
    working. Before the meeting's new id is saved: a retry finds the remade meeting by its reference and
    registers again (a registration repeated for one email is the same registration)."""
    adapter, account = provider_for(meeting.provider_type), _account_for(tenant_id, meeting)
    for booking_id in sorted(meeting.booking_ids or set()):
        booking = moving if moving is not None and moving.booking_id == booking_id else \
            repository.find(BookingItem, BookingItem.key(tenant_id, booking_id))
        if booking is None or booking.status == 'cancelled' or not booking.attendee_sealed:
            continue
        attendee = adapter.add_attendee(account, remade, spec, booking.client.email, booking.client.name)
        sealed = repository.seal_json(attendee.to_dict(), tenant_id, 'attendee', booking_id) if attendee else None
        if booking is moving:
            moving.attendee_sealed = sealed
        else:
            repository.update(booking, actions=[BookingItem.attendee_sealed.set(sealed)])


def _account_for(tenant_id: str, meeting: MeetingItem) -> Account | None:
    """The account that made the meeting, whatever holds which account now; None for a platform's meeting."""
    if meeting.account_id is None:
        return None
    return repository.account_of(repository.get_account(tenant_id, meeting.account_id), tenant_id)


def _add_attendee(tenant_id: str, meeting: MeetingItem, spec: MeetingSpec, booking: Booking) -> Attendee | None:
    """A client's own registration where the provider has them (Zoom classes); None elsewhere, and None when
    the meeting's account was replaced or disconnected: nothing can register them, they use the meeting's link."""
    account = _account_for(tenant_id, meeting)
    if account is not None and account.status in repository.GONE:
        return None
    return provider_for(meeting.provider_type).add_attendee(
        account, details_of(tenant_id, meeting), spec, booking.client.email, booking.client.name)


def attendee_of(tenant_id: str, booking: BookingItem) -> Attendee | None:
    if not booking.attendee_sealed:
        return None
    return Attendee(**repository.unseal_json(booking.attendee_sealed, tenant_id, 'attendee', booking.booking_id))


def _wait_for_limit(event: BookingEvent, booking: Booking, existing: BookingItem | None, limit: DailyLimit,
                    now: datetime) -> Result:
    """The provider's daily budget is spent: record why for the admin and try again after it resets."""
    retry = event.model_copy(update={'event_id': f'{event.event_id}#after-{limit.resume_at:%Y%m%d}'})
    at = limit.resume_at + RETRY_SPREAD * (hash(event.booking.id) % 100 / 100)
    scheduling.put_booking_retry(retry.model_dump(mode='json'), at)
    if existing is not None and existing.problem is None:
        # The booking has its meeting: only this change waits, left unapplied so that the retry sees it as
        # the change it is (a reschedule is announced as rescheduled, not as created).
        waiting.note_waiting(event.tenant_id, event.booking.id, str(limit), now)
        logger.warning('provider daily limit reached; change retried later', extra={
            'tenant_id': event.tenant_id, 'booking_id': event.booking.id, 'retry_at': at.isoformat()})
        return Result('waiting for the provider\'s daily limit')
    item = existing or BookingItem(*BookingItem.key(event.tenant_id, event.booking.id), booking_id=event.booking.id)
    announced = item.problem is not None
    _copy(event, booking, item, str(limit), now)
    item.pending_notice = _merge_notice(item.pending_notice, None if announced else 'failed')
    _save_and_announce(event.tenant_id, item)
    logger.warning('provider daily limit reached; retry scheduled',
                   extra={'tenant_id': event.tenant_id, 'booking_id': event.booking.id, 'retry_at': at.isoformat()})
    return Result('waiting for the provider\'s daily limit', item.pending_notice)


def _await_creation(tenant_id: str, meeting_key: str, now: datetime) -> tuple[MeetingItem | None, datetime]:
    """The meeting once the invocation that claimed it has made it, or given the claim back or died (None,
    cancelled, or a claim past its lease), with the time it is then; RetryLater when it takes longer than
    CREATION_WAIT_SECONDS."""
    began, pause = time.monotonic(), CREATION_POLL_SECONDS
    while True:
        waited = time.monotonic() - began
        meeting = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting_key))
        if meeting is None or meeting.status != 'creating' or _claim_expired(meeting, now + timedelta(seconds=waited)):
            return meeting, now + timedelta(seconds=waited)
        if waited >= CREATION_WAIT_SECONDS:
            raise RetryLater('the meeting is being created by another invocation')
        time.sleep(pause)
        pause = min(pause * 2, CREATION_POLL_LONGEST_SECONDS)


def _join(tenant_id: str, meeting: MeetingItem, booking: Booking, now: datetime, follows_session: bool) -> None:
    """An atomic add, without a version condition: concurrent bookings of one class session never conflict.
    `follows_session`: the booking has no override of its own. Its session's switch to in person stored before the
    booking was listed here (or the meeting made with it) did not see it: the session is read again once it is
    listed, and the booking applied again."""
    if booking.id not in (meeting.booking_ids or set()):
        # The version still moves, so a whole-item save that read the meeting before conflicts and retries.
        meeting.update(actions=[MeetingItem.booking_ids.add({booking.id}), MeetingItem.updated_at.set(now)],
                       add_version_condition=False)
    if follows_session and booking.session_id and \
            override_of(tenant_id, None, booking.session_id) is False:
        raise RetryLater('its class session was switched to in person meanwhile')


def _leave_meeting(tenant_id: str, booking: BookingItem, now: datetime) -> None:
    _leave(tenant_id, booking.meeting_key, booking.booking_id, attendee_of(tenant_id, booking), now)


def _leave(tenant_id: str, meeting_key: str, booking_id: str, attendee: Attendee | None, now: datetime,
           in_person: bool = False) -> None:
    """Takes a booking out of its meeting; the last booking out removes the meeting, also one still being
    made (the creator deletes what it makes once it sees the claim cancelled). `in_person`: the booking was
    switched to in person, which a meeting it removes remembers for its provider link."""
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, meeting_key))
    if meeting is None or meeting.status == 'cancelled' or booking_id not in (meeting.booking_ids or set()):
        return
    remaining = (meeting.booking_ids or set()) - {booking_id}
    adapter = provider_for(meeting.provider_type)
    if remaining:
        if attendee is not None:
            account = _account_for(tenant_id, meeting)
            if account.status not in repository.GONE:  # a replaced or disconnected account reaches nothing
                adapter.remove_attendee(account, details_of(tenant_id, meeting), attendee)
        repository.update(meeting, actions=[MeetingItem.booking_ids.delete({booking_id}),
                                            MeetingItem.updated_at.set(now)])
        return
    try:
        if meeting.details_sealed:
            adapter.delete(_account_for(tenant_id, meeting), details_of(tenant_id, meeting))
        elif meeting.status == 'creating':
            _discard_attempt(tenant_id, meeting)
    except (ProviderRejected, ConnectionUnusable) as refusal:
        # The booking is cancelled whatever the provider says; the meeting is left to its account.
        logger.warning('meeting could not be removed at the provider', extra={
            'tenant_id': tenant_id, 'meeting_key': meeting.meeting_key, 'reason': str(refusal)})
    scheduling.delete_start_schedule(meeting.schedule_name)
    reminders.unschedule(meeting)
    links.set_status(_provider_url(tenant_id, meeting), 'revoked')
    meeting.status = 'cancelled'
    meeting.in_person = in_person or None
    meeting.booking_ids = set()
    meeting.schedule_name = None
    meeting.claimed_until = None
    meeting.updated_at = now
    repository.save(meeting)


# --- cancellation ------------------------------------------------------------------------------


def _cancel(event: BookingEvent, existing: BookingItem | None, now: datetime) -> Result:
    tenant_id, booking = event.tenant_id, event.booking
    if existing is None:
        # Its meeting may be being made right now, by the booking's own "created".
        _leave(tenant_id, booking.meeting_key, booking.id, None, now)
        # Remembered so that a "created" arriving late for this booking makes nothing.
        item = BookingItem(*BookingItem.key(tenant_id, booking.id), booking_id=booking.id)
        _copy(event, booking, item, None, now)
        item.status = 'cancelled'
        repository.save(item)
        return Result('recorded the cancellation of a booking never seen before')
    links.set_status(links.open_sealed(existing.client_link_sealed, tenant_id, 'client', existing.booking_id), 'revoked')
    _leave_meeting(tenant_id, existing, now)
    # A booking held in person was told so: its cancellation is the platform's to tell, not an online meeting's.
    announced_before = existing.client_link_sealed is not None and existing.pending_notice != 'created' and \
        not existing.in_person
    if existing.in_person and existing.meeting_key == f'booking:{existing.booking_id}':
        # Its own meeting's provider link says now that the booking is cancelled, not that it is in person.
        meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, existing.meeting_key))
        if meeting is not None and meeting.in_person:
            repository.update(meeting, actions=[MeetingItem.in_person.remove(), MeetingItem.updated_at.set(now)])
    existing.status = 'cancelled'
    _record_order(existing, event)
    existing.updated_at = now
    notice = 'cancelled' if announced_before else None
    existing.pending_notice = notice
    _save_and_announce(tenant_id, existing)
    return Result('cancelled', notice)
