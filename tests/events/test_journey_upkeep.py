"""The journey table kept up as the store grows: a store that only gained files (ingest, feedback) or
whose identity table changed (a merge, an unmerge) is brought up to date by a delta of the customers
concerned, and every answer equals a table built from scratch and the window queries without any
table; files removed or replaced make a full build, which runs beside the questions, not before them."""
from __future__ import annotations

import fcntl
import json
import logging
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
from multiprocessing import util as process_end
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from apps.events import contacts
from apps.events import engine as engine_module
from apps.events import store as event_store
from apps.events.analytics import drill
from apps.events.analytics import journeys as analytics
from apps.events.engine import Engine, EventFilter
from tests.events.conftest import tied_frame

EVERYTHING = EventFilter()
ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400_000
FUNNEL = ["web_visit", "product_view", "cart", "purchase"]


def append(frame: pd.DataFrame, *, tag: str) -> list[str]:
    """Writes the events through the store's writer (one file per day, listed in the manifest), as an
    ingest batch or a feedback call does."""
    rows = frame.assign(source=None, batch_id=tag, attributes="{}").to_dict("records")
    by_day: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(event_store.day_of(int(row["ts"])), []).append(row)
    return [event_store.write_day(day, event_store.rows_table(part), tag=tag) for day, part in sorted(by_day.items())]


def merge(canonical: dict[str, str]) -> None:
    rows = [{"customer_id": key, "canonical_id": into, "merged_at": 1, "rule": "test"}
            for key, into in sorted(canonical.items())]
    event_store.write_identity(pa.Table.from_pylist(rows, schema=event_store.IDENTITY_SCHEMA))


def answers(engine: Engine) -> dict[str, Any]:
    """Every analysis the journey table serves, and one customer selection."""
    reached = drill.funnel_customers(engine, EVERYTHING, events=FUNNEL[:2], step=2, window_ms=7 * DAY)
    return {
        "dfg": analytics.directly_follows(engine, EVERYTHING),
        "dfg by channel": analytics.directly_follows(engine, EVERYTHING, with_channel=True),
        "top journeys": analytics.top_journeys(engine, EVERYTHING, max_steps=5, limit=15),
        "variants": analytics.variants(engine, EVERYTHING),
        "paths from": analytics.journey_paths(engine, EVERYTHING, start_event="web_visit", steps=4),
        "paths into": analytics.journey_paths(engine, EVERYTHING, end_event="purchase", steps=3, with_channel=True),
        "funnel": analytics.funnel(engine, EVERYTHING, events=FUNNEL, window_ms=7 * DAY, by_channel=True),
        "funnel drill": drill.page(engine, reached, limit=500),
        "customers": analytics.total_customers(engine, EVERYTHING),
        "selected": analytics.variants(engine, EventFilter(customer_ids=("c000001", "c000002", "n000003"))),
    }


def table_rows(engine: Engine) -> pd.DataFrame:
    table = engine.journey_table()
    assert table is not None
    frame = engine.execute(table)
    return frame.sort_values(["customer_id", "pos"]).reset_index(drop=True)


def from_scratch(root: Path, settings, tmp_path: Path, step: str) -> tuple[dict[str, Any], pd.DataFrame, dict]:  # type: ignore[no-untyped-def,type-arg]
    """Answers of an engine that builds its journey table from nothing, and of one without a table."""
    kept = settings.ANALYTICS_TEMP_DIR
    settings.ANALYTICS_TEMP_DIR = str(tmp_path / f"scratch-{step}")
    scratch = Engine(store_url=str(root), kind="duckdb")
    full = answers(scratch), table_rows(scratch)
    settings.ANALYTICS_TEMP_DIR = kept
    settings.ANALYTICS_JOURNEY_TABLE = False
    window = answers(Engine(store_url=str(root), kind="duckdb"))
    settings.ANALYTICS_JOURNEY_TABLE = True
    return full[0], full[1], window


def journey_files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "spill").glob("journeys-*.duckdb"))


@pytest.fixture
def grown(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    """A store written through the store's writer: 3,000 events of 300 customers, equal times broken
    by arrival order."""
    root = tmp_path / "store"
    settings.EVENTS_STORE_URL = str(root)
    settings.ANALYTICS_TEMP_DIR = str(tmp_path / "spill")
    settings.ANALYTICS_JOURNEY_FOLD_SHARE = 1.0  # deltas only, in the steps below
    append(tied_frame(n_events=3000, n_customers=300, seed=5), tag="batch-1")
    return root


def test_ingest_in_steps_keeps_every_answer_equal_to_a_full_build_and_to_the_window_queries(
        grown, settings, tmp_path):
    # given a journey table built for the store as it was
    engine = Engine(store_url=str(grown), kind="duckdb")
    answers(engine)
    base = journey_files(tmp_path)
    assert len(base) == 1
    more = tied_frame(n_events=600, n_customers=60, seed=11)
    seq = 10_000_000
    steps = {
        # new customers
        "new customers": lambda: append(more.assign(customer_id=more.customer_id.str.replace("c", "n"),
                                                    event_id="n" + more.event_id, seq=more.seq + seq), tag="batch-2"),
        # existing customers' new events, some at times equal to their earlier ones (arrival order decides)
        "existing customers": lambda: append(more.assign(event_id="x" + more.event_id, seq=more.seq + 2 * seq),
                                             tag="batch-3"),
        # a feedback call: one event
        "feedback": lambda: append(more.head(1).assign(event_id="fb1", seq=0, type="resolved"), tag="feedback"),
        # an event type the first table never saw (its traces' codes are extended, not renumbered)
        "new event type": lambda: append(more.iloc[[3, 4]].assign(event_id=["nt1", "nt2"], seq=[1, 2],
                                                                  type="callback_requested"), tag="batch-4"),
        # a merge of a customer who had events into another, and of a new customer into an old one
        "merge": lambda: merge({"c000003": "c000001", "n000004": "c000002"}),
        # one merge undone
        "unmerge": lambda: merge({"n000004": "c000002"}),
    }
    first_steps = list(steps)[:3]
    for step, change in steps.items():
        # when the store changes
        change()
        got, rows = answers(engine), table_rows(engine)

        # then the answers are those of a table built from scratch and of the window queries
        full, full_rows, window = from_scratch(grown, settings, tmp_path, step.replace(" ", "-"))
        assert got == full, step
        assert got == window, step
        pd.testing.assert_frame_equal(rows, full_rows)
        # and the table was brought up to date by a delta on the first full table
        files = journey_files(tmp_path)
        assert len(files) == 2 and base[0] in files and any(name.endswith("-delta.duckdb") for name in files), step
        # and variants were counted from coded traces, the base's codes extended by the delta's new types
        assert engine.trace_table() is not None, step
        assert ("callback_requested" in engine.trace_types()) == (step not in first_steps), step

    assert got["customers"] == 359  # 300 + 60 new, less c000003 merged into c000001


def test_a_delta_hides_exactly_the_customers_it_recomputes(grown, settings, tmp_path):
    engine = Engine(store_url=str(grown), kind="duckdb")
    before = table_rows(engine)
    append(pd.DataFrame([{"event_id": "late", "customer_id": "c000007", "type": "chat", "channel": "chat",
                          "ts": int(before.ts.min()), "seq": 0, "intent": None, "outcome": None}]), tag="batch-2")

    after = table_rows(engine)

    changed = after.merge(before, how="outer", indicator=True).query("_merge != 'both'")
    assert set(changed.customer_id) == {"c000007"}
    assert after[after.customer_id == "c000007"].type.iloc[0] == "chat"
    assert len(after) == len(before) + 1


def test_a_delta_past_the_fold_share_is_folded_into_a_new_full_table(grown, settings, tmp_path):
    engine = Engine(store_url=str(grown), kind="duckdb")
    answers(engine)
    base = journey_files(tmp_path)
    settings.ANALYTICS_JOURNEY_FOLD_SHARE = 0.01  # 3 customers of 300
    append(tied_frame(n_events=100, n_customers=10, seed=2).assign(customer_id=lambda f: "f" + f.customer_id,
                                                                   event_id=lambda f: "f" + f.event_id), tag="b2")

    got = answers(engine)  # a delta, then the fold (here, where it is asked for: background off)

    files = journey_files(tmp_path)
    assert len(files) == 1 and files != base and not files[0].endswith("-delta.duckdb")
    full, _, window = from_scratch(grown, settings, tmp_path, "folded")
    assert got == full == window


class _Clock:
    """The engine's clock (its `time` module), moved on by `skip` seconds when asked to."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def time(self) -> float:
        return time.time() + self.skipped

    def perf_counter(self) -> float:
        return time.perf_counter() + self.skipped

    def monotonic(self) -> float:
        return time.monotonic()


class _SlowFullRecord:
    """The engine's `json`, on which writing a full table's record takes 5 s of the clock above: the
    steps between a build's record and its removal of older files, slow on a busy machine."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.loads = json.loads

    def dumps(self, value: Any, **options: Any) -> str:
        if isinstance(value, dict) and value.get("kind") == "base":
            self.clock.skipped += 5.0
        return json.dumps(value, **options)


def test_a_fold_whose_publishing_is_slow_still_removes_the_delta_it_replaces(grown, settings, tmp_path,
                                                                              monkeypatch):
    engine = Engine(store_url=str(grown), kind="duckdb")
    answers(engine)
    settings.ANALYTICS_JOURNEY_FOLD_SHARE = 0.01
    append(tied_frame(n_events=100, n_customers=10, seed=2).assign(customer_id=lambda f: "f" + f.customer_id,
                                                                   event_id=lambda f: "f" + f.event_id), tag="b2")
    clock = _Clock()
    monkeypatch.setattr(engine_module, "time", clock)
    monkeypatch.setattr(engine_module, "json", _SlowFullRecord(clock))

    answers(engine)  # a delta, then the fold, whose publishing takes 5 s

    # the delta was published before the fold began, so the fold replaces it
    files = journey_files(tmp_path)
    assert clock.skipped == 5.0 and len(files) == 1 and not files[0].endswith("-delta.duckdb")


def test_files_removed_or_replaced_make_a_full_build(grown, settings, tmp_path):
    # given a table, then a compaction: one day's files merged into one (new file first, old removed)
    engine = Engine(store_url=str(grown), kind="duckdb")
    answers(engine)
    append(tied_frame(n_events=50, n_customers=5, seed=3).assign(event_id=lambda f: "k" + f.event_id), tag="b2")
    answers(engine)
    day, names = next((d, n) for d, n in event_store.event_files().items() if len(n) > 1)
    event_store.write_day(day, event_store.read_files(names).sort_by(event_store.SORT_KEYS), tag="compact")
    event_store.delete(names)

    got = answers(engine)

    files = journey_files(tmp_path)
    assert len(files) == 1 and not files[0].endswith("-delta.duckdb")
    full, _, window = from_scratch(grown, settings, tmp_path, "compacted")
    assert got == full == window


def test_a_full_build_runs_beside_the_questions_and_one_process_builds_it(grown, settings, tmp_path, caplog):
    settings.ANALYTICS_JOURNEY_BACKGROUND = True
    engine = Engine(store_url=str(grown), kind="duckdb")
    settings.ANALYTICS_JOURNEY_TABLE = False
    expected = answers(Engine(store_url=str(grown), kind="duckdb"))
    settings.ANALYTICS_JOURNEY_TABLE = True
    # given another process building the table (it holds the build lock)
    with engine._lock_file("build").open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        with caplog.at_level(logging.INFO, logger="apps.events.engine"):
            # when a question comes: the window queries answer, nothing waits for the build
            assert engine.journey_table() is None
            engine.wait_for_build()
            assert answers(engine) == expected
        assert "another process is building it" in caplog.text
        assert journey_files(tmp_path) == []
        fcntl.flock(other, fcntl.LOCK_UN)

    # when that process is gone, the next question starts the build on a thread, which reports progress
    caplog.clear()
    settings.ANALYTICS_PROGRESS_SECONDS = 0.001
    with caplog.at_level(logging.INFO, logger="apps.events.engine"):
        engine.journey_table()
        engine.wait_for_build()

    assert "journey table: building for 83 event files (0 identity rows)" in caplog.text
    assert re.search(r"journey table journeys-\w+\.duckdb: (\d+% of the current step|running) after \d+ s",
                     caplog.text)
    assert engine.journey_table() is not None
    assert answers(engine) == expected


def test_a_restarted_process_brings_the_table_on_disk_up_to_date(grown, settings, tmp_path):
    Engine(store_url=str(grown), kind="duckdb").journey_table()  # the process before the restart
    base = journey_files(tmp_path)
    append(tied_frame(n_events=40, n_customers=4, seed=8).assign(event_id=lambda f: "r" + f.event_id), tag="b2")
    contacts.write_summaries([{"event_id": "e1", "customer_id": "c000001", "sentiment_customer": 1.0,
                               "sentiment_agent": None, "sentiment_change": None, "categories": ["billing"]}])
    settings.ANALYTICS_JOURNEY_TABLE = False
    expected = answers(Engine(store_url=str(grown), kind="duckdb"))
    settings.ANALYTICS_JOURNEY_TABLE = True

    restarted = Engine(store_url=str(grown), kind="duckdb")

    assert answers(restarted) == expected
    files = journey_files(tmp_path)
    assert len(files) == 2 and base[0] in files
    meta = restarted._sidecar(tmp_path / "spill" / next(f for f in files if f.endswith("-delta.duckdb")))
    assert meta is not None and (meta["base"], meta["customers"]) == (base[0], 4)


def test_a_build_asked_for_once_the_process_is_exiting_is_not_started(grown, settings, tmp_path, caplog):
    settings.ANALYTICS_JOURNEY_BACKGROUND = True
    engine = Engine(store_url=str(grown), kind="duckdb")
    try:
        # given the process stopping its background work, as its exit does
        assert engine_module.stop_background_work(timeout=30) is True
        # when a question asks for the journey table then
        with caplog.at_level(logging.INFO, logger="apps.events.engine"):
            assert engine.journey_table() is None
            engine.wait_for_build()
        # then no build runs: nothing is published, and the log says why
        assert "journey table: the background build stopped as the process exits" in caplog.text
        assert journey_files(tmp_path) == []
    finally:
        engine_module._stopping.clear()


def test_stopping_interrupts_a_running_build_and_waits_for_its_thread(grown, settings, tmp_path, caplog):
    settings.ANALYTICS_JOURNEY_BACKGROUND = True
    settings.ANALYTICS_PROGRESS_SECONDS = 0.001
    engine = Engine(store_url=str(grown), kind="duckdb")
    running = threading.Event()

    class Progress(logging.Handler):
        """Sets `running` at the build's first progress line (or its end, should it beat the reporter)."""

        def emit(self, record: logging.LogRecord) -> None:
            if re.search(r"journey table (journeys-\w+\.duckdb: |built in )", record.getMessage()):
                running.set()

    watcher = Progress()
    logging.getLogger("apps.events.engine").addHandler(watcher)
    try:
        with caplog.at_level(logging.INFO, logger="apps.events.engine"):
            # given a build running on its thread (it has reported progress, unless it was done first)
            assert engine.journey_table() is None
            assert running.wait(60)
            builder = engine._builder
            assert builder is not None
            # when the process stops its background work
            assert engine_module.stop_background_work(timeout=60) is True
        # then the build's thread has ended, and either it was interrupted (nothing published) or it had
        # finished first (its table whole): never a thread left to be killed mid-call, never half a table
        assert not builder.is_alive()
        stopped = "journey table: the background build stopped as the process exits" in caplog.text
        assert (journey_files(tmp_path) == []) if stopped else (len(journey_files(tmp_path)) == 1)
        # and an interrupted build's partial file is removed with it
        assert sorted(p.name for p in (tmp_path / "spill").glob(".journeys-*.tmp*")) == []
    finally:
        logging.getLogger("apps.events.engine").removeHandler(watcher)
        engine_module._stopping.clear()


def test_a_process_that_exits_while_its_journey_build_runs_stops_it_first_and_exits_cleanly(grown, tmp_path):
    # given a process whose analytics warm-up started building the journey table on a thread; the hook
    # registered first runs last at exit (atexit runs in reverse), after the engine's own
    script = ("import atexit, threading\n"
              "def left():\n"
              "    names = {'analytics-warm-up', 'journey-table-build'}\n"
              "    alive = sorted(t.name for t in threading.enumerate() if t.name in names and t.is_alive())\n"
              "    print('left running at exit:', alive, flush=True)\n"
              "atexit.register(left)\n"
              "import django; django.setup()\n"
              "from django.conf import settings\n"
              "settings.ANALYTICS_JOURNEY_BACKGROUND = True\n"
              f"settings.ANALYTICS_TEMP_DIR = {str(tmp_path / 'spill-2')!r}\n"
              "from apps.events.engine import get_engine, warm_up\n"
              "warm_up().join()\n"  # the warm-up has started the build on a thread of its own
              "assert get_engine()._builder.is_alive()\n"
              "print('exiting', flush=True)\n")
    # when it exits at once
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "journeyhub.settings.test",
                               "EVENTS_STORE_URL": str(grown)})
    # then the build was stopped (or had ended) before the interpreter went down, so no thread of it is
    # killed inside native code (which aborts the process: status 134, "terminate called"); it exits as asked
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "exiting\nleft running at exit: []\n"
    assert "terminate called" not in done.stderr


def test_interrupting_a_build_whose_connection_was_just_closed_is_quiet(grown):
    # given a build's engine whose DuckDB connection closed between the exit reading it and interrupting it
    engine = Engine(store_url=str(grown), kind="duckdb")
    engine.backend.con.close()
    # when the exit interrupts it, then nothing is raised (an atexit hook that raised would stop waiting)
    engine.interrupt()


def test_a_build_that_fails_leaves_no_partial_file_behind(grown, settings, tmp_path, monkeypatch):
    # given a full build whose traces step fails half-way (its journeys table already written)
    engine = Engine(store_url=str(grown), kind="duckdb")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(engine_module, "_build_traces", broken)
    # when a question asks for the journey table, then the failure reaches it
    with pytest.raises(duckdb.IOException, match="No space left on device"):
        engine.journey_table()
    # and neither a table nor the build's partial file is left in the temp dir
    assert journey_files(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "spill").glob(".journeys-*.tmp*")) == []


def test_a_forked_multiprocessing_child_stops_its_background_work_as_it_returns(tmp_path):
    # given a child as granian starts its workers (multiprocessing, fork: it ends through os._exit, so
    # atexit never runs), with a background thread that runs until the process stops its background work
    report = tmp_path / "report"

    def child() -> None:
        thread = engine_module.start_background(engine_module._stopping.wait, 60, name="journey-table-build")
        # what is still running after the exit hooks of higher priority (multiprocessing runs these last)
        process_end.Finalize(None, lambda: report.write_text(f"alive={thread.is_alive()}"), exitpriority=0)

    # when the child returns at once
    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(timeout=60)
    # then its exit stopped the thread before the process went down (without it: alive=True)
    assert process.exitcode == 0
    assert report.read_text() == "alive=False"
