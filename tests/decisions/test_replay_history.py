"""Replayed history (apps/decisions/replay.py `seed_history`) as the risk decision reads it."""
from __future__ import annotations

import pandas as pd

from apps.decisions.modeling.caller_profile import profile_from_history
from apps.decisions.replay import phone_for, seed_history
from graph import decisions as graph_decisions


def test_a_history_with_durations_gives_each_call_its_duration_and_the_risk_model_reads_them(db) -> None:  # type: ignore[no-untyped-def]
    # given two earlier calls of one caller, of 120 and 300 seconds
    history = pd.DataFrame({"customer_id": ["31000", "31000"], "ts": [1_772_618_400_000, 1_772_618_460_000],
                            "intent": ["AC_NE", "AC_AS"], "duration_s": [120, 300]})
    seed_history(history, {"31000"})
    # when a risk decision reads the caller's history
    phone = phone_for("31000")
    facts = graph_decisions.risk_facts([("phone", phone)], phone=phone, since_ms=0, until_ms=1_772_700_000_000)
    profile = profile_from_history(channel="VOICE", email=None, at_ms=1_772_700_000_000, events=facts.history.events,
                                   plain_times=facts.history.plain_times, sharing=facts.sharing, phone=phone,
                                   known_customer=True)
    # then the calls carry their durations, and the caller's average is the model's to read
    assert sorted(e["attributes"] for e in facts.history.events) == ['{"duration_s": 120}', '{"duration_s": 300}']
    assert (profile["calls"], profile["avg_call_seconds"]) == (2, 210.0)
