"""`python manage.py demo [--no-serve] [--customers N] [--seed S] [--port 8000]`: the local demo.

Migrates, loads the seeded retail-bank data set through the ordinary ingest, creates the admin login
and an API key, trains the models the installed apps offer, prints how to get in, then serves the
dashboard and API. Safe to run again: nothing is loaded twice and the same login is printed.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core import jobs
from apps.demo import conversations, definitions, services
from apps.demo.dataset import DEFAULT_CUSTOMERS, DEFAULT_SEED, build_demo_events
from apps.demo.sources import DemoDataError
from apps.ingest.models import IngestBatch
from graph import journeys
from graph.errors import GraphUnavailable


class Command(BaseCommand):
    help = "Load the demo data set, print a login and an API key, and serve on 127.0.0.1."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Load and print the login, then exit.")
        parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                            help=f"How many customers to generate (default {DEFAULT_CUSTOMERS}).")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Random seed of the data set.")
        parser.add_argument("--port", type=int, default=8000, help="Port to serve on (default 8000).")
        parser.add_argument("--train", action=argparse.BooleanOptionalAction, default=None,
                            help="Train the models (default: when the train command exists and new events "
                                 "were loaded).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._demo(options)
        except GraphUnavailable as exc:
            raise CommandError(f"the graph store at {settings.GRAPH_URL} is not available: {exc}. If another "
                               "process (graphserver, a web server) holds it, stop it or point GRAPH_URL "
                               "at that server (ws://...).") from exc

    def _demo(self, options: dict[str, Any]) -> None:
        clock = _Clock()
        call_command("migrate", interactive=False, verbosity=0)
        shared = Path(settings.DATA_DIR)
        var_dir = Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var"))
        try:
            records = build_demo_events(shared_data_dir=shared, customers=options["customers"], seed=options["seed"])
        except DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        customers = len({r["customer_id"] for r in records})
        if services.clear_stale_event_store():
            self.stdout.write("The event store held the events of an earlier graph (the graph is new): emptied it")
        defined = definitions.ensure_definitions()
        clock.lap("prepare")
        self.stdout.write(f"Loading {len(records):,} demo events for {customers:,} customers ...")
        batch = services.load_events(records=records, progress=self._progress(len(records)))
        services.apply_profiles(shared_data_dir=shared, customers=options["customers"], seed=options["seed"])
        clock.lap("load")
        talks = conversations.add_conversations(records=records, seed=options["seed"])
        self.stdout.write(f"  {talks.loaded:,} call and chat transcripts analysed and redacted "
                          f"({talks.duplicates:,} already there)")
        clock.lap("conversations")
        if batch.loaded or defined.milestones_created or defined.kpis_created:
            self.stdout.write("Evaluating milestones and KPIs ...")
            analytics = services.refresh_analytics()
            self.stdout.write(f"  {analytics.milestones_reached:,} milestones reached "
                              f"({analytics.milestones_found_now:,} by the backfill, the rest while loading), "
                              f"{analytics.kpi_values:,} KPI values stored")
            clock.lap("milestones and KPIs")
        password = services.ensure_admin(var_dir=var_dir)
        api_key = services.ensure_api_key(var_dir=var_dir)
        training = self._train(options["train"], batch)
        if training is not None:
            clock.lap("training")
        self._summary(batch=batch, customers=customers, events=len(records), password=password,
                      api_key=api_key, port=options["port"], training=training, clock=clock)
        if not options["no_serve"]:
            self.stdout.write(f"Serving on http://127.0.0.1:{options['port']}/ (Ctrl-C to stop)")
            jobs.start_in_process_worker()  # the embedded store is this process's: jobs run here too
            call_command("runserver", f"127.0.0.1:{options['port']}", use_reloader=False)

    def _progress(self, total: int) -> Callable[[IngestBatch], None]:
        step = max(total // 10, 1)
        shown = [0]

        def report(batch: IngestBatch) -> None:
            if batch.rows_read - shown[0] >= step or batch.rows_read == total:
                shown[0] = batch.rows_read
                self.stdout.write(f"  {batch.rows_read:,}/{total:,} rows read, {batch.loaded:,} new")
        return report

    def _train(self, wanted: bool | None, batch: IngestBatch) -> services.TrainingReport | None:
        if wanted is False or (wanted is None and not batch.loaded):
            return None
        if not services.training_available():
            if wanted:
                self.stderr.write("No `train` command is installed; skipping model training.")
            return None
        return services.train_models(say=self.stdout.write)

    def _summary(self, *, batch: IngestBatch, customers: int, events: int, password: str, api_key: str, port: int,
                 training: services.TrainingReport | None, clock: _Clock) -> None:
        store = journeys.graph_counts()
        lines = [
            "",
            "JourneyHub demo",
            f"  customers      {customers:,}",
            f"  events         {events:,} ({batch.loaded:,} loaded now, {batch.duplicates:,} already there, "
            f"{batch.quarantined:,} quarantined)",
            f"  graph store    {store['customer']:,} customers, {store['event']:,} events, "
            f"{store['identifier']:,} identifiers",
            f"  login          http://127.0.0.1:{port}/accounts/login/",
            f"  username       {services.ADMIN_USERNAME}",
            f"  password       {password}",
            f"  API key        {api_key}",
            "                 (send it as the header  Authorization: Api-Key <key>)",
        ]
        if training is not None:
            lines.append(f"  models         trained: {', '.join(training.trained) or 'none'}")
            lines.extend(f"                 {name} not trained: {reason}" for name, reason in training.failed)
        laps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in clock.laps)
        lines.append(f"  ready in       {clock.total():.1f} s ({laps})")
        self.stdout.write("\n".join(lines))


class _Clock:
    """Wall time per phase, printed so a slow step is easy to spot."""

    def __init__(self) -> None:
        self.started = self.mark = time.monotonic()
        self.laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps.append((name, now - self.mark))
        self.mark = now

    def total(self) -> float:
        return time.monotonic() - self.started
