"""The decision log: written in the request by default, by a background writer when asked."""
from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest
from django.db import connection

from apps.decisions import decision_log
from apps.decisions.models import DecisionLog


@pytest.fixture
def async_log(transactional_db, settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The background writer, flushed and its connection closed before the test's database goes away."""
    settings.DECISIONS_LOG_ASYNC = True
    yield
    decision_log.close_connection()


def test_async_log_rows_arrive_after_a_flush(async_log, api_client):
    # given the background writer (async_log)
    # when three decisions are made
    for n in range(3):
        assert api_client.post("/api/decisions/intent", {"phone": f"+6149900000{n}", "contact_id": f"a-{n}"},
                               format="json").status_code == 200
    decision_log.flush()
    # then all three are logged with their contact ids
    assert sorted(DecisionLog.objects.values_list("contact_id", flat=True)) == ["a-0", "a-1", "a-2"]


def test_sync_log_is_the_default(db, settings):
    settings.DECISIONS_LOG_ASYNC = False
    decision_log.write(kind="risk", contact_id="s-1", output={"outcome": "pass_to_bot"})
    assert DecisionLog.objects.get().contact_id == "s-1"


def test_queued_rows_are_gathered_into_batches_of_at_most_500() -> None:
    # given a writer with 600 rows queued and a flush asked for
    writer = decision_log._Writer()
    source: queue.Queue[decision_log.Fields | None] = queue.Queue()
    for n in range(600):
        source.put({"kind": "risk", "contact_id": f"g-{n}"})
    writer._write_now.set()
    # when it gathers twice
    first, second = writer._gather(source), writer._gather(source)
    # then one insert takes 500 rows in order and the next the other 100
    assert (len(first), len(second)) == (500, 100)
    assert [row["contact_id"] for row in (first[0], second[0], second[-1])] == ["g-0", "g-500", "g-599"]


def test_a_flush_writes_a_backlog_of_many_batches_at_once(async_log, monkeypatch):
    # given batches of ten rows and a backlog of a hundred queued (as after a database outage)
    monkeypatch.setattr(decision_log, "BATCH", 10)
    for n in range(100):
        decision_log.write(kind="risk", contact_id=f"b-{n:03d}", output={"outcome": "pass_to_bot"})
    # when a flush asks for them (a graceful stop, feedback), then the batches follow one another at
    # once: a batch per gathering time (0.25 s) would take 2.5 s
    assert decision_log.flush(timeout=1.5) is True
    assert DecisionLog.objects.count() == 100
    assert DecisionLog.objects.order_by("id").last().contact_id == "b-099"  # type: ignore[union-attr]


def test_feedback_finds_an_intent_decision_still_queued_for_the_log(async_log, api_client):
    # given an intent decision, logged by the background writer, for a caller the hub has never seen
    api_client.post("/api/decisions/intent", {"phone": "+61400000077", "contact_id": "q-1"}, format="json")
    # when feedback for that contact arrives at once, without the caller
    response = api_client.post("/api/decisions/intent/feedback", {"contact_id": "q-1", "intent": "CC_NE"},
                               format="json")
    # then the caller is taken from the queued decision
    assert response.status_code == 201
    assert response.json()["customer_id"] == "phone:+61400000077"


def test_a_batch_the_database_refuses_is_written_once_it_is_back(async_log):
    # given the decision log's table is gone (as during a database restart) when a decision is logged
    table = DecisionLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    decision_log._writer.failed.clear()
    decision_log.write(kind="risk", contact_id="outage-1", output={"outcome": "pass_to_agent"})
    assert decision_log._writer.failed.wait(timeout=30), "the writer never tried the refused batch"

    # when the table is back
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
    flushed = decision_log.flush(timeout=30)

    # then the row queued during the outage is written, once
    assert flushed is True
    assert list(DecisionLog.objects.values_list("contact_id", flat=True)) == ["outage-1"]


def test_a_flush_while_the_database_is_away_returns_after_its_timeout(async_log):
    # given a row the writer cannot write
    table = DecisionLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    decision_log.write(kind="risk", contact_id="outage-2", output={"outcome": "pass_to_agent"})
    try:
        # when a caller flushes with a short timeout, then it gets an answer instead of waiting forever
        assert decision_log.flush(timeout=0.5) is False
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
    # and the row still arrives once the table is back
    assert decision_log.flush(timeout=30) is True
    assert list(DecisionLog.objects.values_list("contact_id", flat=True)) == ["outage-2"]


def test_fields_no_row_can_be_made_of_are_left_out_and_the_rest_written(async_log):
    # given the background writer and, between two decisions, fields naming no column of the log
    decision_log._writer.failed.clear()
    decision_log.write(kind="risk", contact_id="good-1", output={"outcome": "pass_to_bot"})
    decision_log.write(kind="risk", contact_id="bad-1", output={"outcome": "pass_to_bot"}, colour="red")
    decision_log.write(kind="intent", contact_id="good-2", output={"action": "menu"})
    # when the writer has written what was queued
    assert decision_log.flush(timeout=30) is True
    # then both good rows are in the log and the bad one is not (nor is it tried again)
    assert sorted(DecisionLog.objects.values_list("contact_id", flat=True)) == ["good-1", "good-2"]
    assert not decision_log._writer.failed.is_set()


def test_a_row_holding_a_value_that_is_not_json_is_left_out_and_the_rest_written(async_log, caplog):
    # given the background writer and, between two decisions, an output holding a value JSON cannot hold
    decision_log._writer.failed.clear()
    decision_log.write(kind="risk", contact_id="ok-1", output={"outcome": "pass_to_bot"})
    decision_log.write(kind="risk", contact_id="odd-1", output={"outcome": "pass_to_bot", "at": {1, 2}})
    decision_log.write(kind="intent", contact_id="ok-2", output={"action": "menu"})
    # when the writer has written what was queued (at once: the odd row is no outage to wait out)
    assert decision_log.flush(timeout=5) is True
    # then the two good rows are in the log, the odd one is named and left out, and nothing is retried
    assert sorted(DecisionLog.objects.values_list("contact_id", flat=True)) == ["ok-1", "ok-2"]
    assert "row for contact 'odd-1' left out: a value is not JSON" in caplog.text
    assert not decision_log._writer.failed.is_set()


def test_an_outage_while_a_batch_is_written_row_by_row_is_waited_out(async_log, monkeypatch):
    # given a batch the database refuses for one row's content, and an outage that strikes while the
    # rows are then written one by one (the insert itself is real; only the faults are injected)
    from django.db import IntegrityError, OperationalError

    real_insert, outage = decision_log._insert, ["r-2"]

    def insert(batch: list[decision_log.Fields]) -> None:
        contacts = [fields["contact_id"] for fields in batch]
        if "bad" in contacts:
            raise IntegrityError("CHECK constraint failed")
        if contacts == outage:
            outage.clear()
            raise OperationalError("server closed the connection unexpectedly")
        real_insert(batch)

    monkeypatch.setattr(decision_log, "_insert", insert)
    monkeypatch.setattr(decision_log, "RETRY_FIRST_SECONDS", 0.01)
    decision_log._writer.failed.clear()
    for contact in ("r-1", "r-2", "bad", "r-3"):
        decision_log.write(kind="risk", contact_id=contact, output={"outcome": "pass_to_bot"})
    # when the writer has written what was queued
    assert decision_log.flush(timeout=5) is True
    # then the row the outage struck was tried again and written, and only the refused one is missing
    assert sorted(DecisionLog.objects.values_list("contact_id", flat=True)) == ["r-1", "r-2", "r-3"]
    assert decision_log._writer.failed.is_set()


def test_the_writer_stores_each_field_as_the_model_would(async_log):
    from django.utils import timezone

    # given a decision whose maps hold nested values, text beyond ASCII and numbers
    output = {"score": 712, "reasons": [{"code": "model", "detail": "Zoë's 2nd call — ≥ 3 km", "points": 0.25}],
              "variables": {"known_customer": True, "recent_categories": None}}
    before = timezone.now()
    decision_log.write(kind="risk", contact_id="w-1", customer_id="c1", channel="VOICE",
                       inputs={"phone": "+61400000001", "at_ms": 1767225600000}, output=output,
                       model_version="risk v3", latency_ms=1.25)
    decision_log.write(kind="intent", contact_id="w-2")  # every other field left to its default
    # when the writer has written them
    assert decision_log.flush(timeout=30) is True
    # then each reads back exactly as written, with the time it was written
    risk, intent = DecisionLog.objects.get(contact_id="w-1"), DecisionLog.objects.get(contact_id="w-2")
    assert (risk.kind, risk.customer_id, risk.channel, risk.model_version, risk.latency_ms) == (
        "risk", "c1", "VOICE", "risk v3", 1.25)
    assert risk.inputs == {"phone": "+61400000001", "at_ms": 1767225600000} and risk.output == output
    assert before <= risk.created <= timezone.now()
    assert (intent.customer_id, intent.inputs, intent.output, intent.latency_ms) == ("", {}, {}, 0.0)
