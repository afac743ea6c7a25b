"""Amazon Connect contact records (CTRs) as Kinesis Data Firehose delivers them to S3.

Firehose writes the records of a buffer into one object with nothing between them (`{...}{...}`),
or one per line when the stream adds a newline delimiter; both are read here. Each record becomes a
row the ordinary validation understands (customer_id, event_id, event_type, channel, timestamp,
phone, email, account_id, outcome) and everything else a contact says (queue, agent, durations,
disconnect reason, linked contacts, its own attributes) travels as event attributes.

A record that is not JSON is reported with its byte position and the reader carries on at the next
record, so one broken record never loses the rest of the buffer.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from apps.ingest.mapping import RowError

CHANNEL_NAMES = {"VOICE": "voice", "CHAT": "chat", "TASK": "task", "EMAIL": "email"}
TYPE_PREFIX = {"VOICE": "call", "CHAT": "chat", "TASK": "task", "EMAIL": "email"}
# Contact attributes (set by the contact flow) that name the customer, strongest first.
CUSTOMER_ID_ATTRIBUTES = ("customer_id", "CustomerId", "customerId", "CustomerID")
ACCOUNT_ATTRIBUTES = ("account_id", "AccountId", "accountId", "AccountNumber", "account_number")
EMAIL_ATTRIBUTES = ("email", "Email", "EmailAddress")
_DECODER = json.JSONDecoder()


def ctr_rows(text: IO[str]) -> Iterator[tuple[int, Any]]:
    """(record number, row or RowError) for every record of a Firehose object."""
    for number, (position, record) in enumerate(_records(text.read()), start=1):
        if isinstance(record, RowError):
            yield number, RowError(f"byte {position}: {record}")
            continue
        try:
            yield number, ctr_row(record)
        except RowError as exc:
            yield number, RowError(f"byte {position}: {exc}")


def _records(data: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """Concatenated or newline-separated JSON objects, with their start offsets. After a broken
    record the reader skips to the next record it can decode."""
    position, end = 0, len(data)
    while True:
        while position < end and data[position] in " \t\r\n,":
            position += 1
        if position >= end:
            return
        try:
            record, after = _DECODER.raw_decode(data, position)
        except json.JSONDecodeError as exc:
            yield position, RowError(f"record is not valid JSON ({exc.msg} at byte {exc.pos})")
            position = _next_start(data, position + 1)
            continue
        yield position, record if isinstance(record, dict) else RowError("record is not a JSON object")
        position = after


def _next_start(data: str, position: int) -> int:
    """Where the next record begins after a broken one: the next `{"` that decodes to an object with
    a ContactId (objects nested in the broken record have none)."""
    candidate = data.find('{"', position)
    while candidate >= 0:
        try:
            record, _ = _DECODER.raw_decode(data, candidate)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict) and "ContactId" in record:
            return candidate
        candidate = data.find('{"', candidate + 1)
    return len(data)


def ctr_row(record: dict[str, Any]) -> dict[str, Any]:
    """One contact record as an ingest row; RowError names what is missing."""
    contact_id = _text(record.get("ContactId"))
    if not contact_id:
        raise RowError("contact record has no ContactId")
    channel = _text(record.get("Channel")).upper()
    if channel not in CHANNEL_NAMES:
        raise RowError(f"contact {contact_id}: unknown Channel {record.get('Channel')!r}")
    method = _text(record.get("InitiationMethod")).upper() or "INBOUND"
    attributes = record.get("Attributes") or {}
    if not isinstance(attributes, dict):
        raise RowError(f"contact {contact_id}: Attributes is not an object")
    endpoint = _object(record, "CustomerEndpoint")
    address, endpoint_type = _text(endpoint.get("Address")), _text(endpoint.get("Type"))
    row: dict[str, Any] = {
        "event_id": contact_id,
        "event_type": f"{TYPE_PREFIX[channel]}_{method.lower()}",
        "channel": CHANNEL_NAMES[channel],
        "timestamp": record.get("InitiationTimestamp"),
        "customer_id": _first(attributes, CUSTOMER_ID_ATTRIBUTES),
        "account_id": _first(attributes, ACCOUNT_ATTRIBUTES),
        "phone": address if endpoint_type == "TELEPHONE_NUMBER" else "",
        "email": address if endpoint_type == "EMAIL_ADDRESS" else _first(attributes, EMAIL_ATTRIBUTES),
        "outcome": _outcome(record),
    }
    row.update(contact_facts(record, method))
    return row


def contact_facts(record: dict[str, Any], method: str) -> dict[str, Any]:
    """What the hub keeps of a contact besides who and when (becomes the event's attributes)."""
    agent, queue = _object(record, "Agent"), _object(record, "Queue")
    facts: dict[str, Any] = {
        "initiation_method": method,
        "queue": _text(queue.get("Name")),
        "agent": _text(agent.get("Username")),
        "queue_wait_s": queue.get("Duration"),
        "agent_interaction_s": agent.get("AgentInteractionDuration"),
        "customer_hold_s": agent.get("CustomerHoldDuration"),
        "after_contact_work_s": agent.get("AfterContactWorkDuration"),
        "disconnect_reason": _text(record.get("DisconnectReason")),
        "disconnect_timestamp": _text(record.get("DisconnectTimestamp")),
        "previous_contact_id": _text(record.get("PreviousContactId")),
        "related_contact_id": _text(record.get("RelatedContactId")),
        "initial_contact_id": _text(record.get("InitialContactId")),
        "next_contact_id": _text(record.get("NextContactId")),
        "last_update_timestamp": _text(record.get("LastUpdateTimestamp")),
        "contact_attributes": record.get("Attributes") or {},
    }
    return {key: value for key, value in facts.items() if value not in (None, "", {})}


def _outcome(record: dict[str, Any]) -> str:
    """abandoned (a call or chat that never reached an agent), transferred (handed on), or completed."""
    if not isinstance(record.get("Agent"), dict) and _text(record.get("Channel")).upper() in {"VOICE", "CHAT"}:
        return "abandoned"
    if _text(record.get("NextContactId")) or record.get("TransferredToEndpoint"):
        return "transferred"
    return "completed"


def _object(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _first(attributes: dict[str, Any], names: tuple[str, ...]) -> str:
    return next((_text(attributes[n]) for n in names if _text(attributes.get(n))), "")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
