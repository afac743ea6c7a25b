"""Replaying a day of calls through the Lambda handler against a hub that is served, then stopped."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from apps.decisions.modeling.intent import read_interactions
from apps.decisions.replay import phone_for, pick_day, split_day

DAY_S = 86_400
BASE_S = 1_633_046_400  # 2021-10-01 00:00 UTC
SEQUENCES = {"AC": ["AC_NE", "AC_AS", "AC_PA", "AC_AA", "AC_CS"], "CC": ["CC_NE", "CC_CA", "CC_AA", "CC_LC", "CC_CS"]}


@pytest.fixture
def interactions(tmp_path):  # type: ignore[no-untyped-def]
    """20 customers who finished an episode early in the month, 30 who are mid-episode on 2021-10-13."""
    rows = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
    for n in range(50):
        intent = "AC" if n % 2 == 0 else "CC"
        first_day = 0 if n < 20 else 10
        for k, item in enumerate(SEQUENCES[intent]):
            rows.append(f"{31000 + n},{item},{BASE_S + (first_day + k) * DAY_S + n * 60 + 3600},call")
    path = tmp_path / "interactions.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_day_is_split_into_history_and_calls_in_time_order(interactions):
    calls = read_interactions(interactions)
    history, today = split_day(calls, pick_day(calls, holdout=0.15))
    assert str(pick_day(calls, holdout=0.15)) == "2021-10-15"
    assert len(today) == 30
    assert [c.intent for c in today[:2]] == ["AC_CS", "CC_CS"]
    assert history["ts"].max() < today[0].ts
    assert phone_for("31020") == "+15550031020"


def test_replay_routes_known_callers_and_the_fallback_holds_when_the_hub_stops(interactions, transactional_db,
                                                                               shared_data):
    # given an intent model trained on the calls before 2021-10-13 (and the risk model on the shared data),
    # and the day's callers' earlier calls in the graph
    out = StringIO()
    # when the day is replayed through the Lambda handler and the hub is stopped after 12 calls
    call_command("replay_calls", "--data", str(interactions), "--day", "2021-10-13", "--train",
                 "--stop-hub-after", "12", "--budget-ms", "500", "--json", stdout=out)
    report = json.loads(out.getvalue().splitlines()[-1])
    # then the first 12 callers, mid-episode, are confirmed with the right next step
    assert report["calls"] == 30
    assert report["intent_mix"] == {"confirm": 12, "menu": 18}
    assert report["band_precision"]["confirm"] == 1.0
    assert report["top1"] == 0.4
    # and the 18 calls after the stop got the safe answers from the handler, quickly
    assert report["fallbacks"] == {"intent": 18, "risk": 18}
    # and the known, low-risk callers went to the bot while the hub was up, everyone else to an agent
    assert report["risk_mix"] == {"pass_to_bot": 12, "pass_to_agent": 18}
    assert report["handler_ms"]["p99"] < 500
    # and the baselines are beside it: the popularity guess is never right on this day
    assert report["baselines"]["popularity"]["top1"] == 0.0
    assert report["baselines"]["menu_for_everyone"]["intent_mix"] == {"menu": 30}


def test_replay_prints_a_table_beside_the_baselines(interactions, transactional_db, shared_data):
    out = StringIO()
    call_command("replay_calls", "--data", str(interactions), "--day", "2021-10-13", "--train", "--limit", "4",
                 stdout=out)
    text = out.getvalue()
    assert "replay of 2021-10-13: 4 calls through the Lambda handler" in text
    assert "top-1 accuracy" in text and "popularity" in text and "menu only" in text
    assert 'fallbacks: {"intent": 0, "risk": 0}' in text


def test_a_day_without_calls_is_refused(interactions, db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no calls on 2022-01-01"):
        call_command("replay_calls", "--data", str(interactions), "--day", "2022-01-01")
