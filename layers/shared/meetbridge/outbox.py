"""The transactional outbox: a state change that announces an event writes the event with it.

The change and its outbox entry are one DynamoDB transaction, so neither exists without the other.
The writer then puts the event on the bus and deletes the entry. If the bus refuses it, or the
function dies in between, the entry stays, and the sweeper (functions/outbox_sweeper, every minute)
publishes it: nobody has to send the same input again (an early start is a click nobody repeats).
An event can thus go out twice but is never lost; its `event_id` is the same every time it goes out,
and consumers dedupe on it.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import Attribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from meetbridge import aws, events
from meetbridge.config import StoreSettings, settings
from meetbridge.errors import Conflict, RetryLater
from meetbridge.observability import logger
from meetbridge.store.models import OutboxItem

# Entries younger than this are still being published by their writer; the sweeper leaves them be.
SWEEP_AFTER = timedelta(seconds=60)
# Entries one sweep publishes at most, so that a backlog cannot time the sweeper out (the next one goes on).
SWEEP_LIMIT = 200


def save(tenant_id: str, item: Model, event: events.Event, *, marker: Attribute | None = None) -> bool:
    """Saves `item` (versioned, as repository.save) and `event` in one transaction, then publishes the
    event. `marker` is an attribute of `item` that says the event is pending: it is removed (and the item's
    version moved on) once the event is on the bus. True when it is; False when it is left for the sweeper."""
    entry = _entry(tenant_id, event, item if marker is not None else None, marker)
    _commit(lambda transaction: (transaction.save(item), transaction.save(entry)))
    if not _put_on_bus(entry):
        return False
    # The entry still names its marker when the marker went with it (not when the item changed meanwhile).
    if _acknowledge(entry) and entry.marker_attribute is not None:
        setattr(item, marker.attr_name, None)
        item.update_local_version_attribute()
    return True


def update(tenant_id: str, item: Model, actions: list[Action], event: events.Event, *,
           condition: Condition | None = None) -> bool:
    """Updates `item` (versioned, and under `condition` when given) and writes `event` in one transaction, then
    publishes the event. Conflict when the version or the condition does not hold: nothing is written."""
    entry = _entry(tenant_id, event)
    _commit(lambda transaction: (transaction.update(item, actions=actions, condition=condition),
                                 transaction.save(entry)))
    if not _put_on_bus(entry):
        return False
    _acknowledge(entry)
    return True


def announce(tenant_id: str, event: events.Event) -> bool:
    """Writes `event` alone, then publishes it: for an event whose own state is written apart (and written
    again when the event is), so that once written it is never lost. The same event written twice goes out
    with the same id."""
    entry = _entry(tenant_id, event)
    _commit(lambda transaction: transaction.save(entry))
    if not _put_on_bus(entry):
        return False
    _acknowledge(entry)
    return True


def save_withdrawing(tenant_id: str, item: Model, subject: str) -> None:
    """Saves `item` (versioned) and, in the same transaction, withdraws an event about `subject` that is not
    yet published (a booking cancelled before its announcement went out is not announced)."""
    pending = OutboxItem(*OutboxItem.key(tenant_id, subject))
    _commit(lambda transaction: (transaction.save(item), transaction.delete(pending)))


def sweep(now: datetime) -> int:
    """Publishes what writers left behind, oldest first; returns how many went out."""
    published = 0
    left = OutboxItem.gsi1.query('OUTBOX', OutboxItem.gsi1sk < _gsi1sk(now - SWEEP_AFTER, ''), limit=SWEEP_LIMIT)
    for entry in left:
        if _put_on_bus(entry):
            _acknowledge(entry)
            published += 1
    return published


def _gsi1sk(written_at: datetime, key: str) -> str:
    # One fixed width in UTC, so that the index sorts and compares entries by time.
    return f'{written_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}#{key}'


def _entry(tenant_id: str, event: events.Event, item: Model | None = None, marker: Attribute | None = None) -> OutboxItem:
    pk, sk = OutboxItem.key(tenant_id, event.subject)
    now = datetime.now(UTC)
    entry = OutboxItem(pk, sk, gsi1sk=_gsi1sk(now, f'{pk}#{sk}'), event_id=event.event_id, detail_type=event.detail_type,
                       detail=json.dumps({**event.detail, 'event_id': event.event_id}, separators=(',', ':'), default=str),
                       written_at=now)
    if marker is not None:
        entry.marker_sk, entry.marker_attribute = item.sk, marker.attr_name
        entry.marker_value = str(getattr(item, marker.attr_name))
    return entry


def _commit(write: Callable[[TransactWrite], object]) -> None:
    try:
        with TransactWrite(connection=OutboxItem._get_connection().connection) as transaction:
            write(transaction)
    except TransactWriteError as exc:
        if any(reason is not None and reason.code in ('ConditionalCheckFailed', 'TransactionConflict')
               for reason in exc.cancellation_reasons):
            raise Conflict('changed concurrently') from exc
        raise


def _put_on_bus(entry: OutboxItem) -> bool:
    """False when the bus did not take the event: the entry stays for the sweeper."""
    try:
        events.publish(entry.detail_type, json.loads(entry.detail))
    except (RetryLater, BotoCoreError, ClientError) as refusal:
        logger.warning('event left in the outbox for the sweeper', extra={
            'event_id': entry.event_id, 'detail_type': entry.detail_type, 'reason': type(refusal).__name__})
        return False
    return True


def _acknowledge(entry: OutboxItem) -> bool:
    """Deletes the published entry and removes its marker; False when a newer event about the subject
    replaced it (or the sweeper already deleted it), or the table did not answer (the sweeper publishes it
    again, with the same id)."""
    table = settings(StoreSettings).table_name
    delete = {'TableName': table, 'Key': {'pk': {'S': entry.pk}, 'sk': {'S': entry.sk}},
              'ConditionExpression': 'event_id = :id', 'ExpressionAttributeValues': {':id': {'S': entry.event_id}}}
    try:
        if not entry.marker_attribute:
            # One conditional delete: a transaction of one item would bill its write twice.
            aws.client('dynamodb').delete_item(**delete)
        else:
            # The version moves on, so a writer still holding the item as it was (marker set) must read it again.
            aws.client('dynamodb').transact_write_items(TransactItems=[{'Delete': delete}, {'Update': {
                'TableName': table, 'Key': {'pk': {'S': entry.pk}, 'sk': {'S': entry.marker_sk}},
                'UpdateExpression': 'REMOVE #marker ADD version :one', 'ConditionExpression': '#marker = :pending',
                'ExpressionAttributeNames': {'#marker': entry.marker_attribute},
                'ExpressionAttributeValues': {':pending': {'S': entry.marker_value}, ':one': {'N': '1'}},
            }}])
    except ClientError as exc:
        code = exc.response['Error']['Code']
        if code == 'ConditionalCheckFailedException':
            return False
        if code != 'TransactionCanceledException':
            return _not_deleted(entry, exc)
        # The marker changed since (a later save of the item): the entry is deleted all the same.
        return _acknowledge(_without_marker(entry))
    except BotoCoreError as exc:
        return _not_deleted(entry, exc)
    return True


def _without_marker(entry: OutboxItem) -> OutboxItem:
    entry.marker_sk = entry.marker_attribute = entry.marker_value = None
    return entry


def _not_deleted(entry: OutboxItem, error: Exception) -> bool:
    logger.warning('published event not yet deleted from the outbox', extra={
        'event_id': entry.event_id, 'reason': type(error).__name__})
    return False
