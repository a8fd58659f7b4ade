"""Values kept in a warm container for a short time, within a bound on their number.

Lambda keeps a container's memory between invocations: what a function read a moment ago is not read again
while it is fresh. Each cache says how stale a value may be; a caller that finds a cached value wrong (a
signature that does not verify) drops it and reads again.
"""

import time
from typing import Generic, TypeVar

K = TypeVar('K')
V = TypeVar('V')

_ALL: list['ContainerCache'] = []


class ContainerCache(Generic[K, V]):
    def __init__(self, seconds: float, limit: int):
        self.seconds, self.limit = seconds, limit
        self._values: dict[K, tuple[float, V]] = {}
        _ALL.append(self)

    def get(self, key: K) -> V | None:
        kept = self._values.get(key)
        if kept is None or kept[0] <= time.monotonic():
            return None
        return kept[1]

    def put(self, key: K, value: V) -> None:
        if len(self._values) >= self.limit:
            self._values.clear()  # a burst of many keys: start over rather than track the oldest
        self._values[key] = (time.monotonic() + self.seconds, value)

    def drop(self, key: K) -> None:
        self._values.pop(key, None)

    def clear(self) -> None:
        self._values.clear()


def clear_all() -> None:
    """A new container (tests run several functions in one process)."""
    for cache in _ALL:
        cache.clear()
