"""Pure journey analyzers: functions over the canonical events DataFrame returning frozen dataclasses.

The frame has the columns of `graph.journeys.events_frame()` (customer_id, event_id, type, channel, ts,
intent, outcome, attributes), sorted by customer_id, ts, event_id. Nothing here reads the graph or
the database, so every analyzer can be tested on a hand-built frame and benchmarked in process.
"""
