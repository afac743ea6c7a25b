"""Conversations for the demo bank's calls and chats: generated transcripts in which the categories,
the sentiment and the PII really occur, analysed and redacted by the ordinary transcript path.

A contact's script follows its event: a card dispute is a fraud report, an unresolved chat a
complaint (a third of them threaten to leave), anything else a routine enquiry that ends well.
Names, phone numbers, card numbers and addresses are spoken as customers speak them, so the
redaction has real work to do. Seeded per contact: the same bank always gets the same words.
"""
from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from apps.conversations.models import CategoryRule
from apps.conversations.redaction import luhn_valid
from apps.conversations.services import ingest_documents
from apps.demo import catalog as c
from apps.ingest.models import IngestBatch

MOST = 600  # contacts given a conversation: enough to search, quick to analyse
AGENTS = ("Priya", "Marco", "Aiko", "Sam", "Leila", "Tom")
FIRST = ("Olivia", "Liam", "Aisha", "Noah", "Mei", "Lucas", "Grace", "Kenji", "Fatima", "Oscar", "Sofia", "Ravi")
LAST = ("Nguyen", "Smith", "Okafor", "Patel", "Rossi", "Chen", "Murphy", "Haddad", "Silva", "Tanaka")
STREETS = ("Harbour Street", "George Road", "Wattle Avenue", "Banksia Drive", "Church Lane")
RULES: list[dict[str, Any]] = [
    {"category": "Cancellation threat", "phrases": "close my account\ncancel my card\nswitch banks\n"
                                                   "take my business elsewhere", "speaker": "CUSTOMER"},
    {"category": "Fraud", "phrases": "didn't make\ndon't recognise\nstolen\nnever authorised", "speaker": "CUSTOMER"},
    {"category": "Complaint", "phrases": "unacceptable\nmake a complaint\nnot happy\nridiculous",
     "speaker": "CUSTOMER"},
    {"category": "Agent apology", "phrases": "sorry\napologise", "speaker": "AGENT"},
    {"category": "No greeting", "phrases": "thanks for calling\nthanks for contacting\nwelcome to",
     "speaker": "AGENT", "where": "first", "seconds": 15, "negate": True},
]


def ensure_rules() -> int:
    """The demo's category rules (kept if a person has edited them since)."""
    created = 0
    for rule in RULES:
        _, made = CategoryRule.objects.get_or_create(category=rule["category"], defaults=rule)
        created += made
    return created


def add_conversations(*, records: Iterable[dict[str, Any]], seed: int, most: int = MOST) -> IngestBatch:
    """Transcripts for up to `most` of the demo's calls and chats (disputes and unresolved chats
    first), loaded through the transcript ingest (analysed, redacted, attached to the events)."""
    ensure_rules()
    contacts = [r for r in records if r["channel"] in ("voice", "chat") and r["event_type"] != c.VERIFICATION]
    contacts.sort(key=lambda r: (_priority(r), r["event_id"]))
    documents = [transcript(r, random.Random(f"{seed}:{r['event_id']}")) for r in contacts[:most]]
    return ingest_documents(documents=documents, source=f"{c.SOURCE}:conversations")


def _priority(record: dict[str, Any]) -> int:
    if record["event_type"] in (c.DISPUTE_CALL, c.DISPUTE_CHAT):
        return 0
    return 1 if record.get("outcome") == "unresolved" else 2


def _card(rng: random.Random) -> str:
    digits = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    check = next(d for d in "0123456789" if luhn_valid(digits + d))
    number = digits + check
    return " ".join(number[i:i + 4] for i in range(0, 16, 4))


def transcript(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One contact's transcript in the generic export shape (see apps.conversations.transcripts)."""
    agent, name = rng.choice(AGENTS), f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    topic = str(record.get("topic") or record["event_type"].removeprefix(c.CALL_PREFIX)).replace("_", " ")
    if record["event_type"] in (c.DISPUTE_CALL, c.DISPUTE_CHAT):
        lines = _dispute(rng, agent, name)
    elif record.get("outcome") == "unresolved":
        lines = _complaint(rng, agent, name, topic)
    else:
        lines = _enquiry(rng, agent, name, topic)
    voice = record["channel"] == "voice"
    turns: list[dict[str, Any]] = []
    clock = 0
    for speaker, text in lines:
        length = max(1500, len(text.split()) * 380) if voice else 0
        overlap = voice and turns and rng.random() < 0.12
        begin = max(0, clock - rng.randrange(300, 900)) if overlap else clock
        turns.append({"speaker": speaker, "text": text, "begin_ms": begin, "end_ms": begin + length})
        clock = begin + length + (rng.randrange(200, 1200) if voice and rng.random() > 0.1 else
                                  rng.randrange(3500, 9000) if voice else rng.randrange(5000, 40000))
        if not voice:
            turns[-1]["begin_ms"] = turns[-1]["end_ms"] = clock
    started = datetime.fromtimestamp(int(record["timestamp"]) / 1000, tz=UTC).isoformat()
    return {"contact_id": record["event_id"], "channel": record["channel"], "started_at": started,
            "customer_id": record["customer_id"], "turns": _one_speaker_at_a_time(turns)}


def _one_speaker_at_a_time(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overlaps are only ever between speakers (an interruption), never a speaker with themselves."""
    last_end: dict[str, int] = {}
    for turn in turns:
        begin = max(turn["begin_ms"], last_end.get(turn["speaker"], 0))
        turn["end_ms"] += begin - turn["begin_ms"]
        turn["begin_ms"] = begin
        last_end[turn["speaker"]] = turn["end_ms"]
    return turns


def _greeting(rng: random.Random, agent: str) -> str:
    if rng.random() < 0.15:
        return f"Hello, {agent} here."
    return rng.choice([f"Thanks for calling Example Bank, you're speaking with {agent}.",
                       f"Welcome to Example Bank, this is {agent}, how can I help?"])


def _dispute(rng: random.Random, agent: str, name: str) -> list[tuple[str, str]]:
    amount = rng.choice(["89", "240", "612", "1,180"])
    return [("agent", _greeting(rng, agent)),
            ("customer", f"Hi, my name is {name}. There's a charge of {amount} dollars I didn't make, "
                         "I'm really worried."),
            ("agent", "I'm sorry to hear that. Can you read me the card number?"),
            ("customer", f"It's {_card(rng)}. I think my card was stolen."),
            ("agent", "I've blocked the card and lodged a dispute, you won't pay for that charge."),
            ("customer", f"Thank you. Please send the new card to {rng.randrange(2, 300)} {rng.choice(STREETS)}."),
            ("agent", "Done. Is there anything else I can help with today?"),
            ("customer", "No, that's a relief, thanks.")]


def _complaint(rng: random.Random, agent: str, name: str, topic: str) -> list[tuple[str, str]]:
    phone = f"04{rng.randrange(10, 100)} {rng.randrange(100, 1000)} {rng.randrange(100, 1000)}"
    lines = [("agent", _greeting(rng, agent)),
             ("customer", f"This is {name}. I've asked about my {topic} three times and nobody has fixed it, "
                          "this is unacceptable."),
             ("agent", "I apologise, let me look at what happened."),
             ("customer", f"You can call me back on {phone}. I am not happy at all."),
             ("agent", "I can see the request is still open, I'll escalate it today.")]
    if rng.random() < 0.35:
        lines.append(("customer", rng.choice(["If it isn't fixed this week I'll close my account and switch banks.",
                                              "Honestly I'm ready to take my business elsewhere."])))
    else:
        lines.append(("customer", "Fine, but I expect a call back this time."))
    return lines


def _enquiry(rng: random.Random, agent: str, name: str, topic: str) -> list[tuple[str, str]]:
    return [("agent", _greeting(rng, agent)),
            ("customer", f"Hi, it's {name}, I have a question about my {topic}."),
            ("agent", "Of course, I can help with that."),
            ("customer", f"Can you email the details to {name.split()[0].lower()}@example.com?"),
            ("agent", "I've sent them now, you should have them in a minute."),
            ("customer", rng.choice(["Great, thanks so much, that's really helpful.", "Perfect, thank you.",
                                     "Okay, thanks."]))]
