"""Ingest through its public interfaces: the management command, the service and the events API."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

import graph
from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_file
from graph import journey_writes, journeys
from graph.errors import GraphUnavailable
from tests.problems import field_errors, problem

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"
CSV = str(FIXTURES / "events_with_bad_rows.csv")


def test_csv_with_bad_rows_lands_good_rows_and_quarantines_bad_ones_with_reasons() -> None:
    batch = ingest_file(uri=CSV, fmt="csv")

    assert (batch.status, batch.rows_read, batch.loaded, batch.duplicates, batch.quarantined) == (
        "completed", 8, 5, 0, 3)
    reasons = {row.row_number: row.reason for row in batch.quarantined_rows.all()}
    assert reasons == {
        3: "no customer key: needs customer_id or an identifier (phone, email, account_id)",
        5: "timestamp 'yesterday afternoon' cannot be parsed (Invalid isoformat string: 'yesterday afternoon')",
        7: "timestamp '2026-03-01 10:00:00' has no time zone (add one, or set timestamp.timezone in the mapping)",
    }
    assert batch.quarantined_rows.get(row_number=5).raw["customer_id"] == "c2"


def test_events_are_chained_in_time_order_with_late_events_spliced_in() -> None:
    ingest_file(uri=CSV, fmt="csv")

    assert journeys.next_chain("c1") == [("w3", "w1", 3_600_000), ("w1", "w2", 300_000), ("w2", "v1", 3_300_000)]
    frame = journeys.events_frame(customer_ids=["c1"])
    assert frame["event_id"].tolist() == ["w3", "w1", "w2", "v1"]
    assert frame["ts"].tolist() == [1772312400000, 1772316000000, 1772316300000, 1772319600000]


def test_identifier_already_linked_attaches_event_to_that_customer_and_values_are_normalised() -> None:
    ingest_file(uri=CSV, fmt="csv")

    summary = journeys.customer_summary("c1")
    assert summary is not None
    assert [(i["kind"], i["value"]) for i in summary.identifiers] == [
        ("email", "alice@example.com"), ("phone", "+61412345678")]
    assert summary.events_by_channel == {"voice": 1, "web": 3}
    assert (summary.first_seen, summary.last_seen) == (1772312400000, 1772319600000)
    assert journeys.customers_by_identifier("account", "ACC-9") == ["c2"]


def test_rerunning_the_same_file_changes_nothing() -> None:
    ingest_file(uri=CSV, fmt="csv")
    counts_before = journeys.graph_counts()

    again = ingest_file(uri=CSV, fmt="csv")

    assert (again.loaded, again.duplicates, again.quarantined) == (0, 5, 3)
    assert journeys.graph_counts() == counts_before == {"customer": 2, "identifier": 3, "event": 5, "milestone": 0}


def test_a_batch_cut_short_by_a_store_outage_can_be_rerun_and_ends_complete(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_prepare = journey_writes.prepared_write
    calls = {"n": 0}

    def failing_on_second_write(plan):  # type: ignore[no-untyped-def]
        write = real_prepare(plan)

        def run() -> None:
            calls["n"] += 1
            if calls["n"] == 2:
                write.close()
                raise GraphUnavailable("connection refused")
            write.run()
        return SimpleNamespace(run=run, close=write.close)

    monkeypatch.setattr(journey_writes, "prepared_write", failing_on_second_write)
    with pytest.raises(GraphUnavailable):
        ingest_file(uri=CSV, fmt="csv", chunk_size=3)
    failed = IngestBatch.objects.get()
    assert failed.status == "failed"
    assert "Run the same ingest again to resume" in failed.error
    assert failed.loaded == 2  # the first chunk's good rows (one of its three is quarantined)
    monkeypatch.setattr(journey_writes, "prepared_write", real_prepare)

    resumed = ingest_file(uri=CSV, fmt="csv", chunk_size=3)

    assert (resumed.status, resumed.loaded + resumed.duplicates, resumed.quarantined) == ("completed", 5, 3)
    assert journeys.graph_counts()["event"] == 5
    assert journeys.next_chain("c1") == [("w3", "w1", 3_600_000), ("w1", "w2", 300_000), ("w2", "v1", 3_300_000)]


def test_a_run_killed_before_finishing_is_marked_interrupted_when_resumed() -> None:
    IngestBatch.objects.create(source=CSV, format="csv", status="running")

    ingest_file(uri=CSV, fmt="csv")

    assert list(IngestBatch.objects.order_by("id").values_list("status", flat=True)) == ["interrupted", "completed"]


def test_ndjson_with_a_mapping_reads_nested_connect_records(capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("ingest", str(FIXTURES / "ctr.ndjson"), "--format", "ndjson",
                 "--mapping", str(FIXTURES / "ctr_mapping.yaml"))

    out = capsys.readouterr().out
    assert "4 rows read, 2 loaded, 0 duplicates, 2 quarantined" in out
    batch = IngestBatch.objects.get()
    assert {r.row_number: r.reason for r in batch.quarantined_rows.all()} == {
        3: "line is not valid JSON: Expecting value at column 1",
        4: "no customer key: needs customer_id or an identifier (phone, email, account_id)",
    }
    event = journeys.customer_events("phone:+61412345678")[0]
    assert (event["event_id"], event["type"], event["channel"], event["ts"]) == ("ctr-1", "contact", "voice",
                                                                                   1772413200000)
    assert event["attributes"] == {"Attributes": {"reason": "card"}}


def test_command_errors_are_clear_for_missing_files_and_bad_mappings(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="input file not found: /nope.csv"):
        call_command("ingest", "/nope.csv", "--format", "csv")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns:\n  customer: id\n")
    with pytest.raises(CommandError, match=r"mapping: columns may only name .*; got \['customer'\]"):
        call_command("ingest", CSV, "--format", "csv", "--mapping", str(mapping))
    assert IngestBatch.objects.count() == 0


def test_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps([{"event_id": "j1", "customer_id": "c7", "event_type": "email_open",
                                 "channel": "Email", "timestamp": "2026-01-01T00:00:00Z", "campaign": "spring"}]))

    batch = ingest_file(uri=str(path), fmt="json")

    assert (batch.loaded, batch.quarantined) == (1, 0)
    assert journeys.customer_events("c7")[0]["channel"] == "email"
    assert journeys.customer_events("c7")[0]["attributes"] == {"campaign": "spring"}


def test_post_events_api_requires_a_key_and_quarantines_bad_events(client, api_client) -> None:  # type: ignore[no-untyped-def]
    good = {"event_id": "p1", "customer_id": "c9", "event_type": "call", "channel": "voice",
            "timestamp": "2026-02-01T00:00:00Z", "phone": "+61400000001"}
    bad = {"event_id": "p2", "event_type": "call", "channel": "voice", "timestamp": "2026-02-01T00:00:00Z"}
    assert client.post("/api/events", good, content_type="application/json").status_code == 401

    response = api_client.post("/api/events", [good, bad], format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["received"], body["loaded"], body["duplicates"]) == (2, 1, 0)
    assert body["quarantined"] == [{"row_number": 2, "reason": "no customer key: needs customer_id or an identifier "
                                    "(phone, email, account_id)", "raw": bad}]
    batch = api_client.get(f"/api/ingest/batches/{body['batch']}").json()
    assert (batch["source"], batch["status"], batch["quarantined"]) == ("api:api-key:test-client", "completed", 1)
    quarantine = api_client.get(f"/api/ingest/batches/{body['batch']}/quarantine").json()
    assert quarantine["count"] == 1
    assert quarantine["results"][0]["row_number"] == 2
    # the list filters by what a batch records; a format no batch can have is named with those there are
    assert [b["id"] for b in api_client.get("/api/ingest/batches", {"format": "records"}).json()["results"]] == [
        body["batch"]]
    assert api_client.get("/api/ingest/batches", {"format": "csv"}).json()["count"] == 0
    assert field_errors(api_client.get("/api/ingest/batches", {"format": "cvs", "status": "done"})) == {
        "format": ["'cvs' is not a batch format: one of csv, json, ndjson, ctr, records, contact-lens, transcript"],
        "status": ["'done' is not a batch status: one of running, completed, failed, interrupted"]}


def test_post_events_with_only_bad_events_is_a_400(api_client) -> None:  # type: ignore[no-untyped-def]
    response = api_client.post("/api/events", {"event_type": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["loaded"] == 0


def test_store_down_makes_the_events_api_answer_503_json(api_client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GRAPH_URL = "ws://127.0.0.1:9/gremlin"
    graph.reset_connection()
    response = api_client.post("/api/events", {"event_id": "z", "customer_id": "c", "event_type": "call",
                                               "channel": "voice", "timestamp": "2026-02-01T00:00:00Z"}, format="json")
    assert response.status_code == 503
    assert problem(response)["type"] == "urn:journeyhub:problem:graph-unavailable"
