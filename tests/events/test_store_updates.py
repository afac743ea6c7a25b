"""Events the graph changes after their copy (a second answer for the same contact, a re-delivered
contact record) take the graph's values in the event store through one replacement, wherever the old
row is: `events_store check` then finds nothing, and a stop half way is made exact by running it again."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.events import maintenance, services, store
from apps.ingest import services as ingest_services
from apps.ingest.services import ingest_file
from graph import event_rows, get_g
from graph import schema as s
from tests.events.conftest import stored, stored_days

pytestmark = pytest.mark.django_db
MARCH_3 = 1_772_532_000_000  # 2026-03-03 10:00 UTC
CTR_LINES = Path(__file__).parent.parent / "fixtures" / "conversations" / "ctr_lines.ndjson"


class Killed(BaseException):
    """Stands for the process being killed."""


def _move(event_id: str, ts: int) -> list[dict]:  # type: ignore[type-arg]
    """The graph gives the event another time (another day); returns its row as the graph reads it."""
    get_g().V(s.event_vid(event_id)).property("ts", ts).iterate()
    return event_rows.events_by_ids([event_id])


def test_a_row_whose_date_changed_moves_to_its_new_day_through_events_changed(events_csv: str) -> None:
    # given e1 stored on 2026-03-01, then moved to 2026-03-03 in the graph
    ingest_file(uri=events_csv, fmt="csv")
    _move("e1", MARCH_3)
    assert not maintenance.check().equal

    # when its change reaches the store the way decision feedback sends it
    services.events_changed(["e1"])

    # then it is in its new day only, once, with the graph's time
    assert stored_days() == {"2026-03-01": ["e2", "e3"], "2026-03-02": ["e4", "e5"],
                             "2026-03-03": ["e1", "e6", "e7", "e8"]}
    assert stored().to_pylist()[0]["ts"] == MARCH_3
    assert maintenance.check().equal


def test_a_row_whose_date_changed_moves_through_replace_events_and_takes_the_batch(events_csv: str) -> None:
    # given e1 moved to 2026-03-03 in the graph and its intent changed
    batch = ingest_file(uri=events_csv, fmt="csv")
    get_g().V(s.event_vid("e1")).property("intent", "billing").iterate()
    rows = _move("e1", MARCH_3)

    # when a re-delivered record's update reaches the store
    written = services.replace_events(rows, batch_id="77")

    # then one file is written for each day involved, and the row is the graph's, once
    assert sorted(name.split("/")[1] for name in written) == ["event_date=2026-03-01", "event_date=2026-03-03"]
    row = next(r for r in stored().to_pylist() if r["event_id"] == "e1")
    assert (row["ts"], row["intent"], row["batch_id"]) == (MARCH_3, "billing", "77")
    assert stored_days()["2026-03-01"] == ["e2", "e3"]
    assert maintenance.check().equal
    # and the same replacement again writes nothing
    assert services.replace_events(rows, batch_id="77") == []
    assert str(batch.pk) in {r["batch_id"] for r in stored().to_pylist()}


def test_an_intent_change_rewrites_only_the_file_holding_the_row_and_keeps_its_batch(events_csv: str) -> None:
    batch = ingest_file(uri=events_csv, fmt="csv")
    untouched = store.event_files(["2026-03-02", "2026-03-03"])
    get_g().V(s.event_vid("e5")).property("intent", "fraud").iterate()

    written = services.events_changed(["e5"])

    assert len(written) == 1 and written[0].startswith("events/event_date=2026-03-02/update-")
    assert store.event_files(["2026-03-03"]) == {"2026-03-03": untouched["2026-03-03"]}
    row = next(r for r in stored().to_pylist() if r["event_id"] == "e5")
    assert (row["intent"], row["batch_id"]) == ("fraud", str(batch.pk))
    assert maintenance.check().equal


def test_a_row_missing_from_the_store_is_written_to_its_day(events_csv: str) -> None:
    # given e4's row lost from the store (its day's file removed, the other rows written back)
    ingest_file(uri=events_csv, fmt="csv")
    day = store.event_files(["2026-03-02"])["2026-03-02"]
    kept = [r for r in store.read_files(day).to_pylist() if r["event_id"] != "e4"]
    store.delete(day)
    store.write_day("2026-03-02", store.rows_table(kept), tag="test")

    services.events_changed(["e4"])

    assert stored_days()["2026-03-02"] == ["e4", "e5"]
    assert maintenance.check().equal


@pytest.mark.parametrize("moved", [True, False])
def test_a_stop_between_writing_and_removing_is_made_exact_by_running_it_again(events_csv: str, monkeypatch,  # type: ignore[no-untyped-def]
                                                                              moved: bool) -> None:
    # given e1 moved to another day, or its intent changed in place, and the replacement killed after
    # its first new file was written, before the old one was removed
    ingest_file(uri=events_csv, fmt="csv")
    get_g().V(s.event_vid("e1")).property("intent", "billing").iterate()
    rows = _move("e1", MARCH_3) if moved else event_rows.events_by_ids(["e1"])

    def delete(names):  # type: ignore[no-untyped-def]
        raise Killed
    with monkeypatch.context() as patch:
        patch.setattr(store, "delete", delete)
        with pytest.raises(Killed):
            services.replace_events(rows)
    assert not maintenance.check().equal

    # when the same replacement runs again (the caller's retry, a re-run)
    services.replace_events(rows)

    # then the store equals the graph: every event once, e1 in the day of its time with the new intent
    assert stored().column("event_id").to_pylist() == [f"e{n}" for n in range(1, 9)]
    assert "e1" in stored_days()["2026-03-03" if moved else "2026-03-01"]
    assert stored().to_pylist()[0]["intent"] == "billing"
    assert maintenance.check().equal


def test_a_redelivery_killed_between_the_graph_update_and_the_store_is_repaired_by_a_rerun(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # given contact records loaded, then a re-delivery of c-voice-1 killed after the graph took it
    records = [json.loads(line) for line in CTR_LINES.read_text().splitlines() if line.strip()]
    first, again = tmp_path / "first.ndjson", tmp_path / "again.ndjson"
    first.write_text("\n".join(json.dumps(r) for r in records))
    again.write_text("\n".join(json.dumps({**r, "DisconnectReason": "AGENT_DISCONNECT"} if r["ContactId"] == "c-voice-1"
                                          else r) for r in records))
    ingest_file(uri=str(first), fmt="ctr")

    def killed(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Killed
    with monkeypatch.context() as patch:
        patch.setattr(ingest_services, "replace_events", killed)
        with pytest.raises(Killed):
            ingest_file(uri=str(again), fmt="ctr")
    report = maintenance.check()
    assert [line.split(": ", 1)[1] for line in report.differences] == [
        "graph 2 events, store 2 (same count, different content)", "1 different in the store: c-voice-1"]

    # when the same delivery runs again (the graph calls c-voice-1 unchanged now)
    batch = ingest_file(uri=str(again), fmt="ctr")

    # then the store takes the graph's row and equals the graph
    assert (batch.loaded, batch.updated, batch.duplicates) == (0, 0, len(records))
    row = next(r for r in stored().to_pylist() if r["event_id"] == "c-voice-1")
    assert json.loads(row["attributes"])["disconnect_reason"] == "AGENT_DISCONNECT"
    assert maintenance.check().equal


def _stale_and_new_row_of_e1(intent: str) -> None:
    """A replacement of e1 stopped after its new file was written, before the old one was removed:
    the old row's file is named so it lists first."""
    get_g().V(s.event_vid("e1")).property("intent", intent).iterate()
    new = {**event_rows.events_by_ids(["e1"])[0], "batch_id": "1"}
    store.write_day("2026-03-01", store.rows_table([new]), tag="update")


def test_compact_keeps_the_graphs_row_when_repeats_differ_whichever_file_lists_first(events_csv: str) -> None:
    # given e1's old row and its new one in two files of the same day
    ingest_file(uri=events_csv, fmt="csv")
    _stale_and_new_row_of_e1("billing")
    old_first = sorted(store.event_files()["2026-03-01"])
    assert "batch-" in old_first[0] and "update-" in old_first[1]

    # when the day is compacted
    assert maintenance.compact() == (1, 2)

    # then the new row is the one kept, once
    assert [(r["event_id"], r["intent"]) for r in stored().to_pylist()[:2]] == [("e1", "billing"), ("e2", "card")]
    assert maintenance.check().equal


def test_compact_stopped_before_removing_the_old_files_is_exact_after_the_next_compaction(
        events_csv: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # given a compaction stopped after writing the merged file, the old ones (old and new e1) still there
    ingest_file(uri=events_csv, fmt="csv")
    _stale_and_new_row_of_e1("billing")

    def delete(names):  # type: ignore[no-untyped-def]
        raise Killed
    with monkeypatch.context() as patch:
        patch.setattr(store, "delete", delete)
        with pytest.raises(Killed):
            maintenance.compact()
    assert len(store.event_files()["2026-03-01"]) == 3

    # when compaction runs again
    maintenance.compact()

    # then the day is one file and e1's row is the graph's
    assert len(store.event_files()["2026-03-01"]) == 1
    assert stored().to_pylist()[0]["intent"] == "billing"
    assert maintenance.check().equal


def test_a_contact_record_run_killed_before_its_copy_is_copied_once_by_the_rerun(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # given contact records in the graph, none in the store (killed before the copy)
    lines = tmp_path / "ctr.ndjson"
    lines.write_text(CTR_LINES.read_text())

    def killed(self: services.EventCopy) -> None:
        raise Killed
    with monkeypatch.context() as patch:
        patch.setattr(services.EventCopy, "flush", killed)
        with pytest.raises(Killed):
            ingest_file(uri=str(lines), fmt="ctr")
    assert store.event_files() == {}

    # when the same file runs again
    batch = ingest_file(uri=str(lines), fmt="ctr")

    # then each event is copied once and the store equals the graph
    assert (batch.loaded, batch.updated, batch.duplicates) == (0, 0, 2)
    assert stored().column("event_id").to_pylist() == sorted(event_rows_ids())
    assert maintenance.check().equal


def event_rows_ids() -> list[str]:
    return [s.strip_prefix(str(v)) for v in get_g().V().has_label(s.EVENT).id_().to_list()]


def test_a_replacement_leaves_another_events_differing_repeat_for_compact_to_settle_by_the_graph(
        events_csv: str) -> None:
    # given e2's update stopped half way (its new row in a file of its own, the old one still beside it)
    ingest_file(uri=events_csv, fmt="csv")
    get_g().V(s.event_vid("e2")).property("intent", "fees").iterate()
    store.write_day("2026-03-01", store.rows_table([{**event_rows.events_by_ids(["e2"])[0], "batch_id": "1"}]),
                    tag="update")
    get_g().V(s.event_vid("e1")).property("intent", "billing").iterate()

    # when e1's change reaches the store
    services.events_changed(["e1"])

    # then neither of e2's rows was chosen without the graph: both remain, and compact keeps the graph's
    e2 = sorted(r["intent"] for r in stored().to_pylist() if r["event_id"] == "e2")
    assert e2 == ["card", "fees"]
    maintenance.compact()
    assert [(r["event_id"], r["intent"]) for r in stored().to_pylist()[:2]] == [("e1", "billing"), ("e2", "fees")]
    assert maintenance.check().equal
