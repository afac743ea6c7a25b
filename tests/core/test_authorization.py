"""Roles and scopes through the real API: personal data, the funnel, training runs and parameters,
milestone history, key scopes and expiry."""
from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import ProtectedError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.models import ApiKey
from apps.ingest.services import ingest_file
from apps.journeys.models import MilestoneDefinition, MilestoneReach
from apps.propensity.models import TrainingRun
from apps.propensity.params import ParamError, validate_params
from tests.problems import field_errors, problem

pytestmark = pytest.mark.django_db
CSV = str(Path(__file__).parent.parent / "fixtures" / "ingest" / "events_with_bad_rows.csv")


def person(role: str | None, name: str = "") -> APIClient:
    user = get_user_model().objects.create_user(name or f"p-{role or 'none'}", password="pw-only-tests")
    if role:
        call_command("grant_role", user.username, role, stdout=io.StringIO())
    client = APIClient()
    client.force_login(user)
    return client


def key(*scopes: str, expires=None) -> APIClient:  # type: ignore[no-untyped-def]
    _, raw = ApiKey.issue(f"k-{'-'.join(scopes)}-{ApiKey.objects.count()}", scopes=scopes, expires=expires)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


# --- personal data ----------------------------------------------------------------------------------


def test_a_viewer_and_a_read_key_see_a_customer_without_personal_data() -> None:
    # given a customer with a phone, an e-mail and a name
    ingest_file(uri=CSV, fmt="csv")
    from graph import journeys

    journeys.set_customer_attributes("c1", {"name": "Alice Example", "segment": "gold"})
    # when a viewer and a read-scoped key ask for them
    by_viewer = person("viewer").get("/api/customers/c1").json()
    by_read_key = key("read").get("/api/customers/c1").json()
    # then identifiers come by kind only and the name is gone; the rest is there
    for body in (by_viewer, by_read_key):
        assert body["attributes"] == {"segment": "gold"}
        assert body["identifiers"] == [{"kind": "email", "value": "[redacted]", "first_seen": 1772316000000},
                                       {"kind": "phone", "value": "[redacted]", "first_seen": 1772316000000}]
        assert body["event_count"] == 4


def test_an_analyst_and_a_pii_key_see_personal_data() -> None:
    ingest_file(uri=CSV, fmt="csv")
    from graph import journeys

    journeys.set_customer_attributes("c1", {"name": "Alice Example"})
    for client in (person("analyst"), key("read", "pii")):
        body = client.get("/api/customers/c1").json()
        assert body["attributes"] == {"name": "Alice Example"}
        assert [i["value"] for i in body["identifiers"]] == ["alice@example.com", "+61412345678"]


def test_a_pii_scope_alone_does_not_read() -> None:
    assert key("pii").get("/api/customers/c1").status_code == 403


def test_a_signed_in_person_without_a_role_gets_nothing() -> None:
    client = person(None)
    assert client.get("/api/customers").status_code == 403
    assert client.get("/api/webhooks/").status_code == 403
    assert client.post("/api/milestones/", {"name": "x"}, format="json").status_code == 403


# --- funnel, milestones, webhooks, models --------------------------------------------------------------


def test_the_funnel_api_is_for_analysts_like_the_funnel_page() -> None:
    query = {"steps": "a,b"}
    response = person("viewer").get("/api/journeys/funnel", query)
    assert (response.status_code, problem(response)["detail"]) == (403, "This needs the analyst role.")
    assert person("analyst", "ann").get("/api/journeys/funnel", query).status_code != 403


def test_a_viewer_cannot_define_milestones_or_see_webhooks_and_an_analyst_can_define() -> None:
    body = {"name": "Signed up", "slug": "signed-up", "trigger": "event_type", "event_type": "signup"}
    assert person("viewer").post("/api/milestones/", body, format="json").status_code == 403
    assert person("analyst").get("/api/webhooks/").status_code == 403
    created = person("analyst", "ann").post("/api/milestones/", body, format="json")
    assert created.status_code == 201
    assert MilestoneDefinition.objects.filter(slug="signed-up").count() == 1


def test_keys_need_the_manage_scope_to_change_models_and_webhooks() -> None:
    reader = key("read", "ingest", "decide", "pii")
    assert reader.post("/api/models/churn/train", {}, format="json").status_code == 403
    assert reader.post("/api/models/churn/rollback").status_code == 403
    response = reader.post("/api/webhooks/", {"name": "w", "url": "https://example.com/h", "secret": "s" * 12},
                           format="json")
    assert response.status_code == 403
    assert problem(response) == {"type": "about:blank", "title": "Forbidden", "status": 403,
                                 "detail": "This API key lacks the 'manage' scope.", "instance": "/api/webhooks/"}


def test_a_failed_training_run_shows_its_traceback_to_admins_only() -> None:
    # given a run that failed with a traceback naming server paths
    run = TrainingRun.objects.create(model_name="churn", status=TrainingRun.Status.FAILED,
                                     message="needs at least 90 days of history",
                                     error='Traceback (most recent call last):\n  File "/srv/hub/apps/x.py"')
    url = f"/api/training-runs/{run.pk}"
    # when a viewer, a read key, an admin and a manage key read it
    viewer, reader = person("viewer").get(url).json(), key("read").get(url).json()
    admin, manager = person("admin").get(url).json(), key("read", "manage").get(url).json()
    # then only the admins see the error text
    for body in (viewer, reader):
        assert (body["status"], body["message"], body["error"]) == (
            "failed", "Training failed; an admin can read why.", "")
    for body in (admin, manager):
        assert (body["message"], body["error"]) == (run.message, run.error)


@pytest.mark.parametrize(("params", "reason"), [
    ({"output_model": "/tmp/x"}, "unknown training parameter 'output_model'"),
    ({"num_threads": 64}, "unknown training parameter 'num_threads'"),
    ({"num_leaves": "7"}, "training parameter 'num_leaves' must be an integer, got '7'"),
    ({"num_leaves": 1.5}, "training parameter 'num_leaves' must be an integer, got 1.5"),
    ({"learning_rate": 5}, "training parameter 'learning_rate' must be between 0.0001 and 1, got 5"),
    ({"gru_hidden": True}, "training parameter 'gru_hidden' must be an integer, got True"),
])
def test_training_parameters_outside_the_allow_list_are_refused(params, reason) -> None:  # type: ignore[no-untyped-def]
    response = person("admin").post("/api/models/churn/train", {"params": params}, format="json")
    assert reason in field_errors(response)["params"][0]
    assert TrainingRun.objects.count() == 0


def test_allowed_training_parameters_keep_their_declared_types() -> None:
    assert validate_params({"num_leaves": 15.0, "next_learning_rate": 0.1, "gru_dropout": 0, "churn_days": 30}) == {
        "num_leaves": 15, "next_learning_rate": 0.1, "gru_dropout": 0.0, "churn_days": 30}
    with pytest.raises(ParamError, match="'cutoffs' must be between 1 and 100"):
        validate_params({"cutoffs": 0})


# --- milestone history -------------------------------------------------------------------------------


@pytest.fixture
def reached_milestone() -> MilestoneDefinition:
    milestone = MilestoneDefinition.objects.create(name="Bought", slug="bought", trigger="event_type",
                                                   event_type="purchase")
    MilestoneReach.objects.create(milestone=milestone, customer_id="c1", ts=1, event_id="e1")
    MilestoneReach.objects.create(milestone=milestone, customer_id="c2", ts=2, event_id="e2")
    return milestone


def test_deleting_a_reached_milestone_through_the_api_is_refused_and_keeps_its_history(
        reached_milestone: MilestoneDefinition) -> None:
    response = person("analyst").delete("/api/milestones/bought")
    assert response.status_code == 409
    assert problem(response) == {
        "type": "urn:journeyhub:problem:milestone-in-use", "title": "The milestone has been reached by customers.",
        "status": 409, "instance": "/api/milestones/bought",
        "detail": "milestone 'bought' has been reached by 2 customer(s); deleting it would erase that history, "
                  "so it is refused. Set active=false to stop new reaches."}
    assert MilestoneReach.objects.filter(milestone__slug="bought").count() == 2


def test_a_milestone_nobody_reached_can_be_deleted() -> None:
    MilestoneDefinition.objects.create(name="Unused", slug="unused", trigger="event_type", event_type="x")
    assert person("analyst").delete("/api/milestones/unused").status_code == 204
    assert not MilestoneDefinition.objects.filter(slug="unused").exists()


def test_the_admin_and_code_cannot_delete_a_reached_milestone_either(reached_milestone: MilestoneDefinition) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw-only-tests"))
    # the admin's bulk delete shows the refusal instead of deleting
    page = client.post("/admin/journeys/milestonedefinition/", {
        "action": "delete_selected", "_selected_action": [reached_milestone.pk], "post": "yes"})
    assert page.status_code == 200
    assert "has been reached by 2 customer(s)" in page.content.decode()
    with pytest.raises(ProtectedError), transaction.atomic():
        reached_milestone.delete()
    assert MilestoneReach.objects.count() == 2


# --- keys: scopes and expiry -------------------------------------------------------------------------


def test_create_api_key_stores_scopes_and_expiry(capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("create_api_key", "connect", "--scope", "decide", "--scope", "read", "--expires", "2099-06-30")
    raw = capsys.readouterr().out.strip()
    stored = ApiKey.objects.get(name="connect")
    assert (stored.scopes, stored.expires.isoformat()) == (["decide", "read"], "2099-06-30T23:59:59.999999+00:00")
    assert APIClient().get("/api/ping", HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 200


def test_create_api_key_reads_by_default_and_refuses_bad_input(capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("create_api_key", "crm")
    assert ApiKey.objects.get(name="crm").scopes == ["read"]
    with pytest.raises(CommandError, match="already in the past"):
        call_command("create_api_key", "old", "--expires", "2001-01-01")
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        call_command("create_api_key", "x", "--scope", "admin")


def test_an_expired_key_is_refused_with_a_reason() -> None:
    client = key("read", expires=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/ping")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("This API key expired at ")
    assert key("read", expires=timezone.now() + timedelta(days=1)).get("/api/ping").status_code == 200


def test_a_decision_key_cannot_read_analytics_and_a_read_key_cannot_decide() -> None:
    assert key("decide").get("/api/journeys/top").status_code == 403
    assert key("read").post("/api/decisions/risk", {"phone": "+61400000000"}, format="json").status_code == 403
    assert key("ingest").post("/api/events", [{}], format="json").status_code == 400  # reached the view
