"""The safe rule language: validation names the fault; evaluation is first match in order."""
from __future__ import annotations

import pytest

from apps.decisions.rules import DEFAULT_RULES, Rule, RuleError, first_match, validate_conditions


@pytest.mark.parametrize(("score", "outcome"), [(1000, "pass_to_skilled_agent"), (801, "pass_to_skilled_agent"),
                                                (800, "pass_to_agent"), (201, "pass_to_agent"),
                                                (200, "pass_to_bot"), (0, "pass_to_bot")])
def test_default_rules_route_by_score(score, outcome):
    assert first_match(DEFAULT_RULES, {"score": score})[0] == outcome


def test_conditions_all_hold_and_first_rule_wins():
    rules = [Rule("shared phone on voice", ({"variable": "shared_phone_customers", "op": ">=", "value": 3},
                                             {"variable": "channel", "op": "in", "value": ["VOICE"]}),
                  "pass_to_skilled_agent"), *DEFAULT_RULES]
    assert first_match(rules, {"score": 100, "shared_phone_customers": 3, "channel": "voice"}) == (
        "pass_to_skilled_agent", "shared phone on voice")
    assert first_match(rules, {"score": 100, "shared_phone_customers": 3, "channel": "CHAT"})[0] == "pass_to_bot"


def test_no_matching_rule_falls_back_to_an_agent():
    assert first_match([], {"score": 5}) == ("pass_to_agent", "no rule matched: safe default")
    assert first_match(DEFAULT_RULES, {}) == ("pass_to_agent", "no rule matched: safe default")


def test_validation_normalises_and_accepts_json_text():
    assert validate_conditions('[{"variable": "channel", "op": "==", "value": "chat"}]') == [
        {"variable": "channel", "op": "==", "value": "CHAT"}]
    assert validate_conditions([]) == []


@pytest.mark.parametrize(("raw", "message"), [
    ("{", "conditions are not valid JSON"),
    ({"variable": "score"}, "conditions must be a JSON list, got dict"),
    ([{"variable": "score", "op": ">"}], "condition 1: must be an object with exactly the keys variable, op, value"),
    ([{"variable": "__import__('os')", "op": ">", "value": 1}], "condition 1: unknown variable"),
    ([{"variable": "score", "op": "in", "value": 1}], "condition 1: operator 'in' does not apply to score"),
    ([{"variable": "score", "op": ">", "value": 1}, {"variable": "score", "op": ">", "value": "800"}],
     "condition 2: value must be a number, got '800'"),
    ([{"variable": "new_identifier", "op": "==", "value": 1}], "value must be true or false"),
    ([{"variable": "channel", "op": "in", "value": "VOICE"}], "value must be a list of strings"),
])
def test_invalid_conditions_are_refused_with_the_place_named(raw, message):
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_conditions(raw)
