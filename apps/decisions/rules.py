"""A small, safe condition language for risk routing rules (never eval).

A rule is a JSON list of conditions `{"variable": "score", "op": ">", "value": 800}`; all must hold.
Only the variables and operators below exist, and each variable has one type, so a rule that would
compare a number with text is refused when it is saved, not when a caller is waiting.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("pass_to_skilled_agent", "pass_to_agent", "pass_to_bot")
FALLBACK_OUTCOME = "pass_to_agent"

NUMBER, BOOL, TEXT, CATEGORIES = "number", "bool", "text", "categories"
VARIABLES: dict[str, str] = {
    "score": NUMBER,
    "model_score": NUMBER,
    "shared_phone_customers": NUMBER,
    "shared_email_customers": NUMBER,
    "shared_ip_customers": NUMBER,
    "failed_verifications": NUMBER,
    "new_identifier": BOOL,
    "known_customer": BOOL,
    "channel": TEXT,
    # the caller's history before the call (missing for a stranger, so a condition on them never matches)
    "avg_call_seconds": NUMBER,
    "calls": NUMBER,
    "days_since_last_event": NUMBER,
    "phone_age_days": NUMBER,
    # categories matched by the caller's analysed contacts of the last RECENT_CONTACT_DAYS (Contact Lens or
    # local rules), read from the contacts' events in the decision's one graph read
    "recent_categories": CATEGORIES,
}
RECENT_CONTACT_DAYS = 30
OPERATORS: dict[str, tuple[str, ...]] = {
    NUMBER: (">", ">=", "<", "<=", "==", "!="),
    BOOL: ("==", "!="),
    TEXT: ("==", "!=", "in", "not_in"),
    CATEGORIES: ("contains", "not_contains"),
}


class RuleError(ValueError):
    """A rule that cannot be saved, with the condition and field at fault in the message."""


@dataclass(frozen=True)
class Rule:
    name: str
    conditions: tuple[dict[str, Any], ...]
    outcome: str


DEFAULT_RULES = (
    Rule("high risk: verify identity with a skilled agent", ({"variable": "score", "op": ">", "value": 800},),
         "pass_to_skilled_agent"),
    Rule("medium risk: an agent", ({"variable": "score", "op": ">", "value": 200},), "pass_to_agent"),
    Rule("low risk: the bot", ({"variable": "score", "op": "<=", "value": 200},), "pass_to_bot"),
)


def validate_conditions(raw: Any) -> list[dict[str, Any]]:
    """Check and normalise a condition list; a JSON string is accepted too."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except ValueError as exc:
            raise RuleError(f"conditions are not valid JSON: {exc}") from exc
    if not isinstance(raw, list):
        raise RuleError(f"conditions must be a JSON list, got {type(raw).__name__}")
    return [_condition(item, n) for n, item in enumerate(raw, start=1)]


def _condition(item: Any, n: int) -> dict[str, Any]:
    where = f"condition {n}"
    if not isinstance(item, dict) or set(item) != {"variable", "op", "value"}:
        raise RuleError(f"{where}: must be an object with exactly the keys variable, op, value; got {item!r}")
    variable, op, value = item["variable"], item["op"], item["value"]
    kind = VARIABLES.get(variable)
    if kind is None:
        raise RuleError(f"{where}: unknown variable {variable!r}; known: {', '.join(sorted(VARIABLES))}")
    if op not in OPERATORS[kind]:
        raise RuleError(f"{where}: operator {op!r} does not apply to {variable} ({kind}); use one of "
                        f"{', '.join(OPERATORS[kind])}")
    return {"variable": variable, "op": op, "value": _value(value, kind, op, where)}


def _value(value: Any, kind: str, op: str, where: str) -> Any:
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RuleError(f"{where}: value must be a number, got {value!r}")
        return value
    if kind == BOOL:
        if not isinstance(value, bool):
            raise RuleError(f"{where}: value must be true or false, got {value!r}")
        return value
    if kind == CATEGORIES:
        if not isinstance(value, str) or not value.strip():
            raise RuleError(f"{where}: value must be a category name, got {value!r}")
        return value.strip()  # category names keep their case (shown in reasons as configured)
    if op in {"in", "not_in"}:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RuleError(f"{where}: value must be a list of strings for {op!r}, got {value!r}")
        return [v.upper() for v in value]
    if not isinstance(value, str):
        raise RuleError(f"{where}: value must be a string, got {value!r}")
    return value.upper()


def holds(condition: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
    """One condition against the decision's variables; a missing variable never matches."""
    actual = variables.get(condition["variable"])
    if actual is None:
        return False
    value, op = condition["value"], condition["op"]
    if op in {"contains", "not_contains"}:
        return (op == "contains") == has_category(actual, value)
    if isinstance(actual, str):
        actual = actual.upper()
    if op == ">":
        return bool(actual > value)
    if op == ">=":
        return bool(actual >= value)
    if op == "<":
        return bool(actual < value)
    if op == "<=":
        return bool(actual <= value)
    if op == "==":
        return bool(actual == value)
    if op == "!=":
        return bool(actual != value)
    if op == "in":
        return actual in value
    return actual not in value


def has_category(categories: Sequence[str], name: str) -> bool:
    """A category name matches whatever its case (names are typed in the admin, set in Contact Lens)."""
    wanted = name.casefold()
    return any(str(c).casefold() == wanted for c in categories)


def first_match(rules: Sequence[Rule], variables: Mapping[str, Any]) -> tuple[str, str]:
    """(outcome, rule name) of the first rule whose conditions all hold; an agent if none does."""
    for rule in rules:
        if all(holds(c, variables) for c in rule.conditions):
            return rule.outcome, rule.name
    return FALLBACK_OUTCOME, "no rule matched: safe default"
