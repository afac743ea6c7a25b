"""PII redaction: the seeded test set's figures per kind, and the cases each rule exists for."""
from __future__ import annotations

import pytest

from apps.conversations import redaction
from tests.conversations.pii_corpus import scores, turns


def test_seeded_test_set_meets_recall_and_precision_per_kind() -> None:
    corpus = turns(count=600, seed=13)

    figures = scores(corpus)

    assert len(corpus) == 600
    assert {k: v["gold"] for k, v in figures.items()} == {
        "EMAIL": 132, "PHONE": 134, "CARD": 109, "BANK_ACCOUNT": 128, "ADDRESS": 129, "NAME": 144}
    for kind, figure in figures.items():
        assert figure["recall"] >= 0.99, (kind, figure)
        assert figure["precision"] >= 0.95, (kind, figure)


@pytest.mark.parametrize(("text", "expected"), [
    ("Card 4111 1111 1111 1111 please", "Card [CARD] please"),
    ("Reference 4000 1234 5678 9011 is on the letter", "Reference 4000 1234 5678 9011 is on the letter"),
    ("Order #5376897 for $1,250.00 on 12/03/2026", "Order #5376897 for $1,250.00 on 12/03/2026"),
    ("Ring 0412 555 019 or +1 206 555 0123", "Ring [PHONE] or [PHONE]"),
    ("IBAN GB82 WEST 1234 5698 7654 32 thanks", "IBAN [BANK_ACCOUNT] thanks"),
    ("my account number is 12345678 and BSB 062-000", "my account number is [BANK_ACCOUNT] and BSB [BANK_ACCOUNT]"),
    ("Send it to 42 Wallaby Way, Sydney NSW 2000 today", "Send it to [ADDRESS] today"),
    ("Hello, my name is Zara O'Brien.", "Hello, my name is [NAME]."),
    ("This is Example Bank, I'm Sorry for the wait", "This is Example Bank, I'm Sorry for the wait"),
    ("mail me: a.b@example.com", "mail me: [EMAIL]"),
])
def test_each_kind_is_found_and_look_alikes_are_left(text: str, expected: str) -> None:
    assert redaction.redact(text)[0] == expected


def test_the_report_counts_kinds_never_values() -> None:
    report = redaction.RedactionReport()
    for text in ("My name is Ana Silva", "nothing here", "card 4111111111111111, email ana@example.com"):
        report.add(redaction.find(text))

    assert report.as_dict() == {"turns": 3, "turns_redacted": 2, "found": {"EMAIL": 1, "CARD": 1, "NAME": 1}}
