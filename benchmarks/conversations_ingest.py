"""Contact Lens analysis files per second through `ingest --format contact-lens`.

Run: python benchmarks/conversations_ingest.py [--files 1000]
Builds a throw-away hub (SQLite file in WAL mode, durable embedded graph store) in a temp dir, loads
one contact record per file (`--format ctr`, so every analysis is attached to its event), writes
`--files` call analyses in the documented layout (10 turns each, with PII, categories and the full
set of conversation characteristics), then times the analysis ingest: parse, redact, store turns,
categories and the full-text index, and put each summary on its event. Target (issue 13): >= 200
files/s on 2 cores. Writes benchmarks/results/conversations_ingest.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SQLITE_OPTIONS = "?init_command=" + quote("PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="journeyhub-lens-") as tmp:
        work = Path(tmp)
        os.environ.update({"DJANGO_SETTINGS_MODULE": "journeyhub.settings.local", "DEBUG": "false",
                           "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}{SQLITE_OPTIONS}",
                           "GRAPH_URL": f"embedded://{work / 'graph'}", "LOG_LEVEL": "WARNING",
                           "ARTIFACTS_DIR": str(work / "artifacts")})
        import django

        django.setup()
        from django.core.management import call_command

        from apps.ingest.models import IngestBatch
        from tests.conversations import builders

        call_command("migrate", verbosity=0)
        records = []
        analysis = builders.cancel_call()
        for n in range(args.files):
            contact_id = f"bench-{n:06d}"
            endpoint = {"Address": f"+614120{n:05d}", "Type": "TELEPHONE_NUMBER"}
            records.append(json.dumps({"ContactId": contact_id, "Channel": "VOICE", "InitiationMethod": "INBOUND",
                                       "InitiationTimestamp": f"2026-11-02T10:{n % 60:02d}:00Z",
                                       "CustomerEndpoint": endpoint, "Agent": {"Username": "jsmith"},
                                       "Queue": {"Name": "Cards"}}))
            name = f"Analysis/Voice/2026/11/02/{contact_id}_analysis_2026-11-02T11:00:00Z.json"
            builders.write(work / "bucket", name, analysis)
        (work / "ctr").write_text("".join(records))
        call_command("ingest", str(work / "ctr"), "--format", "ctr", stdout=open(os.devnull, "w"))
        started, cpu = time.perf_counter(), time.process_time()
        call_command("ingest", str(work / "bucket"), "--format", "contact-lens", stdout=open(os.devnull, "w"),
                     stderr=open(os.devnull, "w"))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        batch = IngestBatch.objects.get(format="contact-lens")
        result = {"files": args.files, "loaded": batch.loaded, "quarantined": batch.quarantined,
                  "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                  "files_per_second": round(args.files / wall, 1)}
    print(json.dumps(result, indent=2))
    (ROOT / "benchmarks" / "results" / "conversations_ingest.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
