"""Everything that reads event store files to replace them takes turns (`store.rewriting`): an update
of rows, a compaction, a repair, a rebuild's swap. So the worker can compact on a schedule while the
web process writes decision feedback, and neither loses the other's work."""
from __future__ import annotations

import logging
import threading

import pytest

from apps.core import jobs
from apps.core.models import Job
from apps.events import maintenance, services, store
from apps.ingest.services import ingest_file
from graph import get_g
from graph import schema as s
from tests.events.conftest import rewrite_lock_held_elsewhere, stored, stored_days

pytestmark = pytest.mark.django_db
HELD = "is held by another rewrite"


def _two_files_on_march_2(events_csv: str) -> None:
    """The CSV's events, then e5's intent changed in the graph and written as a second file of its day."""
    ingest_file(uri=events_csv, fmt="csv")
    extra = {**services.event_rows.events_by_ids(["e4"])[0], "batch_id": "9", "event_id": "e9", "seq": 99}
    store.write_day("2026-03-02", store.rows_table([extra]), tag="batch")
    get_g().V(s.event_vid("e5")).property("intent", "fraud").iterate()


def test_a_compaction_while_an_update_works_on_the_day_is_held_back_and_both_land(events_csv: str, settings,
                                                                                     monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # given a day of two files, and an update of one of its rows under way in this thread
    _two_files_on_march_2(events_csv)
    settings.EVENTS_REWRITE_WAIT_SECONDS = 0
    attempts: list[BaseException | tuple[int, int]] = []
    read = store._day_tables

    def read_then_compact_beside(names):  # type: ignore[no-untyped-def]
        tables = read(names)
        if not attempts:  # when the update has read the day, another thread compacts the store
            def compact() -> None:
                try:
                    attempts.append(maintenance.compact())
                except store.EventStoreError as exc:
                    attempts.append(exc)
            beside = threading.Thread(target=compact)
            beside.start()
            beside.join()
        return tables
    monkeypatch.setattr(store, "_day_tables", read_then_compact_beside)

    # when the update runs
    written = services.events_changed(["e5"])

    # then the compaction was refused with the reason while the update held the store, and changed nothing
    assert len(attempts) == 1 and isinstance(attempts[0], store.EventStoreError)
    assert HELD in str(attempts[0]) and "EVENTS_REWRITE_WAIT_SECONDS=0" in str(attempts[0])
    assert len(written) == 1 and len(store.event_files(["2026-03-02"])["2026-03-02"]) == 2
    # and once the update is done, compaction merges the day with the update in it, once
    assert maintenance.compact() == (1, 2)
    assert stored_days()["2026-03-02"] == ["e4", "e5", "e9"]
    assert next(r for r in stored().to_pylist() if r["event_id"] == "e5")["intent"] == "fraud"


def test_a_rewrite_held_by_another_process_holds_back_this_ones_compaction(events_csv: str, settings) -> None:  # type: ignore[no-untyped-def]
    # given another process (the web process writing feedback, say) holding the store's rewrite lock
    _two_files_on_march_2(events_csv)
    settings.EVENTS_REWRITE_WAIT_SECONDS = 0
    with rewrite_lock_held_elsewhere(settings.EVENTS_STORE_URL):
        # when this process compacts, then it is refused and the day keeps its two files
        with pytest.raises(store.EventStoreError, match=HELD):
            maintenance.compact()
        assert len(store.event_files(["2026-03-02"])["2026-03-02"]) == 2
    # and once the other process let go, it merges
    assert maintenance.compact() == (1, 2)


def test_the_lock_is_taken_once_per_thread_so_a_rewrite_inside_a_rewrite_goes_on(events_csv: str, settings) -> None:  # type: ignore[no-untyped-def]
    _two_files_on_march_2(events_csv)
    settings.EVENTS_REWRITE_WAIT_SECONDS = 0
    with store.rewriting():
        assert services.events_changed(["e5"]) != []
        assert maintenance.compact() == (1, 2)  # the update's file and the batch with e9
    assert stored_days()["2026-03-02"] == ["e4", "e5", "e9"]


def test_the_worker_compacts_the_store_on_its_schedule(events_csv: str, caplog: pytest.LogCaptureFixture) -> None:
    # given a day of two files
    _two_files_on_march_2(events_csv)

    # when the scheduled compaction runs
    with caplog.at_level(logging.INFO, logger="apps.events.tasks"):
        assert jobs.run_recurring("compact the event store") == "succeeded"

    # then its job row and one line of the log say what it merged (a day's own line is for debugging), and
    # the day is one file
    job = Job.objects.get(ref="compact the event store")
    assert (job.kind, job.status, job.result) == ("events_compact", "succeeded", "1 day(s) merged, 2 file(s) replaced")
    assert [r.getMessage() for r in caplog.records if r.name == "apps.events.tasks"] == [
        "event store compacted: 1 day(s) merged, 2 file(s) replaced"]
    assert stored_days()["2026-03-02"] == ["e4", "e5", "e9"] and len(store.event_files()["2026-03-02"]) == 1
    assert maintenance.check().equal is False  # e5's new intent is in the graph only: compaction copies nothing


def test_the_scheduled_compaction_says_why_it_did_not_run(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EVENTS_STORE_ENABLED = False
    assert jobs.run_recurring("compact the event store") == "succeeded"
    assert Job.objects.get(ref="compact the event store").result == (
        "not run: the event store is off (EVENTS_STORE_ENABLED=false)")
