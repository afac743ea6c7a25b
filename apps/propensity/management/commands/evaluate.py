"""`manage.py evaluate MODEL --data PATH`: score the active version on a labelled file, print JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.propensity.registry import RegistryError
from apps.propensity.services import evaluate_active
from apps.propensity.specs import spec_names


class Command(BaseCommand):
    help = "Score the active version of MODEL on a labelled file in its data-set format; print metrics as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model")
        parser.add_argument("--data", required=True, help="labelled file in the model's data-set format")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["model"]
        if name not in spec_names():
            raise CommandError(f"unknown model {name!r}; known models: {', '.join(spec_names())}")
        try:
            result = evaluate_active(name=name, data=Path(options["data"]))
        except (RegistryError, ValueError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result, sort_keys=True))
