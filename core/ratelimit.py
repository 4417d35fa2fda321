"""Fixed-window rate limits in the cache (Redis in production, so all web workers share them)."""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache


def hit(*, scope: str, ident: str, limit: int, period: int) -> int | None:
    """Count one event; return None while under the limit, else seconds until the window resets."""
    window = int(time.time() // period)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    key = f"rl:{scope}:{digest}:{window}"
    # add() is atomic: only the first request of a window creates the counter.
    if cache.add(key, 1, timeout=period + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=period + 5)
            count = 1
    if count > limit:
        return int(period - time.time() % period) + 1
    return None
