"""A seeded generator of contact-centre turns with known PII spans, and the figures to judge redaction.

Each turn mixes PII of one or two kinds (e-mail, phone, card, bank account, address, name) with
things that look like it and are not: amounts, dates, times, order and reference numbers, card
numbers that fail the Luhn check, capitalised words that are not names (days, cities, brands).
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

from apps.conversations import redaction

FIRST = ["Olivia", "Liam", "Aisha", "Noah", "Mei", "Lucas", "Priya", "Tom", "Zara", "Mateo", "Grace", "Kenji",
         "Fatima", "Oscar", "Sofia", "Ethan", "Chloe", "Arjun", "Isla", "Ravi", "Hannah", "Diego", "Leila", "Samuel"]
LAST = ["Nguyen", "Smith", "Okafor", "Patel", "Rossi", "Kowalski", "Chen", "Murphy", "Haddad", "Jensen", "Silva",
        "Brown", "Tanaka", "Williams", "O'Brien", "Novak", "Garcia", "Ahmed"]
STREETS = ["Harbour", "George", "Wattle", "Banksia", "Victoria", "Kingsford", "Ocean View", "Church", "Station"]
TYPES = ["Street", "St", "Road", "Avenue", "Lane", "Drive", "Court", "Parade", "Crescent", "Place"]
SUBURBS = [("Manly", "NSW", "2095"), ("Fitzroy", "VIC", "3065"), ("Paddington", "QLD", "4064"),
           ("Glenelg", "SA", "5045"), ("Fremantle", "WA", "6160")]
DOMAINS = ["example.com", "mail.example.org", "example.net"]
FILLER = [
    "I'd like to check why my last payment on Monday was declined.",
    "The Visa card I used in Sydney last week still shows a pending charge of $1,250.00.",
    "My order #5376897 arrived on 12/03/2026 at 3:45pm but the invoice is wrong.",
    "Can you waive the 20% late fee, reference 88213, please?",
    "I was charged twice, reference number 4000 1234 5678 9011, that's not right.",
    "Your app keeps logging me out since the update on Friday.",
    "I have been a customer for 12 years and this is the first time this happened.",
    "Please move my appointment to Tuesday at 10:30.",
    "The transfer of 300 dollars to my savings account did not go through.",
    "I spoke with Support about the Premium package yesterday.",
]


@dataclass(frozen=True)
class Gold:
    kind: str
    start: int
    end: int


def _card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "52", "55", "37"])
    length = 15 if prefix == "37" else 16
    digits = [int(c) for c in prefix] + [rng.randrange(10) for _ in range(length - len(prefix) - 1)]
    for check in range(10):
        if redaction.luhn_valid("".join(map(str, digits + [check]))):
            digits.append(check)
            break
    text = "".join(map(str, digits))
    separator = rng.choice([" ", "-", ""])
    groups = [text[i:i + 4] for i in range(0, len(text), 4)]
    return separator.join(groups)


def _phone(rng: random.Random) -> str:
    while True:
        style = rng.randrange(5)
        if style == 0:
            raw = f"04{rng.randrange(10)}{rng.randrange(10)} {rng.randrange(100, 1000)} {rng.randrange(100, 1000)}"
        elif style == 1:
            raw = f"+61 4{rng.randrange(10, 100)} {rng.randrange(100, 1000)} {rng.randrange(100, 1000)}"
        elif style == 2:
            raw = f"(02) 9{rng.randrange(100, 1000)} {rng.randrange(1000, 10000)}"
        elif style == 3:
            raw = f"1300 {rng.randrange(100, 1000)} {rng.randrange(100, 1000)}"
        else:
            raw = f"04{rng.randrange(10_000_000, 100_000_000)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(raw, "AU")):
            return raw


def _iban(rng: random.Random) -> str:
    bban = "WEST" + "".join(str(rng.randrange(10)) for _ in range(14))
    for check in range(2, 99):
        candidate = f"GB{check:02d}{bban}"
        if redaction.iban_valid(candidate):
            return " ".join(candidate[i:i + 4] for i in range(0, len(candidate), 4))
    raise AssertionError("no IBAN check digits")


def _account(rng: random.Random) -> tuple[str, str]:
    style = rng.randrange(4)
    if style == 0:
        number = str(rng.randrange(10_000_000, 1_000_000_000))
        return f"my account number is {number}", number
    if style == 1:
        number = f"{rng.randrange(100, 1000)}-{rng.randrange(100, 1000)}"
        return f"the BSB is {number}", number
    if style == 2:
        number = str(rng.randrange(100_000, 100_000_000))
        return f"account {number}", number
    number = _iban(rng)
    return f"my IBAN is {number}", number


def _address(rng: random.Random) -> str:
    suburb, state, postcode = rng.choice(SUBURBS)
    base = f"{rng.randrange(1, 400)} {rng.choice(STREETS)} {rng.choice(TYPES)}"
    if rng.random() < 0.5:
        base = f"{base}, {suburb} {state} {postcode}"
    if rng.random() < 0.2:
        base = f"Unit {rng.randrange(1, 40)}, {base}"
    return base


def _name(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(FIRST) + (" " + rng.choice(LAST) if rng.random() < 0.6 else "")
    cue = rng.choice(["My name is", "This is", "you're speaking with", "I'm", "Thanks", "Mrs", "Dr", "ask for"])
    return f"{cue} {name}", name


def _email(rng: random.Random) -> str:
    return f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower().replace(chr(39), '')}{rng.randrange(100)}@" \
           f"{rng.choice(DOMAINS)}"


PIECES: dict[str, Callable[[random.Random], tuple[str, str, str]]] = {
    "EMAIL": lambda r: ("you can email me at ", _email(r), "."),
    "PHONE": lambda r: ("call me back on ", _phone(r), " after five."),
    "CARD": lambda r: ("the card number is ", _card(r), "."),
    "BANK_ACCOUNT": lambda r: (lambda said, number: (said[: said.index(number)], number, "."))(*_account(r)),
    "ADDRESS": lambda r: ("please send it to ", _address(r), ", thanks."),
    "NAME": lambda r: (lambda said, name: (said[: said.rindex(name)], name, ", calling about my card."))(*_name(r)),
}


def turns(count: int = 600, seed: int = 13) -> list[tuple[str, list[Gold]]]:
    """`count` turns with their gold PII spans (0–2 pieces each; about 1 in 6 has none)."""
    rng = random.Random(seed)
    out = []
    kinds = list(PIECES)
    for _ in range(count):
        text, gold = "", []
        for kind in rng.sample(kinds, rng.choice([0, 1, 1, 2, 2, 2])):
            before, value, after = PIECES[kind](rng)
            text += before[:1].upper() + before[1:] if not text else " " + before
            gold.append(Gold(kind, len(text), len(text) + len(value)))
            text += value + after
        filler = rng.choice(FILLER)
        text = f"{text} {filler}".strip() if rng.random() < 0.7 else text or filler
        out.append((text, gold))
    return out


def scores(corpus: list[tuple[str, list[Gold]]]) -> dict[str, dict[str, float]]:
    """Per kind: recall (gold spans wholly covered by a found span of the same kind) and precision
    (found spans of that kind that overlap a gold span of the same kind)."""
    found_total: dict[str, int] = {k: 0 for k in redaction.KINDS}
    found_right = dict(found_total)
    gold_total = dict(found_total)
    gold_hit = dict(found_total)
    for text, gold in corpus:
        spans = redaction.find(text)
        for g in gold:
            gold_total[g.kind] += 1
            gold_hit[g.kind] += any(s.kind == g.kind and s.start <= g.start and s.end >= g.end for s in spans)
        for s in spans:
            found_total[s.kind] += 1
            found_right[s.kind] += any(g.kind == s.kind and s.start < g.end and g.start < s.end for g in gold)
    return {k: {"gold": gold_total[k], "recall": gold_hit[k] / max(gold_total[k], 1),
                "found": found_total[k], "precision": found_right[k] / max(found_total[k], 1)}
            for k in redaction.KINDS}
