"""Per-user daily call budgets (Zoom: 100 meeting creates/updates per host per UTC day).

Counting before calling keeps a rescheduling loop from hammering the provider into 429s.
"""

from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from meetbridge.store.models import QuotaItem


def _item(provider_type: str, user: str, now: datetime) -> QuotaItem:
    item = QuotaItem(*QuotaItem.key(provider_type, user, now.strftime('%Y-%m-%d')))
    item.ttl = now + timedelta(days=2)
    return item


def reserve(provider_type: str, user: str, now: datetime, limit: int) -> bool:
    """Takes one call from today's budget; False when it is used up."""
    item = _item(provider_type, user, now)
    try:
        item.update(actions=[QuotaItem.count.add(1), QuotaItem.ttl.set(item.ttl)],
                    condition=QuotaItem.count.does_not_exist() | (QuotaItem.count < limit))
    except UpdateError as exc:
        if exc.cause_response_code == 'ConditionalCheckFailedException':
            return False
        raise
    return True


def give_back(provider_type: str, user: str, now: datetime) -> None:
    """A reserved call the provider did not take (unavailable, busy): it does not count against the day."""
    item = _item(provider_type, user, now)
    try:
        item.update(actions=[QuotaItem.count.add(-1)], condition=QuotaItem.count > 0)
    except UpdateError as exc:
        if exc.cause_response_code != 'ConditionalCheckFailedException':
            raise


def exhaust(provider_type: str, user: str, now: datetime, limit: int) -> None:
    """The provider says the budget is gone (other apps on the account count too)."""
    item = _item(provider_type, user, now)
    item.update(actions=[QuotaItem.count.set(limit), QuotaItem.ttl.set(item.ttl)])
