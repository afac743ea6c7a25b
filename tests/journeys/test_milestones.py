"""Milestones: triggers, reached once (graph edge + reach row), backfill, and signed webhooks with retries
received by a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.journeys import services, webhooks
from apps.journeys.analyzers.milestones import Reach, Trigger, first_reaches
from apps.journeys.models import MilestoneDefinition, MilestoneReach, Webhook, WebhookDelivery
from graph import journeys as graph_journeys
from tests.journeys.conftest import MIN, T0, make_frame, write_journeys


def test_event_type_trigger_takes_the_first_event(journeys):
    reaches = first_reaches(journeys, Trigger(kind="event_type", event_type="call"))

    assert {c: r.ts for c, r in reaches.items()} == {
        "c1": T0 + 10 * MIN, "c2": T0 + 30 * MIN, "c3": T0 + 20 * MIN, "c4": T0, "c6": T0}


def test_sequence_trigger_must_complete_in_order_within_the_window(journeys):
    sequence = ("web_visit", "purchase")

    anytime = first_reaches(journeys, Trigger(kind="sequence", sequence=sequence))
    within_an_hour = first_reaches(journeys, Trigger(kind="sequence", sequence=sequence, window_ms=60 * MIN))

    assert {c: r.ts for c, r in anytime.items()} == {
        "c1": T0 + 60 * MIN, "c2": T0 + 90 * MIN, "c4": T0 + 1500 * MIN}
    assert sorted(within_an_hour) == ["c1", "c4"]


def test_sequence_window_uses_the_latest_start():
    frame = make_frame([("k", 0, "a", "web", None), ("k", 100, "a", "web", None), ("k", 130, "b", "web", None)])

    reaches = first_reaches(frame, Trigger(kind="sequence", sequence=("a", "b"), window_ms=30 * MIN))

    assert reaches == {"k": Reach("k", T0 + 130 * MIN, "k-002")}


def test_attribute_trigger_on_outcome_and_event_attributes(journeys):
    frame = journeys.copy()
    frame.at[0, "attributes"] = {"basket": 120}

    resolved = first_reaches(frame, Trigger(kind="attribute", attribute="outcome", op="eq", value="resolved"))
    big_basket = first_reaches(frame, Trigger(kind="attribute", attribute="basket", op="gte", value="100"))

    assert list(resolved) == ["c6"] and resolved["c6"].ts == T0 + 1500 * MIN
    assert list(big_basket) == ["c1"]


@pytest.fixture
def purchase(db) -> MilestoneDefinition:
    return MilestoneDefinition.objects.create(name="Purchase", slug="purchase", trigger="event_type",
                                              event_type="purchase")


def test_customer_reaches_a_milestone_once(g, purchase):
    write_journeys([("c1", 0, "web_visit", "web", None), ("c1", 60, "purchase", "web", None)])

    first = services.on_events_ingested(["c1"])
    write_journeys([("c1", 120, "purchase", "web", None)])
    second = services.on_events_ingested(["c1"])

    assert (first.milestones_reached, second.milestones_reached) == (1, 0)
    assert list(MilestoneReach.objects.values_list("customer_id", "ts")) == [("c1", T0 + 60 * MIN)]
    assert graph_journeys.reached_customers("purchase") == {"c1": T0 + 60 * MIN}


def test_reach_rows_land_with_every_column_and_a_concurrent_reach_is_not_doubled(purchase):
    """Reach rows go in as one statement; when another worker recorded one of them first, the
    statement fails as a whole and the rows are recorded one by one, each once."""
    MilestoneReach.objects.create(milestone=purchase, customer_id="c2", ts=5, event_id="e-other")
    before = timezone.now()
    rows = [MilestoneReach(milestone=purchase, customer_id=c, ts=ts, event_id=e)
            for c, ts, e in [("c1", 10, "e1"), ("c2", 20, "e2"), ("c3", 30, "e3")]]

    created = services._record_reaches(rows)

    assert [r.customer_id for r in created] == ["c1", "c3"]
    stored = MilestoneReach.objects.order_by("customer_id")
    assert list(stored.values_list("customer_id", "ts", "event_id")) == [
        ("c1", 10, "e1"), ("c2", 5, "e-other"), ("c3", 30, "e3")]
    assert all(r.created_at >= before for r in stored.exclude(customer_id="c2"))

    more = [MilestoneReach(milestone=purchase, customer_id=c, ts=40, event_id="e4") for c in ("c4", "c5")]
    assert services._record_reaches(more) == more  # no conflict: one statement
    assert MilestoneReach.objects.filter(customer_id__in=["c4", "c5"], created_at__gte=before).count() == 2


def test_backfill_command_applies_a_new_definition_to_history(journeys_in_graph, purchase, capsys):
    call_command("backfill_milestones", "purchase")
    call_command("backfill_milestones", "purchase")

    out = capsys.readouterr().out
    assert out == "purchase: 3 customer(s) newly reached\npurchase: 0 customer(s) newly reached\n"
    assert sorted(graph_journeys.reached_customers("purchase")) == ["c1", "c2", "c4"]


def test_backfill_names_unknown_slugs(db):
    with pytest.raises(Exception, match="unknown milestone slug\\(s\\): nope"):
        call_command("backfill_milestones", "nope")


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 answering with the queued status codes and recording requests."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[Any, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.headers, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:  # type: ignore[no-untyped-def]
    """A receiver on loopback, which deliveries may reach only because the test network is allowed."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    server = Receiver([500])
    yield server
    server.close()


def test_webhook_is_signed_and_retried_with_backoff(g, purchase, receiver):
    Webhook.objects.create(name="crm", url=receiver.url, secret="s3cret")
    write_journeys([("c1", 0, "web_visit", "web", None), ("c1", 60, "purchase", "web", None)])
    services.on_events_ingested(["c1"])
    now = timezone.now()

    first = webhooks.deliver_due(now=now)
    too_early = webhooks.deliver_due(now=now + timedelta(seconds=29))
    retry = webhooks.deliver_due(now=now + timedelta(seconds=30))

    assert (first.attempted, first.rescheduled, too_early.attempted, retry.delivered) == (1, 1, 0, 1)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    headers, body = receiver.requests[-1]
    assert webhooks.verify("s3cret", headers["X-JourneyHub-Timestamp"], body, headers["X-JourneyHub-Signature"])
    assert not webhooks.verify("wrong", headers["X-JourneyHub-Timestamp"], body, headers["X-JourneyHub-Signature"])
    assert json.loads(body) == {"event": "milestone.reached", "milestone": "purchase", "milestone_name": "Purchase",
                                "customer_id": "c1", "ts": T0 + 60 * MIN, "event_id": "c1-00060-purchase"}


def test_webhook_gives_up_after_the_last_attempt(db, purchase, settings):  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook = Webhook.objects.create(name="gone", url="http://127.0.0.1:9/unreachable", secret="x")
    delivery = WebhookDelivery.objects.create(webhook=hook, payload={"a": 1}, next_attempt_at=timezone.now())
    now = timezone.now()

    for wait in (0, 30, 120, 600, 3600):
        now += timedelta(seconds=wait)
        webhooks.deliver_due(now=now)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 5, None)
    assert delivery.last_error.startswith("ConnectionRefusedError")


def test_only_subscribed_active_webhooks_get_payloads(g, purchase, receiver):
    other = MilestoneDefinition.objects.create(name="Call", slug="call", trigger="event_type", event_type="call")
    Webhook.objects.create(name="all", url=receiver.url, secret="a")
    Webhook.objects.create(name="off", url=receiver.url, secret="b", active=False)
    Webhook.objects.create(name="calls", url=receiver.url, secret="c").milestones.add(other)
    write_journeys([("c1", 60, "purchase", "web", None)])

    services.on_events_ingested(["c1"])

    assert list(WebhookDelivery.objects.values_list("webhook__name", flat=True)) == ["all"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from("abc"), st.integers(1, 20)), min_size=1, max_size=7),
                min_size=1, max_size=5),
       st.sampled_from([("a", "b"), ("a", "b", "a"), ("c", "c")]), st.sampled_from([None, 15, 40]))
def test_sequence_trigger_equals_exhaustive_search(journeys_spec, sequence, window_min):
    rows, minute = [], 0
    for c, events in enumerate(journeys_spec):
        for kind, gap in events:
            minute += gap
            rows.append((f"k{c}", minute, kind, "web", None))
    frame = make_frame(rows)

    found = first_reaches(frame, Trigger(kind="sequence", sequence=sequence,
                                         window_ms=window_min * MIN if window_min else None))

    expected = {}
    for customer, group in frame.groupby("customer_id"):
        kinds, ts = group["type"].tolist(), group["ts"].tolist()
        ends = [idx[-1] for idx in itertools.combinations(range(len(kinds)), len(sequence))
                if tuple(kinds[i] for i in idx) == sequence
                and (window_min is None or ts[idx[-1]] - ts[idx[0]] <= window_min * MIN)]
        if ends:
            expected[customer] = ts[min(ends)]
    assert {c: r.ts for c, r in found.items()} == expected
