"""What a caller's history says before the call starts: the risk model's only inputs.

`risk_features(profile)` is the one function that turns a caller's profile into the model's features,
at training time and while a caller waits. A profile is a plain record of facts known before the call
(None where the source does not know one); two small adapters fill it:

- `profile_from_history(...)` from the graph's one risk read: the caller's earlier events (contacts,
  their durations, channels, identity checks), how many customers share each identifier the call
  carries and when the phone was first seen;
- `profile_from_fraud_row(...)` from a row of the fraud_calls data set, whose `call_duration` is the
  caller's *historic average* call duration, looked up by phone before the call in the demo the data
  comes from (data/fraud_calls/README.md). Its other history facts are unknown there and stay None.

`customer_class` is never part of a profile: it maps one to one onto the fraud label in that data set
(a leak, not a fact about the caller). Both adapters take plain records, so the source can change.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

DAY_MS = 86_400_000
CONTACT_CHANNELS = ("voice", "chat")
DIGITAL_CHANNELS = ("web", "app", "email")
DURATION_KEYS = ("duration_s", "call_duration", "duration")
VERIFICATION_TYPE = "verification"
FAILED_OUTCOMES = ("failed", "fail", "rejected")
CHECK_WINDOW_MS = 10 * 60_000  # a verification event this long before a call belongs to that call
IDENTIFIER_KINDS = ("phone", "email", "ip")

NUMERIC_FEATURES = (
    "avg_call_seconds", "calls", "days_since_last_event", "events", "voice_share", "chat_share",
    "digital_share", "failed_checks", "passed_checks", "shared_phone_customers", "shared_email_customers",
    "shared_ip_customers", "phone_age_days", "channel_is_voice",
)
CATEGORICAL_FEATURES = ("email_domain", "email_tld")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES

Profile = dict[str, Any]


def risk_features(profile: Mapping[str, Any]) -> dict[str, float | str]:
    """The model's features of one caller: numbers (NaN = unknown) and two e-mail categories."""
    email = str(profile.get("email") or "").strip().lower()
    domain = email.partition("@")[2]
    features: dict[str, float | str] = {name: _number(profile.get(name)) for name in NUMERIC_FEATURES
                                        if name != "channel_is_voice"}
    channel = str(profile.get("channel") or "").upper()
    features["channel_is_voice"] = float(channel == "VOICE") if channel else math.nan
    features["email_domain"] = domain
    features["email_tld"] = domain.rsplit(".", 1)[-1] if domain else ""
    return features


def profile_from_fraud_row(row: Mapping[str, Any], shared: Mapping[str, int] | None = None) -> Profile:
    """A fraud_calls row (as `risk.read_fraud_calls` reads it) as a profile. `shared` gives, per
    identifier kind, how many rows of the file carry the row's value (the file's customers sharing it)."""
    duration = str(row.get("call_duration") or "").strip()
    return {
        "channel": row.get("contact_type"), "email": row.get("email"),
        "avg_call_seconds": float(duration) if duration else None,
        **{f"shared_{kind}_customers": (shared or {}).get(kind) for kind in IDENTIFIER_KINDS},
    }


def profile_from_history(*, channel: str, email: str | None, at_ms: int, events: Sequence[Mapping[str, Any]],
                         sharing: Mapping[str, Mapping[str, Any]], phone: str | None = None,
                         known_customer: bool, plain_times: Sequence[int] = ()) -> Profile:
    """A caller's profile from the graph: `events` are the caller's latest events before the call (any
    order, each with ts, channel, type, outcome and attributes), `sharing` the risk read's per-identifier
    facts (`kind:value` -> customers, first_seen). A stranger has no history: its history facts are None.

    `plain_times` are the times of more of the caller's events, plain web, app and e-mail events that
    the risk read hands over by their time alone (graph.decisions.History): digital events with no
    call, chat or check in them."""
    profile: Profile = {"channel": channel, "email": email}
    for kind in IDENTIFIER_KINDS:
        entry = next((v for k, v in sharing.items() if k.startswith(f"{kind}:")), None)
        profile[f"shared_{kind}_customers"] = int(entry["customers"] or 0) if entry else None
    first_seen = sharing.get(f"phone:{phone}", {}).get("first_seen") if phone else None
    profile["phone_age_days"] = (at_ms - int(first_seen)) / DAY_MS if first_seen is not None else None
    if known_customer:
        profile.update(_history_facts([e for e in events if int(e.get("ts") or 0) < at_ms],
                                      [int(t) for t in plain_times if int(t) < at_ms], at_ms))
    return profile


def _history_facts(events: Sequence[Mapping[str, Any]], plain_times: Sequence[int], at_ms: int) -> Profile:
    channels = [str(e.get("channel") or "").lower() for e in events]
    attributes = [_attributes(e, ch) for e, ch in zip(events, channels, strict=True)]
    durations = [d for d in (_duration(a) for a, ch in zip(attributes, channels, strict=True)
                             if ch in CONTACT_CHANNELS) if d is not None]
    contacts = sum(ch in CONTACT_CHANNELS for ch in channels)
    digital = sum(ch in DIGITAL_CHANNELS for ch in channels) + len(plain_times)
    failed, passed = _checks(events, attributes)
    n = len(events) + len(plain_times)
    newest = max([int(e["ts"]) for e in events] + list(plain_times), default=None)
    return {
        "calls": contacts, "events": n,
        "avg_call_seconds": sum(durations) / len(durations) if durations else None,
        "days_since_last_event": (at_ms - newest) / DAY_MS if newest is not None else None,
        "voice_share": channels.count("voice") / n if n else None,
        "chat_share": channels.count("chat") / n if n else None,
        "digital_share": digital / n if n else None,
        "failed_checks": failed, "passed_checks": passed,
    }


def _attributes(event: Mapping[str, Any], channel: str) -> Mapping[str, Any]:
    """The event's attributes as far as the profile reads them, each event's JSON parsed at most once: a
    contact's (its duration, a check it recorded) and any other event's whose text names a verification.
    The rest, most of a regular customer's history (web and app events), are not parsed: the risk
    decision reads up to 200 events while the caller waits."""
    raw = event.get("attributes")
    if isinstance(raw, Mapping):
        return raw
    if channel not in CONTACT_CHANNELS and (not isinstance(raw, str) or "verification" not in raw):
        return {}
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, Mapping) else {}


def _duration(attributes: Mapping[str, Any]) -> float | None:
    for key in DURATION_KEYS:
        value = attributes.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return None


def _checks(events: Sequence[Mapping[str, Any]], attributes: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """(failed, passed) identity checks: verification events by outcome, and calls that record one.

    A failed check is often logged twice, as its own `verification` event and on the call it opened
    (the demo bank does both): a call's failure counts only when no failed verification event lies
    within `CHECK_WINDOW_MS` before it, so one check is one count."""
    failed_at: list[int] = []
    calls: list[tuple[int, str]] = []
    for event, attrs in zip(events, attributes, strict=True):
        if event.get("type") == VERIFICATION_TYPE:
            outcome = str(event.get("outcome") or "").lower()
            if outcome in FAILED_OUTCOMES:
                failed_at.append(int(event.get("ts") or 0))
            else:
                calls.append((int(event.get("ts") or 0), outcome))
            continue
        outcome = str(attrs.get("verification") or "").lower()
        if outcome:
            calls.append((int(event.get("ts") or 0), outcome))
    failed, passed = len(failed_at), 0
    unmatched = sorted(failed_at)
    for ts, outcome in sorted(calls):
        if outcome not in FAILED_OUTCOMES:
            passed += 1
            continue
        match = next((t for t in unmatched if ts - CHECK_WINDOW_MS <= t <= ts), None)
        if match is None:
            failed += 1
        else:
            unmatched.remove(match)
    return failed, passed


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
