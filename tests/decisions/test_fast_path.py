"""The decision fast path (apps/decisions/api/fast_path.py) through the WSGI application: on the demo
bank it answers exactly what the full stack answers, and it hands everything out of the ordinary to
the full stack, whose answer the caller then gets unchanged."""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.handlers.wsgi import WSGIHandler
from prometheus_client import REGISTRY
from rest_framework.renderers import JSONRenderer

from apps.core.models import ApiKey
from apps.core.observability import REQUEST_SECONDS
from apps.core.parsers import JSONParser
from apps.decisions import decision_log
from apps.decisions.api.fast_path import DecisionFastPath, parse, render
from apps.decisions.models import DecisionLog
from apps.demo.dataset import build_demo_events, demo_profiles
from apps.ingest.services import ingest_records
from apps.propensity import registry
from tests.decisions.factories import history_risk_model

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_the_test_connection")]
CUSTOMERS = 25
AT_MS = 1_767_225_600_000  # 2026-01-01, after every demo event


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.body = status, body
        self.headers = {k.lower(): v for k, v in headers}

    def json(self) -> Any:
        return json.loads(self.body)


class CountingApp:
    """The full stack, counting the requests it was handed."""

    def __init__(self) -> None:
        self.app, self.calls = WSGIHandler(), 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        return self.app(environ, start_response)


def call(app: Any, path: str, body: Any = None, *, key: str | None = None, method: str = "POST",
         headers: dict[str, str] | None = None) -> Answer:
    raw = json.dumps(body).encode() if body is not None else b""
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_TYPE": "application/json",
                               "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw),
                               "HTTP_HOST": "testserver", "SERVER_NAME": "testserver", **(headers or {})}
    if key:
        environ["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
    setup_testing_defaults(environ)
    started: list[Any] = []
    chunks = app(environ, lambda status, hdrs, *exc: started.append((status, hdrs)))
    content = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    return Answer(started[0][0], started[0][1], content)


@pytest.fixture
def stack() -> tuple[DecisionFastPath, CountingApp]:
    full = CountingApp()
    return DecisionFastPath(full), full


@pytest.fixture
def decide_key(db) -> str:  # type: ignore[no-untyped-def]
    _, raw = ApiKey.issue("connect-lambda", scopes=["decide"])
    return raw


@pytest.fixture
def demo_bank(shared_data: Path, intent_model) -> list[str]:  # type: ignore[no-untyped-def]
    """The demo bank's first customers in the graph, the intent and history risk models active; their phones."""
    ingest_records(records=build_demo_events(shared_data_dir=shared_data, customers=CUSTOMERS), source="demo")
    registry.register_model(name="risk", model=history_risk_model(), metrics={"auc": 0.97},
                            baseline_metrics={"prior": {"auc": 0.5}}, features=["history"], train_window=(None, None))
    return [p.phone for p in demo_profiles(shared_data_dir=shared_data, customers=CUSTOMERS)]


def test_on_the_demo_bank_the_fast_path_answers_exactly_what_the_full_stack_answers(stack, decide_key, demo_bank):
    fast, full = stack
    # given the demo bank's callers and some strangers, asked about through both paths
    callers = [*demo_bank, "+61400000001", "+61400000002"]
    requests = [(path, {"phone": phone, "contact_id": f"c-{n}", "at_ms": AT_MS, **extra})
                for n, phone in enumerate(callers)
                for path, extra in (("/api/decisions/intent", {}),
                                    ("/api/decisions/risk", {"email": f"someone{n % 3}@example.com"}),
                                    ("/api/decisions/risk", {"channel": "chat"}))]
    call(fast, requests[0][0], requests[0][1], key=decide_key)  # the first answer of each path is the full stack's
    call(fast, requests[1][0], requests[1][1], key=decide_key)
    handed_on, first_row = full.calls, DecisionLog.objects.order_by("-id").values_list("id", flat=True).first()
    risk_answers = []
    for path, body in requests:
        # when each is answered by the full stack and by the fast path
        expected = call(full, path, body, key=decide_key)
        got = call(fast, path, body, key=decide_key)
        # then status, body and headers are the same (the request id is each request's own)
        assert (got.status, got.json()) == (expected.status, expected.json())
        assert got.body == expected.body  # byte for byte: the same encoder and options as DRF's renderer
        assert got.status == "200 OK"
        assert {**got.headers, "x-request-id": ""} == {**expected.headers, "x-request-id": ""}
        if path.endswith("risk"):
            risk_answers.append(got.json())
    # and the fast path answered every one of them itself (the full stack only when called directly)
    assert full.calls - handed_on == len(requests)
    # and both logged the same decisions
    rows = list(DecisionLog.objects.filter(id__gt=first_row).order_by("id"))
    assert len(rows) == 2 * len(requests)
    pairs = [(a, b) for a, b in zip(rows[::2], rows[1::2], strict=True)]
    assert all((a.kind, a.contact_id, a.customer_id, a.inputs, a.output) ==
               (b.kind, b.contact_id, b.customer_id, b.inputs, b.output) for a, b in pairs)
    # and the comparison covered the model's own score as well as strangers
    assert any(r["variables"]["model_score"] is not None for r in risk_answers), "no demo caller reached the model"
    assert any(r["customer_id"] is None for r in risk_answers)


def test_errors_are_the_full_stacks_answers(stack, decide_key, intent_model, settings):
    fast, full = stack
    call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key)  # headers learnt
    _, read_only = ApiKey.issue("reader", scopes=["read"])
    cases = [
        ("/api/decisions/intent", {"contact_id": "x"}, decide_key, "400"),  # neither phone nor customer id
        ("/api/decisions/intent", {"phone": "not a phone"}, decide_key, "400"),  # refused by the service
        ("/api/decisions/intent", {"phone": "+61412345678", "channel": "FAX"}, decide_key, "400"),
        ("/api/decisions/intent", {"phone": "+61412345678"}, "wrong-key", "401"),
        ("/api/decisions/intent", {"phone": "+61412345678"}, None, "401"),
        ("/api/decisions/risk", {"phone": "+61412345678"}, read_only, "403"),
    ]
    for path, body, key, status in cases:
        before = full.calls
        got = call(fast, path, body, key=key)
        assert full.calls == before + 1, f"{body} was not handed to the full stack"
        expected = call(full, path, body, key=key)
        assert (got.status[:3], got.json()) == (status, expected.json())
    # another method, another content type and an empty body are the full stack's too
    before = full.calls
    assert call(fast, "/api/decisions/intent", key=decide_key, method="GET").status.startswith("405")
    assert call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key,
                headers={"CONTENT_TYPE": "text/plain"}).status.startswith("415")
    assert call(fast, "/api/decisions/intent", key=decide_key).status.startswith("400")
    assert full.calls == before + 3


def test_a_decision_asked_with_a_query_string_is_refused_by_the_full_stack(stack, decide_key, intent_model):
    fast, full = stack
    call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key)  # headers learnt
    before = full.calls

    got = call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key,
               headers={"QUERY_STRING": "debug=1"})

    assert full.calls == before + 1
    assert got.status.startswith("400")
    assert got.json()["detail"] == ("debug: not a parameter of POST /api/decisions/intent; "
                                    "the parameters it reads: none")


def test_a_field_a_decision_does_not_have_is_refused_by_name(stack, decide_key, intent_model):
    """`chanel` was read as no channel at all: the caller's chat was decided as a voice call."""
    fast, full = stack
    call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key)  # headers learnt
    assert decision_log.flush(timeout=30)
    before, logged = full.calls, DecisionLog.objects.count()

    got = call(fast, "/api/decisions/intent", {"phone": "+61412345678", "chanel": "CHAT"}, key=decide_key)
    assert decision_log.flush(timeout=30)

    assert full.calls == before + 1
    assert got.status.startswith("400")
    assert got.json()["errors"] == [{
        "field": "chanel", "code": "unknown_field",
        "detail": "not a field of this request; its fields: customer_id, phone, channel, contact_id, at_ms"}]
    assert DecisionLog.objects.count() == logged


@pytest.mark.usefixtures("still_throttle_clock")
def test_a_throttled_caller_gets_the_full_stacks_429(stack, decide_key, intent_model, settings):
    fast, full = stack
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"api": "6000/min", "decide": "2/min"}}
    from django.core.cache import cache

    cache.clear()
    statuses = [call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key).status[:3]
                for _ in range(3)]
    assert statuses == ["200", "200", "429"]


def test_plain_http_where_https_is_required_is_redirected_by_the_full_stack(decide_key, intent_model, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    full = CountingApp()  # the security middleware reads its settings when the stack is built
    fast = DecisionFastPath(full)
    body = {"phone": "+61412345678"}
    assert call(fast, "/api/decisions/intent", body, key=decide_key).status.startswith("301")
    https = {"HTTP_X_FORWARDED_PROTO": "https"}
    first = call(fast, "/api/decisions/intent", body, key=decide_key, headers=https)
    before = full.calls
    again = call(fast, "/api/decisions/intent", body, key=decide_key, headers=https)
    assert (first.status, again.status, full.calls) == ("200 OK", "200 OK", before)
    assert again.headers["strict-transport-security"] == first.headers["strict-transport-security"] == "max-age=3600"


def test_the_request_id_and_the_latency_metric_are_kept(stack, decide_key, intent_model):
    fast, full = stack
    call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key)
    route = fast.routes["/api/decisions/intent"].route
    observed = REQUEST_SECONDS.labels("POST", route, "200")._sum.get()  # type: ignore[attr-defined]
    before = full.calls
    answer = call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key,
                  headers={"HTTP_X_REQUEST_ID": "lambda-42"})
    assert (full.calls, answer.headers["x-request-id"]) == (before, "lambda-42")
    assert REQUEST_SECONDS.labels("POST", route, "200")._sum.get() > observed  # type: ignore[attr-defined]
    assert route == "api/decisions/intent"


def test_an_error_in_the_fast_paths_checks_hands_the_request_to_the_full_stack(stack, decide_key, intent_model,
                                                                              monkeypatch):
    fast, full = stack
    call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key)  # headers learnt
    from django.db import OperationalError

    from apps.core import auth

    real_get, failures = auth.key_cache.get, []

    def fails_once(hashed: str):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(hashed)
            raise OperationalError("database is restarting")
        return real_get(hashed)

    monkeypatch.setattr(auth.key_cache, "get", fails_once)
    before = full.calls
    answer = call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key)
    assert (answer.status, full.calls, len(failures)) == ("200 OK", before + 1, 1)


def test_the_fast_paths_json_is_drfs_json_byte_for_byte() -> None:
    # given an answer with non-ASCII text, the two line separators JavaScript chokes on, floats and nulls
    answer = {"reason": "caf\u00e9 \u2028 \u2029 \U0001f600", "confidence": 0.1 + 0.2, "tiny": 1e-07, "none": None,
              "alternatives": [{"intent": "CC_NE", "confidence": 0.5}], "count": 3, "flag": True}
    # when the fast path renders it, then the bytes are those of DRF's JSONRenderer
    assert render(answer) == JSONRenderer().render(answer)
    # and a NaN is refused as DRF refuses it (strict JSON), not written
    with pytest.raises(ValueError):
        render({"confidence": float("nan")})


@pytest.mark.parametrize("body", [b'{"phone": NaN}', b'{"phone": ["+61412345678"]}', b'{"a": {"b": 1}}', b"[1]",
                                  b'"text"', b"\xff\xfe", b'{"phone": "+614', b"\xef\xbb\xbf{}"])
def test_bodies_the_fast_path_does_not_read_go_to_the_full_stack(body: bytes) -> None:
    # given a body that is not a flat JSON object in UTF-8 (or holds a constant strict JSON refuses)
    # when the fast path reads it, then it leaves it to the full stack's parser and serializer
    assert parse(body) is None


def test_a_flat_json_object_is_read_as_drfs_parser_reads_it() -> None:
    body = '{"phone": "+61412345678", "contact_id": "caf\u00e9", "at_ms": 1767225600000, "ip": null}'.encode()
    assert parse(body) == JSONParser().parse(io.BytesIO(body), "application/json", {})



def decisions_counted() -> dict[tuple[str, str, str], float]:
    """Every `journeyhub_decisions_total` series by (kind, action, outcome)."""
    return {(m.labels["kind"], m.labels["action"], m.labels["outcome"]): m.value
            for family in REGISTRY.collect() if family.name == "journeyhub_decisions"
            for m in family.samples if m.name == "journeyhub_decisions_total"}


def test_decisions_the_fast_path_answers_are_counted_by_action_and_outcome(stack, decide_key, demo_bank):
    fast, full = stack
    call(fast, "/api/decisions/intent", {"phone": demo_bank[0], "at_ms": AT_MS}, key=decide_key)  # headers learnt
    call(fast, "/api/decisions/risk", {"phone": demo_bank[0], "at_ms": AT_MS}, key=decide_key)
    handed_on, before = full.calls, decisions_counted()
    # when the fast path answers an intent and a risk decision for a demo caller
    intent = call(fast, "/api/decisions/intent", {"phone": demo_bank[1], "at_ms": AT_MS}, key=decide_key).json()
    risk = call(fast, "/api/decisions/risk", {"phone": demo_bank[1], "at_ms": AT_MS}, key=decide_key).json()
    after = decisions_counted()
    # then neither reached the full stack, and each is counted once, under its own action and outcome
    assert full.calls == handed_on
    assert intent["intent"] is not None
    changed = {key: after[key] - before.get(key, 0.0) for key in after if after[key] != before.get(key, 0.0)}
    assert changed == {("intent", intent["action"], "predicted"): 1, ("risk", "n/a", risk["outcome"]): 1}


def _in_a_new_thread(work: Callable[[], Any]) -> Any:
    """`work()` on a thread that has never opened a database connection, as a server's threads are
    between requests (connections close at the end of each)."""
    import threading

    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(work()))
    thread.start()
    thread.join()
    return out[0]


def test_django_s_request_signals_are_skipped_only_when_they_would_do_nothing(settings):
    from django.core import signals

    from apps.decisions.api import fast_path

    # given only Django's receivers, caches in local memory and a thread without a database connection
    signals.request_started.connect(fast_path.close_old_connections)  # as outside a test (see the fixture)
    signals.request_finished.connect(fast_path.close_old_connections)
    try:
        assert _in_a_new_thread(fast_path._signals_idle) is True
        # but not on a thread holding a connection (the test's): it is recycled as after any request
        assert fast_path._signals_idle() is False

        # nor when someone else listens
        def listener(**kwargs: Any) -> None:
            pass

        signals.request_finished.connect(listener)
        try:
            assert _in_a_new_thread(fast_path._signals_idle) is False
        finally:
            signals.request_finished.disconnect(listener)
        # nor when a cache lives in another process
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                       "LOCATION": "redis://127.0.0.1:1"}}
        assert _in_a_new_thread(fast_path._signals_idle) is False
    finally:
        signals.request_started.disconnect(fast_path.close_old_connections)
        signals.request_finished.disconnect(fast_path.close_old_connections)


def test_other_listeners_of_the_request_signals_hear_every_fast_path_decision(stack, decide_key, intent_model):
    from django.core import signals

    fast, full = stack
    call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key)  # headers learnt
    heard: list[str] = []

    def started(**kwargs: Any) -> None:
        heard.append("started")

    def finished(**kwargs: Any) -> None:
        heard.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        before = full.calls
        answer = call(fast, "/api/decisions/intent", {"phone": "+61412345678"}, key=decide_key)
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert (answer.status, full.calls, heard) == ("200 OK", before, ["started", "finished"])


@pytest.mark.parametrize("host, allowed", [("testserver", True), ("evil.example", False), ("testserver", True)])
def test_the_host_check_is_djangos_and_follows_the_settings(host, allowed, settings):
    from django.core.handlers.wsgi import WSGIRequest

    from apps.decisions.api.fast_path import _host_allowed

    environ = {"REQUEST_METHOD": "POST", "HTTP_HOST": host, "wsgi.input": io.BytesIO(b"")}
    setup_testing_defaults(environ)
    settings.ALLOWED_HOSTS = ["testserver"]
    assert _host_allowed(WSGIRequest(environ)) is allowed
    settings.ALLOWED_HOSTS = [host]  # a changed setting is read again, not remembered
    assert _host_allowed(WSGIRequest(environ)) is True


def test_a_connection_opened_on_a_thread_counts_as_held_until_it_is_closed():
    from django.db import connection

    from apps.decisions.api.fast_path import _holds_database_connection

    def open_then_close() -> tuple[bool, bool, bool]:
        before = _holds_database_connection()
        connection.ensure_connection()
        during = _holds_database_connection()
        connection.close()  # Django keeps an in-memory SQLite database open: closing it would lose it
        return before, during, _holds_database_connection()

    # so a decision that had to read a key from the database has its connection recycled at the end
    kept_open = connection.vendor == "sqlite" and connection.is_in_memory_db()
    assert _in_a_new_thread(open_then_close) == (False, True, kept_open)
