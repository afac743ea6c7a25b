"""The web process keeps what it loaded at start out of the garbage collector's full passes, and lets a
thread waiting for the GIL (after a graph read) have it back within half a millisecond."""
from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from journeyhub.long_lived import freeze_loaded_objects, shorten_switch_interval


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def test_every_view_is_imported_and_everything_loaded_is_frozen(unfrozen: None) -> None:
    frozen = freeze_loaded_objects()
    assert "apps.decisions.api.views" in sys.modules
    # a frozen object may still die on another thread of the session between the two counts
    assert 0 <= frozen - gc.get_freeze_count() < 1000
    assert frozen > 10 * len(gc.get_objects())  # the collector is left with a small fraction


@pytest.fixture
def switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_switch_interval_is_half_a_millisecond_unless_configured(switch_interval: None, monkeypatch) -> None:
    monkeypatch.delenv("WEB_SWITCH_INTERVAL_MS", raising=False)
    assert shorten_switch_interval() == pytest.approx(0.0005)
    assert sys.getswitchinterval() == pytest.approx(0.0005)
    monkeypatch.setenv("WEB_SWITCH_INTERVAL_MS", "2")
    assert shorten_switch_interval() == pytest.approx(0.002)


@pytest.mark.parametrize("value", ["fast", "0", "-1", "500"])
def test_a_switch_interval_out_of_range_is_refused_with_its_name(switch_interval: None, monkeypatch,
                                                                 value: str) -> None:
    monkeypatch.setenv("WEB_SWITCH_INTERVAL_MS", value)
    before = sys.getswitchinterval()
    with pytest.raises(ImproperlyConfigured, match=f"WEB_SWITCH_INTERVAL_MS='{value}'"):
        shorten_switch_interval()
    assert sys.getswitchinterval() == before
