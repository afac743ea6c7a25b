"""Identity rules: which customer an event belongs to.

Deterministic for now: an event that names its customer belongs to that customer; otherwise to the
customer its strongest identifier (account, then phone, e-mail, Connect profile, device, cookie) was
first linked to; otherwise to a new customer named after that identifier (`phone:+61412345678`).
Identifiers first seen in a batch count for the events after them in the same batch, so one batch
gives the same answer as the events written one at a time.

The graph gateway executes: it reads the links a batch's identifiers have and writes the plan, and
takes `resolve` as a plain function, called once per batch (no per-event cost is added to ingest).
"""
from __future__ import annotations

from collections.abc import Sequence

from graph import journeys
from graph import schema as s

# Lower is stronger: an account number is issued to one person; cookies are shared and short-lived.
PRECEDENCE = {"account": 0, "phone": 1, "email": 2, "connect_profile": 3, "device": 4, "cookie": 5}
WEAKEST = len(PRECEDENCE)


def first_owners(links: Sequence[journeys.IdentifierLink]) -> dict[str, str]:
    """identifier vertex id → the customer it was first linked to (earliest first_seen, then the
    smaller customer id): a phone later shared by a second customer stays with the first."""
    best: dict[str, tuple[int, str]] = {}
    for vid, customer, first_seen in links:
        best[vid] = min(best.get(vid, (first_seen, customer)), (first_seen, customer))
    return {vid: customer for vid, (_, customer) in best.items()}


def resolve(records: Sequence[s.EventRecord], links: Sequence[journeys.IdentifierLink]) -> list[str]:
    """The customer of each record, in order, given the links its identifiers already have."""
    owner = first_owners(links)
    resolved = []
    for record in records:
        if not record.identifiers:
            resolved.append(record.customer_id)
            continue
        ranked = sorted(record.identifiers, key=lambda kv: PRECEDENCE.get(kv[0], WEAKEST))
        customer = record.customer_id or next(
            (owner[vid] for vid in (s.identifier_vid(k, v) for k, v in ranked) if vid in owner), "")
        if not customer:
            kind, value = ranked[0]
            customer = f"{kind}:{value}"
        for kind, value in record.identifiers:
            owner.setdefault(s.identifier_vid(kind, value), customer)
        resolved.append(customer)
    return resolved


def customers_of(records: Sequence[s.EventRecord]) -> list[str]:
    """`resolve` against the links in the store now (for events already written, e.g. to tell which
    customer a repeated event went to)."""
    wanted = sorted({s.identifier_vid(k, v) for r in records for k, v in r.identifiers})
    return resolve(records, journeys.identifier_links(wanted) if wanted else [])
