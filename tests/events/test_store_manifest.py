"""The store's manifest: what a reader checks instead of listing every date folder, exact at every
moment (a write, a removal, an identity change, a writer killed between its file and the manifest,
a store written before there was a manifest)."""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from apps.events import store as event_store
from apps.events.analytics import journeys as analytics
from apps.events.engine import Engine, EventFilter
from tests.events.store_files import write_events
from tests.journeys.conftest import JOURNEYS, make_frame


def rows(*customers: str, first: int = 1) -> pa.Table:
    frame = make_frame([(c, n, "call", "phone", None) for n, c in enumerate(customers, start=first)])
    frame = frame.assign(event_id=[f"m{first + i}" for i in range(len(frame))], seq=0, source=None, batch_id="",
                         attributes="{}")
    return event_store.rows_table(frame.to_dict("records"))


@pytest.fixture
def root(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    settings.EVENTS_STORE_URL = str(tmp_path / "store")
    settings.ANALYTICS_TEMP_DIR = str(tmp_path / "spill")
    return tmp_path / "store"


def test_every_write_is_listed_and_moves_the_fingerprint_without_listing_folders(root, monkeypatch):
    first = event_store.write_day("2026-03-01", rows("c1", "c2"), tag="b1")
    engine = Engine(store_url=str(root), kind="duckdb")
    before = engine.fingerprint()

    second = event_store.write_day("2026-03-02", rows("c3", first=5), tag="b2")
    after_write = engine.fingerprint()
    event_store.delete([first])
    after_delete = engine.fingerprint()
    event_store.write_identity(pa.Table.from_pylist(
        [{"customer_id": "c3", "canonical_id": "c2", "merged_at": 1, "rule": "r"}], schema=event_store.IDENTITY_SCHEMA))
    after_merge = engine.fingerprint()

    assert len({before, after_write, after_delete, after_merge}) == 4
    manifest = event_store.read_manifest(root)
    assert manifest is not None and (manifest.files, manifest.pending, manifest.generation) == ((second,), (), 5)
    with monkeypatch.context() as patch:  # a cached read stats no folder
        patch.setattr(os, "scandir", lambda *a: pytest.fail("scanned"))
        patch.setattr(Path, "glob", lambda *a: pytest.fail("listed"))
        assert engine.fingerprint() == after_merge
    assert analytics.total_customers(engine, EventFilter()) == 1  # c3 counts as c2


def test_a_writer_killed_between_its_file_and_the_manifest_loses_nothing(root, monkeypatch):
    event_store.write_day("2026-03-01", rows("c1"), tag="b1")
    engine = Engine(store_url=str(root), kind="duckdb")
    assert analytics.total_customers(engine, EventFilter()) == 1
    real = event_store.update_manifest

    def killed_after_the_file(root: Path, **changes):  # type: ignore[no-untyped-def]
        if changes.get("added"):
            raise KeyboardInterrupt
        return real(root, **changes)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(event_store, "update_manifest", killed_after_the_file)
        event_store.write_day("2026-03-02", rows("c2", "c3"), tag="b2")

    manifest = event_store.read_manifest(root)
    assert manifest is not None and len(manifest.files) == 1 and len(manifest.pending) == 1
    assert analytics.total_customers(engine, EventFilter()) == 3  # the pending file exists: it counts
    event_store.write_day("2026-03-03", rows("c4", first=9), tag="b3")  # the next write lists it
    manifest = event_store.read_manifest(root)
    assert manifest is not None and len(manifest.files) == 3 and manifest.pending == ()
    assert analytics.total_customers(engine, EventFilter()) == 4


def test_a_store_written_before_the_manifest_is_scanned_until_the_first_write_lists_it(root):
    write_events(root, make_frame(JOURNEYS))  # files written by an older writer, no manifest
    engine = Engine(store_url=str(root), kind="duckdb")
    scanned = engine.fingerprint()
    assert event_store.read_manifest(root) is None and scanned is not None and scanned[0] != "manifest"
    customers = analytics.total_customers(engine, EventFilter())

    event_store.write_day("2026-03-09", rows("new"), tag="b1")

    manifest = event_store.read_manifest(root)
    assert manifest is not None and set(manifest.files) == set(event_store.scan_files(root))
    assert engine.fingerprint()[0] == "manifest"  # type: ignore[index]
    assert analytics.total_customers(engine, EventFilter()) == customers + 1
