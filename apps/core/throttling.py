"""Per-caller API throttling: each API key (or person, or address for anonymous calls) gets its own
count per window. A fixed-window counter in the cache costs one `incr` per request; over the rate the
caller gets 429 with Retry-After, the seconds until the window turns. With the local-memory cache
(the default, one per process) the counts are kept in a dict of this process instead: the same
counts without the cache's pickling, key checks and expiry scans, which cost a decision about 25 µs."""
from __future__ import annotations

import functools
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from apps.core.models import ApiKey

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LOCAL_MEMORY = "django.core.cache.backends.locmem.LocMemCache"


class LocalCounts:
    """Fixed-window counts held by this process (what the local-memory cache would hold)."""

    MAX_KEYS = 100_000  # past this, counts of windows that have turned are dropped

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}

    def incr(self, key: str, window: int) -> int:
        with self._lock:
            seen = self._counts.get(key)
            count = seen[1] + 1 if seen is not None and seen[0] == window else 1
            self._counts[key] = (window, count)
            if len(self._counts) > self.MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if v[0] >= window}
            return count

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


local_counts = LocalCounts()


@functools.lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """"6000/min" -> (6000, 60); the unit is read by its first letter (s, m, h, d), as DRF does."""
    try:
        count, unit = rate.split("/")
        return int(count), PERIODS[unit.strip()[0].lower()]
    except (ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"throttle rate {rate!r} must look like 6000/min or 1000/s") from exc


class ApiThrottle(BaseThrottle):
    """The default for the whole API; `scope` names the rate in DEFAULT_THROTTLE_RATES."""

    scope = "api"

    def __init__(self) -> None:
        self.retry_after = 0

    def ident(self, request: Request) -> str:
        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiKey):
            return f"key:{auth.hashed_key[:24]}"  # unique per issued key, never reused
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "pk", None):
            return f"user:{user.pk}"
        return f"addr:{self.get_ident(request)}"

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if not rate:
            return True
        limit, period = parse_rate(str(rate))
        now = time.time()
        window = int(now // period)
        if settings.CACHES["default"]["BACKEND"] == LOCAL_MEMORY:
            count = local_counts.incr(f"{self.scope}:{self.ident(request)}:{period}", window)
        else:
            count = _shared_count(f"throttle:{self.scope}:{self.ident(request)}:{period}:{window}", period)
        self.retry_after = max(1, int((window + 1) * period - now + 0.999))
        return count <= limit

    def wait(self) -> float:
        return float(self.retry_after)


def _shared_count(cache_key: str, period: int) -> int:
    try:  # the window's counter exists for every request but its first: one cache call, not two
        return int(cache.incr(cache_key))
    except ValueError:  # the window's first request (or its counter expired): start it
        if cache.add(cache_key, 1, timeout=period + 1):
            return 1
        return int(cache.incr(cache_key))  # another request started it in between


class DecideThrottle(ApiThrottle):
    """The decision endpoints have their own, larger budget: a contact flow's calls come in bursts."""

    scope = "decide"
