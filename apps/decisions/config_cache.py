"""A per-process cache of routing configuration (thresholds, rules), cleared whenever they are saved.

A waiting caller should not pay for a query per decision; an edit takes effect at once in the
process that saved it and within DECISIONS_CONFIG_CACHE_SECONDS (default 1 s) in the others, plus
the time of one query: a stale value is re-read off the request's path (`apps.core.refresh`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from apps.core import refresh

_cache: dict[str, tuple[float, Any]] = {}
_clears = refresh.Clears()


def cached(key: str, load: Callable[[], Any]) -> Any:
    max_age = float(getattr(settings, "DECISIONS_CONFIG_CACHE_SECONDS", 1.0))
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < max_age:
        return hit[1]
    if hit is not None and refresh.in_background():
        seen = _clears.count
        refresh.refresher.request(("decisions-config", key), lambda: _store(key, load, seen))
        return hit[1]
    value = load()
    _cache[key] = (now, value)
    return value


def _store(key: str, load: Callable[[], Any], seen: int) -> None:
    value = load()
    if not _clears.since(seen):
        _cache[key] = (time.monotonic(), value)


def clear() -> None:
    _clears.clear()
    _cache.clear()
