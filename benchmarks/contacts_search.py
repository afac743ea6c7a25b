"""Contact search at 100,000 contacts: GET /api/contacts latency, full text and filters.

Run: python benchmarks/contacts_search.py [--contacts 100000] [--queries 1000] [--seed 7]
Builds a throw-away hub database (SQLite file in WAL mode, or DATABASE_URL if set) in a temp dir,
migrates, and loads `--contacts` analysed contacts (about 12 turns of generated dialogue each, with
categories, customers, queues, agents, durations and sentiment spread out) straight through the
models and the full-text index the services use. Then it sends `--queries` requests through Django's
test client with an API key (the whole request: authentication, validation, search, serialisation),
mixing word searches, filters and both, and reports p50/p95/p99/max per kind and overall, and the
CPU time each request took in this process (single-threaded, so on a shared machine it is the
latency an idle core would give, less waits for disk).
Target (issue 13): p99 <= 50 ms on 100,000 contacts. Writes benchmarks/results/contacts_search.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SQLITE_OPTIONS = "?init_command=" + quote("PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;")

OPENERS = ["I'm calling about my {thing}", "there is a problem with my {thing}", "I need help with my {thing}",
           "can you check my {thing}", "I want to cancel my {thing}", "why was my {thing} declined"]
THINGS = ["credit card", "home loan", "savings account", "transfer", "direct debit", "statement", "pin",
          "overdraft", "term deposit", "insurance claim", "mobile app", "online banking"]
FEELINGS = ["this is really frustrating", "thanks so much for your help", "that sounds fine",
            "I am not happy about these fees", "great, that fixed it", "I'll think about switching banks",
            "nobody called me back last time", "the agent was very helpful"]
AGENT_LINES = ["let me look into that for you", "I can see the charge here", "I've lodged a request",
               "is there anything else I can help with", "I'm sorry for the trouble",
               "I can waive that fee today", "you'll get an email confirmation shortly"]
CATEGORIES = ["Cancellation", "Fees", "Fraud", "Complaint", "Hardship", "Compliment", "Escalation"]
QUEUES = ["Cards", "Loans", "Retention", "General", "Fraud", "Chat"]


def environment(workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.local")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'db.sqlite3'}{SQLITE_OPTIONS}")
    os.environ.update({"GRAPH_URL": "embedded://memory", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "testserver",
                       "ARTIFACTS_DIR": str(workdir / "artifacts")})


def _dialogue(rng: random.Random) -> list[tuple[str, str]]:
    turns = [("AGENT", "thanks for calling, how can I help")]
    for _ in range(rng.randint(4, 7)):
        turns.append(("CUSTOMER", f"{rng.choice(OPENERS).format(thing=rng.choice(THINGS))}, {rng.choice(FEELINGS)}"))
        turns.append(("AGENT", rng.choice(AGENT_LINES)))
    return turns


def load(count: int, seed: int, *, with_turns: bool = False) -> None:
    """Contacts, categories and the full-text index (what a search reads); turn rows only when asked
    (a search never reads them, and they make the load ten times longer)."""
    from django.db import transaction

    from apps.conversations import fulltext
    from apps.conversations.models import Contact, ContactCategory, ContactText, Turn

    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(0, count, 2000):
        contacts, dialogues = [], []
        for n in range(first, min(first + 2000, count)):
            dialogue = _dialogue(rng)
            dialogues.append(dialogue)
            contacts.append(Contact(
                contact_id=f"bench-{n:07d}", customer_id=f"cust-{rng.randrange(count // 4)}",
                channel=rng.choice(["voice", "voice", "voice", "chat"]), initiation_method="INBOUND",
                queue=rng.choice(QUEUES), agent=f"agent{rng.randrange(200)}", has_record=True,
                started_at=start + timedelta(minutes=rng.randrange(60 * 24 * 300)),
                duration_ms=rng.randrange(30_000, 1_800_000), analysis_source="contact-lens",
                sentiment_customer=round(rng.uniform(-5, 5), 1), sentiment_agent=round(rng.uniform(-5, 5), 1),
                attached=True))
        with transaction.atomic():
            Contact.objects.bulk_create(contacts)
            saved = list(Contact.objects.filter(contact_id__in=[c.contact_id for c in contacts]).values_list(
                "contact_id", "id"))
            ids = dict(saved)
            if with_turns:
                Turn.objects.bulk_create([Turn(contact_id=ids[c.contact_id], position=i, role=role,
                                               begin_ms=i * 5000, end_ms=i * 5000 + 4000, content=text)
                                          for c, dialogue in zip(contacts, dialogues, strict=True)
                                          for i, (role, text) in enumerate(dialogue)])
            ContactCategory.objects.bulk_create([
                ContactCategory(contact_id=ids[c.contact_id], name=name)
                for c in contacts for name in rng.sample(CATEGORIES, rng.randint(0, 2))])
            texts = [(ids[c.contact_id], "\n".join(text for _, text in d))
                     for c, d in zip(contacts, dialogues, strict=True)]
            ContactText.objects.bulk_create([ContactText(contact_id=pk, body=body) for pk, body in texts])
            fulltext.index(texts)
        print(f"\r{min(first + 2000, count):,} contacts loaded", end="", file=sys.stderr)
    print(file=sys.stderr)


def queries(rng: random.Random) -> tuple[str, dict[str, Any]]:
    kind = rng.choice(["words", "filters", "both", "category", "rare words"])
    if kind == "words":
        return kind, {"q": rng.choice(THINGS)}
    if kind == "rare words":
        return kind, {"q": "switching banks fees"}
    filters: dict[str, Any] = {"queue": rng.choice(QUEUES)} if rng.random() < 0.5 else {
        "sentiment_max": -2.5, "duration_min": 600}
    if kind == "category":
        return kind, {"category": rng.choice(CATEGORIES), "channel": "voice"}
    if kind == "both":
        filters["q"] = rng.choice(["cancel", "declined", "fees", "frustrating"])
    return kind, filters


def run(count: int, n_queries: int, seed: int, with_turns: bool) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from apps.core.models import ApiKey

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    load(count, seed, with_turns=with_turns)
    load_s = time.perf_counter() - started
    _, raw = ApiKey.issue("bench")
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    rng = random.Random(seed + 1)
    client.get("/api/contacts", {"q": "loan"})  # warm: key cache, first page of the index
    timings: dict[str, list[float]] = {}
    cpu: list[float] = []
    hits: dict[str, list[int]] = {}
    for _ in range(n_queries):
        kind, params = queries(rng)
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get("/api/contacts", params)
        timings.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert response.status_code == 200, response.content
        hits.setdefault(kind, []).append(response.json()["count"])
    everything = [t for values in timings.values() for t in values]
    return {"contacts": count, "queries": n_queries, "load_seconds": round(load_s, 1),
            "database": django.db.connection.vendor,
            "overall": _stats(everything), "cpu_per_request": _stats(cpu),
            "load_average": os.getloadavg(),
            "by_kind": {k: {**_stats(v), "median_hits": int(statistics.median(hits[k]))} for k, v in timings.items()}}


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)  # noqa: E731
    return {"n": len(values), "p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "max_ms": round(ordered[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--with-turns", action="store_true", help="also store every turn as its own row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="journeyhub-contacts-") as workdir:
        environment(Path(workdir))
        result = run(args.contacts, args.queries, args.seed, args.with_turns)
    print(f"{'kind':<12} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'hits':>7}")
    for kind, s in sorted(result["by_kind"].items()):
        print(f"{kind:<12} {s['n']:>5} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['p99_ms']:>8} {s['max_ms']:>8} "
              f"{s['median_hits']:>7}")
    o = result["overall"]
    print(f"{'overall':<12} {o['n']:>5} {o['p50_ms']:>8} {o['p95_ms']:>8} {o['p99_ms']:>8} {o['max_ms']:>8}")
    c = result["cpu_per_request"]
    print(f"{'CPU/request':<12} {c['n']:>5} {c['p50_ms']:>8} {c['p95_ms']:>8} {c['p99_ms']:>8} {c['max_ms']:>8}")
    print(f"load average during the run: {result['load_average']}")
    out = ROOT / "benchmarks" / "results" / "contacts_search.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
