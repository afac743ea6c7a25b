"""`python manage.py export_neptune OUTDIR [--s3 s3://bucket/prefix]`: bulk-loader CSV for Amazon Neptune."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core import storage
from graph.errors import GraphError
from graph.export import export_bulk_csv


class Command(BaseCommand):
    help = ("Write the graph store as Neptune bulk-loader CSV (vertices.csv, edges.csv) into OUTDIR, "
            "optionally uploading both files to an S3 prefix the Neptune loader can read.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("outdir", type=Path, help="Local folder for vertices.csv and edges.csv")
        parser.add_argument("--s3", dest="s3_url", default="", help="Also upload to s3://bucket/prefix")
        parser.add_argument("--page-size", type=int, default=1000, help="Elements read per traversal")

    def handle(self, *args: Any, **options: Any) -> None:
        outdir: Path = options["outdir"]
        s3_url: str = options["s3_url"]
        if s3_url and not storage.is_s3(s3_url):
            raise CommandError(f"--s3 must be an s3://bucket/prefix URL, not {s3_url!r}")
        if outdir.exists() and not outdir.is_dir():
            raise CommandError(f"OUTDIR {outdir} exists and is not a folder")
        try:
            summary = export_bulk_csv(outdir, page_size=options["page_size"])
        except (GraphError, ValueError) as exc:
            raise CommandError(f"export failed: {exc}") from exc
        self.stdout.write(f"{summary.vertices} vertices -> {summary.vertices_path}")
        self.stdout.write(f"{summary.edges} edges -> {summary.edges_path}")
        if s3_url:
            target = storage.folder(s3_url)
            try:
                for path in (summary.vertices_path, summary.edges_path):
                    self.stdout.write(f"uploaded {target.write_file(path.name, path)}")
            except storage.StorageError as exc:
                raise CommandError(str(exc)) from exc
