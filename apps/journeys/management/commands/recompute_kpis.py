"""`python manage.py recompute_kpis [--stale] [SLUG ...]`: fill the KPI store from the events."""
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.journeys.selectors import UnknownKpi, kpi_definitions
from apps.journeys.services import recompute_kpis, recompute_stale_kpis


class Command(BaseCommand):
    help = "Recompute stored KPI values (every period), or with --stale only the days ingest marked stale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="KPI slugs (default: every active definition)")
        parser.add_argument("--stale", action="store_true", help="only the days marked stale by ingest")

    def handle(self, *args: object, **options: object) -> None:
        if options["stale"]:
            result = recompute_stale_kpis()
        else:
            try:
                definitions = kpi_definitions(list(options["slugs"]))  # type: ignore[call-overload]
            except UnknownKpi as exc:
                raise CommandError(str(exc)) from exc
            result = recompute_kpis(definitions=definitions)
        self.stdout.write(f"{result.values} value(s) written for {result.definitions} KPI(s), "
                          f"{result.first_day or '-'} to {result.last_day or '-'}")
