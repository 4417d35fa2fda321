"""A Redis cache that degrades to "no cache" while Redis is unreachable.

The portal must keep answering when Redis is down (issue 9): with Django's plain RedisCache every
cached_db session read, rate-limit counter and cached statistic would raise and turn the page into
a 500. Here a connection error is logged (once a minute per process) and treated as a miss:
get() returns the default, set() stores nothing, add() reports "not added" - which keeps one-time
markers such as the certificate-login challenge failing closed - and incr() behaves as for a
missing key. Sessions then come from the database, and everything
is back to normal as soon as Redis answers again. Rate limits use count(), which says when Redis
is unreachable, and then count in the process's memory (core.ratelimit).
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_last_warning = 0.0


def _warn(operation: str, exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 60:
        _last_warning = now
        logger.warning("cache unavailable (%s: %s); serving without cache", operation, type(exc).__name__)


class ResilientRedisCache(RedisCache):
    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except _UNAVAILABLE as exc:
            _warn("get", exc)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except _UNAVAILABLE as exc:
            _warn("get_many", exc)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except _UNAVAILABLE as exc:
            _warn("has_key", exc)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except _UNAVAILABLE as exc:
            _warn("set", exc)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except _UNAVAILABLE as exc:
            _warn("set_many", exc)
            return list(data)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except _UNAVAILABLE as exc:
            _warn("add", exc)
            return False

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except _UNAVAILABLE as exc:
            _warn("touch", exc)
            return False

    def count(self, key, *, timeout: int, version=None) -> int | None:
        """Add one to a counter that expires ``timeout`` seconds after its first hit and return it;
        None while Redis is unreachable, so a rate limit can count elsewhere (core.ratelimit)
        instead of seeing every hit as the first."""
        try:
            if super().add(key, 1, timeout, version):
                return 1
            try:
                return super().incr(key, 1, version)
            except ValueError:  # expired between add() and incr()
                super().add(key, 1, timeout, version)
                return 1
        except _UNAVAILABLE as exc:
            _warn("count", exc)
            return None

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except _UNAVAILABLE as exc:
            _warn("incr", exc)
            raise ValueError(f"Key '{key}' not found (cache unavailable)") from exc

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except _UNAVAILABLE as exc:
            _warn("delete", exc)
            return False

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except _UNAVAILABLE as exc:
            _warn("delete_many", exc)

    def clear(self):
        try:
            return super().clear()
        except _UNAVAILABLE as exc:
            _warn("clear", exc)
            return False
