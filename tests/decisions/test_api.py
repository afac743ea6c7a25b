"""Decision endpoints through HTTP: intent with feedback, risk with rules, the profile dip, the log."""
from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from apps.core.models import AuditEntry
from apps.decisions.models import DecisionLog, IntentThreshold, RiskRule
from graph import journeys
from graph import schema as s
from tests.decisions.factories import DAY_MS, T0, write_calls

pytestmark = pytest.mark.django_db
PHONE = "+61412345678"


def test_a_caller_with_a_clear_history_gets_confirm_with_the_right_intent(api_client, intent_model):
    # given a caller whose last calls were a new account and a statement
    write_calls("c1", ["AC_NE", "AC_AS"], phone=PHONE)
    # when Connect asks by phone a day after the last call
    response = api_client.post("/api/decisions/intent", {"phone": PHONE, "contact_id": "ct-1",
                                                         "at_ms": T0 + 2 * DAY_MS}, format="json")
    # then the next step of the sequence is confirmed
    assert response.status_code == 200
    body = response.json()
    assert (body["intent"], body["top_level_intent"], body["action"]) == ("AC_PA", "AC", "confirm")
    assert body["confidence"] >= 0.8
    assert body["model_version"] == "intent v1"
    assert body["customer_id"] == "c1"
    assert len(body["alternatives"]) == 3
    assert "AC_PA" not in [a["intent"] for a in body["alternatives"]]
    log = DecisionLog.objects.get(kind="intent", contact_id="ct-1")
    assert (log.customer_id, log.output["action"], log.model_version) == ("c1", "confirm", "intent v1")
    assert log.latency_ms > 0


def test_a_caller_never_seen_gets_the_menu(api_client, intent_model):
    response = api_client.post("/api/decisions/intent", {"phone": "+61499999999"}, format="json")
    body = response.json()
    assert (body["action"], body["intent"], body["reason"]) == ("menu", None, "unknown caller")
    # the alternatives are the most common first calls, a hint for ordering the menu
    assert {a["intent"] for a in body["alternatives"][:2]} == {"AC_NE", "CC_NE"}


def test_without_a_model_every_caller_gets_the_menu(api_client):
    write_calls("c1", ["AC_NE", "AC_AS"], phone=PHONE)
    body = api_client.post("/api/decisions/intent", {"customer_id": "c1"}, format="json").json()
    assert (body["action"], body["reason"], body["model_version"]) == ("menu", "no active intent model", "")


def test_feedback_is_used_by_the_very_next_prediction(api_client, intent_model):
    # given a caller predicted from two earlier calls
    write_calls("c1", ["AC_NE", "AC_AS"], phone=PHONE)
    first = api_client.post("/api/decisions/intent", {"phone": PHONE, "contact_id": "ct-2",
                                                      "at_ms": T0 + 2 * DAY_MS}, format="json").json()
    assert first["intent"] == "AC_PA"
    # when the caller confirms AC_PA for that contact
    feedback = api_client.post("/api/decisions/intent/feedback", {"contact_id": "ct-2", "intent": "AC_PA",
                                                                   "at_ms": T0 + 2 * DAY_MS}, format="json")
    assert feedback.status_code == 201
    assert feedback.json() == {"contact_id": "ct-2", "intent": "AC_PA", "customer_id": "c1",
                               "event_id": "connect-ct-2", "updated": False}
    # then the next call is predicted one step further, with no retraining
    second = api_client.post("/api/decisions/intent", {"phone": PHONE, "at_ms": T0 + 3 * DAY_MS},
                             format="json").json()
    assert (second["intent"], second["action"]) == ("AC_AA", "confirm")
    assert journeys.recent_events("c1", 1)[0]["intent"] == "AC_PA"


def test_feedback_is_counted_as_confirmed_when_the_caller_confirms_the_predicted_intent(api_client, intent_model):
    # given a caller predicted AC_PA
    write_calls("c1", ["AC_NE", "AC_AS"], phone=PHONE)
    api_client.post("/api/decisions/intent", {"phone": PHONE, "contact_id": "ct-9", "at_ms": T0 + 2 * DAY_MS},
                    format="json")
    before = {o: feedback_counted(o) for o in ("confirmed", "corrected", "no_decision")}
    # when the caller confirms it, and a second contact's caller picks another intent than predicted
    api_client.post("/api/decisions/intent/feedback", {"contact_id": "ct-9", "intent": "AC_PA"}, format="json")
    api_client.post("/api/decisions/intent", {"phone": PHONE, "contact_id": "ct-10", "at_ms": T0 + 3 * DAY_MS},
                    format="json")
    api_client.post("/api/decisions/intent/feedback", {"contact_id": "ct-10", "intent": "CC_NE"}, format="json")
    # then one is counted confirmed and one corrected
    assert {o: feedback_counted(o) - n for o, n in before.items()} == {"confirmed": 1, "corrected": 1,
                                                                        "no_decision": 0}


def feedback_counted(outcome: str) -> float:
    labels = {"kind": "intent", "outcome": outcome}
    return REGISTRY.get_sample_value("journeyhub_decision_feedback_total", labels) or 0.0


def test_a_second_answer_for_the_same_contact_corrects_the_first(api_client, intent_model):
    write_calls("c1", ["CC_NE"], phone=PHONE)
    api_client.post("/api/decisions/intent", {"phone": PHONE, "contact_id": "ct-3"}, format="json")
    api_client.post("/api/decisions/intent/feedback", {"contact_id": "ct-3", "intent": "AC_NE"}, format="json")
    again = api_client.post("/api/decisions/intent/feedback", {"contact_id": "ct-3", "intent": "CC_CA"},
                            format="json").json()
    assert again["updated"] is True
    assert journeys.recent_events("c1", 1)[0]["intent"] == "CC_CA"


def test_feedback_from_an_unknown_caller_creates_them_so_the_next_call_is_known(api_client, intent_model):
    api_client.post("/api/decisions/intent", {"phone": "+61400000001", "contact_id": "ct-4"}, format="json")
    api_client.post("/api/decisions/intent/feedback", {"contact_id": "ct-4", "intent": "CC_NE"}, format="json")
    body = api_client.post("/api/decisions/intent", {"phone": "+61400000001"}, format="json").json()
    assert body["customer_id"] == "phone:+61400000001"
    assert body["intent"] == "CC_CA"


def test_feedback_for_a_contact_never_decided_needs_a_caller(api_client):
    response = api_client.post("/api/decisions/intent/feedback", {"contact_id": "nope", "intent": "AC_NE"},
                               format="json")
    assert response.status_code == 404
    assert "contact_id 'nope'" in response.json()["detail"]


def test_thresholds_per_channel_change_the_action(api_client, intent_model):
    write_calls("c1", ["AC_NE", "AC_AS"], phone=PHONE)
    IntentThreshold.objects.update_or_create(channel="CHAT", defaults={"high": 1.0, "low": 0.5})
    chat = api_client.post("/api/decisions/intent", {"phone": PHONE, "channel": "chat", "at_ms": T0 + 2 * DAY_MS},
                           format="json").json()
    voice = api_client.post("/api/decisions/intent", {"phone": PHONE, "channel": "VOICE",
                                                      "at_ms": T0 + 2 * DAY_MS}, format="json").json()
    assert (chat["action"], chat["thresholds"]) == ("suggest", {"high": 1.0, "low": 0.5})
    assert (voice["action"], voice["thresholds"]) == ("confirm", {"high": 0.8, "low": 0.6})


@pytest.mark.parametrize(("payload", "field"), [({}, "customer_id"), ({"phone": "12"}, "phone"),
                                                ({"customer_id": "c", "channel": "FAX"}, "channel")])
def test_bad_intent_requests_name_the_field(api_client, payload, field):
    response = api_client.post("/api/decisions/intent", payload, format="json")
    assert response.status_code == 400
    assert field in str(response.json())


@pytest.mark.parametrize("path", ["/api/decisions/intent", "/api/decisions/risk"])
def test_an_unreadable_phone_is_refused_in_words(api_client, path):
    body = api_client.post(path, {"phone": "call me"}, format="json").json()
    profile = api_client.get("/api/profiles/by-phone/12").json()

    said = "'call me' cannot be read: The string supplied did not seem to be a phone number."
    assert (body["status"], body["detail"], body["errors"]) == (
        400, f"phone: {said}", [{"field": "phone", "detail": said, "code": "invalid"}])
    assert profile["detail"] == "e164: phone '12' is not a possible number (read in region AU)"


def test_decision_endpoints_answer_json_whatever_the_client_asks_for(api_client, intent_model):
    response = api_client.post("/api/decisions/intent?format=api", {"phone": "+61499999999"}, format="json",
                               HTTP_ACCEPT="text/html")
    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    assert response.json()["action"] == "menu"


def test_decision_endpoints_require_an_api_key(db, django_user_model):
    client = APIClient()
    assert client.post("/api/decisions/intent", {"customer_id": "c"}, format="json").status_code == 401
    user = django_user_model.objects.create_user("lead", password="pw-long-enough")
    client.force_login(user)
    assert client.post("/api/decisions/risk", {"phone": PHONE}, format="json").status_code in {401, 403}


def test_risk_of_a_known_caller_with_a_low_model_score_goes_to_the_bot(api_client, risk_model_at):
    risk_model_at(0.05)
    write_calls("c1", ["AC_NE"], phone=PHONE, start=T0 - 30 * DAY_MS)
    body = api_client.post("/api/decisions/risk", {"phone": PHONE, "contact_id": "r-1", "at_ms": T0},
                           format="json").json()
    assert (body["score"], body["outcome"], body["model_version"]) == (50, "pass_to_bot", "risk v1")
    assert body["reasons"] == [{"code": "model", "detail": "risk v1 on the caller's history", "points": 50,
                                "features": []}]
    assert body["variables"]["known_customer"] is True


def test_graph_signals_raise_the_score_and_change_the_outcome(api_client, risk_model_at):
    # given one phone used by three customers, one of whom failed two verifications an hour ago
    risk_model_at(0.30)
    for n in range(3):
        write_calls(f"c{n}", ["AC_NE"], phone=PHONE, start=T0 - 30 * DAY_MS + n)
    journeys.write_events([s.EventRecord(event_id=f"v{n}", type="verification", channel="voice",
                                         ts=T0 - 3_600_000, customer_id="c0", outcome="failed") for n in range(2)])
    # when the phone calls
    body = api_client.post("/api/decisions/risk", {"phone": PHONE, "at_ms": T0}, format="json").json()
    # then model 300 + shared phone 200 + failed verifications 300 = 800: still an agent, at the boundary
    assert [r["code"] for r in body["reasons"]] == ["model", "shared_phone", "failed_verifications"]
    assert (body["score"], body["outcome"]) == (800, "pass_to_agent")
    assert body["variables"]["shared_phone_customers"] == 3
    assert body["variables"]["failed_verifications"] == 2


def test_a_new_phone_adds_points(api_client, risk_model_at):
    risk_model_at(0.75)
    body = api_client.post("/api/decisions/risk", {"phone": "+61499999999", "email": "x@example.com"},
                           format="json").json()
    assert body["score"] == 850
    assert body["outcome"] == "pass_to_skilled_agent"
    assert body["variables"]["new_identifier"] is True
    assert body["customer_id"] is None


def test_without_a_risk_model_the_rules_decide_alone_and_say_so(api_client):
    body = api_client.post("/api/decisions/risk", {"phone": "+61499999999"}, format="json").json()
    assert (body["score"], body["outcome"], body["model_version"]) == (100, "pass_to_bot", "")
    assert body["reasons"][0] == {"code": "rules_only", "detail": "no active risk model: the rules decide alone",
                                  "points": 0}
    assert body["variables"]["model_score"] is None


def test_edited_rules_route_calls_and_invalid_rules_are_refused(api_client, risk_model_at):
    from django.core.exceptions import ValidationError

    risk_model_at(0.05)
    write_calls("c1", ["AC_NE"], phone=PHONE, start=T0 - 30 * DAY_MS)
    RiskRule.objects.create(position=1, name="chat always to an agent", outcome="pass_to_agent",
                            conditions=[{"variable": "channel", "op": "==", "value": "CHAT"}])
    chat = api_client.post("/api/decisions/risk", {"phone": PHONE, "channel": "CHAT", "at_ms": T0},
                           format="json").json()
    assert (chat["outcome"], chat["rule"]) == ("pass_to_agent", "chat always to an agent")
    with pytest.raises(ValidationError, match="unknown variable 'balance'"):
        RiskRule.objects.create(position=2, name="bad", outcome="pass_to_bot",
                                conditions=[{"variable": "balance", "op": ">", "value": 1}])


def test_rule_changes_in_admin_are_validated_and_audited(admin_client):
    rule = RiskRule.objects.get(position=10)
    form = {"position": 10, "name": rule.name, "outcome": "pass_to_skilled_agent", "enabled": "on",
            "conditions": '[{"variable": "score", "op": ">", "value": 700}]'}
    response = admin_client.post(f"/admin/decisions/riskrule/{rule.pk}/change/", form)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.conditions == [{"variable": "score", "op": ">", "value": 700}]
    entry = AuditEntry.objects.get(object_type="decisions.RiskRule", action="change")
    assert "700" in entry.changes["conditions"]
    bad = admin_client.post(f"/admin/decisions/riskrule/{rule.pk}/change/",
                            {**form, "conditions": '[{"variable": "score", "op": "~", "value": 1}]'})
    assert bad.status_code == 200
    assert "operator &#x27;~&#x27; does not apply to score" in bad.content.decode()
    assert AuditEntry.objects.filter(object_type="decisions.RiskRule").count() == 1


def test_profile_dip_by_phone(api_client):
    write_calls("c1", ["AC_NE", "AC_AS"], phone=PHONE)
    journeys.set_customer_attributes("c1", {"name": "Steve Jane", "class": "g"})
    journeys.write_events([s.EventRecord(event_id="i1", type="issue", channel="web", ts=T0 + 5, customer_id="c1",
                                         outcome="open")])
    body = api_client.get(f"/api/profiles/by-phone/{PHONE}").json()
    assert (body["customer_id"], body["name"], body["customer_class"]) == ("c1", "Steve Jane", "g")
    assert [c["event_id"] for c in body["recent_contacts"]] == ["c1-1", "i1", "c1-0"]
    assert [i["event_id"] for i in body["open_issues"]] == ["i1"]
    assert api_client.get("/api/profiles/by-phone/+61499999999").status_code == 404


def test_decision_monitor_summarises_the_log(api_client, intent_model):
    write_calls("c1", ["AC_NE", "AC_AS"], phone=PHONE)
    api_client.post("/api/decisions/intent", {"phone": PHONE, "at_ms": T0 + 2 * DAY_MS}, format="json")
    api_client.post("/api/decisions/intent", {"phone": "+61499999999"}, format="json")
    api_client.post("/api/decisions/risk", {"phone": PHONE}, format="json")
    DecisionLog.objects.filter(kind="intent").update(latency_ms=3.0)
    DecisionLog.objects.filter(kind="intent", customer_id="c1").update(latency_ms=9.0)
    body = api_client.get("/api/decisions/monitor").json()
    assert body["intent"] == {"count": 2, "mix": {"confirm": 1, "menu": 1}, "versions": {"intent v1": 2},
                              "latency_ms": {"p50": 6.0, "p99": 8.94}}
    assert (body["risk"]["count"], body["risk"]["mix"], body["risk"]["versions"]) == (
        1, {"pass_to_bot": 1}, {"none": 1})


def test_the_decision_monitor_narrows_by_time_kind_and_channel(api_client, intent_model):
    api_client.post("/api/decisions/intent", {"phone": PHONE}, format="json")
    api_client.post("/api/decisions/risk", {"phone": PHONE, "channel": "chat"}, format="json")
    made = DecisionLog.objects.order_by("created").first().created

    risk_only = api_client.get("/api/decisions/monitor", {"kind": "risk"}).json()
    on_chat = api_client.get("/api/decisions/monitor", {"channel": "CHAT"}).json()
    later = api_client.get("/api/decisions/monitor", {"since": (made + timedelta(hours=1)).isoformat()}).json()
    bad = api_client.get("/api/decisions/monitor", {"kind": "feedback", "channel": "fax"})

    assert (list(risk_only), risk_only["risk"]["count"]) == (["risk"], 1)
    assert (list(on_chat), on_chat["risk"]["mix"]) == (["risk"], {"pass_to_bot": 1})
    assert later == {}
    assert [(e["field"], e["detail"]) for e in bad.json()["errors"]] == [
        ("kind", '"feedback" is not a valid choice.'),
        ("channel", "unknown channel 'FAX'; one of VOICE, CHAT, TASK, EMAIL")]


def test_admin_lists_thresholds_rules_and_the_read_only_log(admin_client, api_client, intent_model):
    api_client.post("/api/decisions/intent", {"phone": PHONE, "contact_id": "adm-1"}, format="json")
    for page in ("intentthreshold", "riskrule", "decisionlog"):
        assert admin_client.get(f"/admin/decisions/{page}/").status_code == 200
    log = DecisionLog.objects.get(contact_id="adm-1")
    assert admin_client.get(f"/admin/decisions/decisionlog/{log.pk}/change/").status_code == 200
    assert admin_client.get("/admin/decisions/decisionlog/add/").status_code == 403
