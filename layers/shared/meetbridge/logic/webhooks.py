"""Receiving a booking platform's webhook: verify, translate, publish each booking event once.

A warm webhook makes two AWS calls before it answers a booking never seen before or a cancellation
(docs/architecture.md, "The webhook's path"): one write that claims the event id and records the booking, and the
publish. A change of a booking already recorded makes three: its claim is written again alone. The tenant (or the
platform source's settings) it verifies with is kept for a minute per container.
"""

import hashlib
import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from meetbridge import aws, events
from meetbridge.caching import ContainerCache
from meetbridge.config import IdempotencySettings, StoreSettings, settings
from meetbridge.errors import EventIdReused, EventNotPublished
from meetbridge.logic import sources, tenants, waiting
from meetbridge.observability import logger
from meetbridge.security.signatures import SignatureError
from meetbridge.sources import source_for
from meetbridge.sources.base import BookingSource, Translation, WebhookRequest
from meetbridge.sources.settings import SourceSettings
from meetbridge.store import repository
from meetbridge.store.models import TenantItem

# Platforms retry for hours (Zoom: up to 60 min, others longer); a week covers them all.
DEDUPE_SECONDS = 7 * 24 * 3600
# How long a claim's holder may still be publishing its event: the claim (aws.CLAIMING) and PutEvents
# (aws.PUBLISHING) each give up within 2 attempts of at most 3 s, inside this. A delivery of the event that finds
# no `published_at` within it is answered 503 until it runs out (its holder may have published it, or failed, or
# died); after it, that delivery publishes the event again. The first publish never marks `published_at` (a third
# call), so a redelivery of an event published at once waits out the lease and publishes it once more: the
# consumers apply an event once by its id.
PUBLISH_LEASE_SECONDS = 20
# The longest a publish or a write of the claim takes before it gives up (aws.PUBLISHING, aws.CLAIMING: 2 attempts
# of 1 s connect + 2 s read), and a margin for the answer: a holder with less time left than a publish (and the
# mark of a claim taken over) needs, in its function or its lease, does not start it.
CALL_WORST_SECONDS = 6
ANSWER_MARGIN_SECONDS = 2
# The tenant, or a platform source's settings, as this container last read them: stale for a minute at most. A
# signature that does not verify with them reads them again before refusing, so a rotated secret works at once;
# a tenant or source deleted is still honoured for that minute.
VERIFIER_CACHE_SECONDS = 60
_verifiers: ContainerCache[tuple[str, str], TenantItem | SourceSettings] = ContainerCache(VERIFIER_CACHE_SECONDS,
                                                                                           limit=256)
# A bad signature re-reads its verifier at most once in this long per tenant and source: a flood of forged
# deliveries costs one read per key every few seconds, and a secret rotated within them verifies on the
# platform's next retry.
REREAD_SECONDS = 5
_reread: ContainerCache[tuple[str, str], bool] = ContainerCache(REREAD_SECONDS, limit=256)
# The detail type of a Lookup (sources/base.py) on the bus.
BOOKING_LOOKUP = 'booking.lookup'


def _read_verifier(source_name: str, tenant_id: str) -> TenantItem | SourceSettings:
    """The generic source is verified with the tenant's own webhook secrets; a platform with its source's
    settings (404 when the tenant has not configured it, or removed it)."""
    tenant = repository.get_tenant(tenant_id)
    return tenant if source_name == 'generic' else sources.settings_of(tenant_id, source_name)


def receive(source_name: str, request: WebhookRequest, remaining_ms: Callable[[], int]) -> list[str]:
    """Returns the accepted event ids; `remaining_ms` is the Lambda context's time left. Raises NotFound,
    SignatureError, InvalidInput, EventIdReused (an event id reused for different content), EventNotPublished
    (an event not known to be on the bus: the platform sends it again)."""
    source = source_for(source_name)
    key = (request.tenant_id, source_name)
    stored = _verifiers.get(key)
    if stored is not None:
        try:
            return _receive(source, source_name, request, stored, remaining_ms)
        except SignatureError:
            if _reread.get(key):
                raise
            _reread.put(key, True)
            _verifiers.drop(key)  # the secret may have been rotated since it was read
    stored = _read_verifier(source_name, request.tenant_id)
    _verifiers.put(key, stored)
    return _receive(source, source_name, request, stored, remaining_ms)


def _receive(source: BookingSource, source_name: str, request: WebhookRequest,
             stored: TenantItem | SourceSettings, remaining_ms: Callable[[], int]) -> list[str]:
    if isinstance(stored, TenantItem):
        verifier: Any = tenants.webhook_secrets(stored, datetime.fromtimestamp(request.received_at, UTC))
    else:
        verifier = stored
    translation = source.translate(
        request, verifier, lambda external_id: sources.known_booking(request.tenant_id, source_name, external_id))
    online = isinstance(stored, SourceSettings) and stored.online == 'all'
    return publish_translation(request.tenant_id, source_name, translation, online=online,
                               remaining_ms=remaining_ms)


def publish_translation(tenant_id: str, source_name: str, translation: Translation, online: bool,
                        remaining_ms: Callable[[], int] | None = None) -> list[str]:
    """What a webhook, or the lookup it asked for, carried: its services and providers registered when new,
    its platform ids tied to our bookings, each booking recorded as received and its event published once,
    each lookup published. Returns the ids published. `remaining_ms`: the webhook's time left (a lookup, retried
    by its queue, has no answer to keep)."""
    if translation.services or translation.providers:
        sources.register_first_seen(tenant_id, translation.services, translation.providers, online=online)
    sources.record_external_ids(tenant_id, source_name, translation.external_ids)
    for event in translation.events:
        # Recorded with its claim, before the event is on the bus: the booking is visible whatever happens after.
        received = waiting.received_item(event, datetime.now(UTC))
        publish_once(event.model_dump(mode='json'), received and received.serialize(), remaining_ms)
    for lookup in translation.lookups:
        publish_once({**lookup.model_dump(mode='json'), 'type': BOOKING_LOOKUP}, None, remaining_ms)
    return [event.event_id for event in translation.events] + [lookup.event_id for lookup in translation.lookups]


def _claim_id(event: dict) -> str:
    key = json.dumps([event['tenant_id'], event['source'], event['event_id']], separators=(',', ':'))
    return 'webhook-event#' + hashlib.sha256(key.encode()).hexdigest()


def _content_digest(event: dict) -> str:
    """What an event id stands for: a delivery with the same id and other content is refused."""
    content = json.dumps([event['type'], event.get('booking')], sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(content.encode()).hexdigest()


def publish_once(event: dict, received: dict | None, remaining_ms: Callable[[], int] | None) -> None:
    """Claims the event id (with the received booking's record, written only where no booking is) and
    publishes the event. A delivery that finds the event marked published publishes nothing; one that finds it
    claimed and not marked is answered 503 while the claim's lease runs (its holder may be publishing it, or may
    have failed or died), and after the lease publishes it again. An event may so be published more than once
    (its first publish is never marked; a 503 may follow a publish the bus took but did not confirm in time): the
    consumers apply it once by its id."""
    now = time.time()
    claim = {'id': {'S': _claim_id(event)}, 'expiration': {'N': str(int(now) + DEDUPE_SECONDS)},
             'content': {'S': _content_digest(event)},
             'lease_until': {'N': str(int(now) + PUBLISH_LEASE_SECONDS)}}
    try:
        held = _claim(claim, received)
        if held is not None:
            if held['content']['S'] != claim['content']['S']:
                raise EventIdReused('this event id was used before for another event')
            if 'published_at' in held:
                return
            lease_left = float(held['lease_until']['N']) - time.time()
            if lease_left > 0:
                raise EventNotPublished('the event is being published by another delivery',
                                        retry_after=max(1, math.ceil(lease_left)))
            if not _take_over(claim, held):
                raise EventNotPublished('the event is being published by another delivery',
                                        retry_after=PUBLISH_LEASE_SECONDS)
    except (ClientError, BotoCoreError) as error:  # throttled, or the table did not answer in time
        logger.warning('event not claimed', extra={'error': type(error).__name__})
        raise EventNotPublished('the event could not be recorded at this moment') from error
    _ensure_time_to_publish(claim, remaining_ms, calls=1 if held is None else 2)
    _publish(event, claim)
    if held is not None:
        # Taken over: from now on a delivery knows it is published. A failure here costs only a later
        # duplicate, which the consumers drop, so the answer stays 202.
        _mark_published(claim)


def _ensure_time_to_publish(claim: dict, remaining_ms: Callable[[], int] | None, calls: int) -> None:
    """The claim's writes may have taken most of the function's time, or of the lease: `calls` (the publish, and
    the mark after it) that could still be under way when the function times out (an error answered for an event
    the bus may have taken) or when another delivery takes the claim over are not started; the claim is released
    for the platform's next delivery."""
    seconds_left = float(claim['lease_until']['N']) - time.time()
    if remaining_ms is not None:
        seconds_left = min(seconds_left, remaining_ms() / 1000)
    if seconds_left < calls * CALL_WORST_SECONDS + ANSWER_MARGIN_SECONDS:
        _release(claim)
        raise EventNotPublished('too little time was left to publish the event')


def _condition_failed(reason: dict) -> bool:
    return reason.get('Code') == 'ConditionalCheckFailed'


def _claim(claim: dict, received: dict | None) -> dict | None:
    """Writes the claim, with the received booking when there is one; returns the claim that was already there
    (None when this delivery claimed the event)."""
    dynamodb = aws.client('dynamodb', aws.CLAIMING)
    claims_table = settings(IdempotencySettings).idempotency_table_name
    put_claim = {'TableName': claims_table, 'Item': claim, 'ConditionExpression': 'attribute_not_exists(id)',
                 'ReturnValuesOnConditionCheckFailure': 'ALL_OLD'}
    if received is not None:
        put_received = {'TableName': settings(StoreSettings).table_name, 'Item': received,
                        'ConditionExpression': 'attribute_not_exists(pk)'}
        try:
            dynamodb.transact_write_items(TransactItems=[{'Put': put_claim}, {'Put': put_received}])
            return None
        except dynamodb.exceptions.TransactionCanceledException as error:
            claimed, recorded = error.response['CancellationReasons']
            if _condition_failed(claimed):
                return claimed['Item']
            if not _condition_failed(recorded):
                # A concurrent write of either item (another delivery of this event): nothing is published yet.
                raise EventNotPublished('the event could not be recorded at this moment') from error
            # The booking is recorded already (a change of a known booking): the claim alone.
    try:
        dynamodb.put_item(**put_claim)
        return None
    except ClientError as error:
        if error.response['Error']['Code'] != 'ConditionalCheckFailedException':
            raise
        return error.response['Item']


def _update_claim(claim: dict, expression: str, condition: str, values: dict) -> bool:
    """False when the condition failed."""
    try:
        aws.client('dynamodb', aws.CLAIMING).update_item(
            TableName=settings(IdempotencySettings).idempotency_table_name, Key={'id': claim['id']},
            UpdateExpression=expression, ConditionExpression=condition, ExpressionAttributeValues=values)
        return True
    except ClientError as error:
        if error.response['Error']['Code'] != 'ConditionalCheckFailedException':
            raise
        return False


def _take_over(claim: dict, held: dict) -> bool:
    """A claim whose holder's lease ran out without publishing: one delivery takes it over (False: another did)."""
    return _update_claim(claim, 'SET lease_until = :lease',
                         'lease_until = :held AND attribute_not_exists(published_at)',
                         {':lease': claim['lease_until'], ':held': held['lease_until']})


def _mark_published(claim: dict) -> None:
    try:
        _update_claim(claim, 'SET published_at = :now', 'attribute_exists(id)', {':now': {'N': str(int(time.time()))}})
    except Exception as exc:  # published already: nothing may turn the answer into an error
        logger.warning('published event not marked', extra={'error': type(exc).__name__})


def _publish(event: dict, claim: dict) -> None:
    """Raises EventNotPublished when the bus did not take it, after releasing the claim so that the
    platform's next delivery publishes it at once."""
    try:
        events.publish(event['type'], event)
    except Exception as exc:
        logger.warning('event bus did not take the event', extra={'error': type(exc).__name__})
        _release(claim)
        # A publish that timed out may have been taken by the bus all the same: sent again, it is applied once.
        raise EventNotPublished('the event bus did not confirm the event') from exc


def _release(claim: dict) -> None:
    """Ends this delivery's lease, so that the platform's next delivery publishes the event at once."""
    try:
        _update_claim(claim, 'SET lease_until = :released', 'lease_until = :mine',
                      {':released': {'N': '0'}, ':mine': claim['lease_until']})
    except Exception as release_error:  # its lease runs out instead
        logger.warning('claim not released', extra={'error': type(release_error).__name__})
