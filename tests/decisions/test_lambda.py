"""The Connect Lambda handler with real Connect event shapes, against a live hub over HTTP and a dead one."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator

import pytest

from apps.decisions.lambda_handler.handler import lambda_handler
from graph import journeys
from tests.decisions.factories import DAY_MS, T0, write_calls

PHONE = "+61412345678"


def connect_event(phone: str = PHONE, contact_id: str = "c0ffee00-0000-4000-8000-000000000001",
                  channel: str = "VOICE", **parameters: str) -> dict:
    """The shape Amazon Connect sends (AWS docs: 'Invoke a Lambda function from a flow')."""
    return {
        "Details": {
            "ContactData": {
                "Attributes": {"exampleAttributeKey1": "exampleAttributeValue1"},
                "Channel": channel,
                "ContactId": contact_id,
                "CustomerEndpoint": {"Address": phone, "Type": "TELEPHONE_NUMBER"},
                "CustomerId": "someCustomerId",
                "Description": "someDescription",
                "InitialContactId": contact_id,
                "InitiationMethod": "INBOUND",
                "InstanceARN": "arn:aws:connect:aws-region:1234567890:instance/c8c0e68d-2200-4265-82c0-XXXXXXXXXX",
                "LanguageCode": "en-US",
                "MediaStreams": {"Customer": {"Audio": None}},
                "Name": "ContactFlowEvent",
                "PreviousContactId": contact_id,
                "Queue": None,
                "SystemEndpoint": {"Address": "+1234567890", "Type": "TELEPHONE_NUMBER"},
            },
            "Parameters": parameters,
        },
        "Name": "ContactFlowEvent",
    }


class FakeContext:
    """What Lambda passes as `context`; only the remaining time is read."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def hub_env(live_server, api_key, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """A running, warm hub: its first request loads every URL module, which a deployed hub did at start."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"{live_server.url}/healthz", timeout=30).read()
    except urllib.error.HTTPError:
        pass  # a degraded health answer still means the URL modules are loaded
    monkeypatch.setenv("HUB_URL", live_server.url)
    monkeypatch.setenv("HUB_API_KEY", api_key)
    monkeypatch.setenv("BUDGET_MS", "2000")
    return live_server.url


def _all_strings(answer: dict) -> bool:
    return all(isinstance(k, str) and isinstance(v, str) for k, v in answer.items())


def test_intent_through_the_handler_confirms_a_clear_history(hub_env, intent_model):
    write_calls("c1", ["AC_NE", "AC_AS"], phone=PHONE)
    answer = lambda_handler(connect_event(decision="intent", at_ms=str(T0 + 2 * DAY_MS)), FakeContext(8000))
    assert answer["source"] == "hub", answer.get("fallback_reason")
    assert _all_strings(answer)
    assert (answer["action"], answer["intent"], answer["top_level_intent"]) == ("confirm", "AC_PA", "AC")
    assert (answer["source"], answer["model_version"], answer["customer_id"]) == ("hub", "intent v1", "c1")
    assert {"alternative_1", "alternative_2", "alternative_3", "alternative_1_confidence"} <= set(answer)


def test_an_unknown_caller_gets_the_menu_from_the_hub(hub_env, intent_model):
    answer = lambda_handler(connect_event(phone="+61499999999", decision="intent"), None)
    assert (answer["action"], answer["intent"], answer["source"]) == ("menu", "", "hub")


def test_feedback_through_the_handler_moves_the_next_prediction(hub_env, intent_model):
    write_calls("c1", ["AC_NE", "AC_AS"], phone=PHONE)
    contact = "c0ffee00-0000-4000-8000-000000000002"
    lambda_handler(connect_event(contact_id=contact, decision="intent", at_ms=str(T0 + 2 * DAY_MS)), None)
    saved = lambda_handler(connect_event(contact_id=contact, decision="feedback", intent="AC_PA",
                                         at_ms=str(T0 + 2 * DAY_MS)), None)
    assert saved == {"recorded": "true", "customer_id": "c1", "intent": "AC_PA", "source": "hub",
                     "elapsed_ms": saved["elapsed_ms"]}
    answer = lambda_handler(connect_event(decision="intent", at_ms=str(T0 + 3 * DAY_MS)), None)
    assert (answer["action"], answer["intent"]) == ("confirm", "AC_AA")


def test_risk_through_the_handler(hub_env, risk_model_at):
    risk_model_at(0.9)
    answer = lambda_handler(connect_event(phone="+61499999999", decision="risk", email="a@example.com"), None)
    assert _all_strings(answer)
    assert (answer["outcome"], answer["score"], answer["source"]) == ("pass_to_skilled_agent", "1000", "hub")
    assert answer["reasons"] == "model,new_identifier"


def test_profile_dip_through_the_handler(hub_env):
    write_calls("c1", ["AC_NE"], phone=PHONE)
    journeys.set_customer_attributes("c1", {"name": "Rick Martin", "class": "g"})
    answer = lambda_handler(connect_event(decision="profile"), None)
    assert {k: answer[k] for k in ("found", "name", "customer_class", "recent_contacts", "open_issues")} == {
        "found": "true", "name": "Rick Martin", "customer_class": "g", "recent_contacts": "1", "open_issues": "0"}
    stranger = lambda_handler(connect_event(phone="+61499999999", decision="profile"), None)
    assert (stranger["found"], stranger["source"], stranger["fallback_reason"]) == ("false", "fallback",
                                                                                  "hub answered 404")


def test_a_wrong_api_key_falls_back_safely(hub_env, monkeypatch):
    monkeypatch.setenv("HUB_API_KEY", "not-a-key")
    answer = lambda_handler(connect_event(decision="risk"), None)
    assert (answer["outcome"], answer["source"], answer["fallback_reason"]) == (
        "pass_to_agent", "fallback", "hub answered 401")


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("decision", "key", "safe"), [("intent", "action", "menu"),
                                                       ("risk", "outcome", "pass_to_agent")])
def test_a_stopped_hub_gets_the_safe_answer_within_the_budget(monkeypatch, dead_port, decision, key, safe):
    monkeypatch.setenv("HUB_URL", f"http://127.0.0.1:{dead_port}")
    monkeypatch.setenv("BUDGET_MS", "1000")
    started = time.monotonic()
    answer = lambda_handler(connect_event(decision=decision), None)
    assert (time.monotonic() - started) < 1.0
    assert (answer[key], answer["source"]) == (safe, "fallback")
    assert answer["fallback_reason"].startswith("hub unreachable")


@pytest.fixture
def silent_hub() -> Iterator[str]:
    """A hub that accepts the connection and never answers (hung workers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_hub_that_never_answers_costs_at_most_the_budget(monkeypatch, silent_hub):
    monkeypatch.setenv("HUB_URL", silent_hub)
    monkeypatch.setenv("BUDGET_MS", "5000")
    started = time.monotonic()
    # the Lambda has only 550 ms left: the handler keeps a 250 ms margin, so it waits 300 ms, not 5 s
    answer = lambda_handler(connect_event(decision="intent"), FakeContext(550))
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert (answer["action"], answer["source"], answer["fallback_reason"]) == ("menu", "fallback",
                                                                             "no answer within 300 ms")


def test_missing_configuration_or_caller_falls_back(monkeypatch):
    monkeypatch.delenv("HUB_URL", raising=False)
    assert lambda_handler(connect_event(decision="risk"), None)["fallback_reason"] == "HUB_URL is not set"
    monkeypatch.setenv("HUB_URL", "http://127.0.0.1:9")
    no_phone = connect_event(phone="", decision="intent")
    assert lambda_handler(no_phone, None)["fallback_reason"] == "no caller phone number and no customer_id parameter"
    odd = lambda_handler(connect_event(decision="weather"), None)
    assert (odd["action"], odd["outcome"], odd["source"]) == ("menu", "pass_to_agent", "fallback")


def test_connect_bundle_builds_a_standalone_lambda_and_a_flow_that_branches_on_every_answer(tmp_path):
    from django.core.management import call_command

    call_command("connect_bundle", str(tmp_path))
    with zipfile.ZipFile(tmp_path / "journeyhub-decisions-lambda.zip") as bundle:
        assert bundle.namelist() == ["handler.py"]
        bundle.extractall(tmp_path / "lambda")
    # the zipped handler runs on a bare interpreter, without Django, and still answers safely
    script = ("import json, sys; sys.path.insert(0, '.'); import handler; "
              "out = handler.lambda_handler({'Details': {'ContactData': {'ContactId': 'x', 'Channel': 'VOICE', "
              "'CustomerEndpoint': {'Address': '+61412345678', 'Type': 'TELEPHONE_NUMBER'}}, "
              "'Parameters': {'decision': 'risk'}}, 'Name': 'ContactFlowEvent'}, None); "
              "print(json.dumps([out['outcome'], 'django' in sys.modules]))")
    run = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path / "lambda", capture_output=True,
                         text=True, env={"HUB_URL": ""}, check=True)
    assert json.loads(run.stdout) == ["pass_to_agent", False]
    flow = json.loads((tmp_path / "journeyhub-decisions-flow.json").read_text())
    actions = {a["Identifier"]: a for a in flow["Actions"]}
    invokes = [a for a in flow["Actions"] if a["Type"] == "InvokeLambdaFunction"]
    assert [a["Parameters"]["LambdaInvocationAttributes"]["decision"] for a in invokes] == [
        "intent", "feedback", "risk"]
    assert actions["confirmed"]["Parameters"]["LambdaInvocationAttributes"]["intent"] == "$.External.intent"
    compares = {a["Parameters"]["ComparisonValue"]: a for a in flow["Actions"] if a["Type"] == "Compare"}
    assert set(compares) == {"$.External.action", "$.External.outcome"}
    branches = {path: [c["Condition"]["Operands"][0] for c in a["Transitions"]["Conditions"]]
                for path, a in compares.items()}
    assert branches == {"$.External.action": ["confirm", "suggest", "menu"],
                        "$.External.outcome": ["pass_to_skilled_agent", "pass_to_agent", "pass_to_bot"]}
    targets = [t["NextAction"] for a in flow["Actions"] for t in
               [a["Transitions"], *a["Transitions"].get("Conditions", []), *a["Transitions"].get("Errors", [])]
               if "NextAction" in t]
    assert flow["StartAction"] in actions
    assert set(targets) <= set(actions)
