"""The event store's jobs (apps.core.jobs).

- Compaction, recurring: each day's files merged into one. Every confirmed intent and every corrected
  row writes a small file, and every analysis opens each file of the days it reads, so without this a
  busy hub's store grows thousands of files a day. `manage.py events_store compact` does the same by
  hand.
- The copy of events the graph kept while the store could not take them (unreachable, or a rewrite
  held their day too long): retried with backoff until the store has the graph's rows."""
from __future__ import annotations

import logging

from django.conf import settings

from apps.core import jobs
from apps.core.models import Job
from apps.events import maintenance, store
from graph import event_rows

COPY_ATTEMPTS = 8  # 30 s, then doubling: about an hour of retries with the default JOB_BACKOFF_SECONDS
REF_LENGTH = Job._meta.get_field("ref").max_length or 100

log = logging.getLogger(__name__)


@jobs.every(settings.EVENTS_COMPACT_MINUTES, "compact the event store", kind="events_compact")
def compact_event_store() -> str:
    """Merges each day's files under the store's rewrite lock (`store.rewriting`: a file lock on a
    local store, a lease in the database on S3), so it never races an update of the same day."""
    if not store.enabled():
        return "not run: the event store is off (EVENTS_STORE_ENABLED=false)"
    # a day's line is for debugging: after a bulk load every day of the store is merged, hundreds of lines
    days, removed = maintenance.compact(lambda line: log.debug("event store: %s", line))
    summary = f"{days:,} day(s) merged, {removed:,} file(s) replaced"
    log.info("event store compacted: %s", summary)
    return summary


def copy_later(event_ids: list[str], error: store.EventStoreError) -> None:
    """Queue the store copy of events the graph has and the store could not take (`error`)."""
    ids = sorted(event_ids)
    log.warning("%s; event(s) %s are in the graph and a job copies them to the event store", error,
                ", ".join(ids[:5]) + (", …" if len(ids) > 5 else ""))
    ref = ids[0] if len(ids) == 1 else f"{ids[0]} and {len(ids) - 1} more"
    jobs.enqueue(copy_events, ids, kind="events_copy", ref=ref[:REF_LENGTH], max_attempts=COPY_ATTEMPTS)


def copy_events(event_ids: list[str]) -> str:
    """The graph's rows of `event_ids` into the store, wherever the store holds them or not
    (`store.replace_rows`: idempotent, so a retry or a client's own retry before it is harmless). An
    event the graph no longer has is left to `events_store repair`."""
    from apps.events.services import replace_events  # services queues this job: imported when it runs

    rows = event_rows.events_by_ids(event_ids)
    written = replace_events(rows)
    missing = len(event_ids) - len(rows)
    return (f"{len(rows)} event(s) copied to the event store in {len(written)} file(s)"
            + (f"; {missing} no longer in the graph" if missing else ""))
