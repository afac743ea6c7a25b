"""The web process keeps what it loaded at start out of the garbage collector's full passes."""
from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from journeyhub.long_lived import freeze_loaded_objects


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def test_every_view_is_imported_and_everything_loaded_is_frozen(unfrozen: None) -> None:
    frozen = freeze_loaded_objects()
    assert "apps.decisions.api.views" in sys.modules
    assert frozen == gc.get_freeze_count()
    assert frozen > 10 * len(gc.get_objects())  # the collector is left with a small fraction
