"""Pure modelling: the transition model, the ranking/calibration/band metrics and risk features."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.decisions.modeling import metrics
from apps.decisions.modeling.intent import (
    Example,
    IntentModel,
    PopularityModel,
    calls_from_events,
    evaluate_intent,
    examples,
    read_interactions,
    time_split,
    top_level,
    train_intent_model,
)
from apps.decisions.modeling.risk import CALL_TIME, WITH_LEAK, call_features, read_fraud_calls, to_score
from tests.decisions.factories import DAY_MS, T0, episode_calls, fitted_model


def test_a_clear_history_predicts_the_next_sub_intent_with_high_confidence():
    # given a model fitted on callers who all walk AC_NE → AC_AS → AC_PA …
    model = fitted_model()
    # when a caller whose last calls were AC_NE, AC_AS calls again a day later
    ranked = model.rank(["AC_NE", "AC_AS"], DAY_MS, k=3)
    # then the next step of the sequence comes first with a confidence above the confirm threshold
    assert ranked[0][0] == "AC_PA"
    assert ranked[0][1] > 0.9
    assert [item for item, _ in ranked][1:] != ["AC_PA"]


def test_a_caller_without_history_gets_first_call_popularity_below_the_menu_threshold():
    model = fitted_model()
    ranked = model.rank([], None, k=2)
    assert {ranked[0][0], ranked[1][0]} == {"AC_NE", "CC_NE"}
    assert ranked[0][1] < 0.6


def test_unseen_context_backs_off_to_shorter_contexts():
    model = fitted_model()
    # a history never seen as a whole still ends in CC_CA, whose successor is always CC_AA
    assert model.rank(["AC_CS", "AC_PA", "CC_CA"], DAY_MS, k=1)[0][0] == "CC_AA"


def test_examples_carry_history_gap_and_target_in_time_order():
    calls = pd.DataFrame({"customer_id": ["a", "a", "a"], "ts": [0, 5, 9], "intent": ["X_1", "X_2", "X_3"]})
    assert examples(calls) == [Example((), None, "X_1", 0), Example(("X_1",), 5, "X_2", 5),
                               Example(("X_1", "X_2"), 4, "X_3", 9)]


def test_calls_of_equal_time_from_the_events_keep_the_chains_order():
    # the events frame in journey order; b's calls of one millisecond are ordered by arrival, then by
    # event id where neither has an arrival number (written before events had one)
    events = pd.DataFrame({
        "customer_id": ["a", "b", "b", "b", "b", "b"], "ts": [7, 1, 5, 5, 9, 9], "seq": [9, 1, 3, 2, 0, 0],
        "event_id": ["a1", "b1", "b2", "b3", "b5", "b4"], "type": ["call"] * 6,
        "intent": ["X_1", "Y_1", "Z_9", "A_2", "B_1", None]})
    calls = calls_from_events(events)
    assert calls.to_dict("list") == {"customer_id": ["a", "b", "b", "b", "b"], "ts": [7, 1, 5, 5, 9],
                                     "intent": ["X_1", "Y_1", "A_2", "Z_9", "B_1"]}
    assert examples(calls)[3] == Example(("Y_1", "A_2"), 0, "Z_9", 5)
    tied = events.assign(intent=["X_1", "Y_1", "Z_9", "A_2", "B_1", "C_1"])
    assert calls_from_events(tied)["intent"].tolist()[-2:] == ["C_1", "B_1"]


def test_time_split_keeps_the_latest_calls_for_the_holdout():
    cases = [Example((), None, "A", ts) for ts in (5, 1, 9, 3, 7, 2, 8, 4, 6, 10)]
    train, test = time_split(cases, 0.2)
    assert [c.ts for c in test] == [9, 10]
    assert max(c.ts for c in train) == 8
    with pytest.raises(ValueError, match="holdout must be between 0 and 1"):
        time_split(cases, 1.5)


def test_ranking_metrics_on_known_ranks():
    ranked = [["a", "b", "c"], ["b", "a", "c"], ["c", "b", "a"], ["x", "y", "z"]]
    result = metrics.ranking_metrics(ranked, ["a", "a", "a", "a"])
    # ranks 1, 2, 3 and not found
    assert result == {"n": 4, "top1": 0.25, "top3": 0.75, "mrr": round((1 + 1 / 2 + 1 / 3) / 4, 4),
                      "ndcg5": round((1 + 1 / 1.5849625007 + 1 / 2) / 4, 4)}


def test_calibration_error_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    assert metrics.expected_calibration_error([0.75] * 4, [True, True, True, False]) == 0.0
    assert metrics.expected_calibration_error([0.95] * 2, [False, False]) == 0.95


def test_bands_split_calls_by_threshold_and_report_precision():
    result = metrics.band_metrics([0.9, 0.85, 0.7, 0.3, None], [True, False, True, False, False], high=0.8, low=0.6)
    assert result == {"confirm": {"share": 0.4, "precision": 0.5, "calls": 2},
                      "suggest": {"share": 0.2, "precision": 1.0, "calls": 1},
                      "menu": {"share": 0.4, "precision": 0.0, "calls": 2}}


def test_binary_metrics_and_auc():
    scores, labels = [900, 850, 500, 100, 50], [1, 0, 1, 0, 0]
    assert metrics.binary_metrics_at(scores, labels, 800) == {
        "threshold": 800, "flagged_share": 0.4, "tpr": 0.5, "fpr": 0.3333, "precision": 0.5}
    assert metrics.roc_auc([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    assert metrics.roc_auc([0.5, 0.5], [1, 0]) == 0.5


def test_transition_model_beats_popularity_on_the_time_ordered_holdout():
    calls = episode_calls(60)
    model, baseline, test = train_intent_model(calls)
    assert isinstance(baseline, PopularityModel)
    ours, theirs = evaluate_intent(model, test), evaluate_intent(baseline, test)
    assert ours["top1"] == 1.0
    assert theirs["top1"] < 0.5
    assert set(ours["bands"]) == {"confirm", "suggest", "menu"}


def test_top_level_intent():
    assert top_level("CC_LC") == "CC"


def test_reading_the_intents_format_checks_columns(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n7,AC_AS,20,call\n7,AC_NE,10,call\n")
    calls = read_interactions(good)
    assert calls.to_dict("records") == [{"customer_id": "7", "ts": 10_000, "intent": "AC_NE"},
                                        {"customer_id": "7", "ts": 20_000, "intent": "AC_AS"}]
    bad = tmp_path / "bad.csv"
    bad.write_text("USER,ITEM_ID\n1,AC_NE\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['TIMESTAMP', 'USER_ID'\]"):
        read_interactions(bad)


def test_risk_features_leave_out_the_leaky_columns_unless_asked(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("id,first_name,last_name,email_address,ip_address,event_id,phone_number,contact_type,"
                    "event_timestamp,billing_name,fraud_label,call_duration,customer_class\n"
                    "3,Scot,TRUE,smap2@bbc.co.uk,27.53.11.08,e-1,14427531108,CHAT,24/1/19 0:25,Scot True,1,30,b\n")
    call = read_fraud_calls(path).to_dict("records")[0]
    assert call["phone"] == "+14427531108"
    assert call_features(call, variant=CALL_TIME) == {
        "contact_type": "CHAT", "hour": "0", "weekday": "3", "phone_length": "11", "phone_prefix": "1",
        "email_tld": "uk", "email_domain": "bbc.co.uk", "email_local_has_digit": "True"}
    leaky = call_features(call, variant=WITH_LEAK)
    assert (leaky["customer_class"], leaky["call_duration"]) == ("b", "30")
    assert to_score(0.8123) == 812


def test_reading_fraud_calls_names_the_bad_line(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("email_address,phone_number,contact_type,event_timestamp,fraud_label\n"
                    "a@b.c,1555,VOICE,1/1/19 0:00,1\na@b.c,1555,VOICE,1/1/19 0:00,yes\n")
    with pytest.raises(ValueError, match="line 3: fraud_label must be 0 or 1, got 'yes'"):
        read_fraud_calls(path)


# ---------------------------------------------------------------- risk on the caller's history


def _fraud_file(tmp_path, rows: list[str]):  # type: ignore[no-untyped-def]
    path = tmp_path / "calls.csv"
    header = ("id,first_name,last_name,email_address,ip_address,event_id,phone_number,contact_type,event_timestamp,"
              "billing_name,fraud_label,call_duration,customer_class")
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_one_feature_function_reads_a_training_row_and_a_graph_history_alike(tmp_path):
    from apps.decisions.modeling.caller_profile import profile_from_fraud_row, profile_from_history, risk_features
    from apps.decisions.modeling.risk import fraud_profiles

    # given a training row whose historic average call duration is 780 (class g: legitimate)
    path = _fraud_file(tmp_path, ["1,Ann,Lee,ann@bbc.co.uk,27.53.11.08,e1,14427531108,VOICE,24/1/19 0:25,"
                                  "Ann Lee,0,780,g"])
    row = read_fraud_calls(path).to_dict("records")[0]
    # and a caller in the graph whose two earlier calls lasted 700 and 860 seconds
    history = [{"ts": T0 - 2 * DAY_MS, "type": "call", "channel": "voice", "outcome": None,
                "attributes": '{"duration_s": 700}'},
               {"ts": T0 - DAY_MS, "type": "call", "channel": "voice", "outcome": None,
                "attributes": '{"duration_s": 860}'},
               {"ts": T0 - DAY_MS // 2, "type": "web", "channel": "web", "outcome": None, "attributes": "{}"}]
    sharing = {"phone:+61400000001": {"customers": 1, "first_seen": T0 - 10 * DAY_MS},
               "email:ann@bbc.co.uk": {"customers": 1, "first_seen": T0 - 10 * DAY_MS}}
    graph_profile = profile_from_history(channel="VOICE", email="ann@bbc.co.uk", at_ms=T0, events=history,
                                         sharing=sharing, phone="+61400000001", known_customer=True)
    # when both go through the one feature function
    from_file = risk_features(fraud_profiles(read_fraud_calls(path))[0])
    from_graph = risk_features(graph_profile)
    # then the facts both sources know come out the same
    same = ("avg_call_seconds", "channel_is_voice", "email_domain", "email_tld", "shared_phone_customers",
            "shared_email_customers")
    assert {k: from_file[k] for k in same} == {k: from_graph[k] for k in same} == {
        "avg_call_seconds": 780.0, "channel_is_voice": 1.0, "email_domain": "bbc.co.uk", "email_tld": "uk",
        "shared_phone_customers": 1.0, "shared_email_customers": 1.0}
    # the graph knows more of the history; the file leaves those facts unknown (NaN), never invented
    assert (from_graph["calls"], from_graph["events"], from_graph["phone_age_days"]) == (2.0, 3.0, 10.0)
    assert round(float(from_graph["days_since_last_event"]), 2) == 0.5 and from_graph["voice_share"] == 2 / 3
    assert all(from_file[k] != from_file[k] for k in ("calls", "events", "phone_age_days", "failed_checks"))
    # and customer_class, a label leak, is no part of either
    assert "customer_class" not in from_file and profile_from_fraud_row(row).get("customer_class") is None


def test_identity_checks_and_a_stranger_in_the_profile():
    from apps.decisions.modeling.caller_profile import profile_from_history

    history = [{"ts": T0 - 3, "type": "verification", "channel": "voice", "outcome": "failed", "attributes": "{}"},
               {"ts": T0 - 2, "type": "call", "channel": "voice", "outcome": None,
                "attributes": '{"verification": "passed", "duration_s": 60}'},
               {"ts": T0 + 1, "type": "call", "channel": "voice", "outcome": None, "attributes": '{"duration_s": 9}'}]
    known = profile_from_history(channel="CHAT", email=None, at_ms=T0, events=history, sharing={}, known_customer=True)
    # the event after the call's time is not history
    assert (known["failed_checks"], known["passed_checks"], known["calls"], known["avg_call_seconds"]) == (1, 1, 2, 60)
    stranger = profile_from_history(channel="VOICE", email=None, at_ms=T0, events=[], sharing={},
                                    known_customer=False)
    # a stranger has no history facts at all: the model's features for them are unknown, not zero
    assert "calls" not in stranger and "avg_call_seconds" not in stranger


def test_a_failed_check_logged_as_its_own_event_and_on_its_call_counts_once():
    from apps.decisions.modeling.caller_profile import profile_from_history

    minute = 60_000
    history = [
        # one failed check, logged as an event 1 minute before the call that records it
        {"ts": T0 - 60 * minute, "type": "verification", "channel": "voice", "outcome": "failed", "attributes": "{}"},
        {"ts": T0 - 59 * minute, "type": "call", "channel": "voice", "outcome": None,
         "attributes": '{"verification": "failed"}'},
        # a call's own failure with no event beside it, and an event a day before a failed call: two more
        {"ts": T0 - 30 * minute, "type": "call", "channel": "voice", "outcome": None,
         "attributes": '{"verification": "failed"}'},
        {"ts": T0 - 2 * 1440 * minute, "type": "verification", "channel": "voice", "outcome": "failed",
         "attributes": "{}"},
        {"ts": T0 - 1440 * minute, "type": "call", "channel": "voice", "outcome": None,
         "attributes": '{"verification": "failed"}'},
    ]
    # when
    profile = profile_from_history(channel="VOICE", email=None, at_ms=T0, events=history[::-1], sharing={},
                                   known_customer=True)
    # then: the first pair is one check; the others are three
    assert (profile["failed_checks"], profile["passed_checks"]) == (4, 0)


def test_a_digital_event_counts_for_the_profile_only_where_its_attributes_name_a_check():
    from apps.decisions.modeling.caller_profile import profile_from_history

    history = [
        # an app login whose attributes record a failed check, and web events whose JSON is never needed
        {"ts": T0 - 5, "type": "login", "channel": "app", "outcome": None, "attributes": '{"verification": "failed"}'},
        {"ts": T0 - 4, "type": "page", "channel": "web", "outcome": None, "attributes": '{"duration_s": 900}'},
        {"ts": T0 - 3, "type": "page", "channel": "web", "outcome": None, "attributes": "{not json"},
        {"ts": T0 - 2, "type": "call", "channel": "voice", "outcome": None, "attributes": '{"duration_s": 30}'},
        {"ts": T0 - 1, "type": "chat", "channel": "chat", "outcome": None, "attributes": '{"verification": "passed"}'},
    ]
    # when
    profile = profile_from_history(channel="VOICE", email=None, at_ms=T0, events=history, sharing={},
                                   known_customer=True)
    # then the app's check and the chat's count; a web page's duration is no call's
    assert (profile["failed_checks"], profile["passed_checks"], profile["calls"], profile["events"],
            profile["avg_call_seconds"], profile["digital_share"]) == (1, 1, 2, 5, 30.0, 0.6)


_EVENT = st.fixed_dictionaries({
    "ts": st.integers(T0 - 30 * DAY_MS, T0 + DAY_MS),  # some after the call: not history
    "type": st.sampled_from(["page", "call", "verification", "login", "chat"]),
    "channel": st.sampled_from(["web", "app", "email", "voice", "chat", "Voice", "WEB", "sms"]),
    "outcome": st.sampled_from([None, "failed", "passed", "Rejected"]),
    "attributes": st.sampled_from(["{}", '{"duration_s": 60}', '{"verification": "failed"}', "{not json",
                                   '{"verification": "passed", "duration_s": 30}', '{"page": "/verification"}']),
})


@given(st.lists(_EVENT, max_size=30))
def test_the_compact_history_gives_the_profile_the_whole_history_gives(events):  # type: ignore[no-untyped-def]
    """The risk read hands over plain web, app and e-mail events by their time alone
    (graph.decisions.History): the profile is the same as from every event in full."""
    from apps.decisions.modeling.caller_profile import DIGITAL_CHANNELS, profile_from_history
    from graph.decisions import PLAIN_CHANNELS

    assert set(PLAIN_CHANNELS) <= set(DIGITAL_CHANNELS)  # what the profile counts the plain events as
    newest_first = sorted(events, key=lambda e: -e["ts"])
    in_full = [e["channel"] not in PLAIN_CHANNELS or e["type"] == "verification" or "verification" in e["attributes"]
               for e in newest_first]
    common = {"channel": "VOICE", "email": None, "at_ms": T0, "sharing": {}, "known_customer": True}
    whole = profile_from_history(events=newest_first, **common)
    compact = profile_from_history(events=[e for e, full in zip(newest_first, in_full, strict=True) if full],
                                   plain_times=[e["ts"] for e, full in zip(newest_first, in_full, strict=True)
                                                if not full], **common)
    assert compact == whole


def test_the_history_model_scores_short_historic_calls_as_fraud_and_names_the_feature():
    from tests.decisions.factories import history_risk_model

    model = history_risk_model()
    short = model.assess({"avg_call_seconds": 15, "channel": "VOICE", "email": "x@example.com"})
    long = model.assess({"avg_call_seconds": 800, "channel": "VOICE", "email": "x@example.com"})
    assert short.score > 900 and long.score < 100
    assert short.contributions[0]["feature"] == "avg_call_seconds" and short.contributions[0]["value"] == 15.0
    assert short.contributions[0]["effect"] > 0 > long.contributions[0]["effect"]


def test_ranked_confidences_are_each_calibrated_as_a_single_value_is():
    # given a model with an isotonic map (steps, a flat stretch, values outside its range)
    model = IntentModel(vocabulary=["a", "b", "c", "d", "e"], calibration_x=[0.1, 0.2, 0.2, 0.5, 0.9],
                        calibration_y=[0.0, 0.3, 0.35, 0.35, 1.0])
    raws = [0.05, 0.1, 0.15, 0.2, 0.3333333333333333, 0.5, 0.7000000000000001, 0.9, 0.95]
    # when all are calibrated at once, then each is exactly what calibrating it alone gives
    assert model.calibrated_all(raws) == [model.calibrated(r) for r in raws]
    assert model.calibrated_all([0.7]) == [pytest.approx(0.675)]
    # and a model without a map passes the raw probabilities through
    assert IntentModel().calibrated_all([0.25, 0.5]) == [0.25, 0.5]


def test_a_remembered_ranking_is_the_ranking_and_is_never_pickled_or_kept_across_a_refit():
    import pickle

    # given a fitted model that has ranked a caller's context once
    model = fitted_model()
    first = model.rank(["AC_NE", "AC_AS"], DAY_MS, k=3)
    # when it ranks the same context again, then it answers the same as working it out afresh
    assert model.rank(["AC_NE", "AC_AS"], DAY_MS, k=3) == first == model._rank(["AC_NE", "AC_AS"], DAY_MS, 3)
    # and a pickled model carries no remembered rankings (an artifact holds the model, not its uses)
    assert "_ranked" in model.__dict__ and "_ranked" not in pickle.loads(pickle.dumps(model)).__dict__
    # and a refit forgets them: the same context is ranked on the new counts
    walks = pd.DataFrame([{"customer_id": f"w{n}", "ts": T0 + n * 1000 + step * DAY_MS, "intent": item}
                          for n in range(30) for step, item in enumerate(["AC_NE", "AC_AS", "CC_AA"])])
    refit = model.fit(examples(walks))
    assert "_ranked" not in refit.__dict__
    assert first[0][0] == "AC_PA" and refit.rank(["AC_NE", "AC_AS"], DAY_MS, k=1)[0][0] == "CC_AA"


def test_path_contributions_add_up_to_the_boosters_margin_and_name_the_features_shap_names():
    import pickle

    import numpy as np

    from tests.decisions.factories import history_risk_model

    # given a fitted history model and profiles across its range
    model = history_risk_model()
    profiles = [{"avg_call_seconds": float(d), "channel": ch, "email": f"u{d}@example.com", "calls": c}
                for d in (5, 8, 15, 30, 200, 530, 780, 915) for ch in ("VOICE", "CHAT") for c in (1, 4)]
    X = model.matrix(profiles)
    # when each row is scored as a live assessment scores it, and all of them at once
    paths = model._paths
    leaves = model.booster.predict(X, pred_leaf=True, num_threads=1).astype(np.intp)
    one_by_one = np.vstack([paths.of(leaves[i:i + 1]) for i in range(len(X))])
    at_once = paths.of(leaves, chunk=5)
    # then the contributions and the bias add up to the booster's own margin, row by row
    margin = model.booster.predict(X, raw_score=True, num_threads=1)
    assert np.abs(paths.bias + at_once.sum(axis=1) - margin).max() < 1e-9
    assert one_by_one.tobytes() == at_once.tobytes()
    # and the feature that moved each score most is the one the booster's SHAP values name
    shap = model.booster.predict(X, pred_contrib=True, num_threads=1)[:, :-1]
    leading = [(int(np.argmax(np.abs(a))), int(np.argmax(np.abs(b)))) for a, b in zip(at_once, shap, strict=True)]
    assert all(mine == theirs for mine, theirs in leading), leading
    # and the table is not stored with the model: it is read from the booster again as the model loads
    assert b"PathContributions" not in pickle.dumps(model)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.__dict__["_paths"].table.tobytes() == paths.table.tobytes()
