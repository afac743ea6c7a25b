"""Amazon Connect → JourneyHub decisions: the Lambda function a contact flow invokes.

Standard library only (boto3 just to read the key from Secrets Manager when configured), no Django:
the file is zipped on its own by `manage.py connect_bundle`. A caller is waiting, so the hub is asked
within a time budget; when it is slow, down or answers an error, the flow still gets a safe answer
(`menu` for intent, `pass_to_agent` for risk) and is never dropped. Connect needs a flat map of
strings (ResponseValidation STRING_MAP), so every answer is flattened to strings.

Environment: HUB_URL (e.g. https://hub.example.com), HUB_API_KEY (or HUB_API_KEY_SECRET_ID naming a
Secrets Manager secret, read when Lambda loads the module), BUDGET_MS (default 2000).
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
_secrets_clients: dict[str, Any] = {}


def lambda_handler(event: Any, context: Any = None) -> dict[str, str]:
    """Entry point named in the Lambda configuration: `handler.lambda_handler`. Never raises: whatever
    the event holds or the hub answers, the flow gets a flat string map (at worst the safe fallback)."""
    started = time.monotonic()
    decision = "intent"
    try:
        details = _mapping(_mapping(event).get("Details"))
        contact = _mapping(details.get("ContactData"))
        params = {str(k): _s(v) for k, v in _mapping(details.get("Parameters")).items() if v is not None}
        decision = params.get("decision", "intent").strip().lower()
        if decision not in FALLBACKS:
            return _fallback("intent", f"unknown decision {decision[:40]!r}", started) | {"outcome": "pass_to_agent"}
        return _decide(decision, contact, params, _budget_ms(context), started)
    except Exception as exc:  # noqa: BLE001 - a contact flow must always get an answer
        return _fallback(decision, f"handler error: {type(exc).__name__}: {exc}", started)


def _decide(decision: str, contact: dict[str, Any], params: dict[str, str], budget_ms: int,
            started: float) -> dict[str, str]:
    hub = os.environ.get("HUB_URL", "").rstrip("/")
    if not hub:
        return _fallback(decision, "HUB_URL is not set", started)
    try:
        method, url, body = _request(decision, hub, contact, params)
    except ValueError as exc:
        return _fallback(decision, str(exc), started)
    answer = _call_within(method, url, body, budget_ms)
    if "error" in answer:
        return _fallback(decision, answer["error"], started)
    if not isinstance(answer["body"], dict):
        return _fallback(decision, f"hub answered a {type(answer['body']).__name__}, not an object", started)
    flat = _flatten(decision, answer["body"])
    flat.update({"source": "hub", "elapsed_ms": str(_elapsed_ms(started))})
    return flat


def _mapping(value: Any) -> dict[str, Any]:
    """A JSON object from the event, or an empty one when the field is missing or of another type."""
    return value if isinstance(value, dict) else {}


def _budget_ms(context: Any) -> int:
    """BUDGET_MS, but never more than the Lambda has left (minus a margin to answer in time)."""
    try:
        budget = int(os.environ.get("BUDGET_MS", DEFAULT_BUDGET_MS))
    except ValueError:
        budget = DEFAULT_BUDGET_MS
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        try:
            budget = min(budget, int(remaining()) - SAFETY_MARGIN_MS)
        except (TypeError, ValueError, OverflowError):
            pass
    return max(budget, 50)


def _api_key(timeout: float) -> str:
    """HUB_API_KEY, or the secret HUB_API_KEY_SECRET_ID read once from Secrets Manager with deadlines
    inside the caller's budget (AWS_ENDPOINT_URL points boto3 at another endpoint)."""
    key = os.environ.get("HUB_API_KEY", "")
    secret_id = os.environ.get("HUB_API_KEY_SECRET_ID", "")
    if key or not secret_id:
        return key
    if secret_id not in _secret_cache:
        value = _secrets_client(timeout).get_secret_value(SecretId=secret_id)["SecretString"]
        _secret_cache[secret_id] = str(value).strip()
    return _secret_cache[secret_id]


def _secrets_client(timeout: float) -> Any:
    """boto3's Secrets Manager client, made once per process: importing boto3 and loading the service's
    model take a few hundred milliseconds, which only the first read should pay. Its socket deadlines
    are the first read's `timeout`; a later call's budget is kept by `_call_within`'s wait."""
    if "client" not in _secrets_clients:
        import boto3
        from botocore.config import Config

        # one attempt (botocore's legacy `max_attempts` counts retries): the next read is the next call's
        config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
        _secrets_clients["client"] = boto3.client("secretsmanager", config=config)
    return _secrets_clients["client"]


def _prepare() -> None:
    """Lambda runs a function's module once, before its first invocation and outside any caller's
    budget: the key is read from Secrets Manager then, so the first caller does not wait for boto3 to
    load. When that read fails, the first invocation tries again within its own budget."""
    if os.environ.get("HUB_API_KEY") or not os.environ.get("HUB_API_KEY_SECRET_ID"):
        return
    try:
        _api_key(_budget_ms(None) / 1000 + 1.0)
    except Exception:  # noqa: BLE001 - boto3 signals failures with many types; the first call reports them
        pass


def _request(decision: str, hub: str, contact: dict[str, Any],
             params: dict[str, str]) -> tuple[str, str, dict[str, Any] | None]:
    endpoint = _mapping(contact.get("CustomerEndpoint"))
    phone = _s(endpoint.get("Address")) if endpoint.get("Type", "TELEPHONE_NUMBER") == "TELEPHONE_NUMBER" else ""
    contact_id = _s(contact.get("ContactId") or contact.get("InitialContactId"))
    channel = (_s(contact.get("Channel")) or "VOICE").upper()
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


def _call_within(method: str, url: str, body: dict[str, Any] | None, budget_ms: int) -> dict[str, Any]:
    """Read the key and make the HTTP call in a worker thread; stop waiting when the budget is spent
    (a slow Secrets Manager counts against the same budget as a slow hub)."""
    result: dict[str, Any] = {"error": f"no answer within {budget_ms} ms"}
    done = threading.Event()

    def work() -> None:
        nonlocal result
        # the sockets may wait a little longer than the budget: the deadline below is what answers the flow
        timeout = budget_ms / 1000 + 1.0
        try:
            api_key = _api_key(timeout)
        except Exception as exc:  # noqa: BLE001 - boto3 signals failures with many types
            result = {"error": f"cannot read the API key from Secrets Manager: {type(exc).__name__}"}
        else:
            result = _http(method, url, body, api_key, timeout)
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
    """The hub's JSON as the flat string map a contact flow branches on ($.External.<key>); fields of an
    unexpected type read as empty."""
    if decision == "intent":
        flat = {"action": _s(body.get("action") or "menu"), "intent": _s(body.get("intent")),
                "top_level_intent": _s(body.get("top_level_intent")), "confidence": _s(body.get("confidence")),
                "model_version": _s(body.get("model_version")), "customer_id": _s(body.get("customer_id"))}
        for n, alternative in enumerate(_objects(body.get("alternatives"))[:3], start=1):
            flat[f"alternative_{n}"] = _s(alternative.get("intent"))
            flat[f"alternative_{n}_confidence"] = _s(alternative.get("confidence"))
        return flat
    if decision == "risk":
        return {"outcome": _s(body.get("outcome") or "pass_to_agent"), "score": _s(body.get("score")),
                "rule": _s(body.get("rule")), "model_version": _s(body.get("model_version")),
                "customer_id": _s(body.get("customer_id")),
                "reasons": ",".join(_s(r.get("code")) for r in _objects(body.get("reasons")))}
    if decision == "feedback":
        return {"recorded": "true", "customer_id": _s(body.get("customer_id")), "intent": _s(body.get("intent"))}
    contacts = _objects(body.get("recent_contacts"))
    issues = body.get("open_issues")
    return {"found": "true", "name": _s(body.get("name")), "customer_class": _s(body.get("customer_class")),
            "customer_id": _s(body.get("customer_id")), "recent_contacts": str(len(contacts)),
            "last_contact_channel": _s(contacts[0].get("channel")) if contacts else "",
            "open_issues": str(len(issues) if isinstance(issues, list) else 0)}


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _fallback(decision: str, reason: str, started: float) -> dict[str, str]:
    return {**FALLBACKS.get(decision, FALLBACKS["intent"]), "source": "fallback", "fallback_reason": reason[:200],
            "elapsed_ms": str(_elapsed_ms(started))}


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _s(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


_prepare()
