"""Decision fixtures: registered models trained on known histories; a clean model cache per test."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.decisions import config_cache
from apps.decisions.modeling.risk import RiskModel
from apps.propensity import registry
from tests.decisions.factories import fitted_model


@pytest.fixture(autouse=True)
def clean_model_cache() -> Iterator[None]:
    registry.clear_cache()
    config_cache.clear()
    yield
    registry.clear_cache()
    config_cache.clear()


@pytest.fixture
def intent_model(db):  # type: ignore[no-untyped-def]
    return registry.register_model(name="intent", model=fitted_model(), metrics={"top1": 0.9},
                                   baseline_metrics={"popularity": {"top1": 0.2}}, features=["last sub-intents"],
                                   train_window=(None, None))


class FixedRisk(RiskModel):
    """A risk model whose probability is set by the test, so scores are exact."""

    def __init__(self, probability: float) -> None:
        super().__init__()
        self.probability = probability

    def probabilities(self, calls):  # type: ignore[no-untyped-def]
        import numpy as np

        return np.full(len(list(calls)), self.probability)


@pytest.fixture
def risk_model_at(db):  # type: ignore[no-untyped-def]
    def register(probability: float):  # type: ignore[no-untyped-def]
        return registry.register_model(name="risk", model=FixedRisk(probability), metrics={"auc": 0.97},
                                       baseline_metrics={"prior": {"auc": 0.5}}, features=["fixed"],
                                       train_window=(None, None))
    return register
