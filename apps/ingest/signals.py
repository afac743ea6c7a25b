"""Sent after each chunk of events lands, so analyzers (milestones, KPIs, similarity) stay current
without ingest knowing about them."""
from django.dispatch import Signal

# kwargs: customer_ids (list[str]), batch (IngestBatch or None), event_ts (list[int], epoch ms),
# events (list[graph.schema.EventRecord]: the new events, each with its resolved customer_id)
events_ingested = Signal()
