"""`python manage.py ingest PATH_OR_S3_URL --format FORMAT [--mapping mapping.yaml] [--encoding cp1252]`.

FORMAT: csv, json, ndjson, ctr (Amazon Connect contact records), contact-lens or transcript.
Exits non-zero when the file cannot load (empty, no customer column, unreadable), when the store
cannot be opened, and when a run loads nothing (every row quarantined), so scripts notice.
"""
from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

import graph
from apps.conversations.services import FORMATS as CONVERSATION_FORMATS
from apps.conversations.services import ingest_conversations
from apps.core.storage import StorageError
from apps.events.store import EventStoreError
from apps.ingest.mapping import Mapping
from apps.ingest.models import IngestBatch
from apps.ingest.readers import FORMATS
from apps.ingest.services import bulk_collection, ingest_file, rate
from graph.errors import GraphError, GraphLocked


class Command(BaseCommand):
    help = ("Load interactions from a CSV, JSON, NDJSON or Amazon Connect contact-record file, or Contact Lens "
            "analyses / transcripts (a file or folder; local path or s3:// URL) into the hub.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="a file path or s3://bucket/key")
        parser.add_argument("--format", required=True, choices=(*FORMATS, *CONVERSATION_FORMATS), dest="fmt")
        parser.add_argument("--mapping", help="YAML file mapping columns to event fields")
        parser.add_argument("--encoding", help="the file's text encoding (default utf-8; e.g. cp1252, latin-1)")
        parser.add_argument("--chunk-size", type=int, default=None, help="events written per graph batch")

    def handle(self, *args: Any, **options: Any) -> None:
        self._progress_shown = False
        try:
            mapping = Mapping.load(options["mapping"]) if options["mapping"] else Mapping()
            if options["encoding"]:
                mapping = dataclasses.replace(mapping, encoding=options["encoding"])
            graph.ensure_reachable()
            if options["fmt"] in CONVERSATION_FORMATS:
                batch = ingest_conversations(uri=options["source"], fmt=options["fmt"], progress=self._progress)
            else:
                with bulk_collection():
                    batch = ingest_file(uri=options["source"], fmt=options["fmt"], mapping=mapping,
                                        progress=self._progress, chunk_size=options["chunk_size"])
        except EventStoreError as exc:
            raise CommandError(f"{exc}\nThe graph holds the events: run the same command again to copy them "
                               "to the event store.") from exc
        except (ValueError, OSError, StorageError) as exc:
            raise CommandError(str(exc)) from exc
        except GraphLocked as exc:
            raise CommandError(str(exc)) from exc
        except GraphError as exc:
            raise CommandError(f"{exc}\nNothing is lost: run the same command again to resume.") from exc
        finally:
            self._end_progress()
        self.stdout.write(self._summary(batch))
        if batch.quarantined:
            self.stdout.write(f"{batch.quarantined} rows quarantined; see the admin (Ingest › Quarantined rows) "
                              f"or GET /api/ingest/batches/{batch.pk}/quarantine")
            for row in batch.quarantined_rows.all()[:10]:
                self.stdout.write(f"  row {row.row_number}: {row.reason}")
        if batch.rows_read and not batch.loaded and not batch.duplicates and not batch.updated:
            raise CommandError(f"nothing was loaded: all {batch.rows_read} rows of {options['source']} were "
                               "quarantined (reasons above)")

    def _progress(self, batch: IngestBatch) -> None:
        """One line per chunk; on a terminal the line is rewritten in place and ended before the summary."""
        line = progress_line(batch, time.time() - batch.started.timestamp())
        if self.stderr.isatty():
            self.stderr.write(f"\r{line}\x1b[K", ending="")
        else:
            self.stderr.write(line)
        self.stderr.flush()
        self._progress_shown = True

    def _end_progress(self) -> None:
        if self._progress_shown and self.stderr.isatty():
            self.stderr.write("")

    @staticmethod
    def _summary(batch: IngestBatch) -> str:
        return (f"batch {batch.pk} {batch.status}: {batch.rows_read} rows read, {batch.loaded} loaded, "
                f"{batch.duplicates} duplicates, {batch.quarantined} quarantined"
                + (f", {batch.updated} updated (sent again with changes)" if batch.updated else ""))


def progress_line(batch: IngestBatch, elapsed: float) -> str:
    """"42.0% 10,000 rows read, 9,990 loaded, 10 quarantined · 2,500 rows/s · about 0:01:10 left"."""
    share = batch.progress
    counts = (f"{batch.rows_read:,} rows read, {batch.loaded:,} loaded, {batch.quarantined:,} quarantined · "
              f"{rate(batch):,.0f} rows/s")
    if share is None:
        return counts
    if share >= 1:
        return f"{share:6.1%} {counts} · all read"
    left = timedelta(seconds=round(elapsed * (1 - share) / share)) if share > 0 else None
    return f"{share:6.1%} {counts} · about {left} left" if left is not None else f"{share:6.1%} {counts}"
