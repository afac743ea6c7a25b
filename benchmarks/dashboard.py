"""Every dashboard page's answer time from a real web server over the demo data (targets: under
300 ms warm, under 1 s for the first request after the server starts).

Run: python benchmarks/dashboard.py [--state DIR] [--repeat 9] [--customers N] [--pages overview,customers]

`--state DIR` holds a demo state: a durable embedded store (`DIR/graph`), a SQLite file, the event
store and model files. When DIR has no store yet, `manage.py demo --no-serve` fills it first (the
demo's own data set; `--train` also trains its models); an existing state is reused as it is
(migrated, its name index rebuilt). Without `--state` a temporary folder is used. Nothing else on disk is touched.

For each page a fresh `manage.py runserver --noreload` process (the server `manage.py demo` runs,
local settings) is started over the state; once its port accepts connections the page is requested
once ("first after start"), then `--repeat` more times ("warm": min, median, p95). A session made
by signing in once through the login form is reused, so each first request is the page itself.
Times are wall times measured by the client over loopback (the server's work plus HTTP), and the
CPU the server process spent (from /proc: the first request, and the mean of the warm ones), which is
what an idle core would take when other work shares the machine.
Prints a table and writes benchmarks/results/dashboard.json.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import math
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WARM_TARGET_MS = 300.0
FIRST_TARGET_MS = 1000.0
START_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 120.0
USERNAME = "bench-admin"

# What the benchmark needs to know about the state, read in a separate process before any server
# starts (the embedded store opens in one process at a time).
FACTS_SCRIPT = """
import json
from django.contrib.auth.models import User
from apps.customers import selectors
from apps.ingest.models import IngestBatch
from apps.journeys.models import KpiDefinition
from graph import journeys
user, _ = User.objects.get_or_create(username=%(user)r)
user.is_staff = user.is_superuser = user.is_active = True
user.set_password(%(password)r)
user.save()
rows = journeys.customer_rows(offset=0, limit=300)
busy = max(rows, key=lambda r: (r.event_count, r.customer_id))
named = next((r for r in rows if r.attributes.get("name")), busy)
summary = journeys.customer_summary(busy.customer_id)
phones = [i["value"] for i in summary.identifiers if i["kind"] == "phone"] if summary else []
emails = [i["value"] for i in summary.identifiers if i["kind"] == "email"] if summary else []
print("FACTS " + json.dumps({
    "customer": busy.customer_id, "phone": phones[0] if phones else "", "email": emails[0] if emails else "",
    "name": str(named.attributes.get("name") or "").split(" ")[-1],
    "kpi": KpiDefinition.objects.filter(active=True).values_list("slug", flat=True).first(),
    "batch": IngestBatch.objects.order_by("-pk").values_list("pk", flat=True).first(),
    "counts": journeys.graph_counts()}))
"""


def pages(facts: dict[str, Any]) -> dict[str, str]:
    customer = urllib.parse.quote(facts["customer"], safe="")
    out = {
        "overview": "/",
        "journey explorer (default)": "/journeys/explorer/",
        "journey explorer (to card dispute, 5 steps)": "/journeys/explorer/?direction=to&event=call_fraud_dispute"
                                                       "&steps=5",
        "explorer drill-down (node)": "/journeys/explorer/customers/?direction=to&event=call_fraud_dispute&steps=5"
                                      "&node=1:call_fraud_dispute",
        "top journeys": "/journeys/top/",
        "funnel (3 steps)": "/journeys/funnel/?step=login&step=view_transactions&step=call_fraud_dispute",
        "funnel drill-down (step 3)": "/journeys/funnel/customers/?step=login&step=view_transactions"
                                      "&step=call_fraud_dispute&at=3",
        "customers": "/customers/",
        "customers, page 3": "/customers/?offset=100",
        "customer search by name": f"/customers/?q={urllib.parse.quote(facts['name'])}",
        "customer 360": f"/customers/{customer}/",
        "similarity (customer)": f"/similarity/?customer={customer}",
        "contacts": "/contacts/",
        "models": "/models/",
        "decisions": "/decisions/",
        "ingest": "/ingest/",
        "widgets": "/widgets/",
    }
    if facts.get("phone"):
        out["customer search by phone"] = f"/customers/?q={urllib.parse.quote(facts['phone'])}"
    if facts.get("batch"):
        out["ingest batch"] = f"/ingest/batches/{facts['batch']}/"
    if facts.get("kpi"):
        out["KPI widget"] = f"/widgets/{facts['kpi']}/"
    return out


@dataclass
class State:
    folder: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "DJANGO_SETTINGS_MODULE": "journeyhub.settings.local",
            "GRAPH_URL": f"embedded://{self.folder / 'graph'}",
            "DATABASE_URL": f"sqlite:///{self.folder / 'journeyhub.sqlite3'}",
            "EVENTS_STORE_URL": str(self.folder / "events"),
            "ARTIFACTS_DIR": str(self.folder / "artifacts"),
            "ANALYTICS_TEMP_DIR": str(self.folder / "analytics-tmp"),
            "JOB_UPLOAD_DIR": str(self.folder / "uploads"),
            "JOBS_IN_PROCESS": "false",  # the server alone: no job thread competing with the pages
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def manage(self, *args: str, timeout: float = 3600) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), text=True,
                              capture_output=True, timeout=timeout)
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout


def prepare(state: State, *, customers: int | None, train: bool) -> float:
    """The demo state: loaded now when the folder holds no store, else migrated. Seconds spent loading."""
    state.folder.mkdir(parents=True, exist_ok=True)
    if (state.folder / "graph").exists():
        state.manage("migrate", "--noinput")
        state.manage("reindex_customers")  # a state made before the name index existed
        return 0.0
    print(f"loading the demo into {state.folder} (a few minutes) ...", flush=True)
    started = time.perf_counter()
    args = ["demo", "--no-serve", "--train" if train else "--no-train"]
    if customers:
        args += ["--customers", str(customers)]
    state.manage(*args)
    return time.perf_counter() - started


def facts_of(state: State, password: str) -> dict[str, Any]:
    out = state.manage("shell", "-c", FACTS_SCRIPT % {"user": USERNAME, "password": password})
    line = next(line for line in out.splitlines() if line.startswith("FACTS "))
    return dict(json.loads(line.removeprefix("FACTS ")))


class Server:
    """One `runserver` process over the state, stopped on exit."""

    def __init__(self, state: State, port: int) -> None:
        self.port = port
        self.log = tempfile.TemporaryFile()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT,
            env=state.env(), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.start_s = self._wait_for_port(started)

    def _wait_for_port(self, started: float) -> float:
        while time.perf_counter() - started < START_TIMEOUT_S:
            if self.process.poll() is not None:
                raise SystemExit(f"the server stopped at start:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"the server did not open port {self.port} within {START_TIMEOUT_S:.0f} s")

    def cpu_ms(self) -> float:
        """CPU the server process has used so far (user + system), from /proc: what the requests cost
        an idle core, whatever else the machine is doing."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


class Browser:
    """Cookies and requests over loopback, as a signed-in person's browser makes them."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def sign_in(self, password: str) -> None:
        form = self.opener.open(f"{self.base}/accounts/login/", timeout=REQUEST_TIMEOUT_S).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        if token is None:
            raise SystemExit("the login page has no CSRF token")
        body = urllib.parse.urlencode({"username": USERNAME, "password": password,
                                       "csrfmiddlewaretoken": token.group(1)}).encode()
        request = urllib.request.Request(f"{self.base}/accounts/login/", data=body,
                                         headers={"Referer": f"{self.base}/accounts/login/"})
        response = self.opener.open(request, timeout=REQUEST_TIMEOUT_S)
        if "/accounts/login/" in response.geturl():
            raise SystemExit("signing in failed")

    def get_ms(self, url: str) -> tuple[float, int]:
        started = time.perf_counter()
        try:
            response = self.opener.open(f"{self.base}{url}", timeout=REQUEST_TIMEOUT_S)
            response.read()
            status = response.status
        except urllib.error.HTTPError as exc:
            exc.read()
            status = exc.code
        return (time.perf_counter() - started) * 1000, status


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def measure(state: State, browser: Browser, name: str, url: str, repeat: int) -> dict[str, Any]:
    server = Server(state, int(browser.base.rsplit(":", 1)[1]))
    try:
        started_cpu = server.cpu_ms()
        first, status = browser.get_ms(url)
        first_cpu = server.cpu_ms() - started_cpu
        warm = [browser.get_ms(url)[0] for _ in range(repeat)]
        warm_cpu = (server.cpu_ms() - started_cpu - first_cpu) / repeat
    finally:
        server.stop()
    median, p95 = statistics.median(warm), percentile(warm, 0.95)
    return {"page": name, "url": url, "status": status, "start_s": round(server.start_s, 2),
            "first_ms": round(first, 1), "warm_min_ms": round(min(warm), 1), "warm_median_ms": round(median, 1),
            "warm_p95_ms": round(p95, 1), "first_cpu_ms": round(first_cpu), "warm_cpu_ms": round(warm_cpu, 1),
            "first_ok": first < FIRST_TARGET_MS, "warm_ok": p95 < WARM_TARGET_MS}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, default=None, help="demo state folder (reused, or loaded into)")
    parser.add_argument("--repeat", type=int, default=9, help="warm requests per page")
    parser.add_argument("--customers", type=int, default=None, help="demo customers when loading")
    parser.add_argument("--train", action="store_true", help="train the demo's models when loading")
    parser.add_argument("--pages", default="", help="comma-separated page names (default: every page)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dashboard.json")
    args = parser.parse_args()

    state = State((args.state or Path(tempfile.mkdtemp(prefix="journeyhub-dashboard-bench-"))).resolve())
    load_s = prepare(state, customers=args.customers, train=args.train)
    password = secrets.token_urlsafe(16)
    facts = facts_of(state, password)
    wanted = {p.strip() for p in args.pages.split(",") if p.strip()}
    chosen = {k: v for k, v in pages(facts).items() if not wanted or k in wanted}
    browser = Browser(free_port())
    signing = Server(state, int(browser.base.rsplit(":", 1)[1]))
    try:
        browser.sign_in(password)
    finally:
        signing.stop()
    rows = []
    for name, url in chosen.items():
        rows.append(measure(state, browser, name, url, args.repeat))
        print_row(rows[-1])
    failed = [r for r in rows if r["status"] != 200]
    report = {"warm_target_ms": WARM_TARGET_MS, "first_target_ms": FIRST_TARGET_MS, "repeat": args.repeat,
              "graph": facts["counts"], "load_seconds": round(load_s, 1), "server": "manage.py runserver --noreload",
              "settings": "journeyhub.settings.local", "machine": platform.platform(), "cpus": os.cpu_count(),
              "load_average": [round(v, 2) for v in os.getloadavg()], "pages": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{facts['counts'].get('event', 0):,} events, {facts['counts'].get('customer', 0):,} customers; "
          f"load average {os.getloadavg()[0]:.1f}; wrote {args.out}")
    if failed:
        raise SystemExit(f"pages that did not answer 200: {', '.join(r['page'] for r in failed)}")


HEADER = (f"{'page':<44} {'start s':>7} {'first ms':>9} {'min ms':>7} {'median':>7} {'p95 ms':>7} "
          f"{'cpu 1st':>7} {'cpu warm':>8}  targets (wall)")


def print_row(row: dict[str, Any]) -> None:
    if print_row.__dict__.setdefault("header", True):
        print(HEADER)
        print_row.__dict__["header"] = False
    verdict = ("ok" if row["first_ok"] else "SLOW FIRST") + " / " + ("ok" if row["warm_ok"] else "SLOW WARM")
    print(f"{row['page']:<44} {row['start_s']:>7.2f} {row['first_ms']:>9.1f} {row['warm_min_ms']:>7.1f} "
          f"{row['warm_median_ms']:>7.1f} {row['warm_p95_ms']:>7.1f} {row['first_cpu_ms']:>7} "
          f"{row['warm_cpu_ms']:>8.1f}  {verdict}"
          + ("" if row["status"] == 200 else f"  status {row['status']}"), flush=True)


if __name__ == "__main__":
    main()
