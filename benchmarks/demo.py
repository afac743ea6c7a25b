"""How long `manage.py demo --no-serve` takes from nothing, and again (target: first load under ~60 s).

Run: python benchmarks/demo.py [--customers 3000] [--train]
Uses a durable embedded store, a SQLite file and a var directory in a temporary folder (the real
demo's files are not touched), runs the demo twice (the second run must load nothing), prints each
run's phases and writes benchmarks/results/demo.json.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="journeyhub-demo-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.local")
os.environ["GRAPH_URL"] = f"embedded://{WORK / 'graph'}"
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'db.sqlite3'}"
os.environ["ARTIFACTS_DIR"] = str(WORK / "artifacts")


def run_demo(args: list[str]) -> dict[str, object]:
    from django.core.management import call_command

    out = io.StringIO()
    started = time.perf_counter()
    call_command("demo", "--no-serve", *args, stdout=out)
    seconds = time.perf_counter() - started
    text = out.getvalue()
    loaded = re.search(r"events\s+([\d,]+) \(([\d,]+) loaded now", text)
    phases = re.search(r"ready in\s+[\d.]+ s \((.*)\)", text)
    return {"seconds": round(seconds, 1),
            "events": int(loaded.group(1).replace(",", "")) if loaded else None,
            "loaded": int(loaded.group(2).replace(",", "")) if loaded else None,
            "phases": phases.group(1) if phases else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=None, help="demo customers (default: the demo's own)")
    parser.add_argument("--train", action="store_true", help="also train the models on the first run")
    options = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    settings.VAR_DIR = WORK / "var"
    args = ["--customers", str(options.customers)] if options.customers else []
    first = run_demo(args + (["--train"] if options.train else ["--no-train"]))
    again = run_demo(args + ["--no-train"])
    rows = [("first run (from nothing)", first), ("second run (nothing new)", again)]
    print(f"{'run':<28} {'wall s':>8} {'events':>8} {'loaded':>8}  phases")
    for name, row in rows:
        print(f"{name:<28} {row['seconds']:>8} {row['events']:>8} {row['loaded']:>8}  {row['phases']}")
    out = ROOT / "benchmarks" / "results" / "demo.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"target_seconds": 60, "train": options.train, "machine": platform.platform(),
                               "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                               "runs": dict(rows)}, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)} (scratch files in {WORK})")


if __name__ == "__main__":
    main()
