"""Any bad value in any field quarantines its row with a reason and the good rows of the same request
land: non-finite and out-of-range times, JSON objects where a value belongs, text the stores cannot hold."""
from __future__ import annotations

import json

import pytest

from graph import journeys

pytestmark = pytest.mark.django_db

GOOD = {"customer_id": "c1", "event_type": "call", "channel": "voice", "timestamp": "2026-02-01T00:00:00Z"}

CASES = [
    ({"timestamp": "inf"}, "timestamp 'inf' is not a finite number"),
    ({"timestamp": "-Infinity"}, "timestamp '-Infinity' is not a finite number"),
    ({"timestamp": "nan"}, "timestamp 'nan' is not a finite number"),
    ({"timestamp": 1e29}, "timestamp '1e+29' is out of range: event times must fall between 1970-01-01 and "
                          "2199-12-31 (UTC)"),
    ({"timestamp": -1e15}, "timestamp '-1000000000000000.0' is out of range: event times must fall between "
                           "1970-01-01 and 2199-12-31 (UTC)"),
    ({"timestamp": "9999-12-31T23:59:59+14:00"}, "timestamp '9999-12-31T23:59:59+14:00' is out of range: event "
                                                 "times must fall between 1970-01-01 and 2199-12-31 (UTC)"),
    ({"timestamp": "0001-01-01T00:00:00-12:00"}, "timestamp '0001-01-01T00:00:00-12:00' is out of range: event "
                                                 "times must fall between 1970-01-01 and 2199-12-31 (UTC)"),
    ({"customer_id": {"id": 1}}, "customer_id must be a single value, not a JSON dict"),
    ({"channel": ["voice"]}, "channel must be a single value, not a JSON list"),
    ({"customer_id": "c\x00"}, "customer_id contains a NUL character"),
    ({"event_type": "\ud800call"}, "event_type is not valid Unicode text (surrogates not allowed at position 0)"),
    ({"note": "\udfff"}, "attribute 'note' is not valid Unicode text (surrogates not allowed at position 1)"),
    ({"phone": "call me"}, "phone 'call me' cannot be read: The string supplied did not seem to be a phone number."),
    ({"phone": "+61 4"}, "phone '+61 4' cannot be read: The string supplied is too short to be a phone number."),
    ({"phone": "+1 555 01"}, "phone '+1 555 01' is not a possible number"),
    ({"phone": "04"}, "phone '04' is not a possible number (read in region AU)"),
]


@pytest.mark.parametrize(("bad", "reason"), CASES)
def test_a_bad_value_quarantines_only_its_row(api_client, bad: dict, reason: str) -> None:  # type: ignore[no-untyped-def]
    rows = [{**GOOD, "event_id": "good-1"}, {**GOOD, "event_id": "bad", **bad}, {**GOOD, "event_id": "good-2"}]

    response = api_client.post("/api/events", json.dumps(rows), content_type="application/json")  # \u escapes

    body = response.json()
    assert response.status_code == 201
    assert (body["received"], body["loaded"]) == (3, 2)
    assert [(q["row_number"], q["reason"]) for q in body["quarantined"]] == [(2, reason)]
    assert sorted(e["event_id"] for e in journeys.customer_events("c1")) == ["good-1", "good-2"]


def test_nan_and_infinity_literals_from_python_clients_are_quarantined_not_refused(api_client) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps([{**GOOD, "event_id": "good"}, {**GOOD, "event_id": "nan", "timestamp": float("nan")},
                       {**GOOD, "event_id": "inf", "timestamp": float("inf")},
                       {**GOOD, "event_id": "attr", "score": float("-inf")}])

    response = api_client.post("/api/events", body, content_type="application/json")

    quarantined = response.json()["quarantined"]
    assert (response.status_code, response.json()["loaded"]) == (201, 1)
    assert [(q["row_number"], q["reason"]) for q in quarantined] == [
        (2, "timestamp 'nan' is not a finite number"), (3, "timestamp 'inf' is not a finite number"),
        (4, "attribute 'score' cannot be stored (ValueError: Out of range float values are not JSON compliant)")]
    assert quarantined[0]["raw"]["timestamp"] == "nan"
