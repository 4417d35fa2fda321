"""Fixed-window rate limits in the cache (Redis in production, so all web workers share them).

While Redis is unreachable the shared counter cannot be read or written (core.cache serves as "no
cache"), and the limits would stop counting: registration, searches, exports and API calls from
one address unlimited for as long as the outage lasts. Then each process counts in its own memory
instead (``_LocalCounters``): a limit still holds, per web process rather than for the whole site,
so with N processes an address gets at most N times its limit until Redis is back, when the shared
counter takes over again (its window starts afresh).
"""

from __future__ import annotations

import hashlib
import threading
import time

from django.core.cache import cache

LOCAL_MAX_KEYS = 100_000  # memory bound of the fallback: expired windows are dropped beyond this


class _LocalCounters:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def count(self, key: str, *, timeout: int) -> int:
        now = time.monotonic()
        with self._lock:
            if len(self._counts) >= LOCAL_MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._counts.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + timeout
            self._counts[key] = (count + 1, expires)
            return count + 1

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


local_counters = _LocalCounters()


def _shared_count(key: str, *, timeout: int) -> int | None:
    """One more in the shared counter; None when the cache cannot be reached."""
    counter = getattr(cache, "count", None)
    if counter is not None:  # core.cache.ResilientRedisCache: tells an outage from a new key
        return counter(key, timeout=timeout)
    # add() is atomic: only the first request of a window creates the counter.
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=timeout)
        return 1


def hit(*, scope: str, ident: str, limit: int, period: int) -> int | None:
    """Count one event; return None while under the limit, else seconds until the window resets."""
    window = int(time.time() // period)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    key = f"rl:{scope}:{digest}:{window}"
    count = _shared_count(key, timeout=period + 5)
    if count is None:
        count = local_counters.count(key, timeout=period + 5)
    if count > limit:
        return int(period - time.time() % period) + 1
    return None
