from typing import Any

from rest_framework import serializers

from apps.conversations import selectors
from apps.core.problems import refuse_reversed


class ContactSearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, default="", allow_blank=True, max_length=500,
                              help_text="words that must all occur in the (redacted) transcript")
    category = serializers.CharField(required=False, default="", allow_blank=True)
    sentiment_min = serializers.FloatField(required=False, min_value=-5, max_value=5,
                                           help_text="customer's overall sentiment, -5 … 5")
    sentiment_max = serializers.FloatField(required=False, min_value=-5, max_value=5)
    duration_min = serializers.IntegerField(required=False, min_value=0, help_text="seconds")
    duration_max = serializers.IntegerField(required=False, min_value=0, help_text="seconds")
    channel = serializers.ChoiceField(required=False, default="", choices=["", "voice", "chat", "task", "email"])
    queue = serializers.CharField(required=False, default="", allow_blank=True)
    agent = serializers.CharField(required=False, default="", allow_blank=True)
    customer_id = serializers.CharField(required=False, default="", allow_blank=True)
    since = serializers.DateTimeField(required=False, help_text="contacts started at or after (ISO 8601)")
    until = serializers.DateTimeField(required=False, help_text="contacts started before (ISO 8601)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A range whose end comes before its start matches nothing: it was answered with an empty page,
        as if no contact fitted, where the journey filters already refused it."""
        if "since" in attrs and "until" in attrs and attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": "must be after since"})
        for low, high in (("sentiment_min", "sentiment_max"), ("duration_min", "duration_max")):
            refuse_reversed(attrs, low, high)
        category = attrs.get("category")
        if category and not selectors.category_known(category):  # it answered an empty page, as if none matched
            known = ", ".join(selectors.category_names()[:30]) or "none: no contact has been analysed"
            raise serializers.ValidationError({"category": f"unknown contact category {category!r}; known: {known}"})
        return attrs


class ContactHitSerializer(serializers.Serializer):
    contact_id = serializers.CharField()
    customer_id = serializers.CharField()
    channel = serializers.CharField()
    initiation_method = serializers.CharField()
    queue = serializers.CharField()
    agent = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    sentiment_customer = serializers.FloatField(allow_null=True)
    sentiment_agent = serializers.FloatField(allow_null=True)
    categories = serializers.ListField(child=serializers.CharField())
    analysis_source = serializers.CharField()
    summary = serializers.CharField()
    snippet = serializers.CharField(help_text="the first turn that says a query word")


class TurnSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    role = serializers.CharField()
    begin_ms = serializers.IntegerField()
    end_ms = serializers.IntegerField()
    content = serializers.CharField(help_text="redacted")
    sentiment = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    marks = serializers.DictField()


class CategorySerializer(serializers.Serializer):
    name = serializers.CharField()
    points = serializers.ListField(child=serializers.DictField(), help_text="points of interest")


class ContactDetailSerializer(ContactHitSerializer):
    disconnect_reason = serializers.CharField()
    has_record = serializers.BooleanField()
    characteristics = serializers.DictField(help_text="sentiment overall and by quarter, interruptions, non-talk "
                                                      "time, talk time and speed")
    summary_items = serializers.DictField()
    redaction = serializers.DictField(help_text="what was redacted, by kind")
    matched = CategorySerializer(many=True)
    links = serializers.ListField(child=serializers.DictField(), help_text="transfers and callbacks")
    turns = TurnSerializer(many=True)
