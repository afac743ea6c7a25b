"""Local analytics for transcripts without Contact Lens, and `manage.py ingest --format transcript`."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.conversations import analytics
from apps.conversations.conversation import Turn
from apps.conversations.models import CategoryRule, Contact
from apps.ingest.models import IngestBatch
from graph import get_g, journeys
from tests.conversations import builders

FIXTURES = Path(__file__).parent.parent / "fixtures" / "conversations"


def _turns(rows: list[tuple[str, str, int, int]]) -> list[Turn]:
    return [Turn(position=i, role=r, begin_ms=b, end_ms=e, content=t) for i, (r, t, b, e) in enumerate(rows)]


def test_local_sentiment_agrees_with_contact_lens_labels_better_than_the_majority_class() -> None:
    labelled = [(t[1], t[2]) for t in builders.CANCEL_CALL + builders.DISPUTE_CALL + builders.REFUND_CHAT]

    agree = sum(analytics.turn_sentiment(text)[0] == label for text, label in labelled)
    majority = Counter(label for _, label in labelled).most_common(1)[0]

    assert (len(labelled), agree, majority) == (27, 18, ("POSITIVE", 12))
    assert round(agree / len(labelled), 3) == 0.667 > round(majority[1] / len(labelled), 3) == 0.444


def test_interruptions_non_talk_time_quarters_and_talk_speed_come_from_turn_timings() -> None:
    turns = _turns([("AGENT", "Hello, how can I help you today?", 0, 3000),
                    ("CUSTOMER", "I am very angry, the card was declined again.", 2500, 7000),
                    ("AGENT", "Sorry about that.", 11000, 12000),
                    ("CUSTOMER", "Thanks, that is great, much better now.", 12000, 16000)])
    for turn in turns:
        turn.sentiment, turn.score = analytics.turn_sentiment(turn.content)

    assert analytics.interruptions(turns) == {"count": 1, "total_ms": 500, "by_role": {"CUSTOMER": 1}}
    assert analytics.non_talk_ms(turns) == 4000
    assert analytics.talk(turns) == ({"AGENT": 4000, "CUSTOMER": 8500}, {"AGENT": 150.0, "CUSTOMER": 113.0})
    customer = analytics.quarters(turns)["CUSTOMER"]
    assert [(q["begin"], q["end"]) for q in customer] == [(0, 4000), (4000, 8000), (8000, 12000), (12000, 16000)]
    assert [q["score"] for q in customer] == [-2.78, 0.0, 0.0, 4.36]


def test_category_rules_follow_speaker_place_and_negation() -> None:
    turns = _turns([("AGENT", "Thank you for calling, my name is Sam.", 0, 4000),
                    ("CUSTOMER", "I want to close my account, I'm switching banks.", 4000, 9000),
                    ("AGENT", "I can help you close the account.", 60_000, 64_000)])
    rules = [analytics.Rule("Churn threat", ("close my account", "switching banks"), speaker="CUSTOMER"),
             analytics.Rule("Agent said close", ("close",), speaker="AGENT", where="last", seconds=10),
             analytics.Rule("Greeting", ("thank you for calling",), where="first", seconds=5),
             analytics.Rule("No apology", ("sorry", "apologise"), negate=True),
             analytics.Rule("Customer said help", ("help",), speaker="CUSTOMER")]

    matched = analytics.categorise(turns, rules, duration_ms=64_000)

    assert matched == {"Churn threat": [{"begin_ms": 4000, "end_ms": 9000, "turn_ids": [""]}],
                       "Agent said close": [{"begin_ms": 60_000, "end_ms": 64_000, "turn_ids": [""]}],
                       "Greeting": [{"begin_ms": 0, "end_ms": 4000, "turn_ids": [""]}],
                       "No apology": []}


@pytest.mark.django_db
def test_generic_transcript_with_its_customer_becomes_an_analysed_contact_event(tmp_path: Path) -> None:
    CategoryRule.objects.create(category="Cancellation", phrases="cancel\nclose my account", speaker="CUSTOMER")
    export = {"contact_id": "chat-77", "channel": "chat", "started_at": "2026-11-05T09:00:00Z", "customer_id": "cust-7",
              "turns": [{"speaker": "agent", "text": "Hi, you're chatting with Lee. What can I do for you?",
                         "begin_ms": 0, "end_ms": 0},
                        {"speaker": "customer",
                         "text": "I want to cancel, the app is terrible. Reach me on 0412 555 019.",
                         "begin_ms": 20_000, "end_ms": 20_000},
                        {"speaker": "agent", "text": "Sorry to hear that, I'll sort it out now.",
                         "begin_ms": 45_000, "end_ms": 45_000}]}
    (tmp_path / "chat-77.json").write_text(json.dumps(export))

    call_command("ingest", str(tmp_path / "chat-77.json"), "--format", "transcript")

    contact = Contact.objects.get(contact_id="chat-77")
    assert (contact.analysis_source, contact.has_record, contact.attached, contact.customer_id) == (
        "local", True, True, "cust-7")
    assert list(contact.turns.values_list("role", "sentiment")) == [
        ("AGENT", "NEUTRAL"), ("CUSTOMER", "NEGATIVE"), ("AGENT", "NEGATIVE")]
    assert contact.turns.get(position=1).content == "I want to cancel, the app is terrible. Reach me on [PHONE]."
    assert contact.redaction == {"turns": 3, "turns_redacted": 2, "found": {"PHONE": 1, "NAME": 1}}
    props = get_g().V("event:chat-77").value_map().next()
    assert (props["type"], json.loads(props["categories"][0])) == (["chat_inbound"], ["Cancellation"])
    assert journeys.customer_event_count("cust-7") == 1


@pytest.mark.django_db
def test_transcribe_output_is_analysed_and_attached_to_its_contact_record(tmp_path: Path) -> None:
    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")
    words = [("spk_0", "Good", 0.1, 0.4), ("spk_0", "morning", 0.4, 0.9), ("spk_1", "my", 1.5, 1.7),
             ("spk_1", "card", 1.7, 2.0), ("spk_1", "was", 2.0, 2.2), ("spk_1", "stolen", 2.2, 2.8)]
    items = [{"start_time": str(b), "end_time": str(e), "speaker_label": s, "type": "pronunciation",
              "alternatives": [{"confidence": "0.99", "content": w}]} for s, w, b, e in words]
    items.insert(2, {"type": "punctuation", "alternatives": [{"content": "."}]})
    transcribe = {"jobName": "c-voice-2", "accountId": "111122223333", "status": "COMPLETED",
                  "results": {"transcripts": [{"transcript": "Good morning. my card was stolen"}], "items": items}}
    (tmp_path / "c-voice-2.json").write_text(json.dumps(transcribe))

    call_command("ingest", str(tmp_path), "--format", "transcript")

    contact = Contact.objects.get(contact_id="c-voice-2")
    assert list(contact.turns.values_list("role", "content", "begin_ms", "end_ms")) == [
        ("AGENT", "Good morning.", 100, 900), ("CUSTOMER", "my card was stolen", 1500, 2800)]
    assert (contact.attached, contact.characteristics["non_talk_ms"]) == (True, 0)
    assert get_g().V("event:c-voice-2").values("sentiment_customer").next() == contact.sentiment_customer


@pytest.mark.django_db
def test_a_transcript_with_overlapping_turns_of_one_speaker_is_quarantined(tmp_path: Path) -> None:
    export = {"contact_id": "x-1", "turns": [{"speaker": "customer", "text": "Hello", "begin_ms": 0, "end_ms": 5000},
                                             {"speaker": "customer", "text": "Are you there", "begin_ms": 4000,
                                              "end_ms": 6000}]}
    (tmp_path / "x-1.json").write_text(json.dumps(export))
    (tmp_path / "empty.json").write_text(json.dumps({"hello": "world"}))

    with pytest.raises(CommandError, match="nothing was loaded: all 2 rows"):  # a run that loads nothing fails
        call_command("ingest", str(tmp_path), "--format", "transcript")

    batch = IngestBatch.objects.get()
    assert (batch.rows_read, batch.loaded, batch.quarantined) == (2, 0, 2)
    assert sorted(r.reason.rsplit("/", 1)[1] for r in batch.quarantined_rows.all()) == [
        "empty.json: not a transcript this reader knows: expected Amazon Transcribe output (results), a Transcript "
        "list (Call Analytics, Connect chat) or a generic export (turns)",
        "x-1.json: Transcript[1]: overlapping turns: CUSTOMER turn at 4000 ms begins before their turn "
        "Transcript[0] ends (5000 ms)"]


@pytest.mark.django_db
def test_editing_a_category_rule_in_the_admin_is_audited(admin_client) -> None:  # type: ignore[no-untyped-def]
    from apps.core.models import AuditEntry

    response = admin_client.post("/admin/conversations/categoryrule/add/", {
        "category": "Churn threat", "phrases": "close my account\nswitching banks", "speaker": "CUSTOMER",
        "where": "anywhere", "seconds": "0", "active": "on"})

    assert response.status_code == 302
    entry = AuditEntry.objects.get(object_type="conversations.CategoryRule")  # (the admin's own account is too)
    assert (entry.action, entry.object_type, entry.object_repr) == ("add", "conversations.CategoryRule", "Churn threat")
