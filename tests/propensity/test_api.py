"""Registry and scoring API: metrics beside the baseline, activation rules, online scores with reasons."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django_q.conf import Conf
from rest_framework.test import APIClient

from apps.core.models import AuditEntry, Job
from apps.propensity import registry
from apps.propensity.models import ModelVersion, TrainingRun
from graph import journeys
from tests.problems import field_errors
from tests.propensity import synthetic
from tests.propensity.test_train_command import serve_latest

pytestmark = pytest.mark.django_db
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


@pytest.fixture(autouse=True)
def _fresh_registry():  # type: ignore[no-untyped-def]
    registry.clear_cache()
    yield
    registry.clear_cache()


@pytest.fixture
def three_versions() -> None:
    for n in (1, 2, 3):
        registry.register_model(name="churn", model={"n": n}, metrics={"auc": 0.7 + n / 100},
                                baseline_metrics={"auc": 0.6}, features=["x"], train_window=WINDOW)


def _session(staff: bool) -> APIClient:
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(username="staff" if staff else "agent", password="pw-12345678",
                                                is_staff=staff)
    if not staff:
        user.groups.add(Group.objects.get(name="viewer"))
    client = APIClient()
    client.force_login(user)
    return client


def test_list_shows_metrics_beside_baseline(api_client: APIClient, three_versions: None,
                                           django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    with django_assert_max_num_queries(4):  # key lookup, key touch, count, page
        response = api_client.get("/api/models/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["name"], r["version"], r["is_active"]) for r in rows] == [
        ("churn", 3, True), ("churn", 2, False), ("churn", 1, False)]
    assert rows[0]["metrics"] == {"auc": 0.73} and rows[0]["baseline_metrics"] == {"auc": 0.6}
    # with the activation gate's verdict recorded when each version was registered
    assert rows[0]["gate"]["qualifies"] is True and rows[0]["gate"]["baseline_value"] == 0.6
    assert api_client.get("/api/models", {"name": "csat"}).json()["results"] == []  # a model never trained
    assert field_errors(api_client.get("/api/models", {"name": "chrun"})) == {
        "name": ["unknown model 'chrun'; known models: churn, csat, intent, next_event, next_touchpoint, risk"]}


def test_detail_names_the_active_version(api_client: APIClient, three_versions: None) -> None:
    body = api_client.get("/api/models/churn/").json()
    assert body["name"] == "churn" and body["active"]["version"] == 3
    assert [v["version"] for v in body["versions"]] == [3, 2, 1]
    assert api_client.get("/api/models/nope/").status_code == 404


def test_api_key_activates_and_rolls_back_with_audit(api_client: APIClient, three_versions: None) -> None:
    # when
    activated = api_client.post("/api/models/churn/activate", {"version": 1}, format="json")
    rolled = api_client.post("/api/models/churn/rollback")
    # then
    assert activated.status_code == 200 and activated.json()["version"] == 1
    assert rolled.status_code == 200 and rolled.json()["version"] == 3
    assert registry.load_active("churn").model == {"n": 3}  # type: ignore[union-attr]
    latest = AuditEntry.objects.filter(action__in=["activate", "rollback"]).values_list("action", "changes")[:2]
    assert list(latest) == [
        ("rollback", {"from_version": 1, "to_version": 3}), ("activate", {"from_version": 3, "to_version": 1})]


def test_activation_needs_the_admin_role_or_a_manage_key(three_versions: None) -> None:
    agent, staff = _session(staff=False), _session(staff=True)
    assert agent.get("/api/models/").status_code == 200
    assert agent.post("/api/models/churn/activate", {"version": 1}, format="json").status_code == 403
    assert agent.post("/api/models/churn/rollback").status_code == 403
    assert staff.post("/api/models/churn/activate", {"version": 2}, format="json").status_code == 200
    assert AuditEntry.objects.filter(action="activate", user__username="staff").count() == 1
    assert APIClient().get("/api/models/").status_code in (401, 403)


def test_activation_errors_are_clear(api_client: APIClient, three_versions: None) -> None:
    missing = api_client.post("/api/models/churn/activate", {"version": 9}, format="json")
    assert missing.status_code == 404 and "has no version 9" in str(missing.json())
    assert api_client.post("/api/models/churn/activate", {}, format="json").status_code == 400
    typo = api_client.post("/api/models/churn/activate", {"version": 2, "versoin": 3}, format="json")
    assert typo.status_code == 400 and typo.json()["errors"] == [
        {"field": "versoin", "code": "unknown_field", "detail": "not a field of this request; its fields: version"}]
    assert ModelVersion.objects.get(is_active=True).version == 3
    assert api_client.post("/api/models/nope/rollback").status_code == 404
    ModelVersion.objects.filter(version__lt=3).delete()
    no_history = api_client.post("/api/models/churn/rollback")
    assert no_history.status_code == 400 and "no previously active version" in str(no_history.json())


def test_customer_scores_with_top_contributions(api_client: APIClient) -> None:
    # given: churn and csat trained on journeys where complainers leave
    synthetic.load(customers=60)
    call_command("train", "churn", "--param", "churn_days=30", "--no-scores", verbosity=0)
    call_command("train", "csat", "--no-scores", verbosity=0)
    serve_latest("churn", "csat")
    # when
    response = api_client.get("/api/customers/c000/scores")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == "c000"
    assert sorted(s["model"] for s in body["scores"]) == ["churn", "csat"]
    for score in body["scores"]:
        assert score["version"] == 1 and 0.0 <= score["score"] <= 1.0
        assert 1 <= len(score["contributions"]) <= 5
        assert set(score["contributions"][0]) == {"feature", "value", "contribution"}
    only = api_client.get("/api/customers/c000/scores?models=churn").json()["scores"]
    assert [s["model"] for s in only] == ["churn"]
    # and `score` writes every customer's churn score to the graph for lists ordered by it
    assert journeys.customers_by_score("churn_score", limit=100) == []
    call_command("score", "churn", verbosity=0)
    assert len(journeys.customers_by_score("churn_score", limit=100)) == 60


def test_customer_scores_unknown_customer_or_model(api_client: APIClient) -> None:
    synthetic.load(customers=3)
    assert api_client.get("/api/customers/nobody/scores").status_code == 404
    bad = api_client.get("/api/customers/c000/scores?models=nope")
    assert bad.status_code == 400 and "unknown model 'nope'" in str(bad.json())
    assert api_client.get("/api/customers/c000/scores").json() == {"customer_id": "c000", "scores": []}


def test_train_endpoint_queues_a_run(api_client: APIClient) -> None:
    response = api_client.post("/api/models/nope/train", {}, format="json")
    assert response.status_code == 404
    typo = api_client.post("/api/models/churn/train", {"param": {"churn_days": 30}}, format="json")
    assert typo.status_code == 400 and typo.json()["errors"] == [
        {"field": "param", "code": "unknown_field",
         "detail": "not a field of this request; its fields: since, until, params, seed"}]
    assert not TrainingRun.objects.exists()


def test_a_second_training_of_the_same_model_answers_409_with_the_run_in_progress(
        api_client: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Conf, "SYNC", False)  # as in production: the first run waits for a worker
    # given a churn run queued through the API
    first = api_client.post("/api/models/churn/train", {}, format="json")
    assert (first.status_code, first.json()["status"]) == (202, "queued")

    # when training churn is asked for again before it finished
    second = api_client.post("/api/models/churn/train", {}, format="json")

    # then the answer is 409 naming the run in progress, and no second run is recorded
    run_id = first.json()["id"]
    assert second.status_code == 409
    assert second.json()["type"] == "urn:journeyhub:problem:training-in-progress"
    assert second.json()["detail"] == (f"churn is already being trained: run {run_id} is queued; follow it at "
                                       f"http://testserver/api/training-runs/{run_id}")
    assert (second.json()["run"]["id"], second["Location"]) == (run_id, f"http://testserver/api/training-runs/{run_id}")
    assert list(TrainingRun.objects.values_list("model_name", "status")) == [("churn", "queued")]


def test_the_202_of_train_links_the_run_to_poll_and_the_job_that_runs_it(
        api_client: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Conf, "SYNC", False)  # as in production: the run waits for a worker
    # when churn training is asked for
    response = api_client.post("/api/models/churn/train", {}, format="json")
    # then the answer names the queued run, where to poll it and its job
    body, run, job = response.json(), TrainingRun.objects.get(), Job.objects.get()
    run_url = f"http://testserver/api/training-runs/{run.pk}"
    assert response.status_code == 202
    assert (body["id"], body["status"], response["Location"], body["status_url"]) == (
        run.pk, "queued", run_url, run_url)
    assert (body["job_id"], body["job_url"]) == (job.pk, f"http://testserver/api/jobs/{job.pk}")
    assert job.ref == f"training_run:{run.pk}"
    # and both links answer
    assert api_client.get(response["Location"]).json()["status"] == "queued"
    assert api_client.get(body["job_url"]).json()["id"] == job.pk


def test_the_database_holds_one_active_run_per_model_whoever_writes_it() -> None:
    # given a running churn run and a finished one
    TrainingRun.objects.create(model_name="churn", status="running")
    TrainingRun.objects.create(model_name="churn", status="succeeded")

    # when another caller records a second active churn run at the same moment (past any check in code)
    # then the database refuses it, while other models and finished runs are free
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingRun.objects.create(model_name="churn", status="queued")
    TrainingRun.objects.create(model_name="risk", status="queued")
    TrainingRun.objects.create(model_name="churn", status="failed")
    assert TrainingRun.objects.filter(model_name="churn").count() == 3
