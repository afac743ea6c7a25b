"""A file load reads and writes chunks ahead in its own thread; what lands and how it fails stay in order."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from apps.ingest.services import _Chunk, _prefetched


def chunks(count: int, *, fail_after: int | None = None) -> Iterator[_Chunk]:
    for n in range(count):
        if fail_after is not None and n == fail_after:
            raise ValueError(f"line {n}: not valid JSON")
        yield _Chunk(records=[], bad=[], rows_read=n)


def test_chunks_arrive_in_order_then_the_reader_stops() -> None:
    assert [c.rows_read for c in _prefetched(chunks(7), lambda c: c)] == [0, 1, 2, 3, 4, 5, 6]
    assert not [t for t in threading.enumerate() if t.name == "ingest-reader"]


def test_a_reader_error_surfaces_after_the_chunks_read_before_it() -> None:
    seen = []
    with pytest.raises(ValueError, match="line 3: not valid JSON"):
        for chunk in _prefetched(chunks(7, fail_after=3), lambda c: c):
            seen.append(chunk.rows_read)
    assert seen == [0, 1, 2]


def test_a_writer_that_stops_early_stops_the_reader() -> None:
    consumer = _prefetched(chunks(1000), lambda c: c)
    assert next(consumer).rows_read == 0
    consumer.close()  # the writer failed: the generator is closed
    assert not [t for t in threading.enumerate() if t.name == "ingest-reader"]
