"""Risk rules naming a category seen in the caller's recent contacts: the category comes from the
contacts' conversation summaries on their events, read in the risk decision's one graph read; the
rule is edited in the admin (audited) and the decision's reasons name the contact that matched."""
from __future__ import annotations

import pytest

from apps.core.models import AuditEntry
from apps.decisions.models import RiskRule
from apps.decisions.rules import RuleError, first_match, validate_conditions
from graph import contacts as graph_contacts
from graph import journeys
from graph import schema as s
from tests.decisions.factories import DAY_MS, T0

pytestmark = pytest.mark.django_db
PHONE = "+61412345678"
THREAT = {"variable": "recent_categories", "op": "contains", "value": "Cancellation threat"}


def _contact(event_id: str, days_before: int, categories: list[str]) -> None:
    journeys.write_events([s.EventRecord(event_id=event_id, type="call_inbound", channel="voice",
                                         ts=T0 - days_before * DAY_MS, customer_id="c1",
                                         identifiers=(("phone", PHONE),))])
    graph_contacts.set_contact_summaries({event_id: {"sentiment_customer": -2.5, "categories": categories}})


def _risk(api_client):  # type: ignore[no-untyped-def]
    return api_client.post("/api/decisions/risk", {"phone": PHONE, "at_ms": T0}, format="json").json()


def _threat_rule() -> None:
    RiskRule.objects.create(position=1, name="threatened to cancel: retention team", outcome="pass_to_skilled_agent",
                            conditions=[THREAT])


def test_a_caller_whose_recent_call_matched_the_category_goes_where_the_rule_says(api_client):
    # given a rule naming the category and a caller whose call 3 days ago matched it (in another case)
    _threat_rule()
    _contact("k1", 3, ["cancellation threat", "Billing"])
    # when the caller rings
    body = _risk(api_client)
    # then the rule routes the call and the reasons name the contact that matched
    assert (body["outcome"], body["rule"]) == ("pass_to_skilled_agent", "threatened to cancel: retention team")
    assert body["variables"]["recent_categories"] == ["Billing", "cancellation threat"]
    assert body["reasons"][-1] == {
        "code": "recent_category", "points": 0, "category": "cancellation threat",
        "detail": "call_inbound on 2023-11-11 matched the category 'cancellation threat' "
                  "(rule 'threatened to cancel: retention team')"}


def test_a_match_older_than_the_window_or_another_category_does_not_count(api_client):
    _threat_rule()
    _contact("k-old", 31, ["Cancellation threat"])
    _contact("k-new", 2, ["Billing"])
    body = _risk(api_client)
    assert body["rule"] != "threatened to cancel: retention team"
    assert body["variables"]["recent_categories"] == ["Billing"]
    assert [r["code"] for r in body["reasons"]] == ["rules_only"]


def test_a_stranger_has_no_recent_categories_so_neither_contains_nor_not_contains_holds(api_client):
    RiskRule.objects.create(position=1, name="calm callers", outcome="pass_to_bot",
                            conditions=[{**THREAT, "op": "not_contains"}])
    body = api_client.post("/api/decisions/risk", {"phone": "+61499999999", "at_ms": T0}, format="json").json()
    assert body["variables"]["recent_categories"] is None and body["rule"] != "calm callers"


def test_the_category_read_adds_no_graph_round_trip(api_client, monkeypatch):  # type: ignore[no-untyped-def]
    from graph import decisions as graph_decisions

    _threat_rule()
    _contact("k1", 1, ["Cancellation threat"])
    reads = []
    real = graph_decisions.prepared.run_values
    monkeypatch.setattr(graph_decisions.prepared, "run_values",
                        lambda *a, **k: reads.append(a[0].__name__) or real(*a, **k))
    monkeypatch.setattr(graph_decisions, "get_g", lambda: pytest.fail("a second, unprepared graph read"))
    assert _risk(api_client)["outcome"] == "pass_to_skilled_agent" and reads == ["_risk_facts"]


def test_category_conditions_are_validated_and_match_whatever_the_case():
    assert validate_conditions([{**THREAT, "value": "  Cancellation threat "}]) == [THREAT]
    with pytest.raises(RuleError, match="condition 1: operator '==' does not apply to recent_categories"):
        validate_conditions([{**THREAT, "op": "=="}])
    with pytest.raises(RuleError, match="condition 1: value must be a category name, got 3"):
        validate_conditions([{**THREAT, "value": 3}])
    rule = RiskRule(position=1, name="r", outcome="pass_to_agent", conditions=[THREAT])
    assert first_match([_as_rule(rule)], {"recent_categories": ["CANCELLATION THREAT"]}) == ("pass_to_agent", "r")
    assert first_match([_as_rule(rule)], {"recent_categories": []})[1] == "no rule matched: safe default"


def _as_rule(row: RiskRule):  # type: ignore[no-untyped-def]
    from apps.decisions.rules import Rule

    return Rule(row.name, tuple(row.conditions), row.outcome)


def test_a_category_rule_is_edited_in_the_admin_and_audited(admin_client):
    form = {"position": 1, "name": "threat", "outcome": "pass_to_skilled_agent", "enabled": "on",
            "conditions": '[{"variable": "recent_categories", "op": "contains", "value": "Cancellation threat"}]'}
    assert admin_client.post("/admin/decisions/riskrule/add/", form).status_code == 302
    assert RiskRule.objects.get(name="threat").conditions == [THREAT]
    entry = AuditEntry.objects.get(object_type="decisions.RiskRule", action="add")
    assert "Cancellation threat" in str(entry.changes["conditions"])
    bad = admin_client.post("/admin/decisions/riskrule/add/", {**form, "name": "bad", "conditions":
                            '[{"variable": "recent_categories", "op": "in", "value": ["x"]}]'})
    assert "operator &#x27;in&#x27; does not apply to recent_categories" in bad.content.decode()
