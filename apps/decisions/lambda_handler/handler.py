"""Amazon Connect → JourneyHub decisions: the Lambda function a contact flow invokes.

Standard library only (boto3 just to read the key from Secrets Manager when configured), no Django:
the file is zipped on its own by `manage.py connect_bundle`. A caller is waiting, so the hub is asked
within a time budget; when it is slow, down or answers an error, the flow still gets a safe answer
(`menu` for intent, `pass_to_agent` for risk) and is never dropped. Connect needs a flat map of
strings (ResponseValidation STRING_MAP), so every answer is flattened to strings.

Environment: HUB_URL (e.g. https://hub.example.com), HUB_API_KEY (or HUB_API_KEY_SECRET_ID naming a
Secrets Manager secret), BUDGET_MS (default 2000).
Parameters from the flow (Details.Parameters): decision = intent | risk | feedback | profile, and
optionally customer_id, email, ip, intent (for feedback), at_ms.
"""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_BUDGET_MS = 2000
SAFETY_MARGIN_MS = 250
FALLBACKS: dict[str, dict[str, str]] = {
    "intent": {"action": "menu", "intent": "", "top_level_intent": "", "confidence": "0"},
    "risk": {"outcome": "pass_to_agent", "score": "", "rule": ""},
    "feedback": {"recorded": "false"},
    "profile": {"found": "false", "name": "", "customer_class": ""},
}
PATHS = {"intent": "/api/decisions/intent", "risk": "/api/decisions/risk",
         "feedback": "/api/decisions/intent/feedback"}
_secret_cache: dict[str, str] = {}


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, str]:
    """Entry point named in the Lambda configuration: `handler.lambda_handler`."""
    started = time.monotonic()
    details = (event or {}).get("Details") or {}
    contact = details.get("ContactData") or {}
    params = {str(k): str(v) for k, v in (details.get("Parameters") or {}).items() if v is not None}
    decision = params.get("decision", "intent").strip().lower()
    if decision not in FALLBACKS:
        return _fallback("intent", f"unknown decision {decision!r}", started) | {"outcome": "pass_to_agent"}
    budget_ms = _budget_ms(context)
    hub = os.environ.get("HUB_URL", "").rstrip("/")
    if not hub:
        return _fallback(decision, "HUB_URL is not set", started)
    try:
        method, url, body = _request(decision, hub, contact, params)
    except ValueError as exc:
        return _fallback(decision, str(exc), started)
    answer = _call_within(method, url, body, _api_key(), budget_ms)
    if "error" in answer:
        return _fallback(decision, answer["error"], started)
    flat = _flatten(decision, answer["body"])
    flat.update({"source": "hub", "elapsed_ms": str(_elapsed_ms(started))})
    return flat


def _budget_ms(context: Any) -> int:
    """BUDGET_MS, but never more than the Lambda has left (minus a margin to answer in time)."""
    try:
        budget = int(os.environ.get("BUDGET_MS", DEFAULT_BUDGET_MS))
    except ValueError:
        budget = DEFAULT_BUDGET_MS
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        budget = min(budget, int(remaining()) - SAFETY_MARGIN_MS)
    return max(budget, 50)


def _api_key() -> str:
    key = os.environ.get("HUB_API_KEY", "")
    secret_id = os.environ.get("HUB_API_KEY_SECRET_ID", "")
    if key or not secret_id:
        return key
    if secret_id not in _secret_cache:
        import boto3

        value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        _secret_cache[secret_id] = value.strip()
    return _secret_cache[secret_id]


def _request(decision: str, hub: str, contact: dict[str, Any],
             params: dict[str, str]) -> tuple[str, str, dict[str, Any] | None]:
    endpoint = contact.get("CustomerEndpoint") or {}
    phone = str(endpoint.get("Address") or "") if endpoint.get("Type", "TELEPHONE_NUMBER") == "TELEPHONE_NUMBER" \
        else ""
    contact_id = str(contact.get("ContactId") or contact.get("InitialContactId") or "")
    channel = str(contact.get("Channel") or "VOICE").upper()
    customer_id = params.get("customer_id", "")
    if decision == "profile":
        if not phone:
            raise ValueError("no caller phone number (CustomerEndpoint.Address) for the profile")
        return "GET", f"{hub}/api/profiles/by-phone/{urllib.parse.quote(phone)}", None
    body: dict[str, Any] = {"contact_id": contact_id, "channel": channel}
    if decision == "feedback":
        body["intent"] = params.get("intent", "")
    for name, value in (("phone", phone), ("customer_id", customer_id), ("email", params.get("email", "")),
                        ("ip", params.get("ip", ""))):
        if value and (decision == "risk" or name not in {"email", "ip"}):
            body[name] = value
    if params.get("at_ms", "").isdigit():
        body["at_ms"] = int(params["at_ms"])
    if decision != "feedback" and not phone and not customer_id:
        raise ValueError("no caller phone number and no customer_id parameter")
    return "POST", f"{hub}{PATHS[decision]}", body


def _call_within(method: str, url: str, body: dict[str, Any] | None, api_key: str,
                 budget_ms: int) -> dict[str, Any]:
    """Run the HTTP call in a worker thread and stop waiting when the budget is spent."""
    result: dict[str, Any] = {"error": f"no answer within {budget_ms} ms"}
    done = threading.Event()

    def work() -> None:
        nonlocal result
        # the socket may wait a little longer than the budget: the deadline below is what answers the flow
        result = _http(method, url, body, api_key, budget_ms / 1000 + 1.0)
        done.set()

    threading.Thread(target=work, daemon=True).start()
    if not done.wait(budget_ms / 1000):
        return {"error": f"no answer within {budget_ms} ms"}
    return result


def _http(method: str, url: str, body: dict[str, Any] | None, api_key: str, timeout: float) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Api-Key {api_key}", "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URL from config
            return {"body": json.loads(response.read() or b"{}")}
    except urllib.error.HTTPError as exc:
        return {"error": f"hub answered {exc.code}"}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return {"error": f"hub unreachable: {reason}"}


def _flatten(decision: str, body: dict[str, Any]) -> dict[str, str]:
    """The hub's JSON as the flat string map a contact flow branches on ($.External.<key>)."""
    if decision == "intent":
        flat = {"action": _s(body.get("action") or "menu"), "intent": _s(body.get("intent")),
                "top_level_intent": _s(body.get("top_level_intent")), "confidence": _s(body.get("confidence")),
                "model_version": _s(body.get("model_version")), "customer_id": _s(body.get("customer_id"))}
        for n, alternative in enumerate((body.get("alternatives") or [])[:3], start=1):
            flat[f"alternative_{n}"] = _s(alternative.get("intent"))
            flat[f"alternative_{n}_confidence"] = _s(alternative.get("confidence"))
        return flat
    if decision == "risk":
        return {"outcome": _s(body.get("outcome") or "pass_to_agent"), "score": _s(body.get("score")),
                "rule": _s(body.get("rule")), "model_version": _s(body.get("model_version")),
                "customer_id": _s(body.get("customer_id")),
                "reasons": ",".join(_s(r.get("code")) for r in body.get("reasons") or [])}
    if decision == "feedback":
        return {"recorded": "true", "customer_id": _s(body.get("customer_id")), "intent": _s(body.get("intent"))}
    contacts = body.get("recent_contacts") or []
    return {"found": "true", "name": _s(body.get("name")), "customer_class": _s(body.get("customer_class")),
            "customer_id": _s(body.get("customer_id")), "recent_contacts": str(len(contacts)),
            "last_contact_channel": _s(contacts[0].get("channel")) if contacts else "",
            "open_issues": str(len(body.get("open_issues") or []))}


def _fallback(decision: str, reason: str, started: float) -> dict[str, str]:
    return {**FALLBACKS[decision], "source": "fallback", "fallback_reason": reason[:200],
            "elapsed_ms": str(_elapsed_ms(started))}


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _s(value: Any) -> str:
    return "" if value is None else str(value)
