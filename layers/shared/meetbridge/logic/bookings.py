"""What a booking event does to its booking, meeting, join links and start schedule.

Every step can run again (SQS and EventBridge deliver at least once): meetings are keyed by
booking or class session and claimed before a provider is called, links are minted once, and a
change is announced through `pending_notice`, which is saved with the change and cleared only
after the notification event is on the bus.
"""

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from meetbridge import aws, events, scheduling
from meetbridge.config import StoreSettings, settings
from meetbridge.domain import hosting
from meetbridge.domain.model import Booking, BookingEvent
from meetbridge.errors import Conflict, RetryLater
from meetbridge.logic import links, waiting
from meetbridge.logic.tokens import ConnectionUnusable
from meetbridge.observability import logger
from meetbridge.providers import provider_for
from meetbridge.providers.base import Attendee, DailyLimit, MeetingSpec, ProviderMeeting, ProviderRejected
from meetbridge.store import repository
from meetbridge.store.models import BookingItem, ClientMap, MeetingItem, ProviderItem, ServiceItem

# Retries after a provider's daily limit spread over a few minutes past midnight.
RETRY_SPREAD = timedelta(minutes=5)

# A meeting claim older than this is taken over: its holder died between claiming and creating.
CLAIM_LEASE = timedelta(minutes=5)
# Another booking of the same class session waits this long for the meeting being made, in its own
# invocation, instead of a retry's delay (a provider answers a create within seconds).
CREATION_WAIT_SECONDS = 10
CREATION_POLL_SECONDS = 0.2
NO_ACCOUNT = 'No meeting account is connected: connect a company account or the provider\'s own account.'

NOTICE_EVENTS = {
    'created': events.MEETING_SCHEDULED,
    'rescheduled': events.MEETING_RESCHEDULED,
    'cancelled': events.MEETING_CANCELLED,
    'failed': events.MEETING_FAILED,
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
        if event.occurred_at < existing.source_time:
            return Result('ignored: older than the change already applied')
    if event.type == 'booking.cancelled':
        return _cancel(event, existing, now)
    service = repository.find(ServiceItem, ServiceItem.key(event.tenant_id, booking.service_id))
    if existing is None and (service is None or not service.online):
        if received:
            waiting.forget_received(event.tenant_id, booking.id)
        return Result('ignored: the service is not an online meeting service')
    try:
        return _ensure(event, existing, service, now)
    except DailyLimit as limit:
        return _wait_for_limit(event, existing, limit, now)


def _spec(booking: Booking, service: ServiceItem | None, meeting_settings: dict | None = None) -> MeetingSpec:
    return MeetingSpec(
        settings=meeting_settings,
        topic=service.name if service else booking.service_id,
        start=booking.start,
        end=booking.end,
        timezone=booking.timezone,
        kind='class' if booking.session_id or (service and service.kind == 'class') else 'appointment',
    )


def _ensure(event: BookingEvent, existing: BookingItem | None, service: ServiceItem | None, now: datetime) -> Result:
    tenant_id, booking = event.tenant_id, event.booking
    if existing is not None and existing.meeting_key != booking.meeting_key:
        _leave_meeting(tenant_id, existing, now)  # moved to another class session

    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, booking.meeting_key))
    tenant = repository.get_tenant(tenant_id)
    spec = _spec(booking, service, tenant.meeting_settings.as_dict() if tenant.meeting_settings else None)
    problem = None
    try:
        if meeting is not None and meeting.status == 'creating' and not _claim_expired(meeting, now):
            meeting = _await_creation(tenant_id, booking.meeting_key)
        if meeting is None or meeting.status == 'cancelled' or _claim_expired(meeting, now):
            try:
                meeting = _create_meeting(tenant_id, booking, spec, meeting, now)
            except Conflict:
                # Another booking of the class session claimed the meeting first: it is being made.
                meeting = _await_creation(tenant_id, booking.meeting_key)
                if meeting is None or meeting.status == 'cancelled':
                    raise
            if meeting is None:
                problem = NO_ACCOUNT
        elif (meeting.start, meeting.end) != (booking.start, booking.end):
            _move_meeting(tenant_id, meeting, spec, now)
    except (ProviderRejected, ConnectionUnusable) as refusal:
        problem = str(refusal)
        if meeting is not None and meeting.status == 'creating':
            meeting = None

    item = existing or BookingItem(*BookingItem.key(tenant_id, booking.id), booking_id=booking.id)
    change = _change(existing, booking, problem)
    if meeting is not None and problem is None:
        _join(tenant_id, meeting, booking, now)
        if not item.attendee_sealed:
            attendee = _add_attendee(tenant_id, meeting, spec, booking)
            if attendee is not None:
                item.attendee_sealed = repository.seal_json(attendee.to_dict(), tenant_id, 'attendee', booking.id)
        if not item.client_link_sealed:
            _, item.client_link_sealed = links.mint(
                tenant_id, 'client', meeting.meeting_key, meeting.end, now,
                booking_id=booking.id, client_id=booking.client.id,
            )
        elif change == 'rescheduled':
            links.extend(links.open_sealed(item.client_link_sealed, tenant_id, 'client', booking.id), meeting.end)

    _copy(event, item, problem, now)
    item.pending_notice = _merge_notice(item.pending_notice, change)
    repository.save(item)
    _announce(tenant_id, item)
    return Result('meeting ready' if problem is None else 'failed: ' + problem, change)


def _change(existing: BookingItem | None, booking: Booking, problem: str | None) -> str | None:
    if problem is not None:
        return 'failed' if existing is None or existing.problem is None else None
    if existing is None or existing.problem is not None:
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


def _copy(event: BookingEvent, item: BookingItem, problem: str | None, now: datetime) -> None:
    booking = event.booking
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
    item.source_time = max(event.occurred_at, item.source_time) if item.source_time else event.occurred_at
    item.updated_at = now


def _announce(tenant_id: str, item: BookingItem) -> None:
    if not item.pending_notice:
        return
    change = item.pending_notice
    events.publish(
        NOTICE_EVENTS[change],
        {
            # The version that saved the change: a retry repeats it, a later change never does.
            'notice_id': f'{tenant_id}/{item.booking_id}/{change}/v{item.version}',
            'tenant_id': tenant_id,
            'booking_id': item.booking_id,
            'meeting_key': item.meeting_key,
            'change': change,
            'start': item.start.isoformat(),
            'end': item.end.isoformat(),
            'problem': item.problem,
        },
    )
    repository.update(item, actions=[BookingItem.pending_notice.remove()])


# --- meetings ---------------------------------------------------------------------------------


def _claim_expired(meeting: MeetingItem, now: datetime) -> bool:
    return meeting.status == 'creating' and now - meeting.updated_at > CLAIM_LEASE


def _create_meeting(
    tenant_id: str, booking: Booking, spec: MeetingSpec, previous: MeetingItem | None, now: datetime
) -> MeetingItem | None:
    provider = repository.find(ProviderItem, ProviderItem.key(tenant_id, booking.provider_id))
    choice = hosting.choose_account(booking.provider_id, repository.active_connection_ids(tenant_id),
                                    provider.company_user if provider else None)
    if choice is None:
        return None
    connection = repository.get_connection(tenant_id, choice.connection_id)
    spec = replace(spec, host_user=choice.host_user)
    meeting = previous or MeetingItem(*MeetingItem.key(tenant_id, booking.meeting_key), meeting_key=booking.meeting_key)
    meeting.service_id = booking.service_id
    meeting.provider_id = booking.provider_id
    meeting.connection_id = connection.connection_id
    meeting.provider_type = connection.type
    meeting.start, meeting.end, meeting.timezone = booking.start, booking.end, booking.timezone
    meeting.status = 'creating'
    meeting.started_at = meeting.started_by = None
    meeting.updated_at = now
    # The claim: exactly one invocation calls the provider for a booking or class session.
    repository.save(meeting, condition=MeetingItem.pk.does_not_exist() if previous is None else None)

    account = repository.account_of(connection, tenant_id)
    try:
        made = provider_for(connection.type).create(account, spec)
    except Exception:
        # Give the claim back, so that the retry (or the next booking of the session) can create it.
        if previous is None:
            meeting.delete()
        else:
            meeting.status = 'cancelled'
            repository.save(meeting)
        raise
    meeting.external_id = made.external_id
    meeting.details_sealed = repository.seal_json(made.to_dict(), tenant_id, 'meeting', meeting.meeting_key)
    if not meeting.provider_link_sealed:
        _, meeting.provider_link_sealed = links.mint(tenant_id, 'provider', meeting.meeting_key, meeting.end, now)
    else:
        links.set_status(_provider_url(tenant_id, meeting), 'active')
    meeting.schedule_name = scheduling.put_start_schedule(tenant_id, meeting.meeting_key, meeting.start, now)
    meeting.status = 'scheduled'
    meeting.updated_at = now
    repository.save(meeting)
    logger.info('meeting created', extra={'tenant_id': tenant_id, 'meeting_key': meeting.meeting_key,
                                          'provider': connection.type, 'connection_id': connection.connection_id})
    return meeting


def details_of(tenant_id: str, meeting: MeetingItem) -> ProviderMeeting:
    return ProviderMeeting.from_dict(repository.unseal_json(meeting.details_sealed, tenant_id, 'meeting', meeting.meeting_key))


def _provider_url(tenant_id: str, meeting: MeetingItem) -> str | None:
    return links.open_sealed(meeting.provider_link_sealed, tenant_id, 'provider', meeting.meeting_key)


def _move_meeting(tenant_id: str, meeting: MeetingItem, spec: MeetingSpec, now: datetime) -> None:
    """A reschedule changes the same meeting through the account that made it."""
    moved = provider_for(meeting.provider_type).update(_account_for(tenant_id, meeting), details_of(tenant_id, meeting),
                                                       spec)
    meeting.details_sealed = repository.seal_json(moved.to_dict(), tenant_id, 'meeting', meeting.meeting_key)
    meeting.start, meeting.end, meeting.timezone = spec.start, spec.end, spec.timezone
    if meeting.status == 'started':
        meeting.status, meeting.started_at, meeting.started_by = 'scheduled', None, None
    meeting.schedule_name = scheduling.put_start_schedule(tenant_id, meeting.meeting_key, spec.start, now)
    meeting.updated_at = now
    repository.save(meeting)
    links.extend(_provider_url(tenant_id, meeting), meeting.end)


def _account_for(tenant_id: str, meeting: MeetingItem):
    return repository.account_of(repository.get_connection(tenant_id, meeting.connection_id), tenant_id)


def _add_attendee(tenant_id: str, meeting: MeetingItem, spec: MeetingSpec, booking: Booking) -> Attendee | None:
    """A client's own registration where the provider has them (Zoom classes); None elsewhere."""
    return provider_for(meeting.provider_type).add_attendee(
        _account_for(tenant_id, meeting), details_of(tenant_id, meeting), spec, booking.client.email, booking.client.name)


def attendee_of(tenant_id: str, booking: BookingItem) -> Attendee | None:
    if not booking.attendee_sealed:
        return None
    return Attendee(**repository.unseal_json(booking.attendee_sealed, tenant_id, 'attendee', booking.booking_id))


def _wait_for_limit(event: BookingEvent, existing: BookingItem | None, limit: DailyLimit, now: datetime) -> Result:
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
    _copy(event, item, str(limit), now)
    item.pending_notice = _merge_notice(item.pending_notice, None if announced else 'failed')
    repository.save(item)
    _announce(event.tenant_id, item)
    logger.warning('provider daily limit reached; retry scheduled',
                   extra={'tenant_id': event.tenant_id, 'booking_id': event.booking.id, 'retry_at': at.isoformat()})
    return Result('waiting for the provider\'s daily limit', item.pending_notice)


def _await_creation(tenant_id: str, meeting_key: str) -> MeetingItem | None:
    """The meeting once the invocation that claimed it has made it (or given the claim back: None or
    cancelled); RetryLater when it takes longer than CREATION_WAIT_SECONDS."""
    deadline = time.monotonic() + CREATION_WAIT_SECONDS
    while True:
        meeting = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting_key))
        if meeting is None or meeting.status != 'creating':
            return meeting
        if time.monotonic() >= deadline:
            raise RetryLater('the meeting is being created by another invocation')
        time.sleep(CREATION_POLL_SECONDS)


def _join(tenant_id: str, meeting: MeetingItem, booking: Booking, now: datetime) -> None:
    """An atomic add, without a version condition: concurrent bookings of one class session never conflict."""
    if booking.id in (meeting.booking_ids or set()):
        return
    aws.client('dynamodb').update_item(
        TableName=settings(StoreSettings).table_name,
        Key={'pk': {'S': meeting.pk}, 'sk': {'S': meeting.sk}},
        # The version still moves, so a whole-item save that read the meeting before conflicts and retries.
        UpdateExpression='ADD booking_ids :booking, version :one SET updated_at = :now',
        ExpressionAttributeValues={':booking': {'SS': [booking.id]}, ':one': {'N': '1'},
                                   ':now': {'S': MeetingItem.updated_at.serialize(now)}},
    )


def _leave_meeting(tenant_id: str, booking: BookingItem, now: datetime) -> None:
    """Takes a booking out of its meeting; the last booking out removes the meeting."""
    meeting = repository.find(MeetingItem, MeetingItem.key(tenant_id, booking.meeting_key))
    if meeting is None or meeting.status == 'cancelled':
        return
    remaining = (meeting.booking_ids or set()) - {booking.booking_id}
    if remaining:
        attendee = attendee_of(tenant_id, booking)
        if attendee is not None:
            provider_for(meeting.provider_type).remove_attendee(
                _account_for(tenant_id, meeting), details_of(tenant_id, meeting), attendee)
        if booking.booking_id in (meeting.booking_ids or set()):
            repository.update(meeting, actions=[MeetingItem.booking_ids.delete({booking.booking_id}),
                                                MeetingItem.updated_at.set(now)])
        return
    if meeting.details_sealed:
        try:
            provider_for(meeting.provider_type).delete(_account_for(tenant_id, meeting), details_of(tenant_id, meeting))
        except (ProviderRejected, ConnectionUnusable) as refusal:
            # The booking is cancelled whatever the provider says; the meeting is left to its account.
            logger.warning('meeting could not be removed at the provider', extra={
                'tenant_id': tenant_id, 'meeting_key': meeting.meeting_key, 'reason': str(refusal)})
    scheduling.delete_start_schedule(meeting.schedule_name)
    links.set_status(_provider_url(tenant_id, meeting), 'revoked')
    meeting.status = 'cancelled'
    meeting.booking_ids = set()
    meeting.schedule_name = None
    meeting.updated_at = now
    repository.save(meeting)


# --- cancellation ------------------------------------------------------------------------------


def _cancel(event: BookingEvent, existing: BookingItem | None, now: datetime) -> Result:
    tenant_id, booking = event.tenant_id, event.booking
    if existing is None:
        # Remembered so that a "created" arriving late for this booking makes nothing.
        item = BookingItem(*BookingItem.key(tenant_id, booking.id), booking_id=booking.id)
        _copy(event, item, None, now)
        item.status = 'cancelled'
        repository.save(item)
        return Result('recorded the cancellation of a booking never seen before')
    links.set_status(links.open_sealed(existing.client_link_sealed, tenant_id, 'client', existing.booking_id), 'revoked')
    _leave_meeting(tenant_id, existing, now)
    announced_before = existing.client_link_sealed is not None and existing.pending_notice != 'created'
    existing.status = 'cancelled'
    existing.source_time = max(event.occurred_at, existing.source_time)
    existing.updated_at = now
    notice = 'cancelled' if announced_before else None
    existing.pending_notice = notice
    repository.save(existing)
    _announce(tenant_id, existing)
    return Result('cancelled', notice)
