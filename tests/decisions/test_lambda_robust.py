"""The Lambda handler never raises and answers within its budget, whatever the event's shape, the hub's
answer or the Secrets Manager endpoint: real loopback HTTP servers stand in for the hub and for Secrets
Manager (boto3 reaches the latter through AWS_ENDPOINT_URL)."""
from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.decisions.lambda_handler import handler
from apps.decisions.lambda_handler.handler import lambda_handler
from tests.decisions.test_lambda import PHONE, connect_event
from tests.netfixtures import BlackHole


class Loopback:
    """An HTTP server on 127.0.0.1 whose every answer is `answer(method, path, headers, body)` →
    (status, content type, raw body)."""

    def __init__(self, answer: Callable[[str, str, Any, bytes], tuple[int, str, bytes]]) -> None:
        self.seen: list[tuple[str, str, Any, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.seen.append((self.command, self.path, self.headers, body))
                status, content_type, raw = answer(self.command, self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _serve  # noqa: N815 - http.server API

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


HUB_ANSWER: dict[str, Any] = {"body": b'{"action": "confirm", "intent": "card_dispute", "confidence": 0.9}'}


@pytest.fixture(scope="module")
def hub() -> Iterator[Loopback]:
    server = Loopback(lambda *_: (200, "application/json", HUB_ANSWER["body"]))
    yield server
    server.close()


@pytest.fixture
def hub_env(hub: Loopback, monkeypatch: pytest.MonkeyPatch) -> Loopback:
    monkeypatch.setenv("HUB_URL", hub.url)
    monkeypatch.setenv("HUB_API_KEY", "k")
    monkeypatch.setenv("BUDGET_MS", "1000")
    HUB_ANSWER["body"] = b'{"action": "confirm", "intent": "card_dispute", "confidence": 0.9}'
    return hub


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                       max_size=4),
                           max_leaves=12)
fields = {"decision": st.sampled_from(["intent", "risk", "feedback", "profile", "weather"]) | json_values,
          "customer_id": json_values, "email": json_values, "ip": json_values, "at_ms": json_values,
          "intent": json_values}
parameters = st.fixed_dictionaries({}, optional=fields) | json_values
endpoint = st.fixed_dictionaries({}, optional={"Address": st.just(PHONE) | json_values,
                                               "Type": st.just("TELEPHONE_NUMBER") | json_values}) | json_values
contact = st.fixed_dictionaries({}, optional={"CustomerEndpoint": endpoint, "ContactId": json_values,
                                              "Channel": json_values, "InitialContactId": json_values}) | json_values
details = st.fixed_dictionaries({}, optional={"ContactData": contact, "Parameters": parameters}) | json_values
events = st.fixed_dictionaries({}, optional={"Details": details, "Name": json_values}) | json_values


def _valid_answer(answer: Any) -> bool:
    return (isinstance(answer, dict) and answer.get("source") in {"hub", "fallback"}
            and all(isinstance(k, str) and isinstance(v, str) for k, v in answer.items()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=events)
def test_any_event_shape_gets_a_flat_string_answer(hub_env: Loopback, event: Any) -> None:
    started = time.monotonic()
    answer = lambda_handler(event, None)
    assert _valid_answer(answer), answer
    assert time.monotonic() - started < 1.5


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=40),
       decision=st.sampled_from(["intent", "risk", "feedback", "profile"]))
def test_any_hub_answer_gets_a_flat_string_answer(hub_env: Loopback, body: bytes, decision: str) -> None:
    HUB_ANSWER["body"] = body
    answer = lambda_handler(connect_event(decision=decision), None)
    assert _valid_answer(answer), answer


@pytest.mark.parametrize(("event", "reason"), [
    ({"Details": {"Parameters": ["decision", "risk"], "ContactData": {"CustomerEndpoint": {"Address": PHONE}}}},
     None),
    ({"Details": {"ContactData": "VOICE", "Parameters": {"decision": "risk"}}},
     "no caller phone number and no customer_id parameter"),
    ({"Details": {"ContactData": {"CustomerEndpoint": [PHONE]}, "Parameters": {"decision": "risk"}}},
     "no caller phone number and no customer_id parameter"),
    ({"Details": None}, "no caller phone number and no customer_id parameter"),
    ([1, 2], "no caller phone number and no customer_id parameter"),
])
def test_fields_of_another_type_read_as_missing(hub_env: Loopback, event: Any, reason: str | None) -> None:
    answer = lambda_handler(event, None)
    if reason is None:  # Parameters as a list: no decision given, so intent for the caller's phone
        assert (answer["source"], answer["action"], answer["intent"]) == ("hub", "confirm", "card_dispute")
    else:
        assert (answer["source"], answer["fallback_reason"]) == ("fallback", reason)


def test_a_hub_answering_200_with_a_list_gets_the_safe_answer(hub_env: Loopback) -> None:
    HUB_ANSWER["body"] = b'[{"outcome": "block"}]'
    answer = lambda_handler(connect_event(decision="risk"), None)
    assert (answer["outcome"], answer["source"], answer["fallback_reason"]) == (
        "pass_to_agent", "fallback", "hub answered a list, not an object")


def test_odd_field_types_in_the_hub_answer_read_as_empty(hub_env: Loopback) -> None:
    HUB_ANSWER["body"] = json.dumps({"outcome": "bot", "score": 0.1, "reasons": ["fast", {"code": "new"}]}).encode()
    answer = lambda_handler(connect_event(decision="risk"), None)
    assert (answer["source"], answer["outcome"], answer["reasons"]) == ("hub", "bot", "new")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    handler._secret_cache.clear()
    handler._secrets_clients.clear()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "HUB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLAMBDATEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("HUB_API_KEY_SECRET_ID", "journeyhub/lambda-key")


def _secrets_endpoint() -> Loopback:
    return Loopback(lambda method, path, headers, body: (
        200, "application/x-amz-json-1.1",
        json.dumps({"Name": json.loads(body)["SecretId"], "SecretString": "key-from-secrets\n"}).encode()))


def _secret_reads(secrets: Loopback) -> list[str]:
    return [h["X-Amz-Target"] for _, _, h, _ in secrets.seen]


def test_the_key_is_read_from_secrets_manager_when_lambda_loads_the_function(hub_env: Loopback, aws_env: None,
                                                                            monkeypatch) -> None:  # type: ignore[no-untyped-def]
    secrets = _secrets_endpoint()
    monkeypatch.setenv("AWS_ENDPOINT_URL", secrets.url)
    try:
        importlib.reload(handler)  # what Lambda does once, with the function's environment, before any call
        read_at_load = _secret_reads(secrets)
        first = handler.lambda_handler(connect_event(decision="intent"), None)
        second = handler.lambda_handler(connect_event(decision="intent"), None)
    finally:
        secrets.close()
        handler._secret_cache.clear()
        handler._secrets_clients.clear()

    assert read_at_load == ["secretsmanager.GetSecretValue"]
    assert (first["source"], second["source"]) == ("hub", "hub")
    assert _secret_reads(secrets) == ["secretsmanager.GetSecretValue"]
    assert hub_env.seen[-1][2]["Authorization"] == "Api-Key key-from-secrets"


def test_a_key_not_read_at_load_is_read_by_the_first_call_once(hub_env: Loopback, aws_env: None,
                                                                monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the environment arrives after the module was loaded, as when the read at load failed; the budget
    # is generous because the first call may be the one that imports boto3 on a busy machine
    monkeypatch.setenv("BUDGET_MS", "20000")
    secrets = _secrets_endpoint()
    monkeypatch.setenv("AWS_ENDPOINT_URL", secrets.url)
    try:
        first = lambda_handler(connect_event(decision="intent"), None)
        second = lambda_handler(connect_event(decision="intent"), None)
    finally:
        secrets.close()
        handler._secret_cache.clear()
        handler._secrets_clients.clear()

    assert (first["source"], second["source"]) == ("hub", "hub")
    assert _secret_reads(secrets) == ["secretsmanager.GetSecretValue"]
    assert hub_env.seen[-1][2]["Authorization"] == "Api-Key key-from-secrets"


def test_a_failed_read_at_load_is_made_again_by_the_first_call(hub_env: Loopback, aws_env: None,
                                                                 monkeypatch) -> None:  # type: ignore[no-untyped-def]
    answers = iter([(500, "application/x-amz-json-1.1", b'{"__type": "InternalServiceError", "Message": "down"}')])
    secrets = Loopback(lambda method, path, headers, body: next(answers, None) or (
        200, "application/x-amz-json-1.1",
        json.dumps({"Name": json.loads(body)["SecretId"], "SecretString": "key-from-secrets"}).encode()))
    monkeypatch.setenv("AWS_ENDPOINT_URL", secrets.url)
    try:
        importlib.reload(handler)  # the read at load meets the error and loading goes on
        cached_at_load = dict(handler._secret_cache)
        answer = handler.lambda_handler(connect_event(decision="intent"), None)
    finally:
        secrets.close()
        handler._secret_cache.clear()
        handler._secrets_clients.clear()

    assert cached_at_load == {}
    assert answer["source"] == "hub"
    assert _secret_reads(secrets) == ["secretsmanager.GetSecretValue"] * 2
    assert hub_env.seen[-1][2]["Authorization"] == "Api-Key key-from-secrets"


def test_a_black_holed_secrets_endpoint_costs_at_most_the_budget(hub_env: Loopback, aws_env: None,
                                                                 monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hole = BlackHole()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{hole.port}")
    try:
        started = time.monotonic()
        answer = lambda_handler(connect_event(decision="risk"), None)
        elapsed = time.monotonic() - started
    finally:
        hole.close()
        handler._secret_cache.clear()
        handler._secrets_clients.clear()

    assert (answer["outcome"], answer["source"], answer["fallback_reason"]) == (
        "pass_to_agent", "fallback", "no answer within 1000 ms")
    assert 1.0 <= elapsed < 1.5
