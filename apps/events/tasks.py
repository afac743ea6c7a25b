"""The event store's recurring job (apps.core.jobs): each day's files merged into one.

Every confirmed intent and every corrected row writes a small file, and every analysis opens each
file of the days it reads, so without this a busy hub's store grows thousands of files a day.
`manage.py events_store compact` does the same by hand."""
from __future__ import annotations

import logging

from django.conf import settings

from apps.core import jobs
from apps.core.storage import LocalFolder
from apps.events import maintenance, store

log = logging.getLogger(__name__)


@jobs.every(settings.EVENTS_COMPACT_MINUTES, "compact the event store", kind="events_compact")
def compact_event_store() -> str:
    """Merges each day's files under the store's rewrite lock (`store.rewriting`), so it never races an
    update of the same day. Not run on an S3 store: writers on other machines share no lock, so there
    compaction stays a command for a quiet hour (the job's result says so)."""
    if not store.enabled():
        return "not run: the event store is off (EVENTS_STORE_ENABLED=false)"
    if not isinstance(store.folder(), LocalFolder):
        return (f"not run: {store.store_url()} is on S3, where writers share no lock; "
                "run `manage.py events_store compact` when nothing writes")
    days, removed = maintenance.compact(lambda line: log.info("event store: %s", line))
    return f"{days} day(s) merged, {removed} file(s) replaced"
