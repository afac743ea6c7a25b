"""Customer writes: attributes (name, segment, ...) on the graph, with the name and segment indexes
beside them."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction

from apps.customers.models import MAX_SEGMENT, CustomerSegment, NameWord
from apps.customers.names import name_words
from graph import event_rows, journeys

CHUNK = 500


def set_attributes(attributes_by_customer: dict[str, dict[str, Any]]) -> None:
    """Replace the free attributes of existing customers, their words in the name index and their
    segment. A segment too long to index is refused before anything is written."""
    segments = {c: segment_of(a) for c, a in attributes_by_customer.items()}
    too_long = sorted(c for c, segment in segments.items() if len(segment) > MAX_SEGMENT)
    if too_long:
        raise ValueError(f"segment longer than {MAX_SEGMENT} characters for customer(s) {', '.join(too_long[:5])}")
    journeys.set_many_customer_attributes(attributes_by_customer)
    index_names({c: str(a.get("name") or "") for c, a in attributes_by_customer.items()})
    index_segments(segments)


def segment_of(attributes: dict[str, Any]) -> str:
    """The segment as filters compare it: the attribute's text, "" for none."""
    value = attributes.get("segment")
    return "" if value is None else str(value)


def index_segments(segments: dict[str, str]) -> None:
    """Each customer's indexed segment becomes the given one (no row for "")."""
    _replace_index(CustomerSegment, list(segments), lambda chunk: [
        CustomerSegment(customer_id=c, segment=segments[c][:MAX_SEGMENT]) for c in chunk if segments[c]])


def index_names(names: dict[str, str]) -> None:
    """Each customer's indexed words become those of the given name (none for an empty name)."""
    _replace_index(NameWord, list(names), lambda chunk: _words(chunk, names))


def _replace_index(model: Any, customers: list[str], rows: Callable[[list[str]], list[Any]]) -> None:
    """One index table's rows of these customers replaced by `rows(chunk)`, a chunk at a time (a
    bounded IN list), all in one transaction."""
    with transaction.atomic():
        for start in range(0, len(customers), CHUNK):
            chunk = customers[start:start + CHUNK]
            model.objects.filter(customer_id__in=chunk).delete()
            model.objects.bulk_create(rows(chunk), batch_size=CHUNK)


def _words(customers: Iterable[str], names: dict[str, str]) -> list[NameWord]:
    return [NameWord(customer_id=c, word=w) for c in customers for w in name_words(names[c])]


def reindex(progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the name and segment indexes from the graph, a page of customers at a time; returns the
    customers read. One transaction: searches see the old indexes until the new ones are complete."""
    done = 0
    with transaction.atomic():
        NameWord.objects.all().delete()
        CustomerSegment.objects.all().delete()
        for page in event_rows.customer_id_pages():
            attributes = journeys.customer_attributes(page)
            index_names({c: str(a.get("name") or "") for c, a in attributes.items()})
            index_segments({c: segment_of(a)[:MAX_SEGMENT] for c, a in attributes.items()})
            done += len(page)
            if progress is not None:
                progress(done)
    return done
