"""`python manage.py reindex_customers`: rebuild the name search and segment indexes from the graph store."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.customers import services


class Command(BaseCommand):
    help = ("Rebuild the indexes behind search by name and the segment filter from the customers in the graph "
            "store (after a database was restored or set up apart from its store).")

    def handle(self, *args: Any, **options: Any) -> None:
        done = services.reindex(progress=lambda n: self.stdout.write(f"  {n:,} customers read"))
        self.stdout.write(f"Name and segment indexes rebuilt from {done:,} customers.")
