"""Signed callbacks to the tenant's booking platform: what happened to a booking's meeting, posted to one URL.

The platform registers its URL and the event types it wants (`PUT …/settings/callbacks`); the answer that
first sets them carries the secret, once, as does a rotation (`POST …/settings/callbacks/rotate`), after which
the replaced secret still signs for ROTATION_OVERLAP: the header then carries one `v1=` per secret, the new
one first (`t=<unix>,v1=<new>,v1=<old>`), as Stripe does, so the platform can switch without a refusal.

CallbackEventsRule puts the meeting.* events on the callbacks queue. An event about a meeting (a class
session's start) is one callback per booking on it, each with that booking's client link. Each callback is
a delivery: its record (CallbackDeliveryItem) is written with its body, fixed and sealed (it carries the join
links), and a message on the same queue posts it. The URL is checked as the alert webhook's is
(logic/alert_settings.py: https, public addresses only, the post pinned to the addresses checked), and the
post is signed over the raw body with the alert webhook's scheme (X-Meetbridge-Signature).

A 2xx answer is delivered. Any other answer but a 5xx, 408 and 429 (a 4xx, a 3xx: redirects are not
followed) fails the delivery at once (the platform refused it; retrying cannot help): it is recorded and can be
replayed. A 5xx, 408, 429, a timeout or a connection that fails is retried: the callbacks function makes the
message visible again after retries.growing_delay (30 s, doubling, 1 h at most), so MAX_RECEIVES receives span
more than RETRY_SPAN (24 h); the last one failing marks it failed and the queue moves it to its dead-letter
queue (`meetbridge dlq replay` sends it back).
"""

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import httpx2
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pynamodb.exceptions import PutError, UpdateError

from meetbridge import aws, events, retries
from meetbridge.config import CallbacksQueueSettings, settings
from meetbridge.errors import Conflict, InvalidState, NotFound, RetryLater
from meetbridge.logic import alert_settings, alerts, links
from meetbridge.logic.listing import decode_cursor, encode_cursor
from meetbridge.logic.tenants import ROTATION_OVERLAP
from meetbridge.security import secrets
from meetbridge.store import repository
from meetbridge.store.models import (CALLBACK_DELIVERY_PREFIX, BookingItem, CallbackDeliveryItem,
                                     CallbackSettingsItem, MeetingItem, callbacks_key, tenant_pk)

EVENT_TYPES = (events.MEETING_SCHEDULED, events.MEETING_RESCHEDULED, events.MEETING_CANCELLED,
               events.MEETING_STARTED, events.MEETING_FAILED, events.MEETING_IN_PERSON)
# The callbacks that carry the links: the platform shows them to its provider and client.
WITH_LINKS = (events.MEETING_SCHEDULED, events.MEETING_RESCHEDULED)
EventType = Literal['meeting.scheduled', 'meeting.rescheduled', 'meeting.cancelled', 'meeting.started',
                    'meeting.failed', 'meeting.in_person']
# The callbacks queue's own messages, in the bus's shape so the dead-letter tools name their tenant and booking.
DELIVERY = 'callback.delivery'
SECRET_PREFIX = 'cbsec'
KEPT = timedelta(days=30)
USER_AGENT = 'meetbridge-callbacks'

FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 3600
RETRY_SPAN = timedelta(hours=24)
# The callbacks queue's maxReceiveCount (template.yaml): the delays after the first 30 failed receives add up
# to 24 h 3 min 30 s (30 s doubling to 1 h, then 1 h each); tests/unit/test_callbacks.py checks both.
MAX_RECEIVES = 31
# Statuses that say "later", not "never".
RETRIED_STATUSES = (408, 429)
SENT_AT_ONCE = 10  # SQS SendMessageBatch's most
# A post's whole time, every address tried: well under CallbacksFunction's Timeout (30 s), so the outcome is
# always recorded. The lease an attempt takes is that Timeout: a worker that died holds it no longer.
POST_DEADLINE_SECONDS = 20
POST_LEASE = timedelta(seconds=30)


def retry_delay(receive_count: int) -> int:
    return retries.growing_delay(receive_count, FIRST_RETRY_SECONDS, LONGEST_RETRY_SECONDS)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace('+00:00', 'Z')


# --- settings -----------------------------------------------------------------------------------------


def _distinct(types: list[str]) -> list[str]:
    for event_type in types:
        if types.count(event_type) > 1:
            raise ValueError(f'{event_type} is given twice')
    return types


class CallbacksIn(BaseModel):
    """Where the booking platform takes its callbacks, and which event types it wants."""

    model_config = ConfigDict(extra='forbid')

    url: Annotated[str, Field(min_length=1, max_length=alert_settings.MAX_URL_CHARS),
                   AfterValidator(alert_settings.checked_webhook_url)]
    events: Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES)), AfterValidator(_distinct)]


class CallbacksOut(BaseModel):
    """The callback settings; `secret` only in the answer that issued it (the first PUT, a rotation)."""

    url: str | None
    events: list[str]
    has_secret: bool
    rotated_at: datetime | None
    previous_secret_until: datetime | None = None
    secret: str | None = None


OFF = CallbacksOut(url=None, events=[], has_secret=False, rotated_at=None)


def _secret_context(tenant_id: str) -> tuple[str, str, str]:
    return tenant_id, 'callback_secret', 'callbacks'


def _sealed_secret(tenant_id: str, secret: str) -> bytes:
    return repository.seal_json({'secret': secret}, *_secret_context(tenant_id))


def _out(item: CallbackSettingsItem, now: datetime, secret: str | None = None) -> CallbacksOut:
    until = item.previous_secret_until if item.previous_secret_until and now < item.previous_secret_until else None
    return CallbacksOut(url=item.url, events=list(item.events), has_secret=True, rotated_at=item.rotated_at,
                        previous_secret_until=until, secret=secret)


def _settings(tenant_id: str) -> CallbackSettingsItem | None:
    return repository.find(CallbackSettingsItem, CallbackSettingsItem.key(tenant_id))


def get_settings(tenant_id: str, now: datetime) -> CallbacksOut:
    repository.get_tenant(tenant_id)
    item = _settings(tenant_id)
    return OFF if item is None else _out(item, now)


def put_settings(tenant_id: str, body: CallbacksIn, now: datetime) -> CallbacksOut:
    """Sets the URL and event types; the first time, a secret too, which this answer carries (never again)."""
    repository.get_tenant(tenant_id)
    item = _settings(tenant_id)
    if item is not None:
        repository.update(item, actions=[CallbackSettingsItem.url.set(body.url),
                                         CallbackSettingsItem.events.set(body.events),
                                         CallbackSettingsItem.updated_at.set(now)],
                          condition=CallbackSettingsItem.pk.exists())
        return _out(item, now)
    secret = secrets.new_secret(SECRET_PREFIX)
    item = CallbackSettingsItem(*CallbackSettingsItem.key(tenant_id), url=body.url, events=body.events,
                                secret_sealed=_sealed_secret(tenant_id, secret), updated_at=now)
    try:
        item.save(condition=CallbackSettingsItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == 'ConditionalCheckFailedException':
            raise Conflict('the callbacks were set by another request at the same moment') from None
        raise
    return _out(item, now, secret)


def rotate_secret(tenant_id: str, now: datetime) -> CallbacksOut:
    """A new secret, answered once; the one it replaces still signs (second `v1=`) for ROTATION_OVERLAP."""
    repository.get_tenant(tenant_id)
    item = _settings(tenant_id)
    if item is None:
        raise NotFound('callbacks are not set: PUT settings/callbacks first')
    secret = secrets.new_secret(SECRET_PREFIX)
    # Two rotations at once: the second must not keep as "previous" a secret the first already replaced.
    repository.update(item, actions=[CallbackSettingsItem.secret_sealed.set(_sealed_secret(tenant_id, secret)),
                                     CallbackSettingsItem.previous_secret_sealed.set(item.secret_sealed),
                                     CallbackSettingsItem.previous_secret_until.set(now + ROTATION_OVERLAP),
                                     CallbackSettingsItem.rotated_at.set(now),
                                     CallbackSettingsItem.updated_at.set(now)],
                      condition=CallbackSettingsItem.secret_sealed == item.secret_sealed)
    return _out(item, now, secret)


def delete_settings(tenant_id: str) -> CallbacksOut:
    """No callback is posted from now on, not even the retries of those not delivered yet (they fail)."""
    repository.get_tenant(tenant_id)
    CallbackSettingsItem(*CallbackSettingsItem.key(tenant_id)).delete()
    return OFF


def secrets_of(item: CallbackSettingsItem, now: datetime) -> list[bytes]:
    """The secrets a callback is signed with: the current one, and the replaced one during its overlap."""
    sealed = [item.secret_sealed]
    if item.previous_secret_sealed and item.previous_secret_until and now < item.previous_secret_until:
        sealed.append(item.previous_secret_sealed)
    tenant_id = item.pk.removeprefix('TENANT#')
    return [repository.unseal_json(blob, *_secret_context(tenant_id))['secret'].encode() for blob in sealed]


def signature(signing_secrets: list[bytes], timestamp: int, raw: bytes) -> str:
    """The alert webhook's `t=<unix>,v1=<hex>` with one `v1` per secret, in the order given."""
    signed = [alerts.signature(secret, timestamp, raw) for secret in signing_secrets]
    return ','.join([f't={timestamp}', *(header.split(',', 1)[1] for header in signed)])


# --- the events: one delivery per booking ---------------------------------------------------------------


def delivery_id(tenant_id: str, event_id: str, booking_id: str) -> str:
    """The same for every publication of one event about one booking (the outbox may publish an event twice):
    the body's event_id."""
    return 'cb-' + hashlib.sha256(f'{tenant_id}|{event_id}|{booking_id}'.encode()).hexdigest()[:32]


def _bookings_of(tenant_id: str, detail: dict) -> tuple[list[BookingItem], MeetingItem | None]:
    """The bookings an event is about, and their meeting, read once: its booking, or the active bookings of its
    meeting (a class session), read with one BatchGet."""
    if detail.get('booking_id'):
        booking = repository.find(BookingItem, BookingItem.key(tenant_id, detail['booking_id']))
        if booking is None:
            return [], None
        return [booking], repository.find(MeetingItem, MeetingItem.key(tenant_id, booking.meeting_key))
    meeting_key = detail.get('meeting_key')
    meeting = meeting_key and repository.find(MeetingItem, MeetingItem.key(tenant_id, meeting_key))
    booking_ids = detail.get('booking_ids')
    if booking_ids is None:
        booking_ids = meeting.booking_ids if meeting else []
    found = BookingItem.batch_get([BookingItem.key(tenant_id, booking_id) for booking_id in booking_ids])
    bookings = sorted((booking for booking in found if booking.status == 'active' and booking.meeting_key == meeting_key),
                      key=lambda booking: booking.booking_id)
    return bookings, meeting or None


def _external_id(booking: BookingItem) -> str | None:
    """The platform's id the booking was first known by: a platform's bookings are `<source>:<its id>`."""
    prefix = f'{booking.source}:'
    return booking.booking_id.removeprefix(prefix) if booking.booking_id.startswith(prefix) else None


# The booking's status as the API names it, after the change an event announces.
STATUS_AFTER = {events.MEETING_SCHEDULED: 'active', events.MEETING_RESCHEDULED: 'active',
                events.MEETING_CANCELLED: 'cancelled'}


def body_of(tenant_id: str, event_type: str, event_id: str, occurred_at: datetime, booking: BookingItem,
            meeting: MeetingItem | None, detail: dict) -> dict:
    """What is posted about one booking, as the event found it: a delivery made after later changes (a
    meeting.scheduled handled after the cancellation) still says what the event announced. The booking's
    version, start and end come from the event's detail, its status from the event's type; the booking's
    current values only where the event does not carry them (meeting.started/failed/in_person, a class
    session's events, events published before the detail carried them).

    Only meeting.scheduled and meeting.rescheduled carry the links, and never for a booking cancelled since:
    that late callback is still posted (its version tells the platform it is older than the cancellation it
    already has or will get) but without links, so a cancelled booking's links are never handed out."""
    announced = detail if detail.get('booking_id') == booking.booking_id else {}
    start = datetime.fromisoformat(announced['start']) if announced.get('start') else booking.start
    end = datetime.fromisoformat(announced['end']) if announced.get('end') else booking.end
    body = {
        'type': event_type, 'event_id': event_id, 'tenant_id': tenant_id, 'occurred_at': _iso(occurred_at),
        'booking': {'id': booking.booking_id, 'version': announced.get('version', booking.version),
                    'source': booking.source, 'external_id': _external_id(booking), 'start': _iso(start),
                    'end': _iso(end), 'timezone': booking.timezone,
                    'status': STATUS_AFTER.get(event_type, booking.status)},
        'meeting': meeting and {'status': meeting.status, 'provider_type': meeting.provider_type},
        'links': None,
    }
    if event_type in WITH_LINKS and booking.status != 'cancelled':
        body['links'] = {
            'provider': meeting and links.open_sealed(meeting.provider_link_sealed, tenant_id, 'provider',
                                                      meeting.meeting_key),
            'client': links.open_sealed(booking.client_link_sealed, tenant_id, 'client', booking.booking_id),
        }
    return body


def _body_context(tenant_id: str, delivery: str) -> tuple[str, str, str]:
    return tenant_id, 'callback_body', delivery


def _message(tenant_id: str, delivery: CallbackDeliveryItem, replay: bool = False) -> str:
    detail = {'tenant_id': tenant_id, 'event_id': delivery.delivery_id, 'booking_id': delivery.booking_id,
              'type': delivery.event_type, 'replay': replay}
    return json.dumps({'source': events.SOURCE, 'detail-type': DELIVERY, 'detail': detail}, separators=(',', ':'))


def _claimed(tenant_id: str, event_type: str, event_id: str, occurred_at: datetime, detail: dict,
             booking: BookingItem, meeting: MeetingItem | None, now: datetime,
             message_id: str) -> CallbackDeliveryItem | None:
    """The delivery's record, written once, when this event message may queue the delivery's message; None when
    it may not: the message is queued already (`queued_at`), or another publication of the event claimed it
    (`queued_by`, the SQS message id, which stays the same when this message is received again)."""
    key = CallbackDeliveryItem.key(tenant_id, delivery_id(tenant_id, event_id, booking.booking_id))
    found = repository.find(CallbackDeliveryItem, key)
    if found is None:
        identifier = key[1].removeprefix(CALLBACK_DELIVERY_PREFIX)
        body = body_of(tenant_id, event_type, identifier, occurred_at, booking, meeting, detail)
        delivery = CallbackDeliveryItem(*key, delivery_id=identifier, event_type=event_type,
                                        booking_id=booking.booking_id, status='retrying', created_at=now,
                                        body_sealed=repository.seal_json(body, *_body_context(tenant_id, identifier)),
                                        queued_by=message_id, ttl=now + KEPT)
        try:
            delivery.save(condition=CallbackDeliveryItem.pk.does_not_exist())
            return delivery
        except PutError as exc:
            if exc.cause_response_code != 'ConditionalCheckFailedException':
                raise
        found = repository.find(CallbackDeliveryItem, key)  # the same event, fanned out at the same moment
    if found is None or found.queued_at is not None:
        return None
    try:
        found.update(actions=[CallbackDeliveryItem.queued_by.set(message_id)],
                     condition=CallbackDeliveryItem.queued_at.does_not_exist()
                     & (CallbackDeliveryItem.queued_by.does_not_exist()
                        | (CallbackDeliveryItem.queued_by == message_id)))
    except UpdateError as exc:
        if exc.cause_response_code == 'ConditionalCheckFailedException':
            return None
        raise
    return found


def fan_out(detail_type: str, detail: dict, occurred_at: datetime, now: datetime, message_id: str) -> str:
    """Records one delivery per booking of a meeting.* event the tenant asked for, and queues each once.

    An event published twice is two messages: the first to claim a delivery queues it (`queued_by`), the
    other queues nothing. The claim is marked done (`queued_at`) only once SendMessageBatch took the message,
    so this event message, received again after a send that failed, sends what is not marked yet. One
    duplicate is left possible: a worker that dies between the send and the mark sends it again when its
    message comes back; `deliver` makes that harmless (a lease, and nothing posted once delivered or failed)."""
    tenant_id = detail['tenant_id']
    item = _settings(tenant_id)
    if item is None:
        return 'no callbacks: none are set'
    if detail_type not in item.events:
        return f'no callbacks: {detail_type} was not asked for'
    event_id = str(detail.get('event_id') or detail.get('notice_id'))
    bookings, meeting = _bookings_of(tenant_id, detail)
    deliveries = [delivery for delivery in (
        _claimed(tenant_id, detail_type, event_id, occurred_at, detail, booking, meeting, now, message_id)
        for booking in bookings) if delivery is not None]
    sqs = aws.client('sqs')
    refused = False
    for first in range(0, len(deliveries), SENT_AT_ONCE):
        batch = deliveries[first:first + SENT_AT_ONCE]
        answer = sqs.send_message_batch(QueueUrl=settings(CallbacksQueueSettings).callbacks_queue_url, Entries=[
            {'Id': str(position), 'MessageBody': _message(tenant_id, delivery)}
            for position, delivery in enumerate(batch)])
        for sent in answer.get('Successful', []):
            batch[int(sent['Id'])].update(actions=[CallbackDeliveryItem.queued_at.set(now)])
        refused = refused or bool(answer.get('Failed'))
    if refused:
        raise RetryLater('the callbacks queue refused a delivery')  # the event comes back; sent ones are not doubled
    return f'queued: {len(deliveries)}'


# --- posting -------------------------------------------------------------------------------------------


def _ran_out(delivery: CallbackDeliveryItem) -> bool:
    """Failed only because its receives ran out: its message waits in the dead-letter queue, and comes back from
    there (`meetbridge dlq replay`) to be posted again."""
    return delivery.last_error in ('timeout', 'connection', 'unresolvable') or (
        delivery.last_error == 'http_status' and delivery.last_status_code is not None
        and (delivery.last_status_code >= 500 or delivery.last_status_code in RETRIED_STATUSES))


def _may_post(delivery: CallbackDeliveryItem, replay: bool) -> bool:
    """A replay always; otherwise a delivery not done yet, or one whose retries ran out. A copy of the message
    of a delivery that was delivered or refused (a 4xx) posts nothing."""
    return replay or delivery.status == 'retrying' or (delivery.status == 'failed' and _ran_out(delivery))


def _attempt_started(delivery: CallbackDeliveryItem, receive_count: int, replay: bool, now: datetime) -> bool:
    """Records the attempt before anything is posted (a worker that dies while posting still counted it, and on
    the last receive the delivery is failed already) and takes the delivery's lease. False when another message
    of the delivery holds the lease, or (not a replay) the delivery's status changed since it was read."""
    condition = (CallbackDeliveryItem.posting_until.does_not_exist()
                 | (CallbackDeliveryItem.posting_until < now))
    if not replay:
        condition &= CallbackDeliveryItem.status == delivery.status
    try:
        delivery.update(actions=[CallbackDeliveryItem.attempts.add(1), CallbackDeliveryItem.last_attempt_at.set(now),
                                 CallbackDeliveryItem.status.set('failed' if receive_count >= MAX_RECEIVES
                                                                 else 'retrying'),
                                 CallbackDeliveryItem.posting_until.set(now + POST_LEASE)],
                        condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code == 'ConditionalCheckFailedException':
            return False
        raise
    return True


def _outcome(delivery: CallbackDeliveryItem, status: str, now: datetime, status_code: int | None = None,
             error: str | None = None) -> None:
    """The attempt's outcome; the lease is given back."""
    actions = [CallbackDeliveryItem.status.set(status), CallbackDeliveryItem.posting_until.remove(),
               CallbackDeliveryItem.last_status_code.set(status_code) if status_code is not None
               else CallbackDeliveryItem.last_status_code.remove(),
               CallbackDeliveryItem.last_error.set(error) if error else CallbackDeliveryItem.last_error.remove()]
    if status == 'delivered':
        actions.append(CallbackDeliveryItem.delivered_at.set(now))
    delivery.update(actions=actions)


def _retry(delivery: CallbackDeliveryItem, error: str, receive_count: int, now: datetime,
           status_code: int | None = None) -> RetryLater:
    """Records a failed attempt that may succeed later; on the last receive, the delivery is failed (the queue
    moves the message to its dead-letter queue). Returns what the caller raises."""
    _outcome(delivery, 'failed' if receive_count >= MAX_RECEIVES else 'retrying', now, status_code, error)
    return RetryLater(f'callback not delivered: {error}' + (f' {status_code}' if status_code else ''))


def _posted_within(seconds: float, post: Callable[[], int]) -> int:
    """`post`'s status, or httpx2.TimeoutException after `seconds` in all: httpx's timeouts are per read, and
    a receiver that drips its answer a byte at a time would hold the function until Lambda ends it. The post
    left behind ends at its own per-read timeout."""
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        return executor.submit(post).result(timeout=seconds)
    except FutureTimeout:
        raise httpx2.TimeoutException('no answer in time') from None
    finally:
        executor.shutdown(wait=False)


def deliver(detail: dict, receive_count: int, now: datetime) -> str:
    """Posts one delivery, signed. Raises RetryLater when it should be tried again; the outcome never names
    the URL (it may carry a token) or a secret. A message of a delivery that was delivered or refused posts
    nothing unless it is a replay (_may_post); two messages of one delivery never post at once (the lease)."""
    tenant_id = detail['tenant_id']
    replay = bool(detail.get('replay'))
    delivery = repository.find(CallbackDeliveryItem, CallbackDeliveryItem.key(tenant_id, detail['event_id']))
    if delivery is None:
        return 'dropped: no such delivery (expired)'
    if not _may_post(delivery, replay):
        return f'already {delivery.status}'
    if not _attempt_started(delivery, receive_count, replay, now):
        current = repository.find_consistent(CallbackDeliveryItem, CallbackDeliveryItem.key(tenant_id,
                                                                                          detail['event_id']))
        if current is not None and not _may_post(current, replay):
            return f'already {current.status}'
        raise RetryLater('another message of this delivery is posting it')
    item = _settings(tenant_id)
    if item is None:
        _outcome(delivery, 'failed', now, error='callbacks_off')
        return 'failed: callbacks are not set any more'
    try:
        alert_settings.checked_webhook_url(item.url)
    except ValueError:
        _outcome(delivery, 'failed', now, error='url_refused')
        return 'failed: the callback URL may not be posted to'
    addresses = alert_settings.checked_addresses(item.url)
    if not addresses:
        # A name that does not resolve, or resolves inside a network; a DNS answer may change.
        raise _retry(delivery, 'unresolvable', receive_count, now)
    body = repository.unseal_json(delivery.body_sealed, *_body_context(tenant_id, delivery.delivery_id))
    raw = json.dumps(body, separators=(',', ':')).encode()
    headers = {'Content-Type': 'application/json', 'User-Agent': USER_AGENT,
               alerts.SIGNATURE_HEADER: signature(secrets_of(item, now), int(now.timestamp()), raw)}
    try:
        status = _posted_within(POST_DEADLINE_SECONDS, lambda: alerts.post_to_checked_address(
            item.url, addresses[:alerts.MAX_ADDRESSES_TRIED], raw, headers))
    except httpx2.TimeoutException:
        raise _retry(delivery, 'timeout', receive_count, now) from None
    except httpx2.HTTPError:
        raise _retry(delivery, 'connection', receive_count, now) from None
    if 200 <= status < 300:
        _outcome(delivery, 'delivered', now, status)
        return f'delivered: {status}'
    if status >= 500 or status in RETRIED_STATUSES:
        raise _retry(delivery, 'http_status', receive_count, now, status)
    _outcome(delivery, 'failed', now, status, 'http_status')
    return f'failed: the receiver answered {status}'


# --- the deliveries, for the admin ------------------------------------------------------------------------


class DeliveryOut(BaseModel):
    id: str
    type: str
    booking_id: str
    status: Literal['retrying', 'delivered', 'failed']
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveriesPage(BaseModel):
    items: list[DeliveryOut]
    next: str | None


def _delivery_out(item: CallbackDeliveryItem) -> DeliveryOut:
    return DeliveryOut(id=item.delivery_id, type=item.event_type, booking_id=item.booking_id, status=item.status,
                       attempts=item.attempts, last_status_code=item.last_status_code, last_error=item.last_error,
                       created_at=item.created_at, last_attempt_at=item.last_attempt_at,
                       delivered_at=item.delivered_at)


LISTING = 'callback-deliveries'


def list_deliveries(tenant_id: str, limit: int, cursor: str | None, now: datetime) -> DeliveriesPage:
    """Newest first: one Query of the index backwards."""
    repository.get_tenant(tenant_id)
    pk, index_pk = tenant_pk(tenant_id), callbacks_key(tenant_id)
    start = None
    if cursor is not None:
        position = decode_cursor(cursor, tenant_id, LISTING, {}, lambda position: (
            set(position) == {'pk', 'sk', 'gsi1pk', 'gsi1sk'} and position['pk'] == pk
            and position['gsi1pk'] == index_pk and position['sk'].startswith(CALLBACK_DELIVERY_PREFIX)))
        start = {name: {'S': value} for name, value in position.items()}
    # Expired items wait for DynamoDB's TTL sweep for a while: they are not shown meanwhile.
    found = list(CallbackDeliveryItem.gsi1.query(index_pk, filter_condition=CallbackDeliveryItem.ttl > now,
                                                 scan_index_forward=False, limit=limit + 1,
                                                 last_evaluated_key=start))
    items = found[:limit]
    following = None
    if len(found) > limit:
        last = items[-1]
        following = encode_cursor(tenant_id, LISTING, {}, {'pk': last.pk, 'sk': last.sk, 'gsi1pk': last.gsi1pk,
                                                           'gsi1sk': last.gsi1sk})
    return DeliveriesPage(items=[_delivery_out(item) for item in items], next=following)


def replay(tenant_id: str, delivery: str, now: datetime) -> DeliveryOut:
    """Queues one more attempt of a delivery, with the same body and event_id (whatever its status)."""
    repository.get_tenant(tenant_id)
    item = repository.find(CallbackDeliveryItem, CallbackDeliveryItem.key(tenant_id, delivery))
    if item is None or item.ttl <= now:
        raise NotFound('no such callback delivery')
    if _settings(tenant_id) is None:
        raise InvalidState('callbacks are not set: PUT settings/callbacks before replaying')
    # Sent first: a message the queue refused leaves the delivery as it was, not `retrying` with nothing queued.
    aws.client('sqs').send_message(QueueUrl=settings(CallbacksQueueSettings).callbacks_queue_url,
                                   MessageBody=_message(tenant_id, item, replay=True))
    try:
        # Unless the replay was posted already, in the moment since the send: its outcome stands.
        item.update(actions=[CallbackDeliveryItem.status.set('retrying')],
                    condition=CallbackDeliveryItem.status == item.status)
    except UpdateError as exc:
        if exc.cause_response_code != 'ConditionalCheckFailedException':
            raise
        item.refresh(consistent_read=True)
    return _delivery_out(item)
