"""`manage.py demo --no-serve` end to end on the in-memory graph store."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.test import Client
from rest_framework.test import APIClient

import graph
from apps.core.models import ApiKey
from apps.demo import catalog, definitions, services
from apps.demo.dataset import build_demo_events
from apps.ingest.models import IngestBatch
from apps.journeys.models import KpiDefinition, KpiValue, MilestoneDefinition, MilestoneReach
from graph import journeys
from tests.events.store_files import write_events
from tests.journeys.conftest import make_frame

pytestmark = pytest.mark.django_db
EVENTS_FOR_50 = 977


@pytest.fixture
def var_dir(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path
    return tmp_path


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", "--customers", "50", "--no-train", *args, stdout=out)
    return out.getvalue()


def _field(output: str, name: str) -> str:
    match = re.search(rf"^  {name}\s+(\S+)", output, re.MULTILINE)
    assert match, f"{name!r} missing from:\n{output}"
    return match.group(1)


def test_demo_loads_the_data_set_and_prints_a_working_login(var_dir: Path, shared_data: Path) -> None:
    # when the demo runs once
    output = _run()
    # then every generated event landed in the graph, none quarantined
    batch = IngestBatch.objects.get(format="records")
    assert (batch.status, batch.rows_read, batch.loaded, batch.duplicates, batch.quarantined) == (
        "completed", EVENTS_FOR_50, EVENTS_FOR_50, 0, 0)
    counts = journeys.graph_counts()
    assert (counts["customer"], counts["event"]) == (50, EVENTS_FOR_50)
    assert f"{EVENTS_FOR_50:,} loaded now" in output
    assert "http://127.0.0.1:8000/accounts/login/" in output
    # and the printed password logs in, and the printed key opens the API
    password, key = _field(output, "password"), _field(output, "API key")
    assert _field(output, "username") == "admin"
    assert Client().login(username="admin", password=password)
    assert (var_dir / "demo-admin.txt").read_text().strip() == password
    assert APIClient(HTTP_AUTHORIZATION=f"Api-Key {key}").get("/api/schema").status_code == 200
    # and the milestone and KPI definitions exist, evaluated over the loaded history
    assert MilestoneDefinition.objects.count() == len(definitions.milestone_specs())
    assert KpiDefinition.objects.count() == len(definitions.kpi_specs())
    reached = dict(MilestoneReach.objects.values_list("milestone__slug").annotate(n=Count("id")))
    records = build_demo_events(shared_data_dir=shared_data, customers=50)
    by_type = {slug: len({r["customer_id"] for r in records if r["event_type"] == event_type})
               for slug, _, event_type in catalog.MILESTONES}
    disputed = {r["customer_id"] for r in records if r.get("intent") == "FR_DS"}
    locked_then_called = {
        a["customer_id"] for a in records for b in records
        if a["customer_id"] == b["customer_id"] and a["event_type"] == "card_locked"
        and b["event_type"] == "call_fraud_dispute" and 0 <= b["timestamp"] - a["timestamp"] <= 86_400_000}
    assert (len(disputed), len(locked_then_called)) == (3, 3)
    assert reached == {**{slug: n for slug, n in by_type.items() if n}, "fraud_dispute": len(disputed),
                       "card_locked_then_dispute_call": len(locked_then_called)}
    assert KpiValue.objects.filter(definition__slug="contacts-per-customer").exists()
    # and customers carry their profile from users.csv
    summary = journeys.customer_summary("39702")
    assert summary is not None
    assert summary.attributes["job"] == "management" and summary.attributes["age"] == 56


def test_a_new_graph_beside_the_event_store_of_an_earlier_one_empties_the_store(var_dir: Path, settings) -> None:  # type: ignore[no-untyped-def]
    """var/graph removed, var/events kept: the store's customers were counted beside the demo's."""
    # given an event store holding a caller of an earlier graph, and a new (empty) graph
    write_events(Path(settings.EVENTS_STORE_URL), make_frame([("replay-1", 0, "call", "phone", None)]))
    # when the demo runs
    output = _run()
    # then the store holds the demo's events only, and the demo said what it did
    assert "The event store held the events of an earlier graph (the graph is new): emptied it" in output
    key = _field(output, "API key")
    top = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key}").get("/api/journeys/top").json()
    assert top["total_customers"] == 50
    # and a second run, on the graph the first one loaded, leaves the store alone
    assert "earlier graph" not in _run()


def test_a_second_run_adds_nothing_and_prints_the_same_login(var_dir: Path, shared_data: Path) -> None:
    first = _run()
    # when the demo runs again
    second = _run()
    # then nothing new is loaded and the credentials are the same
    latest = IngestBatch.objects.filter(format="records").order_by("-id").first()
    assert latest is not None
    assert (latest.loaded, latest.duplicates, latest.quarantined) == (0, EVENTS_FOR_50, 0)
    assert journeys.graph_counts()["event"] == EVENTS_FOR_50
    for name in ("username", "password", "API key", "customers"):
        assert _field(second, name) == _field(first, name)
    assert ApiKey.objects.filter(name="demo").count() == 1
    assert get_user_model().objects.filter(username="admin").count() == 1


def test_password_can_be_given_in_the_environment(var_dir: Path, shared_data: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "correct-horse-battery")
    output = _run()
    assert _field(output, "password") == "correct-horse-battery"
    assert Client().login(username="admin", password="correct-horse-battery")


def test_a_revoked_demo_key_is_replaced_by_a_working_one(var_dir: Path) -> None:
    old = services.ensure_api_key(var_dir=var_dir)
    ApiKey.objects.filter(name="demo").update(revoked=True)
    new = services.ensure_api_key(var_dir=var_dir)
    assert new != old
    assert list(json.loads((var_dir / "demo-api-keys.json").read_text()).values()) == [new]
    assert ApiKey.objects.filter(name="demo", revoked=False).count() == 1


def test_training_failures_are_reported_not_fatal() -> None:
    messages: list[str] = []
    report = services.train_models(say=messages.append, models=("no_such_model",))
    if report.available:
        assert report.trained == ()
        assert [name for name, _ in report.failed] == ["no_such_model"]
    else:
        assert report == services.TrainingReport(trained=(), failed=(), available=False)


def test_too_many_customers_is_a_clear_command_error(var_dir: Path) -> None:
    with pytest.raises(CommandError, match="customers must be between 1 and 11162"):
        call_command("demo", "--no-serve", "--customers", "99999", "--no-train", stdout=io.StringIO())


def test_an_unreachable_graph_store_is_a_clear_command_error(var_dir: Path, settings) -> None:  # type: ignore[no-untyped-def]
    # given a store URL nothing listens on
    settings.GRAPH_URL = "ws://127.0.0.1:9/gremlin"
    graph.reset_connection()
    # then the demo stops with an explanation instead of a stack trace
    with pytest.raises(CommandError, match=r"graph store at ws://127.0.0.1:9/gremlin is not available"):
        _run()


def test_keys_for_different_databases_do_not_replace_each_other(var_dir: Path) -> None:
    # given a key file that also holds the key of another database
    (var_dir / "demo-api-keys.json").write_text(json.dumps({"sqlite::/elsewhere.sqlite3": "other.key"}))
    # when the demo key is issued for this database, and asked for again
    first = services.ensure_api_key(var_dir=var_dir)
    again = services.ensure_api_key(var_dir=var_dir)
    # then this database keeps one stable key and the other entry is untouched
    assert again == first
    keys = json.loads((var_dir / "demo-api-keys.json").read_text())
    assert keys["sqlite::/elsewhere.sqlite3"] == "other.key"
    assert sorted(keys.values()) == sorted(["other.key", first])
