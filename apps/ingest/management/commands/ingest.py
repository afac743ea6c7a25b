"""`python manage.py ingest PATH_OR_S3_URL --format FORMAT [--mapping mapping.yaml]`.

FORMAT: csv, json, ndjson, ctr (Amazon Connect contact records), contact-lens or transcript.
"""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.conversations.services import FORMATS as CONVERSATION_FORMATS
from apps.conversations.services import ingest_conversations
from apps.core.storage import StorageError
from apps.ingest.mapping import Mapping
from apps.ingest.models import IngestBatch
from apps.ingest.readers import FORMATS
from apps.ingest.services import bulk_collection, ingest_file, rate
from graph.errors import GraphError


class Command(BaseCommand):
    help = ("Load interactions from a CSV, JSON, NDJSON or Amazon Connect contact-record file, or Contact Lens "
            "analyses / transcripts (a file or folder; local path or s3:// URL) into the hub.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="a file path or s3://bucket/key")
        parser.add_argument("--format", required=True, choices=(*FORMATS, *CONVERSATION_FORMATS), dest="fmt")
        parser.add_argument("--mapping", help="YAML file mapping columns to event fields")
        parser.add_argument("--chunk-size", type=int, default=None, help="events written per graph batch")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            mapping = Mapping.load(options["mapping"]) if options["mapping"] else None
            if options["fmt"] in CONVERSATION_FORMATS:
                batch = ingest_conversations(uri=options["source"], fmt=options["fmt"], progress=self._progress)
            else:
                with bulk_collection():
                    batch = ingest_file(uri=options["source"], fmt=options["fmt"], mapping=mapping,
                                        progress=self._progress, chunk_size=options["chunk_size"])
        except (ValueError, OSError, StorageError) as exc:
            raise CommandError(str(exc)) from exc
        except GraphError as exc:
            raise CommandError(f"{exc}\nNothing is lost: run the same command again to resume.") from exc
        self.stdout.write(self._summary(batch))
        if batch.quarantined:
            self.stdout.write(f"{batch.quarantined} rows quarantined; see the admin (Ingest › Quarantined rows) "
                              f"or GET /api/ingest/batches/{batch.pk}/quarantine")
            for row in batch.quarantined_rows.all()[:10]:
                self.stdout.write(f"  row {row.row_number}: {row.reason}")

    def _progress(self, batch: IngestBatch) -> None:
        share = f"{batch.progress:6.1%} " if batch.progress is not None else ""
        self.stderr.write(f"\r{share}{batch.rows_read:,} rows read, {batch.loaded:,} loaded, "
                          f"{batch.quarantined:,} quarantined ({rate(batch):,.0f} rows/s)", ending="")
        self.stderr.flush()

    @staticmethod
    def _summary(batch: IngestBatch) -> str:
        return (f"\nbatch {batch.pk} {batch.status}: {batch.rows_read} rows read, {batch.loaded} loaded, "
                f"{batch.duplicates} duplicates, {batch.quarantined} quarantined")
