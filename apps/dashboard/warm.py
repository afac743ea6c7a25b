"""Work a web process does once at start instead of on its first page: the first page after a start
should answer in under a second, like every page after it in under 300 ms.

Without it the first request builds the URL resolver (every app's routes), compiles the page
templates and opens the graph store (an embedded store reads its files: over a second on the demo).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse

from apps.customers import selectors as customer_selectors

log = logging.getLogger(__name__)


def warm_up() -> float:
    """Build the routes, compile the templates and open the graph store (reading the store's figures
    pages show); a store that cannot be reached now is reported by the pages, not here. Returns the
    seconds spent."""
    started = time.perf_counter()
    reverse("dashboard:overview")
    for name in _templates():
        try:
            get_template(name)
        except TemplateDoesNotExist:  # pragma: no cover - listed from the folders themselves
            continue
    try:
        customer_selectors.store_figures()
    except Exception as exc:  # noqa: BLE001 - start-up must not fail on an optional warm-up
        log.warning("graph store not opened at start: %s", exc)
    return time.perf_counter() - started


def _templates() -> list[str]:
    """Every template of the site's folder (pages, partials, the error pages)."""
    root = Path(settings.BASE_DIR) / "templates"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.html"))
