"""The order of a booking's changes, as its source gives it (docs/api.md, "Order").

Platforms retry a failed delivery later, re-signed, and queues deliver in any order, so neither
the signature's time nor arrival says which change is newer. The source says it:

- by the booking's `version` at the source, when the change and the booking as last applied both
  have one;
- else by `occurred_at`, when both have one;
- a change that carries neither cannot be placed: it never rewinds a booking whose changes were
  ordered, and among changes that carry neither, the one processed last wins (what a sender that
  does not order its changes gets, as before).

Two different changes with the same version, or the same `occurred_at`, are settled by their
content, so that the same one wins whatever order they arrive in: the type first (created <
rescheduled < paid < cancelled), then a digest of the booking. The same change again (a
redelivery, a retry after a provider's daily limit) is applied again.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

_TYPE_RANK = {'booking.created': 0, 'booking.rescheduled': 1, 'booking.paid': 2, 'booking.cancelled': 3}


@dataclass(frozen=True)
class SourceOrder:
    version: int | None
    occurred_at: datetime | None
    change: str | None  # change_digest of the change: settles ties

    @property
    def unordered(self) -> bool:
        return self.version is None and self.occurred_at is None


def change_digest(event_type: str, booking: dict) -> str:
    """Sorts by the type's rank, then by content; equal only for the same change."""
    content = json.dumps(booking, sort_keys=True, separators=(',', ':')).encode()
    return f'{_TYPE_RANK[event_type]}:{hashlib.sha256(content).hexdigest()}'


def is_older(change: SourceOrder, applied: SourceOrder) -> bool:
    """True when `change` must not be applied over the booking as `applied` left it."""
    for ours, theirs in ((change.version, applied.version), (change.occurred_at, applied.occurred_at)):
        if ours is not None and theirs is not None:
            if ours != theirs:
                return ours < theirs
            return applied.change is not None and change.change is not None and change.change < applied.change
    return change.unordered and not applied.unordered


def merged(applied: SourceOrder, change: SourceOrder) -> SourceOrder:
    """What the booking remembers after `change` was applied: the newest of each kind of order."""

    def newest(a, b):
        return b if a is None else a if b is None else max(a, b)

    return SourceOrder(newest(applied.version, change.version), newest(applied.occurred_at, change.occurred_at),
                       change.change)
