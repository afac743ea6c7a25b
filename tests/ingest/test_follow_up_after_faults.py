"""Events that landed before a failure get their follow-up (milestone reaches, index, KPI marks) on the
next run of the same input, or from `repair_follow_up`: the failure is injected after the graph write."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_file
from apps.journeys import services as journey_services
from apps.journeys.models import MilestoneDefinition, MilestoneReach
from graph import journeys
from graph.errors import GraphUnavailable
from tests.problems import problem

pytestmark = pytest.mark.django_db
CUSTOMERS = 40


@pytest.fixture
def purchase(db) -> MilestoneDefinition:  # type: ignore[no-untyped-def]
    return MilestoneDefinition.objects.create(name="Purchase", slug="purchase", trigger="event_type",
                                              event_type="purchase")


def _rows() -> list[dict[str, str]]:
    rows = []
    for n in range(CUSTOMERS):
        rows.append({"event_id": f"v{n}", "customer_id": f"c{n}", "event_type": "web_visit", "channel": "web",
                     "timestamp": f"2026-03-01T10:{n:02d}:00Z"})
        if n % 4:  # three customers in four buy (by phone for some: identity resolves them)
            who = {"customer_id": f"c{n}"} if n % 2 else {"customer_id": f"c{n}", "phone": f"+614000000{n:02d}"}
            rows.append({"event_id": f"p{n}", **who, "event_type": "purchase", "channel": "web",
                         "timestamp": f"2026-03-01T11:{n:02d}:00Z"})
    return rows


BUYERS = sum(1 for n in range(CUSTOMERS) if n % 4)


@pytest.fixture
def events_file(tmp_path: Path) -> str:
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    return str(path)


def _fail_once(events_file: str, monkeypatch: pytest.MonkeyPatch) -> int:
    real = journey_services.on_events_ingested
    monkeypatch.setattr(journey_services, "on_events_ingested",
                        lambda *a, **k: (_ for _ in ()).throw(GraphUnavailable("connection reset by peer")))
    with pytest.raises(GraphUnavailable):
        ingest_file(uri=events_file, fmt="ndjson", chunk_size=7)
    monkeypatch.setattr(journey_services, "on_events_ingested", real)
    # the first follow-up (after 8 chunks of 7) fails: those 56 events and the chunks the pipelined
    # writer had written ahead of them (one or more, as the threads ran) landed, none was followed up,
    # the rest of the file was not read
    landed = journeys.graph_counts()["event"]
    assert landed % 7 == 0 and 63 <= landed <= 84, landed
    assert MilestoneReach.objects.count() == 0
    assert IngestBatch.objects.get().status == "failed"
    return landed


def test_the_next_run_of_the_same_file_follows_up_what_landed(purchase, events_file, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    landed = _fail_once(events_file, monkeypatch)

    rerun = ingest_file(uri=events_file, fmt="ndjson", chunk_size=7)
    again = ingest_file(uri=events_file, fmt="ndjson", chunk_size=7)

    assert (rerun.status, rerun.loaded, rerun.duplicates) == ("completed", CUSTOMERS + BUYERS - landed, landed)
    assert MilestoneReach.objects.count() == BUYERS
    assert len(journeys.reached_customers("purchase")) == BUYERS
    assert again.status == "completed" and MilestoneReach.objects.count() == BUYERS


def test_the_api_retry_of_the_same_events_follows_up_what_landed(purchase, api_client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rows = _rows()
    real = journey_services.on_events_ingested
    monkeypatch.setattr(journey_services, "on_events_ingested",
                        lambda *a, **k: (_ for _ in ()).throw(GraphUnavailable("connection reset by peer")))
    failed = api_client.post("/api/events", rows, format="json")
    monkeypatch.setattr(journey_services, "on_events_ingested", real)
    other = api_client.post("/api/events", [{**rows[0], "event_id": "other", "customer_id": "z"}], format="json")

    retried = api_client.post("/api/events", rows, format="json")

    assert failed.status_code == 503 and problem(failed)["type"] == "urn:journeyhub:problem:graph-unavailable"
    assert other.status_code == 201  # a later request succeeds before the client retries
    assert (retried.status_code, retried.json()["duplicates"]) == (201, CUSTOMERS + BUYERS)
    assert MilestoneReach.objects.count() == BUYERS


def test_repair_follow_up_by_batch_reads_the_file_again(purchase, events_file, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    landed = _fail_once(events_file, monkeypatch)
    failed = IngestBatch.objects.get()

    call_command("repair_follow_up", "--batch", str(failed.pk))

    assert MilestoneReach.objects.count() == BUYERS
    assert capsys.readouterr().out.startswith(f"batch {failed.pk}: {CUSTOMERS + BUYERS} events followed up "
                                              f"({CUSTOMERS + BUYERS - landed} were missing and are now loaded;")


def test_repair_follow_up_since_a_date_covers_every_customer_with_events(purchase, events_file, monkeypatch,
                                                                          capsys) -> None:  # type: ignore[no-untyped-def]
    landed = _fail_once(events_file, monkeypatch)

    call_command("repair_follow_up", "--since", "2026-03-01")
    call_command("repair_follow_up", "--since", "2026-03-01")

    written = _rows()[:landed]  # what the failed run wrote, in file order
    purchases = sum(r["event_type"] == "purchase" for r in written)
    assert MilestoneReach.objects.count() == purchases
    customers = len({r["customer_id"] for r in written})
    assert capsys.readouterr().out == f"{landed} events of {customers} customers followed up\n" * 2


def test_repair_follow_up_explains_what_it_cannot_do(db, api_client) -> None:  # type: ignore[no-untyped-def]
    api_batch = IngestBatch.objects.create(source="api:x", format="records")

    with pytest.raises(CommandError, match="came through the API, whose rows are not kept"):
        call_command("repair_follow_up", "--batch", str(api_batch.pk))
    with pytest.raises(CommandError, match="no ingest batch 999"):
        call_command("repair_follow_up", "--batch", "999")
    with pytest.raises(CommandError, match="'yesterday' is not an ISO 8601 date"):
        call_command("repair_follow_up", "--since", "yesterday")
