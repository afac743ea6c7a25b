"""Sent after each chunk of events lands, so analyzers (milestones, KPIs, similarity) stay current
without ingest knowing about them."""
from django.dispatch import Signal

# kwargs: customer_ids (list[str]), batch (IngestBatch or None), event_ts (list[int], epoch ms)
events_ingested = Signal()
