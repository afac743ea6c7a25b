"""What a web process loads once and keeps for its whole life, moved out of the garbage collector's way.

A web process holds about 190,000 container objects from imports alone (Django, the apps, DRF,
drf-spectacular, pandas, scikit-learn, gremlinpython), and every full collection walks all of them
while holding the GIL. Under a few hundred requests a second that is a pause of 0.1–0.2 s every few
seconds, which every request in flight waits out: the slowest percent of decision calls. Importing the
URLconf (every view) first and then freezing leaves the collector only what requests create.
"""
from __future__ import annotations

import gc


def freeze_loaded_objects() -> int:
    """Import every view, then exempt everything loaded so far from collection; how many objects that is."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and with it every view
    gc.collect()  # what is already garbage goes now, not never
    gc.freeze()
    return gc.get_freeze_count()
