"""Decisions while a caller waits: predicted intent, call risk, and the feedback that teaches the next one.

Each function reads the caller's latest facts from the graph at request time (so a confirmed intent
counts on the very next call, with no retraining), applies the active model and the configured
thresholds or rules, and logs what it decided.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from apps.customers import identity
from apps.decisions import decision_log, selectors, telemetry
from apps.decisions.modeling.metrics import band_for
from apps.decisions.models import DecisionLog
from apps.decisions.rules import RECENT_CONTACT_DAYS, Rule, first_match, has_category
from apps.events import services as event_store
from apps.ingest.mapping import RowError
from apps.ingest.mapping import normalize_phone as ingest_normalize_phone
from graph import decisions as graph_decisions
from graph import schema as graph_schema

INTENT_MODEL = "intent"
RISK_MODEL = "risk"
INTENT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
HOUR_MS = 3_600_000


class DecisionInputError(ValueError):
    """A request a decision cannot be made from; the message names the field."""


class UnknownContact(LookupError):
    """Feedback for a contact the hub has never decided on, with no caller named either."""


def now_ms() -> int:
    return int(time.time() * 1000)


def normalize_phone(value: str, *, field_name: str = "phone") -> str:
    """E.164, the form Connect sends and the graph stores identifiers in (the ingest rule, cached)."""
    try:
        return ingest_normalize_phone(value, settings.DEFAULT_PHONE_REGION)
    except RowError as exc:
        # the ingest rule's sentence starts "phone '…'": after the field's own name that would say it twice
        raise DecisionInputError(f"{field_name}: {str(exc).removeprefix(f'{field_name} ')}") from exc


def _active(name: str) -> tuple[Any, str, str]:
    """(model, "name vN", why not) of the active version, or (None, "", why) when none qualifies: a
    version that does not beat its baseline by the admin's margin is not leaned on (activation gate)."""
    from apps.propensity.registry import load_active

    loaded = load_active(name)
    if loaded is None:
        return None, "", f"no active {name} model"
    label = f"{name} v{loaded.version.version}"
    if not loaded.qualifies:
        why = loaded.verdict.reason if loaded.verdict else "no gate verdict"
        return None, "", f"{label} does not qualify ({why})"
    return loaded.model, label, ""


def _resolve_customer(customer_id: str | None, phone: str | None) -> str | None:
    if customer_id:
        return customer_id if graph_decisions.customer_known(customer_id) else None
    if phone:
        return graph_decisions.customer_for_identifier("phone", phone)
    return None


def as_dict(decision: Any) -> dict[str, Any]:
    """A decision's fields as a plain dict, one level deep: its values are already plain JSON types, and
    `dataclasses.asdict` would deep-copy every one of them on the caller's time."""
    return {f.name: getattr(decision, f.name) for f in fields(decision)}


# ---------------------------------------------------------------- intent


@dataclass(frozen=True)
class IntentDecision:
    intent: str | None
    top_level_intent: str | None
    confidence: float
    alternatives: list[dict[str, Any]]
    action: str
    reason: str
    model_version: str
    customer_id: str | None
    thresholds: dict[str, float] = field(default_factory=dict)


def decide_intent(*, customer_id: str | None = None, phone: str | None = None, channel: str = "VOICE",
                  contact_id: str = "", at_ms: int | None = None, log: bool = True) -> IntentDecision:
    """Why is this person calling? confirm / suggest / menu, from the caller's latest calls.
    `log=False` answers without a decision-log row (a person looking, not a caller waiting)."""
    from apps.decisions.modeling.intent import HISTORY_DEPTH, top_level

    started = time.perf_counter()
    if not customer_id and not phone:
        raise DecisionInputError("customer_id or phone: give at least one")
    phone = normalize_phone(phone) if phone else None
    at_ms = at_ms or now_ms()
    high, low = selectors.thresholds_for(channel)
    model, version, why_not = _active(INTENT_MODEL)
    customer, history = graph_decisions.caller_intents(customer_id=customer_id, phone=phone, limit=HISTORY_DEPTH,
                                                       until_ms=at_ms)
    ranked: list[tuple[str, float]] = []
    if model is not None:
        gap = at_ms - history[-1][0] if history else None
        ranked = model.rank([intent for _, intent in history], gap, k=4)
    if model is None:
        reason, confidence = why_not, 0.0
    elif customer is None:
        reason, confidence = "unknown caller", 0.0
    else:
        confidence = ranked[0][1] if ranked else 0.0
        reason = f"{len(history)} earlier call(s) with an intent"
    action = band_for(confidence, high=high, low=low) if customer and model is not None else "menu"
    best = ranked[0][0] if ranked and customer else None
    alternatives = [{"intent": i, "top_level_intent": top_level(i), "confidence": c}
                    for i, c in (ranked[1:4] if best else ranked[:3])]
    decision = IntentDecision(intent=best, top_level_intent=top_level(best) if best else None,
                              confidence=round(confidence, 4), alternatives=alternatives, action=action,
                              reason=reason, model_version=version, customer_id=customer,
                              thresholds={"high": high, "low": low})
    if log:
        log_decision(kind=DecisionLog.Kind.INTENT, contact_id=contact_id, customer_id=customer or "",
                     channel=channel, inputs={"customer_id": customer_id, "phone": phone, "at_ms": at_ms},
                     output=as_dict(decision), model_version=version, started=started)
    return decision


def record_intent_feedback(*, contact_id: str, intent: str, customer_id: str | None = None,
                           phone: str | None = None, channel: str | None = None,
                           at_ms: int | None = None) -> dict[str, Any]:
    """Write the intent the caller confirmed as a call event, at once, so the next prediction uses it."""
    started = time.perf_counter()
    if not contact_id:
        raise DecisionInputError("contact_id: required")
    if not INTENT_PATTERN.match(intent or ""):
        raise DecisionInputError(f"intent: {intent!r} must be 1-40 letters, digits, '_', '.' or '-'")
    phone = normalize_phone(phone) if phone else None
    decision_log.flush()  # the intent decision this answers may still be queued for the log
    asked = DecisionLog.objects.filter(kind=DecisionLog.Kind.INTENT, contact_id=contact_id).first()
    if asked is not None:
        customer_id = customer_id or asked.customer_id or None
        phone = phone or asked.inputs.get("phone")
        channel = channel or asked.channel
    if not customer_id and not phone:
        raise UnknownContact(f"contact_id {contact_id!r}: no intent decision was made for it; "
                             "send customer_id or phone with the feedback")
    event_id = f"connect-{contact_id}"
    identifiers = (("phone", phone),) if phone else ()
    record = graph_schema.EventRecord(
        event_id=event_id, type="call", channel=(channel or "VOICE").lower(), ts=at_ms or now_ms(),
        customer_id=customer_id or "", identifiers=identifiers, source="connect_feedback", intent=intent)
    report = event_store.write_events([record], resolve=identity.resolve)  # the graph, then the store
    if report.duplicates:
        graph_decisions.set_event_intent(event_id, intent)
        event_store.events_changed([event_id])
    customer = report.customers[0] if report.customers else (customer_id or _resolve_customer(None, phone))
    result = {"contact_id": contact_id, "intent": intent, "customer_id": customer, "event_id": event_id,
              "updated": bool(report.duplicates)}
    log_decision(kind=DecisionLog.Kind.FEEDBACK, contact_id=contact_id, customer_id=customer or "",
                 channel=channel or "", inputs={"intent": intent, "phone": phone}, output=result, model_version="",
                 started=started)
    predicted = asked.output.get("intent") if asked is not None else None
    telemetry.count_feedback("intent", telemetry.feedback_outcome(predicted, intent, decided=asked is not None))
    return result


# ---------------------------------------------------------------- risk

SHARED_POINTS, SHARED_CAP = 100, 300
FAILED_POINTS, FAILED_CAP = 150, 450
NEW_IDENTIFIER_POINTS = 100
NEW_IDENTIFIER_DAYS = 7
FAILED_WINDOW_HOURS = 24
PROFILE_VARIABLES = ("avg_call_seconds", "calls", "days_since_last_event", "phone_age_days")


@dataclass(frozen=True)
class RiskDecision:
    score: int
    outcome: str
    rule: str
    reasons: list[dict[str, Any]]
    variables: dict[str, Any]
    model_version: str
    customer_id: str | None


def decide_risk(*, phone: str | None = None, email: str | None = None, ip: str | None = None,
                customer_id: str | None = None, channel: str = "VOICE", contact_id: str = "",
                at_ms: int | None = None, log: bool = True) -> RiskDecision:
    """How risky is this call? A 0–1000 score (model on the caller's history + graph signals), the rule
    outcome and why. `log=False` answers without a decision-log row."""
    from apps.decisions.modeling.caller_profile import profile_from_history

    started = time.perf_counter()
    if not phone and not customer_id:
        raise DecisionInputError("phone or customer_id: give at least one")
    phone = normalize_phone(phone) if phone else None
    email = email.strip().lower() if email else None
    at_ms = at_ms or now_ms()
    model, version, why_not = _active(RISK_MODEL)
    call = {"phone": phone, "email": email, "ip": ip, "contact_type": channel, "ts": at_ms}
    identifiers = [(k, v) for k, v in (("phone", phone), ("email", email), ("ip", ip)) if v]
    facts = graph_decisions.risk_facts(identifiers, customer_id=customer_id, phone=phone,
                                       since_ms=at_ms - FAILED_WINDOW_HOURS * HOUR_MS, until_ms=at_ms)
    customer = facts.customer
    history = facts.history
    profile = profile_from_history(channel=channel, email=email, at_ms=at_ms, events=history.events,
                                   plain_times=history.plain_times, sharing=facts.sharing, phone=phone,
                                   known_customer=customer is not None)
    reasons: list[dict[str, Any]] = []
    model_score = _model_points(model, version, why_not, call, profile, reasons)
    variables = _graph_signals(identifiers, facts, at_ms, reasons)
    score = min(1000, max(0, sum(r["points"] for r in reasons)))
    recent = _recent_categories(history.events, at_ms) if customer is not None else {}
    variables.update({"score": score, "model_score": model_score, "channel": channel.upper(),
                      "known_customer": customer is not None,
                      "recent_categories": sorted(recent) if customer is not None else None,
                      **{name: profile.get(name) for name in PROFILE_VARIABLES}})
    rules = selectors.active_rules()
    outcome, rule = first_match(rules, variables)
    reasons.extend(_category_reasons(rules, rule, recent))
    decision = RiskDecision(score=score, outcome=outcome, rule=rule, reasons=reasons, variables=variables,
                            model_version=version, customer_id=customer)
    if log:
        log_decision(kind=DecisionLog.Kind.RISK, contact_id=contact_id, customer_id=customer or "",
                     channel=channel, inputs={k: v for k, v in call.items() if v} | {"customer_id": customer_id},
                     output=as_dict(decision), model_version=version, started=started)
    return decision


def _model_points(model: Any, version: str, why_not: str, call: dict[str, Any], profile: dict[str, Any],
                  reasons: list[dict[str, Any]]) -> int | None:
    """The model's 0-1000 points with the features that moved them, or None (and a reason saying the rules
    decide alone) when no model qualifies or the caller has no call history for it to read."""
    from apps.decisions.modeling.risk import HistoryRiskModel, assess

    if model is None:
        reasons.append({"code": "rules_only", "detail": f"{why_not}: the rules decide alone", "points": 0})
        return None
    if isinstance(model, HistoryRiskModel) and profile.get("avg_call_seconds") is None:
        reasons.append({"code": "rules_only", "detail": f"{version} needs the caller's earlier calls and there are "
                        "none with a duration: the rules decide alone", "points": 0})
        return None
    answer = assess(model, call, profile)
    moved = ", ".join(f"{c['feature']}={c['value']} ({'+' if c['effect'] > 0 else ''}{c['effect']})"
                      for c in answer.contributions)
    reasons.append({"code": "model", "detail": f"{version} on the caller's history" + (f": {moved}" if moved else ""),
                    "points": answer.score, "features": answer.contributions})
    return answer.score


def _graph_signals(identifiers: list[tuple[str, str]], facts: graph_decisions.RiskFacts, at_ms: int,
                   reasons: list[dict[str, Any]]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    new_identifier = False
    for kind, value in identifiers:
        shared = facts.sharing[f"{kind}:{value}"]
        customers = int(shared["customers"] or 0)
        variables[f"shared_{kind}_customers"] = customers
        if customers > 1:
            points = min(SHARED_CAP, SHARED_POINTS * (customers - 1))
            reasons.append({"code": f"shared_{kind}", "detail": f"{kind} shared by {customers} customers",
                            "points": points})
        first_seen = shared["first_seen"]
        if first_seen is None or at_ms - first_seen < NEW_IDENTIFIER_DAYS * 24 * HOUR_MS:
            new_identifier = True
    if new_identifier:
        reasons.append({"code": "new_identifier", "detail": f"identifier first seen less than "
                        f"{NEW_IDENTIFIER_DAYS} days ago or never", "points": NEW_IDENTIFIER_POINTS})
    failed = facts.failed_verifications
    if failed:
        reasons.append({"code": "failed_verifications", "detail": f"{failed} failed verification(s) in the last "
                        f"{FAILED_WINDOW_HOURS} h", "points": min(FAILED_CAP, FAILED_POINTS * failed)})
    variables.update({"failed_verifications": failed, "new_identifier": new_identifier})
    return variables


def _recent_categories(history: list[dict[str, Any]], at_ms: int) -> dict[str, dict[str, Any]]:
    """Category -> the latest of the caller's contacts in the last RECENT_CONTACT_DAYS that matched it
    (its type and time), from the history the risk read already brought back (newest first)."""
    since = at_ms - RECENT_CONTACT_DAYS * 24 * HOUR_MS
    found: dict[str, dict[str, Any]] = {}
    for event in history:
        if event.get("ts") is None or int(event["ts"]) < since or not event.get("categories"):
            continue
        try:
            names = json.loads(event["categories"])
        except (TypeError, ValueError):
            continue
        for name in names if isinstance(names, list) else []:
            found.setdefault(str(name), {"type": event.get("type"), "ts": int(event["ts"])})
    return found


def _category_reasons(rules: list[Rule], matched: str, recent: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Why the matched rule's category conditions held: the contact that matched each category."""
    rule = next((r for r in rules if r.name == matched), None)
    reasons = []
    for condition in rule.conditions if rule else ():
        if condition["op"] != "contains":
            continue
        name = next((c for c in recent if has_category([c], condition["value"])), None)
        if name is not None:
            day = datetime.fromtimestamp(recent[name]["ts"] / 1000, tz=UTC).date().isoformat()
            reasons.append({"code": "recent_category", "points": 0, "category": name,
                            "detail": f"{recent[name]['type']} on {day} matched the category {name!r} "
                                      f"(rule {matched!r})"})
    return reasons


# ---------------------------------------------------------------- log


def log_decision(*, kind: str, contact_id: str, customer_id: str, channel: str, inputs: dict[str, Any],
                 output: dict[str, Any], model_version: str, started: float) -> None:
    """One row per decision; latency is measured from the start of the decision to just before the write."""
    latency = (time.perf_counter() - started) * 1000
    decision_log.write(kind=kind, contact_id=contact_id[:100], customer_id=customer_id[:200],
                       channel=channel.upper()[:20], inputs=inputs, output=output, model_version=model_version,
                       latency_ms=round(latency, 3))
