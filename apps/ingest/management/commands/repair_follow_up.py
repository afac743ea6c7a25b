"""`python manage.py repair_follow_up --batch ID | --since DATE`: milestones, similarity index entries
and KPI marks for events that are in the store but whose follow-up never ran (the store failed
between a write and its follow-up, and the input will not be run again)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.storage import StorageError
from apps.ingest.mapping import Mapping
from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_file
from apps.ingest.signals import events_ingested
from graph import journeys
from graph.errors import GraphError


class Command(BaseCommand):
    help = ("Run the ingest follow-up (milestones, similarity index, KPI marks) again for the events of one "
            "file batch (--batch, re-reading its file) or for every customer with events since a date (--since).")

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--batch", type=int, help="an ingest batch of a file: its file is read again")
        which.add_argument("--since", help="event time, ISO 8601 (e.g. 2026-03-01 or 2026-03-01T12:00:00Z)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["batch"] is not None:
                self.stdout.write(self._batch(options["batch"]))
            else:
                self.stdout.write(self._since(_epoch_ms(options["since"])))
        except (ValueError, OSError, StorageError) as exc:
            raise CommandError(str(exc)) from exc
        except GraphError as exc:
            raise CommandError(f"{exc}\nNothing is lost: run the same command again.") from exc

    @staticmethod
    def _batch(batch_id: int) -> str:
        batch = IngestBatch.objects.filter(pk=batch_id).first()
        if batch is None:
            raise ValueError(f"no ingest batch {batch_id}")
        if batch.format == "records":
            raise ValueError(f"batch {batch_id} came through the API, whose rows are not kept: send the same "
                             "events again, or use --since with the earliest event time")
        mapping = Mapping.from_dict(batch.mapping) if batch.mapping else None
        again = ingest_file(uri=batch.source, fmt=batch.format, mapping=mapping, follow_up_duplicates=True)
        return (f"batch {batch_id}: {again.loaded + again.duplicates} events followed up "
                f"({again.loaded} were missing and are now loaded; batch {again.pk})")

    @staticmethod
    def _since(since_ms: int) -> str:
        frame = journeys.events_frame(since_ms=since_ms)
        customers = sorted(set(frame["customer_id"]))
        if customers:
            events_ingested.send(sender=IngestBatch, customer_ids=customers, batch=None,
                                 event_ts=frame["ts"].tolist(), events=None)
        return f"{len(frame)} events of {len(customers)} customers followed up"


def _epoch_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"--since {text!r} is not an ISO 8601 date or time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
