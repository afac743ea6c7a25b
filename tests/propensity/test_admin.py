"""Admin: versions listed with metrics beside the baseline; activate and roll back actions are audited."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.core.models import AuditEntry
from apps.propensity import registry
from apps.propensity.models import ModelVersion

pytestmark = pytest.mark.django_db
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), None)
URL = "/admin/propensity/modelversion/"


@pytest.fixture
def admin_client_with_versions() -> Client:
    for n in (1, 2):
        registry.register_model(name="csat", model={"n": n}, metrics={"auc": 0.8 + n / 100, "f1": 0.5},
                                baseline_metrics={"auc": 0.61, "f1": 0.4}, features=["x"], train_window=WINDOW)
    user = get_user_model().objects.create_superuser(username="root", password="pw-12345678", email="r@example.com")
    client = Client()
    client.force_login(user)
    return client


def test_changelist_shows_metrics_beside_baseline(admin_client_with_versions: Client) -> None:
    page = admin_client_with_versions.get(URL).content.decode()
    assert "0.82 / 0.61" in page and "0.81 / 0.61" in page and "0.5 / 0.4" in page


def test_activate_and_roll_back_actions_are_audited(admin_client_with_versions: Client) -> None:
    v1 = ModelVersion.objects.get(name="csat", version=1)
    # when
    admin_client_with_versions.post(URL, {"action": "activate_selected", "_selected_action": [v1.pk]})
    # then
    assert ModelVersion.objects.get(is_active=True).version == 1
    # when
    admin_client_with_versions.post(URL, {"action": "roll_back", "_selected_action": [v1.pk]})
    # then
    assert ModelVersion.objects.get(is_active=True).version == 2
    entries = list(AuditEntry.objects.filter(user__username="root").values_list("action", flat=True))
    assert entries == ["rollback", "activate"]
