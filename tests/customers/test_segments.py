"""The segment filter reads the segment index, not every customer's attributes from the graph: at
100,000 customers the graph read alone took over a second (benchmarks/customers_list.py)."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from apps.customers import selectors, services
from apps.customers.models import CustomerSegment
from apps.ingest.services import ingest_records
from graph import journeys

pytestmark = pytest.mark.django_db


def graph_calls() -> float:
    return REGISTRY.get_sample_value("journeyhub_graph_call_seconds_count",
                                     {"backend": "embedded", "outcome": "ok"}) or 0.0


@pytest.fixture
def segmented() -> None:
    """c1 and c3 gold, c2 silver, c4 none: each with a call, c1 and c2 then a chat."""
    rows = [("c1", "call"), ("c2", "call"), ("c3", "call"), ("c4", "call"), ("c1", "chat"), ("c2", "chat")]
    batch = ingest_records(records=[{"customer_id": c, "event_id": f"e{n}", "event_type": t, "channel": "voice",
                                     "timestamp": f"2026-03-01T0{n}:00:00Z"} for n, (c, t) in enumerate(rows)],
                           source="t")
    assert batch.loaded == 6, batch.error
    services.set_attributes({"c1": {"segment": "gold", "name": "Ann"}, "c2": {"segment": "silver"},
                             "c3": {"segment": "gold"}, "c4": {"name": "Dee"}})


def test_a_segment_question_reads_the_index_and_no_customer_from_the_graph(segmented: None,
                                                                            api_client: APIClient) -> None:
    # when
    before = graph_calls()
    gold = api_client.get("/api/journeys/top", {"steps": 2, "segment": "gold"}).json()
    # then: c1 (call, chat) and c3 (call), found without a graph read
    assert graph_calls() - before == 0
    assert [(j["steps"], j["customers"]) for j in gold["journeys"]] == [(["call"], 1), (["call", "chat"], 1)]


def test_the_index_follows_attribute_changes(segmented: None) -> None:
    # when c1 leaves gold and c4 joins silver
    services.set_attributes({"c1": {"name": "Ann"}, "c4": {"segment": "silver"}})
    # then
    assert selectors.customers_in_segment("gold") == ["c3"]
    assert selectors.customers_in_segment("silver") == ["c2", "c4"]
    assert selectors.segments() == {"c2": "silver", "c3": "gold", "c4": "silver"}


def test_reindex_rebuilds_segments_from_the_graph(segmented: None) -> None:
    # given a database that lost its index, and a segment written to the graph directly
    CustomerSegment.objects.all().delete()
    journeys.set_customer_attributes("c4", {"segment": 7})
    # when
    call_command("reindex_customers", stdout=io.StringIO())
    # then
    assert selectors.segments() == {"c1": "gold", "c2": "silver", "c3": "gold", "c4": "7"}


def test_a_segment_too_long_to_index_is_refused_before_anything_is_written(segmented: None) -> None:
    with pytest.raises(ValueError, match="segment longer than 500 characters for customer\\(s\\) c2"):
        services.set_attributes({"c1": {"segment": "bronze"}, "c2": {"segment": "x" * 501}})
    assert journeys.customer_attributes(["c1"]) == {"c1": {"segment": "gold", "name": "Ann"}}
    assert selectors.customers_in_segment("gold") == ["c1", "c3"]
