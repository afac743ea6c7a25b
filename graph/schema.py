"""The journey graph schema: labels, id formats and the plain records the gateway reads and writes."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CUSTOMER = "customer"
IDENTIFIER = "identifier"
EVENT = "event"
MILESTONE = "milestone"
HAS_IDENTIFIER = "has_identifier"
PERFORMED = "performed"
NEXT = "next"
REACHED = "reached"
MERGED_INTO = "merged_into"

IDENTIFIER_KINDS = ("phone", "email", "account", "device", "cookie", "connect_profile")


def customer_vid(customer_id: str) -> str:
    return f"customer:{customer_id}"


def identifier_vid(kind: str, value: str) -> str:
    return f"identifier:{kind}:{value}"


def event_vid(event_id: str) -> str:
    return f"event:{event_id}"


def milestone_vid(slug: str) -> str:
    return f"milestone:{slug}"


def strip_prefix(vertex_id: str) -> str:
    """`customer:42` → `42`; identifiers keep their kind (`identifier:phone:+61…` → `phone:+61…`)."""
    return vertex_id.split(":", 1)[1]


def attributes_json(attributes: dict[str, Any]) -> str:
    """Event attributes as the JSON text stored on the vertex (and copied to the event store)."""
    return json.dumps(attributes, sort_keys=True, default=str) if attributes else "{}"


@dataclass(frozen=True)
class EventRecord:
    """One validated interaction, ready to be written. `customer_id` may be empty when only
    identifiers are known; identity resolution then picks or creates the customer."""

    event_id: str
    type: str
    channel: str
    ts: int
    customer_id: str = ""
    identifiers: tuple[tuple[str, str], ...] = ()
    source: str = ""
    intent: str | None = None
    outcome: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    seq: int = 0  # arrival order (ingest batch number << 32 | row number); breaks ties between equal ts

    def properties(self, customer_id: str) -> dict[str, Any]:
        """Vertex properties; maps are not portable property values, so attributes travel as JSON."""
        props: dict[str, Any] = {"type": self.type, "channel": self.channel, "ts": self.ts, "seq": self.seq,
                                 "source": self.source, "customer_id": customer_id,
                                 "attributes": attributes_json(self.attributes)}
        if self.intent:
            props["intent"] = self.intent
        if self.outcome:
            props["outcome"] = self.outcome
        return props


@dataclass(frozen=True)
class WriteReport:
    """What a batch write did; `events` are the newly written events with their resolved customer
    (for follow-ups that can work from them instead of reading them back)."""

    loaded: int
    duplicates: int
    customers: tuple[str, ...]
    customers_created: int
    events: tuple[EventRecord, ...] = ()
