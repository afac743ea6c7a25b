"""Contact Lens analyses through `manage.py ingest --format contact-lens`, attached to contacts' events."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from django.core.management import call_command
from moto import mock_aws

from apps.conversations.models import Contact, Turn
from apps.ingest.models import IngestBatch
from graph import get_g
from graph import journeys as graph_journeys
from tests.conversations import builders

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent.parent / "fixtures" / "conversations"


@pytest.fixture
def bucket_dir(tmp_path: Path) -> Path:
    builders.write(tmp_path, builders.CANCEL_FILE, builders.cancel_call())
    builders.write(tmp_path, builders.CHAT_FILE, builders.refund_chat())
    builders.write(tmp_path, builders.DISPUTE_FILE, builders.dispute_call())
    builders.write(tmp_path, "Analysis/Voice/2026/11/02/notes.txt", "not an analysis")
    return tmp_path


def _event(contact_id: str) -> dict:
    return get_g().V(f"event:{contact_id}").value_map().next()


def test_analysis_summary_lands_on_the_contact_event_and_the_transcript_in_the_database(bucket_dir: Path) -> None:
    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")

    call_command("ingest", str(bucket_dir), "--format", "contact-lens")

    batch = IngestBatch.objects.get(format="contact-lens")
    assert (batch.rows_read, batch.loaded, batch.quarantined) == (3, 3, 0)
    props = _event("c-voice-1")
    assert props["sentiment_customer"] == [1.2]
    assert props["sentiment_agent"] == [2.8]
    assert json.loads(props["categories"][0]) == ["Cancellation", "Fees"]
    assert (props["interruptions"], props["non_talk_ms"], props["conversation_ms"]) == ([1], [3600], [49400])
    quarters = json.loads(props["conversation"][0])["quarters"]
    assert [q["score"] for q in quarters["CUSTOMER"]] == [-2.5, -5.0, 0.0, 5.0]
    assert "transcript" not in props and "turns" not in props
    contact = Contact.objects.get(contact_id="c-voice-1")
    assert (contact.analysis_source, contact.attached, contact.turns.count()) == ("contact-lens", True, 10)
    assert contact.summary_items == {"issues": ["I want to cancel my credit card, these fees are ridiculous"],
                                     "outcomes": ["can waive this year's fee and move you to the no fee card instead"],
                                     "action_items": ["I'll email the confirmation to [EMAIL] today"]}
    assert list(contact.matched_categories.values_list("name", "points")) == [
        ("Cancellation", [{"begin_ms": 4600, "end_ms": 10100}]),
        ("Fees", [{"begin_ms": 4600, "end_ms": 10100}, {"begin_ms": 19800, "end_ms": 25200}])]


def test_raw_output_is_redacted_before_it_is_stored(bucket_dir: Path) -> None:
    call_command("ingest", str(bucket_dir), "--format", "contact-lens")

    stored = " ".join(Turn.objects.values_list("content", flat=True))
    for secret in ("Daniel Okafor", "4111 1111 1111 1111", "0412 555 019", "daniel.okafor@example.com",
                   "17 Harbour Street", "12345678", "pat.doe@example.com"):
        assert secret not in stored
    turn = Turn.objects.get(contact__contact_id="c-voice-1", position=3)
    assert turn.content == "It's [CARD] and you can call me back on [PHONE] if we get cut off."
    assert Contact.objects.get(contact_id="c-voice-1").redaction == {
        "turns": 10, "turns_redacted": 5, "found": {"EMAIL": 1, "PHONE": 1, "CARD": 1, "NAME": 3}}


def test_an_analysis_that_arrives_first_is_held_and_attached_when_its_contact_arrives(bucket_dir: Path) -> None:
    call_command("ingest", str(bucket_dir), "--format", "contact-lens")
    held = Contact.objects.get(contact_id="c-chat-1")
    assert (held.has_record, held.attached) == (False, False)
    assert not get_g().V("event:c-chat-1").to_list()

    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")

    held.refresh_from_db()
    assert (held.has_record, held.attached, held.customer_id) == (True, True, "email:pat.doe@example.com")
    props = _event("c-chat-1")
    assert json.loads(props["categories"][0]) == ["Fees", "Refund"]
    assert props["sentiment_customer"] == [0.8]
    analysed = [(e["event_id"], e["ts"], e["categories"], e["sentiment_customer"])
                for e in graph_journeys.recent_events("email:pat.doe@example.com") if "categories" in e]
    assert analysed == [("c-chat-1", 1793692800000, ["Fees", "Refund"], 0.8)]


def test_chat_analysis_reads_labels_summary_and_points_of_interest(bucket_dir: Path) -> None:
    call_command("ingest", str(bucket_dir), "--format", "contact-lens")

    chat = Contact.objects.get(contact_id="c-chat-1")
    assert chat.channel == "chat"
    assert list(chat.turns.values_list("role", "begin_ms", "sentiment"))[:3] == [
        ("AGENT", 3000, "POSITIVE"), ("CUSTOMER", 20000, "NEGATIVE"), ("AGENT", 41000, "NEUTRAL")]
    assert chat.turns.get(position=4).content == "Sure, the account number is [BANK_ACCOUNT]."
    assert chat.summary_items == {"issues": ["My transfer to my landlord failed twice"],
                                  "outcomes": ["I have refunded both fees"]}
    assert chat.matched_categories.get(name="Refund").points == [
        {"turn_ids": ["msg-004"], "begin_ms": 120000, "end_ms": 120000}]


def test_bad_files_are_quarantined_with_file_position_and_reason_and_the_rest_lands(tmp_path: Path) -> None:
    builders.write(tmp_path, builders.CANCEL_FILE, builders.cancel_call())
    truncated = json.dumps(builders.dispute_call())[:700]
    builders.write(tmp_path, builders.DISPUTE_FILE, truncated)
    builders.write(tmp_path, "Analysis/Voice/2026/11/05/c-new_analysis_2026-11-05T10:00:00Z.json",
                   builders.voice_analysis(builders.DISPUTE_CALL, version="9.0.0"))
    overlapping = [*builders.DISPUTE_CALL]
    overlapping[3] = ("CUSTOMER", "It was four hundred dollars at a store I never heard of.", "NEGATIVE", 12100, 23000)
    builders.write(tmp_path, "Analysis/Voice/2026/11/06/c-overlap_analysis_2026-11-06T10:00:00Z.json",
                   builders.voice_analysis(overlapping))

    call_command("ingest", str(tmp_path), "--format", "contact-lens")

    batch = IngestBatch.objects.get()
    assert (batch.rows_read, batch.loaded, batch.quarantined) == (4, 1, 3)
    reasons = sorted(row.reason.split("/Analysis/", 1)[1] for row in batch.quarantined_rows.all())
    assert reasons == [
        "Voice/2026/11/04/c-callback-1_analysis_2026-11-04T11:05:09Z.json: file is not valid JSON (truncated or "
        "malformed): Unterminated string starting at (line 1, column 700, char 699)",
        "Voice/2026/11/05/c-new_analysis_2026-11-05T10:00:00Z.json: unknown schema version '9.0.0' for channel "
        "'VOICE' (supported: voice 1.0.0, 1.1.0; chat CHAT-2022-11-30)",
        "Voice/2026/11/06/c-overlap_analysis_2026-11-06T10:00:00Z.json: Transcript[5]: overlapping turns: CUSTOMER "
        "turn at 22300 ms begins before their turn Transcript[3] ends (23000 ms)",
    ]
    assert list(Contact.objects.values_list("contact_id", flat=True)) == ["c-voice-1"]


def test_rerunning_the_same_analyses_changes_nothing(bucket_dir: Path) -> None:
    call_command("ingest", str(bucket_dir), "--format", "contact-lens")
    before = list(Turn.objects.order_by("id").values_list("id", "content"))

    call_command("ingest", str(bucket_dir), "--format", "contact-lens")

    batch = IngestBatch.objects.order_by("-id").first()
    assert (batch.loaded, batch.duplicates) == (0, 3)
    assert list(Turn.objects.order_by("id").values_list("id", "content")) == before


def test_a_redacted_twin_is_read_in_place_of_its_original(tmp_path: Path) -> None:
    builders.write(tmp_path, builders.CANCEL_FILE, builders.cancel_call())
    redacted = builders.cancel_call(output="Redacted")
    for item in redacted["Transcript"]:
        item["Content"] = item["Content"].replace("Daniel Okafor", "[PII]")
    twin = builders.CANCEL_FILE.replace("Voice/", "Voice/Redacted/").replace("_analysis_", "_analysis_redacted_")
    builders.write(tmp_path, twin, redacted)

    call_command("ingest", str(tmp_path), "--format", "contact-lens")

    contact = Contact.objects.get()
    assert contact.analysis_file.endswith(twin)
    assert contact.turns.get(position=1).content.startswith("Hi, my name is [PII].")


def test_analyses_are_read_from_an_s3_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "ap-southeast-2"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="connect", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"})
        s3.put_object(Bucket="connect", Key=f"inst/{builders.CANCEL_FILE}", Body=json.dumps(builders.cancel_call()))
        s3.put_object(Bucket="connect", Key=f"inst/{builders.CHAT_FILE}", Body=json.dumps(builders.refund_chat()))

        call_command("ingest", "s3://connect/inst", "--format", "contact-lens")

    assert IngestBatch.objects.get().loaded == 2
    assert sorted(Contact.objects.values_list("contact_id", flat=True)) == ["c-chat-1", "c-voice-1"]


def test_an_analysis_of_a_contact_loaded_as_an_ordinary_event_is_attached_to_it(tmp_path: Path) -> None:
    from apps.ingest.services import ingest_records

    ingest_records(records=[{"event_id": "c-voice-1", "customer_id": "cust-9", "event_type": "call",
                             "channel": "voice", "timestamp": "2026-11-02T10:15:00Z"}], source="crm-export")
    builders.write(tmp_path, builders.CANCEL_FILE, builders.cancel_call())

    call_command("ingest", str(tmp_path), "--format", "contact-lens")

    contact = Contact.objects.get()
    assert (contact.customer_id, contact.has_record, contact.attached, contact.channel) == (
        "cust-9", True, True, "voice")
    assert _event("c-voice-1")["sentiment_customer"] == [1.2]
