"""The time the work of one queue record may take, so that one slow record cannot time out its batch:
provider calls and their waits are cut to what is left, and work that no longer fits is retried later."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from meetbridge.errors import RetryLater

if TYPE_CHECKING:
    import httpx2

_deadline: ContextVar[float | None] = ContextVar('deadline', default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def left(at_most: float) -> float:
    """`at_most` seconds, or what is left of the record's time when that is less; RetryLater when none is."""
    deadline = _deadline.get()
    if deadline is None:
        return at_most
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise RetryLater('this record ran out of time; it is retried later')
    return min(at_most, remaining)


def http_timeout(full: 'httpx2.Timeout') -> 'httpx2.Timeout':
    """A request's timeouts, cut to what is left of the record's time."""
    # Imported here, where a provider's client has imported it already: a record that calls no provider never does.
    import httpx2

    read = left(full.read)
    return httpx2.Timeout(read, connect=min(full.connect, read))
