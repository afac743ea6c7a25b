"""The decision log: written in the request by default, by a background writer when asked."""
from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from apps.decisions import decision_log
from apps.decisions.models import DecisionLog


@pytest.fixture
def async_log(transactional_db, settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The background writer, flushed before the test's database goes away."""
    settings.DECISIONS_LOG_ASYNC = True
    yield
    decision_log.flush()


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
    source: queue.Queue[DecisionLog] = queue.Queue()
    for n in range(600):
        source.put(DecisionLog(kind="risk", contact_id=f"g-{n}"))
    writer._write_now.set()
    # when it gathers twice
    first, second = writer._gather(source), writer._gather(source)
    # then one insert takes 500 rows in order and the next the other 100
    assert (len(first), len(second)) == (500, 100)
    assert (first[0].contact_id, second[0].contact_id, second[-1].contact_id) == ("g-0", "g-500", "g-599")


def test_feedback_finds_an_intent_decision_still_queued_for_the_log(async_log, api_client):
    # given an intent decision, logged by the background writer, for a caller the hub has never seen
    api_client.post("/api/decisions/intent", {"phone": "+61400000077", "contact_id": "q-1"}, format="json")
    # when feedback for that contact arrives at once, without the caller
    response = api_client.post("/api/decisions/intent/feedback", {"contact_id": "q-1", "intent": "CC_NE"},
                               format="json")
    # then the caller is taken from the queued decision
    assert response.status_code == 201
    assert response.json()["customer_id"] == "phone:+61400000077"
