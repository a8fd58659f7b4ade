"""Bookings that wait: visible from the moment their webhook is accepted, saying what they wait for.

The webhook function records a booking it has never seen as 'received' before publishing its event,
so the admin API shows it whatever happens to the event after. That record carries no version: the
first change the meetings function applies replaces it whole (its versioned save requires no version).
While a change cannot be applied (the provider is down, a refresh did not answer) the booking's
`pending` says why; when it has waited longer than the function's setting, the admin is told once,
on the bus through the outbox, as a broken account is announced.
"""

from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from meetbridge import aws, events, outbox
from meetbridge.config import StoreSettings, WaitingSettings, settings
from meetbridge.domain.model import BookingEvent
from meetbridge.observability import logger
from meetbridge.store.models import BookingItem, ClientMap

RECEIVED = 'waiting for its meeting to be made'


def _key(tenant_id: str, booking_id: str) -> dict:
    pk, sk = BookingItem.key(tenant_id, booking_id)
    return {'pk': {'S': pk}, 'sk': {'S': sk}}


def _condition_failed(error: ClientError) -> bool:
    return error.response['Error']['Code'] == 'ConditionalCheckFailedException'


def received_item(event: BookingEvent, now: datetime) -> BookingItem | None:
    """The record of a booking never seen before, written by the webhook only where no booking is
    (logic/webhooks.py); None for a cancellation, whose unknown booking the meetings function records itself."""
    if event.type == 'booking.cancelled':
        return None
    booking = event.booking
    return BookingItem(
        *BookingItem.key(event.tenant_id, booking.id), booking_id=booking.id, source=event.source,
        service_id=booking.service_id, provider_id=booking.provider_id, start=booking.start, end=booking.end,
        timezone=booking.timezone, session_id=booking.session_id, meeting_key=booking.meeting_key,
        payment_required=booking.payment.required, payment_status=booking.payment.status,
        client=ClientMap(**booking.client.model_dump()), status='received', pending=RECEIVED,
        waiting_since=now, updated_at=now,
    )


def is_received(item: BookingItem | None) -> bool:
    """A booking recorded by its webhook whose first change is not applied yet."""
    return item is not None and item.status == 'received'


def forget_received(tenant_id: str, booking_id: str) -> None:
    """The received booking turned out to need no meeting (not an online service)."""
    try:
        aws.client('dynamodb').delete_item(
            TableName=settings(StoreSettings).table_name, Key=_key(tenant_id, booking_id),
            ConditionExpression='#status = :received', ExpressionAttributeNames={'#status': 'status'},
            ExpressionAttributeValues={':received': {'S': 'received'}})
    except ClientError as error:
        if not _condition_failed(error):
            raise


def note_not_applied(tenant_id: str, booking_id: str, reason: str) -> None:
    """Says on the booking that a change its platform announced was not applied, and why: shown as its problem
    until a later change is applied. Nothing waits, so no notice follows."""
    try:
        aws.client('dynamodb').update_item(
            TableName=settings(StoreSettings).table_name, Key=_key(tenant_id, booking_id),
            ConditionExpression='attribute_exists(pk)', UpdateExpression='SET pending = :reason',
            ExpressionAttributeValues={':reason': {'S': reason}})
    except ClientError as error:
        if not _condition_failed(error):
            raise


def note_waiting(tenant_id: str, booking_id: str, reason: str, now: datetime) -> None:
    """Says on the booking what its change waits for; tells the admin once when it waited too long.
    Unversioned, so it never makes the change it describes conflict."""
    dynamodb, table = aws.client('dynamodb'), settings(StoreSettings).table_name
    stamp = {'S': BookingItem.waiting_since.serialize(now)}
    try:
        waited = dynamodb.update_item(
            TableName=table, Key=_key(tenant_id, booking_id), ConditionExpression='attribute_exists(pk)',
            UpdateExpression='SET pending = :reason, waiting_since = if_not_exists(waiting_since, :now)',
            ExpressionAttributeValues={':reason': {'S': reason}, ':now': stamp}, ReturnValues='ALL_NEW',
        )['Attributes']
    except ClientError as error:
        if _condition_failed(error):
            return  # a booking its webhook did not record (sent before this version): nothing to show
        raise
    since = BookingItem.waiting_since.deserialize(waited['waiting_since']['S'])
    if 'waiting_noticed' in waited or now - since < timedelta(seconds=settings(WaitingSettings).waiting_notice_seconds):
        return
    # Announced before it is marked: an invocation that dies in between announces it again, with the same id.
    outbox.announce(tenant_id, events.Event(
        subject=f'booking#{booking_id}#delayed',
        event_id=f'{tenant_id}/{booking_id}/delayed/{since.isoformat()}',
        detail_type=events.MEETING_DELAYED,
        detail={'tenant_id': tenant_id, 'booking_id': booking_id, 'problem': reason,
                'waiting_since': since.isoformat()},
    ))
    try:
        dynamodb.update_item(TableName=table, Key=_key(tenant_id, booking_id),
                             ConditionExpression='attribute_not_exists(waiting_noticed)',
                             UpdateExpression='SET waiting_noticed = :now', ExpressionAttributeValues={':now': stamp})
    except ClientError as error:
        if not _condition_failed(error):
            raise
    logger.warning('booking waited longer than the notice time', extra={'tenant_id': tenant_id,
                                                                         'booking_id': booking_id})
