"""Bookings that failed for lack of a meeting account get their meetings once an account is connected.

`connection.connected` reaches the meetings function; the tenant's failed bookings still to start are read from
gsi1 (`FAILED#<tenant>` / `<start>#<booking>`, see store/models.py BookingItem) and applied again as stored
(bookings.apply_again), a few per message so that one record stays within its time: the rest goes on in another
`connection.connected` message that carries where to go on from (`after`) and the first message's id (`root_event_id`),
so ids stay the same length however many messages it takes. A redelivery finds the bookings it
already mended no longer failed, and a meeting is claimed before it is made, so nothing is made twice.
"""

import hashlib
from datetime import datetime

from meetbridge import events
from meetbridge.logic import bookings
from meetbridge.observability import logger
from meetbridge.store import repository
from meetbridge.store.models import BookingItem, failed_key, index_time

# Bookings one message applies again: each may make a meeting at a provider (a few seconds at most).
PER_MESSAGE = 5


def retry(detail: dict, now: datetime) -> dict:
    """Applies again, soonest first, the tenant's bookings that failed for lack of an account and start at or
    after `now` (or after `detail['after']`, where an earlier message stopped)."""
    tenant_id = detail['tenant_id']
    root = detail.get('root_event_id') or detail['event_id']
    after = detail.get('after')
    condition = BookingItem.gsi1sk > after if after else BookingItem.gsi1sk >= index_time(now)
    found = list(BookingItem.gsi1.query(failed_key(tenant_id), condition, limit=PER_MESSAGE + 1))
    applied = 0
    for listed in found[:PER_MESSAGE]:
        # The index is eventually consistent: the booking is read again before it is applied.
        item = repository.find_consistent(BookingItem, (listed.pk, listed.sk))
        if item is None or not bookings.lacks_account(item) or item.start < now:
            continue
        result = bookings.apply_again(tenant_id, item, _retry_id(root, item.booking_id), now)
        applied += 1
        logger.info('failed booking applied again', extra={'tenant_id': tenant_id, 'booking_id': item.booking_id,
                                                           'outcome': result.outcome})
    if len(found) > PER_MESSAGE:
        cursor = found[PER_MESSAGE - 1].gsi1sk
        events.publish(events.CONNECTION_CONNECTED,
                       {**detail, 'after': cursor, 'root_event_id': root, 'event_id': _retry_id(root, cursor)})
    return {'outcome': 'failed bookings applied again', 'applied': applied, 'more': len(found) > PER_MESSAGE}


def _retry_id(root_event_id: str, what: str) -> str:
    """An id per connected event and booking (or page), of a fixed length whatever the ids it is made of."""
    return 'retry/' + hashlib.sha256(f'{root_event_id}\n{what}'.encode()).hexdigest()[:40]
