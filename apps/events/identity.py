"""The identity table (`identity/customers.parquet`): which customer key each merged key now counts as.

Events keep the customer key they were written under; a merge (an `merged_into` edge in the graph,
decided in apps/customers) or its undo only rewrites this small table, never an event file. The
table holds one row per merged key; a key without a row is its own canonical key, so an engine
joins events to it with a LEFT JOIN and `coalesce(canonical_id, customer_id)`.
"""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from apps.events import store
from graph import event_rows


def canonical_rows(merges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge edges ({customer_id, into, ts, rule}) as table rows: a chain a→b→c makes both a and b
    count as c (a cycle, which an undo should never leave, stops at the key where it closes)."""
    into = {m["customer_id"]: m for m in merges}
    rows = []
    for customer, merge in sorted(into.items()):
        seen = {customer}
        target = merge["into"]
        while target in into and target not in seen:
            seen.add(target)
            target = into[target]["into"]
        rows.append({"customer_id": customer, "canonical_id": target, "merged_at": merge["ts"], "rule": merge["rule"]})
    return rows


def identity_rows_from_graph() -> list[dict[str, Any]]:
    return canonical_rows(event_rows.customer_merges())


def refresh_identity() -> int:
    """Rewrite the identity table from the graph's merges; call it after a merge or an undo.
    Returns the number of merged keys."""
    if not store.enabled():
        return 0
    rows = identity_rows_from_graph()
    store.write_identity(pa.Table.from_pylist(rows, schema=store.IDENTITY_SCHEMA))
    return len(rows)


def identity_differences() -> list[str]:
    """How the stored identity table differs from the graph's merges (empty when equal)."""
    want = {r["customer_id"]: r for r in identity_rows_from_graph()}
    have = {r["customer_id"]: r for r in store.read_identity().to_pylist()}
    out = [f"identity: {key} is merged into {want[key]['canonical_id']} in the graph but not in the table"
           for key in sorted(set(want) - set(have))]
    out += [f"identity: {key} is in the table but not merged in the graph" for key in sorted(set(have) - set(want))]
    out += [f"identity: {key} differs (graph {want[key]}, table {have[key]})"
            for key in sorted(set(want) & set(have)) if want[key] != have[key]]
    return out
