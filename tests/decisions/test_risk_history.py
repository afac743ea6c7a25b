"""Risk decisions on the caller's history, through the API: the model's points come with the features
that moved them; without a qualifying model, or without a history for it to read, the rules decide alone."""
from __future__ import annotations

import pytest

from apps.propensity import registry
from apps.propensity.models import ActivationPolicy
from graph import journeys
from graph import schema as s
from tests.decisions.factories import DAY_MS, T0, history_risk_model

PHONE = "+61412345678"


def _register(metrics: dict, activate_by_hand: bool = False):  # type: ignore[no-untyped-def]
    version = registry.register_model(name="risk", model=history_risk_model(), metrics=metrics,
                                      baseline_metrics={"prior": {"auc": 0.5}, "call_time": {"auc": 0.52}},
                                      features=["avg_call_seconds"], train_window=(None, None))
    if activate_by_hand:
        registry.activate(name="risk", version=version.version)
    return version


def _calls(customer_id: str, seconds: list[int]) -> None:
    journeys.write_events([
        s.EventRecord(event_id=f"{customer_id}-{i}", type="call", channel="voice", ts=T0 - (i + 1) * DAY_MS * 10,
                      customer_id=customer_id, identifiers=(("phone", PHONE),), attributes={"duration_s": d})
        for i, d in enumerate(seconds)])


def _risk(api_client, **body):  # type: ignore[no-untyped-def]
    return api_client.post("/api/decisions/risk", {"at_ms": T0, **body}, format="json").json()


def test_a_caller_with_short_historic_calls_scores_high_and_the_reason_names_the_feature(api_client):
    # given a qualifying history model and a caller whose earlier calls lasted 10 and 20 seconds
    _register({"auc": 0.97})
    _calls("c1", [10, 20])
    # when the caller rings
    body = _risk(api_client, phone=PHONE)
    # then the model reads the historic average (15 s) and says so
    model = body["reasons"][0]
    assert (model["code"], body["model_version"]) == ("model", "risk v1")
    assert model["points"] > 900 and body["outcome"] == "pass_to_skilled_agent"
    assert model["features"][0]["feature"] == "avg_call_seconds" and model["features"][0]["value"] == 15.0
    assert model["detail"].startswith("risk v1 on the caller's history: avg_call_seconds=15.0 (+")
    assert (body["variables"]["avg_call_seconds"], body["variables"]["calls"]) == (15.0, 2)


def test_a_long_talking_regular_goes_to_the_bot(api_client):
    _register({"auc": 0.97})
    _calls("c1", [700, 860])
    body = _risk(api_client, phone=PHONE)
    assert body["reasons"][0]["points"] < 100 and body["outcome"] == "pass_to_bot"
    assert body["reasons"][0]["features"][0]["feature"] == "avg_call_seconds"


def test_a_stranger_has_no_history_for_the_model_so_the_rules_decide_alone(api_client):
    _register({"auc": 0.97})
    body = _risk(api_client, phone="+61499999999")
    assert body["reasons"][0] == {"code": "rules_only", "points": 0, "detail": (
        "risk v1 needs the caller's earlier calls and there are none with a duration: the rules decide alone")}
    assert [r["code"] for r in body["reasons"]] == ["rules_only", "new_identifier"]
    assert (body["score"], body["variables"]["model_score"]) == (100, None)


def test_a_model_that_does_not_beat_its_baseline_is_stored_not_served(api_client):
    # given a new version whose holdout AUC is below the call-time baseline's
    version = _register({"auc": 0.51})
    # then it was stored but not activated, with the gate's reason
    assert version.is_active is False and version.gate["qualifies"] is False
    assert version.gate["reason"] == ("auc 0.5100 does not beat the call_time baseline's 0.5200 by the margin "
                                      "0.001 (difference -0.0100)")
    # and when someone activates it by hand, decisions still do not lean on it
    registry.activate(name="risk", version=version.version)
    _calls("c1", [10, 20])
    body = _risk(api_client, phone=PHONE)
    assert body["reasons"][0]["code"] == "rules_only"
    assert body["reasons"][0]["detail"].startswith("risk v1 does not qualify (auc 0.5100 does not beat")
    assert body["model_version"] == ""


def test_the_margin_is_set_in_the_admin_audited_and_applies_at_once(admin_client, api_client):
    from apps.core.models import AuditEntry

    # given a version 0.02 above its best baseline, active and served
    _register({"auc": 0.54})
    _calls("c1", [10, 20])
    assert _risk(api_client, phone=PHONE)["reasons"][0]["code"] == "model"
    # when an admin raises the margin to 0.05
    policy = ActivationPolicy.objects.get(model_name="*")
    response = admin_client.post("/admin/propensity/activationpolicy/", {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(policy.pk),
        "form-0-margin": "0.05", "_save": "Save"})
    assert response.status_code == 302
    # then the change is audited and the next decision no longer uses the model
    assert AuditEntry.objects.filter(object_type="propensity.ActivationPolicy", action="change").count() == 1
    assert _risk(api_client, phone=PHONE)["reasons"][0]["code"] == "rules_only"


@pytest.mark.parametrize("margin", [-0.1, 1.5])
def test_a_margin_outside_zero_to_one_is_refused(db, margin):  # type: ignore[no-untyped-def]
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="must lie between 0 and 1"):
        ActivationPolicy.objects.create(model_name="risk", margin=margin)


def test_the_risk_decision_reads_the_graph_once(api_client, monkeypatch):  # type: ignore[no-untyped-def]
    from graph import decisions as graph_decisions

    _register({"auc": 0.97})
    _calls("c1", [10, 20])
    reads = []
    real = graph_decisions.prepared.run_values
    monkeypatch.setattr(graph_decisions.prepared, "run_values",
                        lambda *a, **k: reads.append(a[0].__name__) or real(*a, **k))
    monkeypatch.setattr(graph_decisions, "get_g", lambda: pytest.fail("a second, unprepared graph read"))
    body = _risk(api_client, phone=PHONE, email="ann@example.com")
    assert reads == ["_risk_facts"] and body["reasons"][0]["code"] == "model"


def test_the_live_calibration_gives_scikit_learns_numbers_bit_for_bit() -> None:
    import numpy as np

    # given a fitted history model and raw booster scores across, below and above its calibration range
    model = history_risk_model()
    calibrator = model.calibrator
    raw = np.concatenate([np.linspace(-0.5, 1.5, 4001), calibrator.X_thresholds_,
                          np.random.default_rng(1).random(2000)])
    # when each is calibrated one at a time, as a live decision does, and all at once by scikit-learn
    live = np.array([model._calibrated(np.array([value]))[0] for value in raw])
    expected = calibrator.predict(raw)
    # then every number is the same, bit for bit, and so is every score
    assert live.tobytes() == np.asarray(expected, dtype=float).tobytes()
    profiles = [{"avg_call_seconds": float(d), "channel": ch, "email": f"u{d}@example.com", "calls": 3}
                for d in (5, 8, 15, 30, 200, 530, 780, 915) for ch in ("VOICE", "CHAT")]
    for profile in profiles:
        via_sklearn = int(round(min(max(float(calibrator.predict(model._raw(model.matrix([profile])))[0]), 0.0),
                                    1.0) * 1000))
        assert model.assess(profile).score == via_sklearn
