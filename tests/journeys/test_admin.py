"""Admin pages of journey analytics load, and KPI definitions can be edited there."""
from __future__ import annotations

import pytest

from apps.journeys.models import KpiDefinition

PAGES = ["kpidefinition", "kpivalue", "milestonedefinition", "milestonereach", "webhook", "webhookdelivery"]


@pytest.mark.parametrize("model", PAGES)
def test_changelists_load(admin_client, model):
    assert admin_client.get(f"/admin/journeys/{model}/").status_code == 200


def test_kpi_definition_is_editable_in_admin(admin_client):
    response = admin_client.post("/admin/journeys/kpidefinition/add/", {
        "name": "Repeat contact", "slug": "repeat", "kind": "repeat_contact", "params": '{"window_days": 3}',
        "unit": "%", "active": "on", "description": ""})

    assert response.status_code == 302
    assert KpiDefinition.objects.get(slug="repeat").params == {"window_days": 3}


def test_bad_kpi_params_are_refused_in_admin(admin_client):
    response = admin_client.post("/admin/journeys/kpidefinition/add/", {
        "name": "Bad", "slug": "bad", "kind": "repeat_contact", "params": '{"days": 3}', "unit": "", "active": "on"})

    assert response.status_code == 200
    assert "unknown KPI parameter(s) days" in response.content.decode()
