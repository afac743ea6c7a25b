"""A large local file is read and validated in a second process: same batch, same quarantine,
same graph as reading it in this one, and that process never outlives the load."""
from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from apps.ingest import parsing, services
from apps.ingest.mapping import Mapping
from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_file
from graph import journeys

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"
CSV = str(FIXTURES / "events_with_bad_rows.csv")


@pytest.fixture
def second_process(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """Every local file counts as large; the calls that go through the second process are counted."""
    settings.INGEST_PARSE_PROCESS_BYTES = 1
    calls = []
    real = services.chunks_from_second_process

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "chunks_from_second_process", counted)
    return calls


def outcome() -> tuple[object, ...]:
    batch = IngestBatch.objects.latest("id")
    reasons = sorted(batch.quarantined_rows.values_list("row_number", "reason", "raw"))
    return (batch.status, batch.rows_read, batch.loaded, batch.quarantined, batch.bytes_read, reasons,
            journeys.graph_counts(), journeys.next_chain("c1"))


def test_a_file_read_in_a_second_process_lands_exactly_as_one_read_here(second_process, settings) -> None:  # type: ignore[no-untyped-def]
    ingest_file(uri=CSV, fmt="csv", chunk_size=3)
    elsewhere = outcome()
    assert second_process == [CSV]

    IngestBatch.objects.all().delete()
    journeys.get_g().V().drop().iterate()
    settings.INGEST_PARSE_PROCESS_BYTES = 0
    ingest_file(uri=CSV, fmt="csv", chunk_size=3)

    assert second_process == [CSV]  # the second run stayed in this process
    assert outcome() == elsewhere
    assert elsewhere[:5] == ("completed", 8, 5, 3, Path(CSV).stat().st_size)


def test_a_file_that_cannot_be_read_is_refused_before_a_batch_or_a_second_process(second_process,  # type: ignore[no-untyped-def]
                                                                                   tmp_path: Path) -> None:
    broken = tmp_path / "events.json"
    broken.write_text('[{"event_id": "a", ')

    with pytest.raises(ValueError, match="file is not valid JSON"):
        ingest_file(uri=str(broken), fmt="json")

    assert (IngestBatch.objects.count(), second_process) == (0, [])


def test_a_failure_in_the_second_process_is_raised_in_this_one(tmp_path: Path) -> None:
    broken = tmp_path / "events.json"
    broken.write_text('[{"event_id": "a", ')

    with pytest.raises(ValueError, match="file is not valid JSON"):
        list(parsing.chunks_from_second_process(str(broken), "json", Mapping(), source="test", size=10,
                                                phone_region="AU"))
    assert multiprocessing.active_children() == []


def test_stopping_early_stops_the_second_process() -> None:
    chunks = parsing.chunks_from_second_process(CSV, "csv", Mapping(), source="test", size=1, phone_region="AU")

    first = next(chunks)
    chunks.close()

    assert (first.rows_read, [r.event_id for r in first.records]) == (1, ["w1"])
    assert multiprocessing.active_children() == []


def test_a_second_process_that_dies_is_reported_not_waited_for() -> None:
    receiver, sender = multiprocessing.Pipe(duplex=False)
    sender.close()  # what a killed process leaves: the pipe's other end gone

    class Killed:
        exitcode = -9

        def join(self, timeout: float) -> None:
            return None

    with pytest.raises(RuntimeError, match=r"the process reading big.csv stopped unexpectedly \(exit code -9\)"):
        list(parsing._received(receiver, Killed(), "big.csv"))
