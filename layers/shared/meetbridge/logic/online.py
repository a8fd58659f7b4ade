"""One booking or class session switched online or in person by the admin, whatever its service's switch says.

The admin API stores the override (BookingItem.online, SessionItem.online) with a versioned write and puts one
`booking.switch` message per booking on the meetings queue; the meetings function applies the booking as stored
(bookings.apply_again), with the retries, budget and grants every booking change has. bookings.apply reads the
override at every change, so it survives reschedules, and a booking event applied at the same moment applies it too.
In person, the booking leaves its meeting (the last one out has it deleted at the provider with its schedules), its
links answer that the session is now in person, and its people are told (`meeting.in_person`). Back online, the
meeting is made again under the same key, so the same links open it, and it is announced as a new meeting
(`meeting.scheduled`). Setting what is already applied changes and sends nothing; every stored change is sent and
applied as stored, so the last switch wins also when it flips back the one being applied.

A booking's own override stays with it when it moves to another session; a session's override belongs to the
session, and a booking moved into it follows it unless it has its own. Switching a session clears the own override
of each of its bookings, so that all of them follow it.
"""

import json
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, StrictBool

from meetbridge import aws, events
from meetbridge.errors import Conflict, InvalidState, NotFound, RetryLater
from meetbridge.logic import bookings
from meetbridge.observability import logger
from meetbridge.store import repository
from meetbridge.store.models import BookingItem, MeetingItem, SessionItem

# A message on the meetings queue: apply one booking's stored override (it carries no value, so the latest wins).
BOOKING_SWITCH = 'booking.switch'
SEND_BATCH = 10  # SQS's most per SendMessageBatch
SAVE_ATTEMPTS = 3  # reads and writes of a booking's switch before a Conflict is answered


class OnlineIn(BaseModel):
    model_config = ConfigDict(extra='forbid')

    online: StrictBool


class OnlineOut(BaseModel):
    override: bool | None  # the admin's switch that applies (the booking's, else its session's); None: the service's
    effective: bool  # whether it is (or is being made) an online meeting


class SessionOnlineOut(BaseModel):
    session_id: str
    online: bool
    switching: list[str]  # its bookings not yet as asked, each applied by the meetings function within seconds


def effective(item: BookingItem, override: bool | None, service_online: bool, has_meeting: bool) -> bool:
    """Whether a booking is an online meeting: as the admin switched it, else as its meeting and service make it
    (a platform's meeting makes it online); a kiosk booking never is."""
    if item.channel == 'kiosk':
        return False
    if override is not None:
        return override
    return has_meeting or service_online


def session_overrides(tenant_id: str, items: list[BookingItem]) -> dict[str, bool]:
    """The overrides of the sessions of `items`, in one BatchGet: session id → online, for those that have one."""
    keys = {SessionItem.key(tenant_id, session_id) for session_id in {item.session_id for item in items} - {None}}
    if not keys:
        return {}
    return {session.session_id: session.online for session in SessionItem.batch_get(keys)
            if session.online is not None}


def set_booking_online(tenant_id: str, booking_id: str, online: bool, queue_url: str,
                       now: datetime | None = None) -> None:
    """Stores one booking's switch and has it applied. The meetings function writes the booking too (its outbox
    entry published, a change applied): the switch is read and written again a few times before a Conflict
    answers 409, which is safe to repeat."""
    now = now or datetime.now(UTC)
    item, changed = _store(tenant_id, booking_id, online, now)
    if item is None:
        raise NotFound('booking not found')
    if item.status == 'cancelled':
        raise InvalidState('the booking is cancelled: it cannot be switched online or in person')
    if item.status != 'active':
        raise NotFound('booking not found')  # only its webhook was received: nothing of it is applied yet
    if item.channel == 'kiosk':
        raise InvalidState(bookings.KIOSK)
    # A stored change is always sent: the meetings function may be applying the previous value, which the booking
    # does not show until it saves. The same value again sends only what is not applied yet.
    if changed or not _applied(item, online):
        _send(queue_url, tenant_id, [booking_id])


def set_session_online(tenant_id: str, session_id: str, online: bool, queue_url: str,
                       now: datetime | None = None) -> SessionOnlineOut:
    """Stores a class session's switch, for its bookings now and those that arrive later, and has it applied to
    each. Its bookings are those it noted when they were applied (whatever their meeting or outcome), those in
    its meeting and those it holds in person. Each booking's own override is cleared (written again when the
    meetings function wrote it meanwhile) and each full batch sent as it fills: a 409 midway has sent what was stored, and the same request again does the rest."""
    now = now or datetime.now(UTC)
    key = SessionItem.key(tenant_id, session_id)
    session = repository.find_consistent(SessionItem, key) or SessionItem(*key, session_id=session_id)
    session_changed = session.online is not online
    if session_changed:
        session.online = online
        session.updated_at = now
        repository.save(session)
    meeting = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, f'session:{session_id}'))
    switching, unsent = [], []
    # Its meeting and in_person_ids: bookings applied before the session noted every booking in booking_ids.
    recorded = (session.booking_ids or set()) | (session.in_person_ids or set())
    for booking_id in sorted(recorded | (meeting.booking_ids if meeting else set())):
        item, changed = _store(tenant_id, booking_id, None, now, session_id=session_id)
        if item is None or item.session_id != session_id or item.status != 'active' or item.channel == 'kiosk':
            continue  # cancelled, moved to another session, or never online
        if session_changed or changed or not _applied(item, online):  # as for one booking: a change is sent
            switching.append(booking_id)
            unsent.append(booking_id)
        if len(unsent) == SEND_BATCH:
            _send(queue_url, tenant_id, unsent)
            unsent = []
    _send(queue_url, tenant_id, unsent)
    return SessionOnlineOut(session_id=session_id, online=online, switching=switching)


def _store(tenant_id: str, booking_id: str, online: bool | None, now: datetime,
           session_id: str | None = None) -> tuple[BookingItem | None, bool]:
    """Writes a booking's own override (None: it follows its session), read consistently and written again a few
    times when the meetings function wrote the booking meanwhile. Only an active booking (of `session_id`, when
    given) that is not a kiosk's is written. Answers the booking and whether its override changed."""
    attempts_left = SAVE_ATTEMPTS
    while True:
        item = repository.find_consistent(BookingItem, BookingItem.key(tenant_id, booking_id))
        if item is None or item.status != 'active' or item.channel == 'kiosk' or item.online is online or \
                (session_id is not None and item.session_id != session_id):
            return item, False
        item.online = online
        item.updated_at = now
        try:
            repository.save(item)
            return item, True
        except Conflict:
            attempts_left -= 1
            if attempts_left == 0:
                raise


def apply_switch(detail: dict, now: datetime) -> dict:
    """The meetings function's part: the booking applied as stored with the override that applies to it now."""
    tenant_id, booking_id = detail['tenant_id'], detail['booking_id']
    item = repository.find_consistent(BookingItem, BookingItem.key(tenant_id, booking_id))
    if item is None or item.status != 'active' or item.channel == 'kiosk':
        return {'outcome': 'nothing to switch'}
    # Applied again whatever the booking shows (apply is idempotent): a switch flipped back while the previous one was
    # being applied left the booking saying what it was, not what its meeting now is.
    online = bookings.override_of(tenant_id, item, item.session_id)
    result = bookings.apply_again(tenant_id, item, f'switch/{booking_id}/v{item.version}', now)
    logger.info('booking switched', extra={'tenant_id': tenant_id, 'booking_id': booking_id, 'online': online,
                                           'outcome': result.outcome})
    return {'outcome': result.outcome, 'notice': result.notice}


def _applied(item: BookingItem, online: bool) -> bool:
    """Whether the booking is as switched already: online without a problem, or held in person."""
    return (online and not item.in_person and item.problem is None) or (not online and bool(item.in_person))


def _send(queue_url: str, tenant_id: str, booking_ids: list[str]) -> None:
    for first in range(0, len(booking_ids), SEND_BATCH):
        entries = [{'Id': str(n), 'MessageBody': json.dumps({
            'source': events.SOURCE, 'detail-type': BOOKING_SWITCH,
            'detail': {'tenant_id': tenant_id, 'booking_id': booking_id}})}
            for n, booking_id in enumerate(booking_ids[first:first + SEND_BATCH])]
        if aws.client('sqs').send_message_batch(QueueUrl=queue_url, Entries=entries).get('Failed'):
            # The switch is stored: the same request again sends what is not applied yet.
            raise RetryLater('the meetings queue did not take every switch; send the same request again')
