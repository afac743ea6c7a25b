"""`manage.py connect_bundle OUTDIR`: the Lambda zip and a sample contact flow for Amazon Connect."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.decisions.contact_flow import sample_flow
from apps.decisions.lambda_handler import handler

ZIP_NAME = "journeyhub-decisions-lambda.zip"
FLOW_NAME = "journeyhub-decisions-flow.json"


def build_bundle(outdir: Path) -> tuple[Path, Path]:
    """Write the zip (handler.py at its root: Lambda handler `handler.lambda_handler`) and the flow."""
    outdir.mkdir(parents=True, exist_ok=True)
    zip_path, flow_path = outdir / ZIP_NAME, outdir / FLOW_NAME
    source = Path(handler.__file__).read_bytes()
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        info = zipfile.ZipInfo("handler.py", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        bundle.writestr(info, source)
    flow_path.write_text(json.dumps(sample_flow(), indent=2) + "\n")
    return zip_path, flow_path


class Command(BaseCommand):
    help = "Build the Amazon Connect Lambda zip (runtime python3.12, handler handler.lambda_handler) and a flow."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("outdir", help="folder to write the zip and the flow JSON into")

    def handle(self, *args: Any, **options: Any) -> None:
        zip_path, flow_path = build_bundle(Path(options["outdir"]))
        self.stdout.write(f"Lambda zip:   {zip_path}  (handler: handler.lambda_handler; "
                          "env: HUB_URL, HUB_API_KEY, BUDGET_MS)")
        self.stdout.write(f"contact flow: {flow_path}  (import it in the flow designer, then set the ARNs)")
