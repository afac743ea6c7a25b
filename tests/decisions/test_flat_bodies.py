"""The fast path's body checks answer exactly as the request serializers do, or step aside."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.decisions.api import serializers as s
from apps.decisions.api.flat_bodies import FlatBody

SERIALIZERS = [s.IntentRequestSerializer, s.RiskRequestSerializer]
KEYS = ["customer_id", "phone", "channel", "contact_id", "at_ms", "email", "ip", "note"]
texts = st.sampled_from(["", "  ", "+61412345678", " c-1 ", "voice", " Chat ", "TASK", "fax", "ann@example.com",
                         "ANN@Example.COM ", "not an email", "a@b", "10.0.0.1", "x\x00y", "\ud800", "é", "Zoë"])
values = (texts | st.text(max_size=220) | st.integers(min_value=-5, max_value=2**63) | st.none() | st.booleans()
          | st.floats(allow_nan=False, allow_infinity=False) | st.just(1.0) | st.just("12"))
bodies = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


def drf(serializer: type[s.CallerWaitingSerializer], body: dict[str, Any]) -> dict[str, Any] | None:
    checked = serializer(data=body)
    return dict(checked.validated_data) if checked.is_valid() else None


@pytest.mark.parametrize("serializer", SERIALIZERS)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_every_body_it_accepts_validates_as_drf_validates_it(serializer, body) -> None:  # type: ignore[no-untyped-def]
    checks = FlatBody(serializer)
    assert checks.usable
    fast = checks.validated(body)
    if fast is not None:
        assert fast == drf(serializer, body)


@pytest.mark.parametrize(("serializer", "body", "expected"), [
    (s.IntentRequestSerializer, {"phone": " +61412345678 ", "contact_id": "c-1"},
     {"phone": "+61412345678", "channel": "VOICE", "contact_id": "c-1"}),
    (s.IntentRequestSerializer, {"customer_id": "c1", "channel": " chat", "at_ms": 5},
     {"customer_id": "c1", "channel": "CHAT", "contact_id": "", "at_ms": 5}),
    (s.RiskRequestSerializer, {"phone": "+61412345678", "email": " ANN@Example.com ", "ip": ""},
     {"phone": "+61412345678", "email": "ANN@Example.com", "ip": "", "channel": "VOICE", "contact_id": ""}),
])
def test_the_ordinary_bodies_are_checked_without_drf(serializer, body, expected) -> None:  # type: ignore[no-untyped-def]
    assert FlatBody(serializer).validated(body) == expected == drf(serializer, body)


@pytest.mark.parametrize(("serializer", "body"), [
    (s.IntentRequestSerializer, {"contact_id": "c-1"}),  # neither caller field: the serializer's validate()
    (s.IntentRequestSerializer, {"phone": 61412345678}),  # a number where text belongs
    (s.IntentRequestSerializer, {"phone": "+614", "at_ms": "5"}),  # DRF reads "5"; its answer, not ours
    (s.IntentRequestSerializer, {"phone": "+614", "channel": "fax"}),
    (s.IntentRequestSerializer, {"phone": "+614", "contact_id": "x" * 101}),
    (s.RiskRequestSerializer, {"phone": "+614", "email": "not an email"}),
    (s.RiskRequestSerializer, {"phone": "+614", "ip": "10.0.0.1"}),  # IP addresses are DRF's to parse
    (s.RiskRequestSerializer, {"phone": "+614", "contact_id": None}),
    (s.IntentRequestSerializer, {"customer_id": "c1", "note": "x"}),  # a field it does not have: DRF names it
])
def test_anything_else_is_left_to_drf(serializer, body) -> None:  # type: ignore[no-untyped-def]
    assert FlatBody(serializer).validated(body) is None
