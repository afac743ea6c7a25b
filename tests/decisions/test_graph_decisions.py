"""graph.decisions answers the same on the embedded store, through the project's Gremlin server and, in a
conformance run (CONFORMANCE_GRAPH_URL), on that store."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import pytest

import graph
from graph import decisions as d
from graph import journeys, schema
from graph.schema import EventRecord
from tests.graph.conformance.conftest import BACKENDS, ENV_URL
from tests.graph.server_fixture import gremlin_server, gremlin_server_url  # noqa: F401

T0 = 1_700_000_000_000
HOUR = 3_600_000
PHONE = ("phone", "+61400000001")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The decision reads on each backend of the conformance suite: the embedded store, the project's
    Gremlin server and, when CONFORMANCE_GRAPH_URL is set, that store (erased first)."""
    if request.param == "env":
        scratch = graph.connect(ENV_URL)
        scratch.g.V().drop().iterate()
        scratch.close()
    settings.GRAPH_URL = {"embedded": "embedded://memory", "env": ENV_URL}.get(request.param) or \
        request.getfixturevalue("gremlin_server_url")
    graph.reset_connection()
    journeys.write_events([
        EventRecord(event_id="a1", type="call", channel="voice", ts=T0, customer_id="c1", identifiers=(PHONE,),
                    intent="AC_NE", attributes={"duration_s": 500}),
        EventRecord(event_id="a2", type="call", channel="voice", ts=T0 + HOUR, customer_id="c1", intent="AC_AS",
                    attributes={"duration_s": 300}),
        EventRecord(event_id="a3", type="web", channel="web", ts=T0 + 2 * HOUR, customer_id="c1"),
        EventRecord(event_id="v1", type="verification", channel="voice", ts=T0 + 3 * HOUR, customer_id="c1",
                    outcome="failed"),
        EventRecord(event_id="i1", type="issue", channel="web", ts=T0 + 4 * HOUR, customer_id="c1", outcome="open"),
        EventRecord(event_id="i2", type="case", channel="web", ts=T0 + 5 * HOUR, customer_id="c1",
                    outcome="resolved"),
        EventRecord(event_id="b1", type="call", channel="voice", ts=T0 + 6 * HOUR, customer_id="c2",
                    identifiers=(PHONE, ("email", "ann@example.com"))),
    ])
    yield str(settings.GRAPH_URL)
    graph.reset_connection()


def test_caller_and_latest_intents_in_one_read(store):
    assert d.caller_intents(phone="+61400000001") == ("c1", [(T0, "AC_NE"), (T0 + HOUR, "AC_AS")])
    assert d.caller_intents(customer_id="c1", limit=1) == ("c1", [(T0 + HOUR, "AC_AS")])
    assert d.caller_intents(customer_id="c1", until_ms=T0) == ("c1", [(T0, "AC_NE")])


def test_a_past_calls_intents_see_the_phone_as_it_was_linked_by_then(store):
    # the phone was first linked (to c1) at T0, by the call that also carries c1's first intent
    assert d.caller_intents(phone="+61400000001", until_ms=T0) == ("c1", [(T0, "AC_NE")])
    # a call before that time has no caller by its phone, though the phone names c1 today
    assert d.caller_intents(phone="+61400000001", until_ms=T0 - 1) == (None, [])
    assert d.caller_intents(customer_id="c1", until_ms=T0 - 1) == ("c1", [])
    assert d.caller_intents(phone="+61499999999") == (None, [])
    assert d.caller_intents(customer_id="nobody") == (None, [])


def _event(ts: int, type_: str, channel: str, outcome: str | None = None, attributes: str = "{}") -> dict:
    return {"ts": ts, "type": type_, "channel": channel, "outcome": outcome, "attributes": attributes}


def _read_in_full(event: dict) -> bool:
    return (event["channel"] not in ("web", "app", "email") or event["type"] == "verification"
            or "verification" in event["attributes"] or "categories" in event)


def _history(events: list[dict]) -> d.History:
    """What the risk read makes of these events (newest first): in full those that are not plain web,
    app or e-mail events, the time alone of the others."""
    return d.History([e for e in events if _read_in_full(e)], [e["ts"] for e in events if not _read_in_full(e)])


C1_HISTORY = [_event(T0 + 5 * HOUR, "case", "web", "resolved"), _event(T0 + 4 * HOUR, "issue", "web", "open"),
              _event(T0 + 3 * HOUR, "verification", "voice", "failed"), _event(T0 + 2 * HOUR, "web", "web"),
              _event(T0 + HOUR, "call", "voice", attributes='{"duration_s": 300}'),
              _event(T0, "call", "voice", attributes='{"duration_s": 500}')]


def test_risk_facts_share_identifiers_find_the_caller_and_count_failed_checks_in_one_read(store):
    facts = d.risk_facts([PHONE, ("email", "ann@example.com"), ("ip", "10.0.0.1")], phone=PHONE[1], since_ms=T0)
    assert facts == d.RiskFacts(sharing={
        "phone:+61400000001": {"customers": 2, "first_seen": T0, "customer": "c1"},
        "email:ann@example.com": {"customers": 1, "first_seen": T0 + 6 * HOUR, "customer": "c2"},
        "ip:10.0.0.1": {"customers": 0, "first_seen": None, "customer": None}}, customer="c1", failed_verifications=1,
        history=_history(C1_HISTORY))
    # of c1's six events, the check and the two calls are read in full; the web events' times only
    assert facts.history.events == [C1_HISTORY[2], C1_HISTORY[4], C1_HISTORY[5]]
    assert facts.history.plain_times == [T0 + 5 * HOUR, T0 + 4 * HOUR, T0 + 2 * HOUR]
    assert d.risk_facts([PHONE], phone=PHONE[1], since_ms=T0 + 4 * HOUR).failed_verifications == 0


def test_the_risk_history_holds_in_full_only_the_events_a_decision_reads_more_of(store, monkeypatch):
    monkeypatch.setattr(d, "_history_lengths", OrderedDict())
    monkeypatch.setattr(d, "COMPACT_FROM", 5)  # m's five events: read in the compact form after the first read
    journeys.write_events([
        EventRecord(event_id="m1", type="page_view", channel="web", ts=T0 + 10 * HOUR, customer_id="m"),
        EventRecord(event_id="m2", type="login", channel="app", ts=T0 + 11 * HOUR, customer_id="m",
                    attributes={"verification": "failed"}),
        EventRecord(event_id="m3", type="chat_message", channel="web", ts=T0 + 12 * HOUR, customer_id="m"),
        EventRecord(event_id="m4", type="text", channel="sms", ts=T0 + 13 * HOUR, customer_id="m"),
        EventRecord(event_id="m5", type="newsletter", channel="email", ts=T0 + 14 * HOUR, customer_id="m")])
    # a web contact whose conversation matched categories (as the conversations app writes them)
    graph.get_g().V(schema.event_vid("m3")).property("categories", '["fraud"]').iterate()

    history = d.risk_facts([], customer_id="m", since_ms=T0).history

    assert [(e["ts"], e["type"], e.get("categories")) for e in history.events] == [
        (T0 + 13 * HOUR, "text", None), (T0 + 12 * HOUR, "chat_message", '["fraud"]'),
        (T0 + 11 * HOUR, "login", None)]
    assert history.plain_times == [T0 + 14 * HOUR, T0 + 10 * HOUR]
    assert (len(history), history.oldest_ms) == (5, T0 + 10 * HOUR)
    # the engine's compact form, which hands the plain events over by their time alone, reads the same
    assert d._history_lengths == {"customer:m": 5}
    assert d.risk_facts([], customer_id="m", since_ms=T0).history == history


def test_the_callers_remembered_as_long_are_the_most_recently_read(store, monkeypatch):
    monkeypatch.setattr(d, "_history_lengths", OrderedDict())
    monkeypatch.setattr(d, "COMPACT_FROM", 1)  # every caller with an event is remembered
    monkeypatch.setattr(d, "HISTORIES_KEPT", 2)
    d.risk_facts([], customer_id="c1", since_ms=T0)
    d.risk_facts([], customer_id="c2", since_ms=T0)
    d.risk_facts([], customer_id="c1", since_ms=T0)  # c1 read again: c2 is now the least recently read
    assert list(d._history_lengths.items()) == [("customer:c2", 1), ("customer:c1", 6)]
    d.risk_facts([], phone="+61400000001", since_ms=T0)  # the phone names c1, who has six events
    assert list(d._history_lengths.items()) == [("customer:c1", 6), ("identifier:phone:+61400000001", 6)]
    # a caller found to hold fewer events than COMPACT_FROM is forgotten at once
    monkeypatch.setattr(d, "COMPACT_FROM", 2)
    d.risk_facts([], customer_id="c2", since_ms=T0)
    assert list(d._history_lengths) == ["customer:c1", "identifier:phone:+61400000001"]
    d.risk_facts([], phone="+61400000001", since_ms=T0, until_ms=T0 + 1)  # c1 had one event by then
    assert list(d._history_lengths) == ["customer:c1"]


def _recorded_reads(monkeypatch: pytest.MonkeyPatch, *, flag: bool = False) -> list[Any]:
    """The prepared reads made from now on, by their builder's name; with `flag`, paired with the last
    element of their shape (whether the engine counts the failed checks, or orders equal times)."""
    reads: list[Any] = []
    real = d.prepared.run_values

    def record(build: Any, shape: tuple[Any, ...], **values: Any) -> list[Any]:
        reads.append((build.__name__, shape[-1]) if flag else build.__name__)
        return real(build, shape, **values)

    monkeypatch.setattr(d.prepared, "run_values", record)
    return reads


def test_failed_checks_are_counted_from_the_history_when_it_holds_the_whole_window(store, monkeypatch):
    monkeypatch.setattr(d, "_history_lengths", OrderedDict())
    reads = _recorded_reads(monkeypatch, flag=True)
    # (read, whether the engine counted the failed checks); c1's failed check is at hour 3
    # six events, fewer than the history holds: every event before the call is in it
    assert d.risk_facts([], customer_id="c1", since_ms=T0).failed_verifications == 1
    assert d.risk_facts([], customer_id="c1", since_ms=T0 + 4 * HOUR).failed_verifications == 0
    assert d.risk_facts([], customer_id="c1", since_ms=T0, until_ms=T0 + 3 * HOUR).failed_verifications == 0
    assert d.risk_facts([], phone="+61400000001", since_ms=T0, until_ms=T0 + 3 * HOUR + 1).failed_verifications == 1
    assert reads == [("_risk_facts", False)] * 4
    reads.clear()
    # the newest four (hours 5 to 2) reach back past a window from hour 3
    assert d.risk_facts([], customer_id="c1", since_ms=T0 + 3 * HOUR, history_limit=4).failed_verifications == 1
    assert reads == [("_risk_facts", False)]
    reads.clear()
    # the newest two (hours 5 and 4) lie within a window from hour 1: the check is older than they are,
    # so the caller is read again with the engine counting
    facts = d.risk_facts([], customer_id="c1", since_ms=T0 + HOUR, history_limit=2)
    assert (facts.failed_verifications, facts.history) == (1, _history(C1_HISTORY[:2]))
    assert reads == [("_risk_facts", False), ("_risk_facts", True)]


def test_risk_facts_read_the_callers_history_strictly_before_the_call_newest_first(store):
    # the same read, bounded at the call's time and limited: what the risk profile is computed from
    before = d.risk_facts([PHONE], phone=PHONE[1], since_ms=T0, until_ms=T0 + 2 * HOUR)
    assert before.history == _history(C1_HISTORY[-2:])
    assert d.risk_facts([], customer_id="c1", since_ms=T0, history_limit=2).history == _history(C1_HISTORY[:2])
    assert d.risk_facts([], customer_id="c1", since_ms=T0, until_ms=T0).history == d.History()


def test_risk_facts_for_a_past_call_see_nothing_that_came_after_it(store):
    # given a call at T0+2h, before the failed check (T0+3h) and before c2 shared the phone (T0+6h)
    before = d.risk_facts([PHONE, ("email", "ann@example.com")], phone=PHONE[1], since_ms=T0, until_ms=T0 + 2 * HOUR)
    # then the phone had one customer, the e-mail none, and no check had failed yet
    assert before.sharing == {"phone:+61400000001": {"customers": 1, "first_seen": T0, "customer": "c1"},
                              "email:ann@example.com": {"customers": 0, "first_seen": None, "customer": None}}
    assert before.failed_verifications == 0
    # and a check counts only strictly before the call, as the history does
    assert d.risk_facts([], customer_id="c1", since_ms=T0, until_ms=T0 + 3 * HOUR).failed_verifications == 0
    assert d.risk_facts([], customer_id="c1", since_ms=T0, until_ms=T0 + 3 * HOUR + 1).failed_verifications == 1
    # and a phone's caller is the customer it was linked to by then: none before its first link
    assert d.risk_facts([PHONE], phone=PHONE[1], since_ms=T0, until_ms=T0).customer is None
    assert d.risk_facts([PHONE], phone=PHONE[1], since_ms=T0, until_ms=T0 + 1).customer == "c1"
    # and identifiers alone (no caller to read) are bounded the same way
    alone = d.risk_facts([("email", "ann@example.com")], since_ms=T0, until_ms=T0 + 6 * HOUR + 1)
    assert alone.sharing["email:ann@example.com"] == {"customers": 1, "first_seen": T0 + 6 * HOUR, "customer": "c2"}


def test_risk_facts_by_customer_id_with_and_without_identifiers(store):
    by_customer = d.risk_facts([("email", "ann@example.com")], customer_id="c2", since_ms=T0)
    assert (by_customer.customer, by_customer.failed_verifications) == ("c2", 0)
    assert by_customer.sharing["email:ann@example.com"]["customers"] == 1
    assert by_customer.history == _history([_event(T0 + 6 * HOUR, "call", "voice")])
    assert d.risk_facts([], customer_id="c1", since_ms=T0) == d.RiskFacts({}, "c1", 1, _history(C1_HISTORY))
    assert d.risk_facts([("ip", "10.0.0.1")], customer_id="c9", since_ms=T0).customer is None
    assert d.risk_facts([("phone", "+61499999999")], phone="+61499999999", since_ms=T0).customer is None


def test_lookups(store):
    assert d.customer_for_identifier("phone", "+61400000001") == "c1"
    assert (d.customer_known("c2"), d.customer_known("c9")) == (True, False)


def test_issues_and_corrections(store):
    assert [i["event_id"] for i in d.open_issues("c1")] == ["i1"]
    assert d.set_event_intent("a2", "AC_PA") is True
    assert d.set_event_intent("missing", "AC_PA") is False
    assert d.caller_intents(customer_id="c1")[1][-1] == (T0 + HOUR, "AC_PA")


# A web-heavy caller: 60 web events a minute apart, four calls with an intent among them and one
# call whose intent is only known later (a confirmed answer), written newest first.
BUSY = [EventRecord(event_id=f"bw{k}", type="web", channel="web", ts=T0 + k * 60_000, customer_id="w1")
        for k in range(60) if k not in (10, 25, 40, 50, 55)]
BUSY += [EventRecord(event_id=f"bc{k}", type="call", channel="voice", ts=T0 + k * 60_000, customer_id="w1",
                     intent=intent) for k, intent in ((10, "AC_NE"), (25, "AC_AS"), (40, "AC_PA"), (50, "AC_NE"))]
BUSY += [EventRecord(event_id="bc55", type="call", channel="voice", ts=T0 + 55 * 60_000, customer_id="w1")]


def test_a_web_heavy_callers_latest_intents_are_their_latest_calls_with_one(store):
    journeys.write_events(BUSY[30:])
    journeys.write_events(BUSY[:30])
    minute = 60_000
    assert d.caller_intents(customer_id="w1", limit=3) == (
        "w1", [(T0 + 25 * minute, "AC_AS"), (T0 + 40 * minute, "AC_PA"), (T0 + 50 * minute, "AC_NE")])
    # bounded at a call's own time, that call included; the web events after it are not calls
    assert d.caller_intents(customer_id="w1", limit=2, until_ms=T0 + 40 * minute) == (
        "w1", [(T0 + 25 * minute, "AC_AS"), (T0 + 40 * minute, "AC_PA")])
    assert d.caller_intents(customer_id="w1", until_ms=T0 + 10 * minute - 1) == ("w1", [])
    # an intent confirmed after the call was written counts from then on
    assert d.set_event_intent("bc55", "AC_CL") is True
    assert d.caller_intents(customer_id="w1", limit=2) == ("w1", [(T0 + 50 * minute, "AC_NE"),
                                                                 (T0 + 55 * minute, "AC_CL")])


# A caller with more events than the history holds: 30 events an hour apart (web, a failed check at
# hour 24, a call at hour 27). The newer half is written first and the older half after it, so the
# `next` chain the walk follows is spliced as they land.
DEEP = [EventRecord(event_id=f"w{k}", type="web", channel="web", ts=T0 + k * HOUR, customer_id="d1")
        for k in range(30) if k not in (24, 27)]
DEEP += [EventRecord(event_id="dv", type="verification", channel="voice", ts=T0 + 24 * HOUR, customer_id="d1",
                     outcome="failed"),
         EventRecord(event_id="dc", type="call", channel="voice", ts=T0 + 27 * HOUR, customer_id="d1",
                     identifiers=(("phone", "+61400000009"),))]


def _expected(limit: int, until: int | None = None) -> list[dict]:
    """The caller's latest `limit` events before `until`, newest first, from the records themselves."""
    kept = sorted((r for r in DEEP if until is None or r.ts < until), key=lambda r: -r.ts)[:limit]
    return [_event(r.ts, r.type, r.channel, r.outcome) for r in kept]


@pytest.fixture
def deep(store: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(d, "WALK_FROM", 20)  # d1's 30 events are more: read by walking back
    # as a previous decision leaves them: d1's history, and its phone's, filled the read
    monkeypatch.setattr(d, "_history_lengths", OrderedDict({"customer:d1": 10, "identifier:phone:+61400000009": 10}))
    journeys.write_events(DEEP[15:])  # the newer half first, then the older half spliced in before it
    journeys.write_events(DEEP[:15])
    reads = _recorded_reads(monkeypatch)
    return reads


def test_a_caller_with_more_events_than_the_history_is_walked_back_from_the_newest(deep):
    facts = d.risk_facts([], customer_id="d1", since_ms=T0 + 21 * HOUR, history_limit=10)
    assert facts == d.RiskFacts({}, "d1", 1, _history(_expected(10)))
    # the newest 10 reach back to hour 20, past the window's start (hour 21): the failed check is counted
    # from them, in two reads, neither ordering every event
    assert deep == ["_risk_facts", "_history_walk"]
    deep.clear()
    by_phone = d.risk_facts([], phone="+61400000009", since_ms=T0 + 21 * HOUR, until_ms=T0 + 26 * HOUR,
                            history_limit=10)
    # bounded at hour 26: the call (hour 27) is after it, so the phone named nobody yet
    assert by_phone.customer is None and deep == ["_risk_facts"]
    deep.clear()
    bounded = d.risk_facts([], customer_id="d1", since_ms=T0 + 21 * HOUR, until_ms=T0 + 26 * HOUR,
                           history_limit=10)
    assert bounded == d.RiskFacts({}, "d1", 1, _history(_expected(10, T0 + 26 * HOUR)))
    assert deep == ["_risk_facts", "_history_walk"]


def test_a_walked_history_that_does_not_reach_the_window_start_is_read_in_full(deep):
    # since hour 15 there are 15 events, more than the 10 the history holds: the check is counted in full
    facts = d.risk_facts([], customer_id="d1", since_ms=T0 + 15 * HOUR, history_limit=10)
    assert facts == d.RiskFacts({}, "d1", 1, _history(_expected(10)))
    assert deep == ["_risk_facts", "_history_walk", "_risk_facts"]
    deep.clear()
    assert d.risk_facts([], customer_id="d1", since_ms=T0 + 25 * HOUR, history_limit=10).failed_verifications == 0


def test_a_walk_stepping_over_too_many_later_events_gives_way_to_the_full_read(deep, monkeypatch):
    monkeypatch.setattr(d, "WALK_PAST", 2)
    # a replay at hour 20: nine events lie at or after it, more than the walk steps over
    facts = d.risk_facts([], customer_id="d1", since_ms=T0 + 12 * HOUR, until_ms=T0 + 20 * HOUR, history_limit=10)
    assert facts == d.RiskFacts({}, "d1", 0, _history(_expected(10, T0 + 20 * HOUR)))
    assert deep == ["_risk_facts", "_history_walk", "_risk_facts"]
    deep.clear()
    monkeypatch.setattr(d, "WALK_PAST", 10)
    assert d.risk_facts([], customer_id="d1", since_ms=T0 + 12 * HOUR, until_ms=T0 + 20 * HOUR,
                        history_limit=10) == facts
    assert deep == ["_risk_facts", "_history_walk"]


def _merged_flags(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each risk read made from now on found the caller from the identifiers' start."""
    flags: list[bool] = []
    real = d.prepared.run_values

    def record(build: Any, shape: tuple[Any, ...], **values: Any) -> list[Any]:
        if build is d._risk_facts:
            flags.append(shape[3])
        return real(build, shape, **values)

    monkeypatch.setattr(d.prepared, "run_values", record)
    return flags


def _apart(identifiers: list[tuple[str, str]], phone: str, since_ms: int, **window: Any) -> d.RiskFacts:
    """The risk facts of a call asked about by its phone (and more), read as two questions: the
    identifiers' sharing (no caller named), then the caller found by the phone (no identifier asked about)."""
    shared = d.risk_facts(identifiers, since_ms=since_ms, **window)
    called = d.risk_facts([], phone=phone, since_ms=since_ms, **window)
    return d.RiskFacts(shared.sharing, called.customer, called.failed_verifications, called.history)


@pytest.mark.parametrize("window", [{}, {"until_ms": T0}, {"until_ms": T0 + 1}, {"until_ms": T0 + 6 * HOUR},
                                    {"until_ms": T0 + 6 * HOUR + 1}, {"history_limit": 2},
                                    {"until_ms": T0 + 5 * HOUR, "history_limit": 2}])
def test_a_caller_found_by_a_phone_asked_about_is_read_from_the_identifiers_start(store, monkeypatch, window):
    flags = _merged_flags(monkeypatch)
    for phone in (PHONE[1], "+61499999999"):
        for more in ([], [("email", "ann@example.com")], [("ip", "10.0.0.1"), ("email", "ann@example.com")]):
            identifiers = [*more, ("phone", phone)]
            together = d.risk_facts(identifiers, phone=phone, since_ms=T0 + HOUR, **window)
            assert flags and all(flags)  # with the engine's count, where the history is full within the day
            flags.clear()
            assert together == _apart(identifiers, phone, T0 + HOUR, **window)
            assert flags and not any(flags)
            flags.clear()


def test_a_phone_asked_about_names_its_sharing_and_first_caller(store):
    assert d.risk_facts([PHONE], phone=PHONE[1], since_ms=T0) == d.RiskFacts(
        {"phone:+61400000001": {"customers": 2, "first_seen": T0, "customer": "c1"}}, "c1", 1, _history(C1_HISTORY))
    # before c2's call linked it too, the phone was c1's alone; before c1's first call, nobody's
    assert d.risk_facts([PHONE], phone=PHONE[1], since_ms=T0, until_ms=T0 + 6 * HOUR).sharing == {
        "phone:+61400000001": {"customers": 1, "first_seen": T0, "customer": "c1"}}
    assert d.risk_facts([PHONE], phone=PHONE[1], since_ms=T0, until_ms=T0) == d.RiskFacts(
        {"phone:+61400000001": {"customers": 0, "first_seen": None, "customer": None}}, None, 0)


def test_a_long_callers_phone_asked_about_walks_from_the_identifiers_start(deep, monkeypatch):
    flags = _merged_flags(monkeypatch)
    phone = "+61400000009"
    facts = d.risk_facts([("phone", phone)], phone=phone, since_ms=T0 + 21 * HOUR, history_limit=10)
    assert facts == d.RiskFacts({f"phone:{phone}": {"customers": 1, "first_seen": T0 + 27 * HOUR, "customer": "d1"}},
                                "d1", 1, _history(_expected(10)))
    assert deep == ["_risk_facts", "_history_walk"] and flags == [True]


def test_a_customer_without_a_newest_event_recorded_is_read_in_full(deep):
    from graph import schema

    graph.get_g().V(schema.customer_vid("d1")).properties("last_event").drop().iterate()
    facts = d.risk_facts([], customer_id="d1", since_ms=T0 + 20 * HOUR, history_limit=10)
    assert facts == d.RiskFacts({}, "d1", 1, _history(_expected(10)))
    assert deep == ["_risk_facts", "_risk_facts"]


def test_a_caller_with_no_more_events_than_the_walk_threshold_is_read_once(deep, monkeypatch):
    monkeypatch.setattr(d, "WALK_FROM", 30)  # d1 has exactly 30
    facts = d.risk_facts([], customer_id="d1", since_ms=T0 + 21 * HOUR, history_limit=10)
    assert facts == d.RiskFacts({}, "d1", 1, _history(_expected(10))) and deep == ["_risk_facts"]


def test_only_a_caller_whose_last_read_filled_the_history_is_read_in_the_form_that_walks(deep, monkeypatch):
    monkeypatch.setattr(d, "_history_lengths", OrderedDict())
    first = d.risk_facts([], customer_id="d1", since_ms=T0 + 21 * HOUR, history_limit=10)
    # the first read of d1 in this process orders its events; its history filled the read
    assert first == d.RiskFacts({}, "d1", 1, _history(_expected(10))) and deep == ["_risk_facts"]
    assert d._history_lengths == {"customer:d1": 10}
    deep.clear()
    assert d.risk_facts([], customer_id="d1", since_ms=T0 + 21 * HOUR, history_limit=10) == first
    assert deep == ["_risk_facts", "_history_walk"]
    # c1's six events do not fill a history of 10: c1 is never read in that form
    assert d.risk_facts([], customer_id="c1", since_ms=T0, history_limit=10).history == _history(C1_HISTORY)
    assert d._history_lengths == {"customer:d1": 10}


# Two callers whose 10th and 11th newest events have the same time: t1's pair differs in arrival number,
# t2's only in event id, and each pair is written the later arrival (or larger id) first. The `next`
# chain orders equal times by arrival, then id, and keeps the later; a read ordering by time alone kept
# the earlier on the stores tested, the one written last.
TIED = [EventRecord(event_id=f"{c}w{k}", type="web", channel="web", ts=T0 + k * HOUR, customer_id=c)
        for c in ("t1", "t2") for k in (1, *range(3, 12))]
TIED_PAIRS = {"t1": [EventRecord(event_id="t1-early", type="call", channel="voice", ts=T0 + 2 * HOUR, customer_id="t1",
                                 seq=1),
                     EventRecord(event_id="t1-late", type="verification", channel="voice", ts=T0 + 2 * HOUR,
                                 customer_id="t1", outcome="failed", seq=2)],
              "t2": [EventRecord(event_id="t2-a", type="call", channel="voice", ts=T0 + 2 * HOUR, customer_id="t2"),
                     EventRecord(event_id="t2-b", type="verification", channel="voice", ts=T0 + 2 * HOUR,
                                 customer_id="t2", outcome="failed")]}


@pytest.mark.parametrize("customer", ["t1", "t2"])
def test_events_of_equal_time_at_the_historys_edge_are_kept_in_the_chains_order(store, monkeypatch, customer):
    first, second = TIED_PAIRS[customer]
    journeys.write_events([r for r in TIED if r.customer_id == customer] + [second, first])
    reads = _recorded_reads(monkeypatch)
    monkeypatch.setattr(d, "_history_lengths", OrderedDict())
    newest = [_event(T0 + k * HOUR, "web", "web") for k in range(11, 2, -1)]
    # the 10th event is the pair's later one in the chain: t1-late (arrival 2), t2-b (the larger id)
    expected = _history(newest + [_event(T0 + 2 * HOUR, "verification", "voice", "failed")])
    # (the window starts after the pair: the history reaches past it, so no read counts the checks)
    read = d.risk_facts([], customer_id=customer, since_ms=T0 + 2 * HOUR + 1, history_limit=10)
    assert read.history == expected
    # read once by time, then again with equal times ordered (the tie at the edge is seen)
    assert reads == ["_risk_facts", "_risk_facts"]
    # and the walk back along the chain (a caller read as long) keeps the same events
    monkeypatch.setattr(d, "WALK_FROM", 5)
    reads.clear()
    walked = d.risk_facts([], customer_id=customer, since_ms=T0 + 5 * HOUR, history_limit=10)
    assert reads[:2] == ["_risk_facts", "_history_walk"] and walked.history == expected


def test_calls_of_equal_time_are_read_in_the_chains_order(store, monkeypatch):
    # two calls in the same millisecond, the larger event id written first
    journeys.write_events([
        EventRecord(event_id="q1-a", type="call", channel="voice", ts=T0, customer_id="q1", intent="AC_NE"),
        EventRecord(event_id="q1-c", type="call", channel="voice", ts=T0 + HOUR, customer_id="q1", intent="AC_CL"),
        EventRecord(event_id="q1-b", type="call", channel="voice", ts=T0 + HOUR, customer_id="q1", intent="AC_AS")])
    reads = _recorded_reads(monkeypatch, flag=True)
    # oldest first, equal times as the `next` chain orders them (event id): the newest is q1-c's
    assert d.caller_intents(customer_id="q1") == ("q1", [(T0, "AC_NE"), (T0 + HOUR, "AC_AS"), (T0 + HOUR, "AC_CL")])
    assert d.caller_intents(customer_id="q1", limit=1) == ("q1", [(T0 + HOUR, "AC_CL")])
    assert reads == [("_caller_intents", False), ("_caller_intents", True)] * 2
    reads.clear()
    # a caller without calls of equal time is read once
    assert d.caller_intents(customer_id="c1", limit=1) == ("c1", [(T0 + HOUR, "AC_AS")])
    assert reads == [("_caller_intents", False)]


@pytest.mark.parametrize("written", [("p-a", "p-b"), ("p-b", "p-a")])
def test_a_phone_first_linked_to_two_customers_at_once_names_the_smaller_id_as_the_rest_of_the_hub(store, written):
    phone = ("phone", "+61400000077")
    journeys.write_events([EventRecord(event_id=f"{customer}-1", type="call", channel="voice", ts=T0,
                                       customer_id=customer, identifiers=(phone,), intent=f"AC_{customer[-1].upper()}")
                           for customer in written])
    assert d.customer_for_identifier(*phone) == "p-a"
    for until in (None, T0 + HOUR):
        assert d.caller_intents(phone=phone[1], until_ms=until) == ("p-a", [(T0, "AC_A")])
        facts = d.risk_facts([phone], phone=phone[1], since_ms=T0 - HOUR, until_ms=until)
        assert (facts.customer, facts.sharing["phone:+61400000077"]) == \
            ("p-a", {"customers": 2, "first_seen": T0, "customer": "p-a"})
        assert facts.history == _history([_event(T0, "call", "voice")])
