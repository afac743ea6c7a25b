"""The decision log: written in the request by default, by a background writer when asked."""
from __future__ import annotations

from apps.decisions import decision_log
from apps.decisions.models import DecisionLog


def test_async_log_rows_arrive_after_a_flush(transactional_db, settings, api_client):
    # given the background writer
    settings.DECISIONS_LOG_ASYNC = True
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
