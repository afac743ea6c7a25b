"""`python manage.py deliver_webhooks`: post every due webhook payload once (run it from a scheduler)."""
from django.core.management.base import BaseCommand

from apps.journeys.webhooks import deliver_due


class Command(BaseCommand):
    help = "Attempt every pending webhook delivery that is due; failures are rescheduled with backoff."

    def handle(self, *args: object, **options: object) -> None:
        report = deliver_due()
        self.stdout.write(f"{report.attempted} attempted, {report.delivered} delivered, "
                          f"{report.rescheduled} rescheduled, {report.failed} failed")
