"""The `ingest` command as a newcomer meets it: files it cannot load stop early and say why, runs that
load nothing fail, decode errors point at the byte, wrappers are read, progress stays on its own line."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

import graph
from apps.ingest.models import IngestBatch
from graph import journeys

pytestmark = pytest.mark.django_db
HEADER = "customer_id,event_id,event_type,channel,timestamp"


@pytest.fixture(autouse=True)
def _every_test_on_both_backends() -> str:
    """The command's messages do not depend on the store: the embedded one is enough here."""
    return "embedded"


def ingest(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("ingest", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_header_without_a_customer_or_identifier_column_stops_before_anything_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "crm_export.csv"
    path.write_text("user,kind,when,page\nu1,login,2026-03-01T09:00:00Z,home\n")

    with pytest.raises(CommandError) as error:
        ingest(str(path), "--format", "csv")

    assert str(error.value) == (
        f"{path}: no customer or identifier column in the header. Columns found: user, kind, when, page. "
        "Expected customer_id, or an identifier column: phone, email, account_id "
        "(name yours in a --mapping file, for example `columns: {customer_id: user}`)")
    assert IngestBatch.objects.count() == 0


def test_a_mapping_that_names_the_customer_column_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "crm_export.csv"
    path.write_text("user,event_type,channel,timestamp\nu1,login,web,2026-03-01T09:00:00Z\n")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("columns:\n  customer_id: user\n")

    out, _ = ingest(str(path), "--format", "csv", "--mapping", str(mapping))

    assert out.splitlines()[0] == f"batch {IngestBatch.objects.get().pk} completed: 1 rows read, 1 loaded, " \
                                  "0 duplicates, 0 quarantined"


def test_a_run_in_which_every_row_is_quarantined_fails_after_reporting_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(f"{HEADER}\nc1,e1,call,voice,yesterday\nc2,e2,call,,2026-03-01T09:00:00Z\n")
    out = io.StringIO()

    with pytest.raises(CommandError) as error:
        call_command("ingest", str(path), "--format", "csv", stdout=out, stderr=io.StringIO())

    batch = IngestBatch.objects.get()
    assert str(error.value) == f"nothing was loaded: all 2 rows of {path} were quarantined (reasons above)"
    assert "  row 2: no channel (column 'channel' is empty)" in out.getvalue().splitlines()
    assert (batch.status, batch.loaded, batch.quarantined) == ("completed", 0, 2)


def test_rerunning_a_loaded_file_is_not_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(f"{HEADER}\nc1,e1,call,voice,2026-03-01T09:00:00Z\n")
    ingest(str(path), "--format", "csv")

    out, _ = ingest(str(path), "--format", "csv")

    assert out.splitlines()[0].endswith("1 rows read, 0 loaded, 1 duplicates, 0 quarantined")


@pytest.mark.parametrize(("content", "fmt", "message"), [
    ("", "csv", "is empty: there is nothing to load"),
    (f"{HEADER}\n", "csv", "has a header but no rows: there is nothing to load"),
    ("\n\n", "ndjson", "is empty: there is nothing to load"),
    ("[]", "json", "holds an empty list: there is nothing to load"),
])
def test_an_empty_file_says_so_and_fails(tmp_path: Path, content: str, fmt: str, message: str) -> None:
    path = tmp_path / f"events.{fmt}"
    path.write_text(content)

    with pytest.raises(CommandError) as error:
        ingest(str(path), "--format", fmt)

    assert str(error.value) == f"{path} {message}"
    assert IngestBatch.objects.count() == 0


def test_an_undecodable_byte_quarantines_its_row_with_where_and_a_hint_and_the_rest_loads(tmp_path: Path) -> None:
    path = tmp_path / "cafe.csv"
    path.write_bytes(f"{HEADER},shop\nc1,e1,visit,web,2026-03-01T09:00:00Z,Bar\n"
                     "c2,e2,visit,web,2026-03-01T09:00:00Z,Caf\xe9\n".encode("cp1252"))

    out, _ = ingest(str(path), "--format", "csv")

    batch = IngestBatch.objects.get()
    assert (batch.loaded, batch.quarantined) == (1, 1)
    row = batch.quarantined_rows.get()
    # the header is 55 bytes, the first row 41, and "é" is the 41st byte of the second row
    assert (row.row_number, row.reason) == (2, (
        "byte 0xe9 at byte offset 136 (line 3) is not valid utf-8; if the file is in another encoding, "
        "run again with --encoding (for example --encoding cp1252)"))
    assert "  row 2: byte 0xe9 at byte offset 136" in out


def test_the_encoding_option_reads_a_cp1252_file(tmp_path: Path) -> None:
    path = tmp_path / "cafe.csv"
    path.write_bytes(f"{HEADER},shop\nc2,e2,visit,web,2026-03-01T09:00:00Z,Caf\xe9\n".encode("cp1252"))

    ingest(str(path), "--format", "csv", "--encoding", "cp1252")

    assert journeys.events_frame(customer_ids=["c2"])["attributes"].tolist() == [{"shop": "Café"}]


def test_an_unknown_encoding_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(f"{HEADER}\n")

    with pytest.raises(CommandError, match="unknown encoding 'klingon'"):
        ingest(str(path), "--format", "csv", "--encoding", "klingon")


EVENT = {"customer_id": "c1", "event_id": "e1", "event_type": "call", "channel": "voice",
         "timestamp": "2026-03-01T09:00:00Z"}


@pytest.mark.parametrize("wrapper", ["events", "Records", "records", "items"])
def test_a_json_object_wrapping_a_list_of_events_is_read(tmp_path: Path, wrapper: str) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"version": 2, wrapper: [EVENT, {**EVENT, "event_id": "e2"}]}))

    out, _ = ingest(str(path), "--format", "json")

    assert out.splitlines()[0].endswith("2 rows read, 2 loaded, 0 duplicates, 0 quarantined")


def test_a_single_json_event_object_is_one_row(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(EVENT))

    out, _ = ingest(str(path), "--format", "json")

    assert out.splitlines()[0].endswith("1 rows read, 1 loaded, 0 duplicates, 0 quarantined")


def test_a_json_object_with_no_or_several_lists_is_refused_naming_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"calls": [EVENT], "chats": [EVENT], "exported": "today"}))

    with pytest.raises(CommandError) as error:
        ingest(str(path), "--format", "json")

    assert str(error.value) == (
        f"{path}: the JSON object is neither an event nor a wrapper around one list of events "
        "(keys found: calls, chats, exported; lists under: calls, chats). Expected a list of events, "
        'or an object such as {"events": [...]} or {"Records": [...]}')
    assert IngestBatch.objects.count() == 0


def test_progress_lines_stand_alone_with_rate_and_time_left_and_the_summary_starts_its_own_line(
        tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(HEADER + "\n" + "".join(f"c{i},e{i},call,voice,2026-03-01T09:00:{i:02d}Z\n" for i in range(6)))

    out, err = ingest(str(path), "--format", "csv", "--chunk-size", "2")

    lines = err.splitlines()
    assert err.endswith("\n") and "\r" not in err
    assert len(lines) == 3
    for line in lines:
        assert re.fullmatch(r" *\d+\.\d% +\d+ rows read, \d+ loaded, 0 quarantined · [\d,]+ rows/s · "
                            r"(about \d+:\d\d:\d\d left|all read)", line), line
    assert lines[-1].startswith("100.0%")
    assert out.startswith("batch ")


def test_a_store_held_by_another_process_is_named_and_nothing_is_recorded(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "graph"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, graphersal\ns = graphersal.Store.create(sys.argv[1])\n"
                               "print('ready', flush=True)\nsys.stdin.read()", str(store)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        settings.GRAPH_URL = f"embedded://{store}"
        graph.reset_connection()
        path = tmp_path / "calls.csv"
        path.write_text(f"{HEADER}\nc1,e1,call,voice,2026-03-01T09:00:00Z\n")

        with pytest.raises(CommandError) as error:
            ingest(str(path), "--format", "csv")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()

    message = str(error.value)
    assert f"the embedded graph store at {store} is in use by process {holder.pid} ({sys.executable} -c " in message
    assert "stop that process, or run `python manage.py graphserver`" in message
    assert "run the same command again" not in message
    assert IngestBatch.objects.count() == 0


def test_commands_do_not_print_the_graph_drivers_chatter() -> None:
    script = "import graph; graph.get_g().V().count().next(); graph.get_g().V().count().next(); print('done')"
    run = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=120,
                         check=False,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "journeyhub.settings.test"})

    assert (run.returncode, run.stdout, run.stderr) == (0, "done\n", "")
