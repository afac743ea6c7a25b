"""Customer writes: attributes (name, segment, ...) on the graph, with the name index beside them."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction

from apps.customers.models import NameWord
from apps.customers.names import name_words
from graph import event_rows, journeys

CHUNK = 500


def set_attributes(attributes_by_customer: dict[str, dict[str, Any]]) -> None:
    """Replace the free attributes of existing customers, and their words in the name index."""
    journeys.set_many_customer_attributes(attributes_by_customer)
    index_names({c: str(a.get("name") or "") for c, a in attributes_by_customer.items()})


def index_names(names: dict[str, str]) -> None:
    """Each customer's indexed words become those of the given name (none for an empty name)."""
    customers = list(names)
    with transaction.atomic():
        for start in range(0, len(customers), CHUNK):
            chunk = customers[start:start + CHUNK]
            NameWord.objects.filter(customer_id__in=chunk).delete()
            NameWord.objects.bulk_create(_words(chunk, names), batch_size=CHUNK)


def _words(customers: Iterable[str], names: dict[str, str]) -> list[NameWord]:
    return [NameWord(customer_id=c, word=w) for c in customers for w in name_words(names[c])]


def reindex_names(progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the name index from the graph, a page of customers at a time; returns the customers
    read. One transaction: searches see the old index until the new one is complete."""
    done = 0
    with transaction.atomic():
        NameWord.objects.all().delete()
        for page in event_rows.customer_id_pages():
            attributes = journeys.customer_attributes(page)
            index_names({c: str(a.get("name") or "") for c, a in attributes.items()})
            done += len(page)
            if progress is not None:
                progress(done)
    return done
