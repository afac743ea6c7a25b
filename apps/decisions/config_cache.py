"""A per-process cache of routing configuration (thresholds, rules), cleared whenever they are saved.

A waiting caller should not pay for a query per decision; an edit takes effect at once in the
process that saved it and within DECISIONS_CONFIG_CACHE_SECONDS (default 1 s) in the others.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

_cache: dict[str, tuple[float, Any]] = {}


def cached(key: str, load: Callable[[], Any]) -> Any:
    max_age = float(getattr(settings, "DECISIONS_CONFIG_CACHE_SECONDS", 1.0))
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < max_age:
        return hit[1]
    value = load()
    _cache[key] = (now, value)
    return value


def clear() -> None:
    _cache.clear()
