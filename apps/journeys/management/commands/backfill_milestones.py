"""`python manage.py backfill_milestones [SLUG ...]`: apply milestone definitions to the history."""
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.journeys.services import backfill_milestones


class Command(BaseCommand):
    help = ("Evaluate milestone definitions (all active ones, or the given slugs) over every customer's events; "
            "customers reach each milestone once, so running it again adds nothing.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="milestone slugs (default: every active definition)")

    def handle(self, *args: object, **options: list[str]) -> None:
        try:
            counts = backfill_milestones(slugs=options["slugs"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for slug, count in counts.items():
            self.stdout.write(f"{slug}: {count} customer(s) newly reached")
