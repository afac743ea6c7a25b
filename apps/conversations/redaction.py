"""PII redaction for transcript text, run on every turn before anything is stored.

Contact Lens redaction is optional and its original file (`"Output": "Raw"`) carries the PII that
only its redacted twin removes; chat exports and Amazon Transcribe output carry it too. So every
turn, whatever its source, passes through `redact` first. Each kind is found by the tool made for
it where one exists (phone numbers by libphonenumber's matcher, card numbers by their Luhn check
digit, IBANs by their mod-97 check) and by the words that introduce it otherwise (bank account
numbers, names); street addresses by their shape (number, name, street type). Found spans are
replaced by `[KIND]` and counted per kind for the contact's redaction report.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import phonenumbers

EMAIL, PHONE, CARD, BANK_ACCOUNT, ADDRESS, NAME = "EMAIL", "PHONE", "CARD", "BANK_ACCOUNT", "ADDRESS", "NAME"
KINDS = (EMAIL, PHONE, CARD, BANK_ACCOUNT, ADDRESS, NAME)
# Where spans overlap the longer wins (an IBAN holds a run of digits that may pass the Luhn check), then
# the earlier kind (a card number is also a run of digits a phone matcher may like).
PRIORITY = {EMAIL: 0, CARD: 1, BANK_ACCOUNT: 2, PHONE: 3, ADDRESS: 4, NAME: 5}

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_ACCOUNT_CUE = re.compile(
    r"\b(?:account|acct|a/c|bsb|routing|sort code|iban)(?:\s+(?:number|no\.?|#|is|was|:|'s))*\s*"
    r"(?:is\s+|was\s+|:\s*)?(?P<num>\d[\d -]{4,20}\d)", re.IGNORECASE)
_STREET_TYPES = (r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|court|ct|place|pl|boulevard|blvd|way|"
                 r"crescent|cres|parade|pde|highway|hwy|terrace|tce|close|circuit|square|sq")
_ADDRESS = re.compile(
    r"\b(?:(?i:unit|apartment|apt|flat)\s+\d+[A-Za-z]?,?\s+|\d+[A-Za-z]?/)?\d{1,5}[A-Za-z]?\s+"
    r"(?:[A-Z][a-z]+\s+){1,3}(?i:" + _STREET_TYPES + r")\b\.?"
    r"(?:,?\s+[A-Z][a-z]+(?:\s[A-Z][a-z]+){0,2}(?:,?\s+[A-Z]{2,3})?(?:,?\s+\d{4,5})?)?")
_NAME_WORD = r"(?:[A-Z]')?[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)?"  # Nguyen, O'Brien, McKay, Lee-Smith
_NAME_CUE = re.compile(
    r"(?:\b(?i:my name is|my name's|name is|this is|i am|i'm|speaking with|speak to|speak with|chatting with|"
    r"talking to|ask for|it's|account holder is|call me|thank you|thanks|hi|hello|dear)\s+"
    r"|\b(?:Mr|Mrs|Ms|Miss|Dr|Mx)\.?\s+)"
    r"(?P<name>" + _NAME_WORD + r"(?:\s+" + _NAME_WORD + r")?)")
_NAME_START = re.compile(r"\s(?:[A-Z]'[A-Z]|[A-Z][a-z])")  # how a name word after its cue begins
# Capitalised words that follow "this is" or "I'm" without being a name.
_NOT_NAMES = frozenset("""A An The I It My Your Our Their This That Not Just Really Very So Calling Ringing Happy
Sorry Afraid Fine Good Great Okay Ok Sure Yes No Here There Still Now Going Trying Looking Wondering Glad
Done Ready Unable Able Quite About Actually Also Always Never Bank Customer Support Service Card Cards
Account Accounts Billing Sales Help Team Home Loans Loan Premium Gold Platinum Monday Tuesday Wednesday
Thursday Friday Saturday Sunday January February March April May June July August September October
November December Example Please Thank Thanks Hello Hi Calling""".split())


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int


@dataclass
class RedactionReport:
    """What was removed from one contact's transcript, by kind (never the values)."""

    counts: Counter[str] = field(default_factory=Counter)
    turns: int = 0
    turns_redacted: int = 0

    def add(self, spans: list[Span]) -> None:
        self.turns += 1
        if spans:
            self.turns_redacted += 1
        self.counts.update(span.kind for span in spans)

    def as_dict(self) -> dict[str, object]:
        return {"turns": self.turns, "turns_redacted": self.turns_redacted,
                "found": {kind: self.counts[kind] for kind in KINDS if self.counts[kind]}}


def find(text: str, *, region: str = "AU") -> list[Span]:
    """Every PII span in the text, overlaps resolved (longer span, then earlier kind, wins)."""
    digits = sum(map(str.isdigit, text))  # most turns say no number at all: skip the number finders
    found = (_emails(text) if "@" in text else []) + (_addresses(text) if digits else []) + _names(text)
    if digits >= 5:
        found += _bank_accounts(text)
    if digits >= 6:
        found += _phones(text, region)
    if digits >= 13:
        found += _cards(text)
    found.sort(key=lambda s: (-(s.end - s.start), PRIORITY[s.kind], s.start))
    kept: list[Span] = []
    for span in found:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def redact(text: str, *, region: str = "AU") -> tuple[str, list[Span]]:
    """The text with each PII span replaced by `[KIND]`, and the spans found (in the original)."""
    spans = find(text, region=region)
    out, last = [], 0
    for span in spans:
        out.append(text[last:span.start])
        out.append(f"[{span.kind}]")
        last = span.end
    out.append(text[last:])
    return "".join(out), spans


def _emails(text: str) -> list[Span]:
    return [Span(EMAIL, m.start(), m.end()) for m in _EMAIL.finditer(text)]


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _cards(text: str) -> list[Span]:
    spans = []
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(Span(CARD, match.start(), match.end()))
    return spans


def iban_valid(value: str) -> bool:
    compact = value.replace(" ", "")
    rotated = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rotated)
    return 15 <= len(compact) <= 34 and int(number) % 97 == 1


def _bank_accounts(text: str) -> list[Span]:
    spans = [Span(BANK_ACCOUNT, m.start(), m.end()) for m in _IBAN.finditer(text) if iban_valid(m.group())]
    spans += [Span(BANK_ACCOUNT, m.start("num"), m.end("num")) for m in _ACCOUNT_CUE.finditer(text)]
    return spans


def _phones(text: str, region: str) -> list[Span]:
    spans = []
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        spans.append(Span(PHONE, match.start, match.end))
    return spans


def _addresses(text: str) -> list[Span]:
    return [Span(ADDRESS, m.start(), m.end() - _trailing(m.group())) for m in _ADDRESS.finditer(text)]


def _trailing(matched: str) -> int:
    """Characters of trailing space or punctuation a greedy address match took with it."""
    return len(matched) - len(matched.rstrip(" ,"))


def _names(text: str) -> list[Span]:
    if not _NAME_START.search(text):  # no capitalised word after a space: no name (and no slow cue scan)
        return []
    spans = []
    for match in _NAME_CUE.finditer(text):
        words = match.group("name").split()
        keep = []
        for word in words:
            if word in _NOT_NAMES:
                break
            keep.append(word)
        if keep:
            start = match.start("name")
            spans.append(Span(NAME, start, start + len(" ".join(keep))))
    return spans
