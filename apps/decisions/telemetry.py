"""Decisions and their confirmed outcomes as Prometheus counters, cheap enough for the caller's path.

`journeyhub_decisions_total{kind, action, outcome}` counts what the contact flow branches on: an intent
decision's `action` (confirm / suggest / menu) with its outcome `predicted` or `no_prediction` (was an
intent named at all), and a risk decision's `outcome` (the routing rule's outcome) with the action `n/a`
(risk has none of its own). `journeyhub_decision_feedback_total{kind, outcome}` counts the intents callers
confirmed: `confirmed` (the prediction was right), `corrected` (they chose another) or `no_decision`
(feedback for a contact the hub never decided on). Label values come from known sets only (anything else
is `other`), so a bad output can never grow the series without bound. Every child is bound once, at
import: `labels()` costs a lock and a few look-ups per call, and a decision pays only a dict look-up."""
from __future__ import annotations

from itertools import product
from typing import Any

from apps.core.observability import DECISION_FEEDBACK, DECISIONS
from apps.decisions.contact_flow import ACTIONS
from apps.decisions.rules import OUTCOMES

NOT_APPLICABLE = "n/a"
OTHER = "other"
INTENT_OUTCOMES = ("predicted", "no_prediction")
FEEDBACK_OUTCOMES = ("confirmed", "corrected", "no_decision")
_LABELS = {
    "intent": ((*ACTIONS, OTHER), INTENT_OUTCOMES),
    "risk": ((NOT_APPLICABLE,), (*OUTCOMES, OTHER)),
    OTHER: ((OTHER,), (OTHER,)),
}
_decisions = {(kind, action, outcome): DECISIONS.labels(kind, action, outcome)
              for kind, (actions, outcomes) in _LABELS.items() for action, outcome in product(actions, outcomes)}
_feedback = {(kind, outcome): DECISION_FEEDBACK.labels(kind, outcome)
             for kind, outcome in product(("intent",), (*FEEDBACK_OUTCOMES, OTHER))}


def decision_labels(kind: str, output: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, action, outcome) of one logged decision's output, each from its known set."""
    if kind == "intent":
        action = output.get("action")
        return kind, action if action in ACTIONS else OTHER, "predicted" if output.get("intent") else "no_prediction"
    if kind == "risk":
        outcome = output.get("outcome")
        return kind, NOT_APPLICABLE, outcome if outcome in OUTCOMES else OTHER
    return OTHER, OTHER, OTHER


def count_decision(kind: str, output: dict[str, Any]) -> None:
    """Count one decision (feedback rows of the log are counted by `count_feedback` instead)."""
    if kind != "feedback":
        _decisions[decision_labels(kind, output)].inc()


def feedback_outcome(predicted: str | None, confirmed: str, *, decided: bool) -> str:
    if not decided:
        return "no_decision"
    return "confirmed" if predicted == confirmed else "corrected"


def count_feedback(kind: str, outcome: str) -> None:
    _feedback.get((kind, outcome), _feedback[("intent", OTHER)]).inc()
