"""Request bodies of the decision endpoints validate the same with one bound set of fields per class."""
from __future__ import annotations

from apps.decisions.api.serializers import IntentRequestSerializer, RiskRequestSerializer


def test_every_request_of_a_class_validates_with_the_same_fields_and_its_own_values() -> None:
    # given two intent requests, one by phone on chat, one by customer id
    first = IntentRequestSerializer(data={"phone": "+61412345678", "channel": "chat", "at_ms": 5})
    second = IntentRequestSerializer(data={"customer_id": "c1"})
    # when both are validated
    assert first.is_valid() and second.is_valid()
    # then they shared the fields but not their values or defaults
    assert first.fields is second.fields
    assert dict(first.validated_data) == {"phone": "+61412345678", "channel": "CHAT", "contact_id": "", "at_ms": 5}
    assert dict(second.validated_data) == {"customer_id": "c1", "channel": "VOICE", "contact_id": ""}


def test_each_class_has_its_own_fields_and_errors_name_them() -> None:
    bad = RiskRequestSerializer(data={"phone": "+61412345678", "email": "not-an-email", "ip": "999.1.1.1"})
    assert not bad.is_valid()
    assert sorted(bad.errors) == ["email", "ip"]
    assert not IntentRequestSerializer(data={"channel": "FAX"}).is_valid()
    assert RiskRequestSerializer().fields is not IntentRequestSerializer().fields
    assert list(RiskRequestSerializer().fields) == ["phone", "email", "ip", "customer_id", "channel", "contact_id",
                                                   "at_ms"]
