"""`manage.py replay_calls`: a day of calls through the Connect Lambda handler against a running hub.

Without --hub-url the command serves the hub itself on 127.0.0.1 (this process's graph and database)
and seeds the day's callers' earlier calls into the graph; with --hub-url it talks to that hub (seed
only when this process shares its graph store, e.g. GRAPH_URL=ws://…; else pass --no-seed).
"""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.decisions import replay
from apps.decisions.lambda_handler.handler import lambda_handler
from apps.decisions.local_hub import LocalHub
from apps.decisions.modeling.intent import read_interactions


class Command(BaseCommand):
    help = "Replay a day of calls through the Connect Lambda handler and print routing and metrics beside baselines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", help="interactions CSV (default: the shared intents data set)")
        parser.add_argument("--day", help="YYYY-MM-DD (default: the busiest day of the latest 15%% of calls)")
        parser.add_argument("--hub-url", help="a running hub; default: serve one in this process")
        parser.add_argument("--api-key", help="API key for --hub-url (default: env HUB_API_KEY)")
        parser.add_argument("--no-seed", action="store_true", help="do not write the callers' history first")
        parser.add_argument("--train", action="store_true",
                            help="first train and activate an intent model on the calls before the day "
                                 "(and a risk model on the shared fraud_calls data set)")
        parser.add_argument("--budget-ms", type=int, default=2000)
        parser.add_argument("--limit", type=int, help="replay at most this many calls")
        parser.add_argument("--stop-hub-after", type=int,
                            help="stop the in-process hub after this many calls (shows the fallback)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON only")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["data"] or Path(settings.DATA_DIR) / "intents" / "interactions.csv")
        try:
            calls = read_interactions(path)
            day = replay.parse_day(options["day"]) if options["day"] else replay.pick_day(calls)
        except (ValueError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        history, today = replay.split_day(calls, day)
        if options["limit"]:
            today = today[: options["limit"]]
        if not today:
            raise CommandError(f"no calls on {day} in {path}")
        if options["train"]:
            self._train(path, day)
        if not options["no_seed"]:
            seeded = replay.seed_history(history, {c.customer_id for c in today})
            self._say(options, f"seeded {seeded} earlier calls of {len(today)} callers into the graph")
        if options["hub_url"]:
            report = self._replay(options["hub_url"], options["api_key"] or os.environ.get("HUB_API_KEY", ""),
                                  options, today, history, str(day), hub=None)
        else:
            with LocalHub() as hub:
                key = self._temporary_key()
                try:
                    report = self._replay(hub.url, key[1], options, today, history, str(day), hub=hub)
                finally:
                    key[0].delete()
        self._print(report, options)

    def _train(self, path: Path, day: Any) -> None:
        from apps.propensity.services import train_model

        until = datetime(day.year, day.month, day.day, tzinfo=UTC)
        version = train_model(name="intent", data=path, until=until, trained_by="manage.py replay_calls")
        self.stdout.write(f"trained intent v{version.version} on calls before {day}")
        if self._risk_data().exists():
            risk = train_model(name="risk", trained_by="manage.py replay_calls")
            self.stdout.write(f"trained risk v{risk.version} on the fraud_calls data set")

    @staticmethod
    def _risk_data() -> Path:
        return Path(settings.DATA_DIR) / "fraud_calls" / "train.csv"

    @staticmethod
    def _temporary_key() -> Any:
        from apps.core.models import ApiKey, Scope

        return ApiKey.issue(f"replay-{datetime.now(tz=UTC):%Y%m%d%H%M%S%f}", scopes=[Scope.DECIDE])

    def _replay(self, url: str, key: str, options: dict[str, Any], today: list[replay.ReplayCall],
                history: Any, day: str, hub: LocalHub | None) -> replay.ReplayReport:
        saved = {k: os.environ.get(k) for k in ("HUB_URL", "HUB_API_KEY", "BUDGET_MS")}
        os.environ.update({"HUB_URL": url, "HUB_API_KEY": key, "BUDGET_MS": str(options["budget_ms"])})
        stop_after = options["stop_hub_after"]

        def before_call(n: int) -> None:
            if hub is not None and stop_after is not None and n == stop_after:
                hub.stop()
                self._say(options, f"hub stopped after {n} calls")

        try:
            return replay.replay_day(today, invoke=lambda event: lambda_handler(event, None), history=history,
                                     day=day, before_call=before_call)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def _say(self, options: dict[str, Any], text: str) -> None:
        if not options["json"]:
            self.stdout.write(text)

    def _print(self, report: replay.ReplayReport, options: dict[str, Any]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
            return
        pop = report.baselines["popularity"]
        lines = [
            f"replay of {report.day}: {report.calls} calls through the Lambda handler",
            f"{'':24}{'hub':>10}{'popularity':>12}{'menu only':>11}",
            f"{'top-1 accuracy':24}{report.top1:>10.3f}{pop['top1']:>12.3f}{0.0:>11.3f}",
            f"{'top-3 accuracy':24}{report.top3:>10.3f}{pop['top3']:>12.3f}{0.0:>11.3f}",
        ]
        for action in ("confirm", "suggest", "menu"):
            share = report.intent_mix.get(action, 0) / report.calls
            lines.append(f"{'share ' + action:24}{share:>10.3f}{0.0:>12.3f}{float(action == 'menu'):>11.3f}")
        for action, precision in report.band_precision.items():
            shown = f"{precision:>10.3f}" if report.intent_mix.get(action) else f"{'n/a':>10}"
            lines.append(f"{'precision ' + action:24}{shown}")
        lines.append(f"risk routing: {json.dumps(report.risk_mix, sort_keys=True)}")
        lines.append(f"fallbacks: {json.dumps(report.fallbacks)}; handler ms p50 {report.handler_ms['p50']}, "
                     f"p99 {report.handler_ms['p99']}")
        self.stdout.write("\n".join(lines))
