"""A contact's conversation summary on its event vertex, so decisions and features read it in one hop.

Only the summary travels to the graph (sentiment per participant, categories, interruptions,
non-talk time, duration, and the per-quarter curve as JSON); transcripts stay in the database.
Properties are plain numbers and strings (portable Gremlin: no maps, no list cardinality).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Merge, T

from graph import schema as s
from graph.connection import bulk_rows, get_g, many_ids, run_writes
from graph.write_plan import chunks

SUMMARY_KEYS = ("sentiment_customer", "sentiment_agent", "sentiment_change", "categories", "interruptions",
                "non_talk_ms", "conversation_ms", "conversation")


def existing_events(event_ids: Sequence[str]) -> set[str]:
    """The ids among these whose event vertex is in the store."""
    found: set[str] = set()
    for chunk in chunks([s.event_vid(e) for e in event_ids]):
        vids = get_g().V(*many_ids(list(chunk))).has_label(s.EVENT).id_().to_list()
        found.update(s.strip_prefix(str(v)) for v in vids)
    return found


def set_contact_summaries(summaries: dict[str, dict[str, Any]]) -> set[str]:
    """Write each contact's summary onto its event (by event id); events not in the store are left
    alone and their ids are not in the returned set (the caller keeps them for later)."""
    present = existing_events(list(summaries))
    rows = [{"k": {T.id: s.event_vid(event_id), T.label: s.EVENT}, "m": _properties(summaries[event_id])}
            for event_id in sorted(present)]
    run_writes([get_g().inject(bulk_rows(list(chunk))).unfold().as_("r").merge_v(__.select("k"))
                .option(Merge.on_match, __.select("r").select("m")) for chunk in chunks(rows)])
    return present


def _properties(summary: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for key in SUMMARY_KEYS:
        value = summary.get(key)
        if value is None:
            continue
        props[key] = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value
    return props


def contact_summary(row: dict[Any, Any]) -> dict[str, Any]:
    """The summary keys features read (customer sentiment, its change within the contact, categories)
    of an event's element map, only when the event is an analysed contact; nothing otherwise."""
    if "categories" not in row:
        return {}
    change = row.get("sentiment_change")
    return {"sentiment_customer": row.get("sentiment_customer"), "sentiment_change": change,
            "categories": json.loads(row["categories"] or "[]")}


def event_facts(event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Customer, channel and time of the events among these that are in the store (for a
    conversation whose contact arrived as an ordinary event rather than a contact record)."""
    facts: dict[str, dict[str, Any]] = {}
    for chunk in chunks([s.event_vid(e) for e in event_ids]):
        rows = (get_g().V(*many_ids(list(chunk))).has_label(s.EVENT).project("id", "c", "ch", "ts")
                .by(__.id_()).by("customer_id").by("channel").by("ts").to_list())
        facts.update({s.strip_prefix(str(r["id"])): {"customer_id": r["c"], "channel": r["ch"], "ts": int(r["ts"])}
                      for r in rows})
    return facts
