"""`python manage.py events_store check|repair|rebuild|compact`: the event store against the graph."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.events import maintenance, store
from graph.errors import GraphError


class Command(BaseCommand):
    help = ("check: compare the event store with the graph per day (counts and content) and name every "
            "difference, the identity and contacts tables included (exit 1 when any); repair: the same check, "
            "then write again from the graph only the days and tables that differ; rebuild: write the store "
            "and its tables again from the graph; compact: merge each day's small files into one.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check", "repair", "rebuild", "compact"])

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        self.stderr.write(f"event store {store.store_url()}")
        try:
            if action == "check":
                self._check()
            elif action == "repair":
                self._repair()
            elif action == "rebuild":
                total = maintenance.rebuild(self._progress)
                self.stdout.write(f"rebuilt the event store from the graph: {total} events")
            else:
                days, removed = maintenance.compact(self._progress)
                self.stdout.write(f"compacted {days} days ({removed} files merged)")
        except (store.EventStoreError, GraphError) as exc:
            raise CommandError(str(exc)) from exc

    def _check(self) -> None:
        report = maintenance.check(self._progress)
        for line in report.differences:
            self.stdout.write(line)
        contacts = (f", contacts graph {report.graph_contacts}, table {report.store_contacts}"
                    if report.graph_contacts or report.store_contacts else "")
        summary = (f"{report.days} days, graph {report.graph_events} events, store {report.store_events} events"
                   f"{contacts}: " + ("equal" if report.equal else f"{len(report.differences)} differences"))
        if not report.equal:
            raise CommandError(summary + " (`events_store rebuild` writes the store again from the graph)")
        self.stdout.write(summary)

    def _repair(self) -> None:
        report = maintenance.repair(self._progress)
        for line in report.differences:
            self.stdout.write(line)
        if report.equal:
            self.stdout.write("the event store equals the graph: nothing to repair")
            return
        tables = [name for name, differs in (("identity", report.identity_differs),
                                             ("contacts", report.contacts_differ)) if differs]
        self.stdout.write(f"repaired {len(report.differing_days)} days"
                          + (f" and the {' and '.join(tables)} table{'s' if len(tables) > 1 else ''}" if tables else "")
                          + " from the graph")

    def _progress(self, message: str) -> None:
        self.stderr.write(message)
