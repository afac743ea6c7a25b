"""Request and response shapes of the decision endpoints (what Connect's Lambda sends and reads)."""
from __future__ import annotations

from typing import Any, ClassVar

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from apps.core.pagination import MAX_OFFSET
from apps.core.problems import KnownFieldsOnly, TextField

CHANNELS = ("VOICE", "CHAT", "TASK", "EMAIL")


class CallerWaitingSerializer(KnownFieldsOnly, serializers.Serializer):
    """A flat request body a contact flow sends while a caller waits. A field it does not have is
    refused by name (`{"chanel": "CHAT"}` was read as a voice call): a flow's author sees the typo on
    the first test call, where a quiet default would skew every decision after it.

    For every instance DRF deep-copies each declared field, which runs each field's constructor
    again: for these bodies that costs about five times the validation itself. Their fields hold no
    per-request state (no context, no instance, no nested serializers), so each class binds one set
    of fields to a blank instance of itself, once, and every request validates with that set."""

    _shared_fields: ClassVar[BindingDict | None] = None

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            blank = cls()
            shared = BindingDict(blank)
            for name, field in blank.get_fields().items():
                shared[name] = field
            cls._shared_fields = shared
        return shared


@extend_schema_field({"type": "string", "pattern": r"^\s*(" + "|".join(
    "".join(f"[{c.upper()}{c.lower()}]" for c in channel) for channel in CHANNELS) + r")\s*$",
    "description": f"one of {', '.join(CHANNELS)} (any case)"})
class _ChannelField(TextField):
    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data)).upper()
        if value not in CHANNELS:
            raise serializers.ValidationError(f"unknown channel {value!r}; one of {', '.join(CHANNELS)}")
        return value


class IntentRequestSerializer(CallerWaitingSerializer):
    """Who is calling (customer id or phone), on which channel and contact: asks why they are calling."""

    customer_id = TextField(required=False, allow_blank=True, max_length=200)
    phone = TextField(required=False, allow_blank=True, max_length=40,
                                  help_text="E.164, e.g. +61412345678 (Connect's CustomerEndpoint.Address).")
    channel = _ChannelField(required=False, default="VOICE")
    contact_id = TextField(required=False, allow_blank=True, default="", max_length=100)
    at_ms = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET,
                                     help_text="Time of the call in epoch ms (default: now); used by replays.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("customer_id") and not attrs.get("phone"):
            raise serializers.ValidationError({"customer_id": "give customer_id or phone"})
        return attrs


class FeedbackRequestSerializer(CallerWaitingSerializer):
    """The intent a caller confirmed on a contact; the caller's next prediction takes it into account."""

    contact_id = TextField(max_length=100)
    intent = TextField(max_length=40, validators=[RegexValidator(
        r"^[A-Za-z0-9_.-]+$", "must be 1-40 letters, digits, '_', '.' or '-'")])
    customer_id = TextField(required=False, allow_blank=True, max_length=200)
    phone = TextField(required=False, allow_blank=True, max_length=40)
    channel = _ChannelField(required=False)
    at_ms = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)


@extend_schema_field({"anyOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"},
                               {"type": "string", "maxLength": 0}]})
class _IpField(serializers.IPAddressField):
    """An IPv4 or IPv6 address, or blank: the schema names both formats, so a client (or a schema
    checker) knows that any other text is refused."""


class RiskRequestSerializer(CallerWaitingSerializer):
    """Who is calling (phone, e-mail, IP address or customer id) on which contact: asks how risky the call is."""

    phone = TextField(required=False, allow_blank=True, max_length=40)
    email = serializers.EmailField(required=False, allow_blank=True)
    ip = _IpField(required=False, allow_blank=True)
    customer_id = TextField(required=False, allow_blank=True, max_length=200)
    channel = _ChannelField(required=False, default="VOICE")
    contact_id = TextField(required=False, allow_blank=True, default="", max_length=100)
    at_ms = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("customer_id") and not attrs.get("phone"):
            raise serializers.ValidationError({"phone": "give phone or customer_id"})
        return attrs


class AlternativeSerializer(serializers.Serializer):
    intent = serializers.CharField()
    top_level_intent = serializers.CharField()
    confidence = serializers.FloatField()


class IntentResponseSerializer(serializers.Serializer):
    intent = serializers.CharField(allow_null=True)
    top_level_intent = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField()
    alternatives = AlternativeSerializer(many=True)
    action = serializers.ChoiceField(choices=["confirm", "suggest", "menu"])
    reason = serializers.CharField()
    model_version = serializers.CharField(allow_blank=True)
    customer_id = serializers.CharField(allow_null=True)
    thresholds = serializers.DictField(child=serializers.FloatField())


class FeedbackResponseSerializer(serializers.Serializer):
    contact_id = serializers.CharField()
    intent = serializers.CharField()
    customer_id = serializers.CharField(allow_null=True)
    event_id = serializers.CharField()
    updated = serializers.BooleanField()


class RiskResponseSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=0, max_value=1000)
    outcome = serializers.CharField()
    rule = serializers.CharField()
    reasons = serializers.ListField(child=serializers.DictField())
    variables = serializers.DictField()
    model_version = serializers.CharField(allow_blank=True)
    customer_id = serializers.CharField(allow_null=True)


class ProfileSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    phone = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    customer_class = serializers.CharField(allow_blank=True)
    recent_contacts = serializers.ListField(child=serializers.DictField())
    open_issues = serializers.ListField(child=serializers.DictField())


class MonitorQuerySerializer(serializers.Serializer):
    """Which decisions the monitor sums up: all of them unless narrowed."""

    since = serializers.DateTimeField(required=False, help_text=(
        "only decisions made at or after this time (ISO 8601, e.g. 2026-12-01T00:00:00Z); a busy hub's "
        "whole log is millions of rows"))
    kind = serializers.ChoiceField(choices=["intent", "risk"], required=False)
    channel = _ChannelField(required=False)


class LatencySerializer(serializers.Serializer):
    p50 = serializers.FloatField()
    p99 = serializers.FloatField()


class KindMonitorSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    mix = serializers.DictField(child=serializers.IntegerField(), help_text="decisions by action or outcome")
    versions = serializers.DictField(child=serializers.IntegerField(), help_text="decisions by model version")
    latency_ms = LatencySerializer(help_text="time in the hub, median and 99th percentile")


class MonitorSerializer(serializers.Serializer):
    """Each kind that has decisions under the filters; a kind with none is left out."""

    intent = KindMonitorSerializer(required=False)
    risk = KindMonitorSerializer(required=False)
