"""`manage.py score MODEL`: write every customer's score from the active version back to the graph."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.propensity.registry import RegistryError
from apps.propensity.services import write_scores_to_graph


class Command(BaseCommand):
    help = "Score every customer with the active version of MODEL and store it as a customer property."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = write_scores_to_graph(name=options["model"])
        except (KeyError, ValueError, RegistryError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"scored {count} customers with {options['model']}"))
