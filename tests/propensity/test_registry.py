"""Registry: versions increase per name, exactly one is active, rollback returns to the previous one."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.core.models import AuditEntry
from apps.propensity import registry
from apps.propensity.models import ModelVersion

pytestmark = pytest.mark.django_db

WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))


def _register(name: str, payload: object, **kwargs: object) -> ModelVersion:
    return registry.register_model(name=name, model=payload, metrics={"auc": 0.8}, baseline_metrics={"auc": 0.6},
                                   features=["a", "b"], train_window=WINDOW, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _empty_cache():  # type: ignore[no-untyped-def]
    registry.clear_cache()
    yield
    registry.clear_cache()


def test_versions_increase_per_name_and_only_latest_is_active() -> None:
    # given / when
    v1 = _register("churn", {"w": 1})
    v2 = _register("churn", {"w": 2})
    other = _register("csat", {"w": 9})
    # then
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert list(ModelVersion.objects.filter(is_active=True).values_list("name", "version").order_by("name")) == [
        ("churn", 2), ("csat", 1)]
    v1.refresh_from_db()
    assert v1.sha256 and len(v1.sha256) == 64 and v1.train_start == WINDOW[0] and v1.features == ["a", "b"]


def test_load_active_returns_the_registered_object() -> None:
    # given
    _register("churn", {"w": 1})
    # when
    loaded = registry.load_active("churn")
    # then
    assert loaded is not None and loaded.model == {"w": 1} and loaded.version.version == 1
    assert registry.load_active("unknown") is None


def test_activate_and_rollback_switch_the_served_model_and_are_audited() -> None:
    # given
    for weight in (1, 2, 3):
        _register("churn", {"w": weight})
    assert registry.load_active("churn").model == {"w": 3}  # type: ignore[union-attr]
    # when
    registry.activate(name="churn", version=1)
    # then
    assert registry.load_active("churn").model == {"w": 1}  # type: ignore[union-attr]
    # when: rollback goes to the version active before v1 (v3), then to the one before that (v2)
    assert registry.rollback(name="churn").version == 3
    assert registry.rollback(name="churn").version == 2
    # then
    assert registry.load_active("churn").model == {"w": 2}  # type: ignore[union-attr]
    assert ModelVersion.objects.filter(name="churn", is_active=True).count() == 1
    actions = list(AuditEntry.objects.filter(object_type="propensity.ModelVersion").values_list("action", flat=True))
    assert actions.count("rollback") == 2 and actions.count("register") == 3


def test_rollback_without_history_is_a_clear_error() -> None:
    _register("churn", {"w": 1})
    with pytest.raises(registry.RegistryError, match="no previously active version"):
        registry.rollback(name="churn")
    with pytest.raises(registry.RegistryError, match="has no version 7"):
        registry.activate(name="churn", version=7)


def test_load_active_notices_a_change_made_elsewhere() -> None:
    # given: a served model, then another process activates v1 directly in the database
    _register("churn", {"w": 1})
    _register("churn", {"w": 2}, activate=True)
    assert registry.load_active("churn").model == {"w": 2}  # type: ignore[union-attr]
    ModelVersion.objects.filter(name="churn").update(is_active=False)
    ModelVersion.objects.filter(name="churn", version=1).update(is_active=True)
    # when / then: within the check interval the cached model is served, after it the new one
    assert registry.load_active("churn").model == {"w": 2}  # type: ignore[union-attr]
    assert registry.load_active("churn", max_age=0).model == {"w": 1}  # type: ignore[union-attr]


def test_tampered_artifact_is_refused() -> None:
    version = _register("churn", {"w": 1})
    with open(version.artifact, "wb") as handle:
        handle.write(b"not the model")
    registry.clear_cache()
    with pytest.raises(registry.RegistryError, match="sha256"):
        registry.load_active("churn")
