"""Query-parameter and response serializers of the journeys API. Query serializers turn strings into
typed, range-checked values so bad input is a 400 naming the parameter."""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.pagination import MAX_OFFSET
from apps.core.permissions import is_admin
from apps.core.problems import STRICT_FIELDS, KnownFieldsOnly, TextField, refuse_reversed
from apps.journeys.analyzers.base import CleaningRule
from apps.journeys.analyzers.funnels import MAX_FUNNEL_STEPS
from apps.journeys.analyzers.paths import MAX_PATH_STEPS
from apps.journeys.models import (
    KpiDefinition,
    MilestoneDefinition,
    MilestoneReach,
    Webhook,
    WebhookDelivery,
    kpi_slice_error,
    trigger_errors,
)
from apps.journeys.selectors import JourneyFilters
from apps.journeys.webhook_transport import UnsafeTarget, check_url

MAX_WINDOW_HOURS = 24 * 366 * 100  # a century, longer than any journey


@extend_schema_field({"type": "string", "pattern": r"[^,\s]"})
class CsvListField(serializers.Field):
    """A comma-separated list in one query parameter ("a,b,c")."""

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, str):
            raise serializers.ValidationError("give a comma-separated list")
        items = [item.strip() for item in data.split(",") if item.strip()]
        if not items:
            raise serializers.ValidationError("give at least one value (comma separated)")
        return items

    def to_representation(self, value: Any) -> str:
        return ",".join(value)


def _ms(value: date | datetime, end: bool = False) -> int:
    """Dates are whole UTC days: `since` from the day's start, `until` up to the day's end."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min, tzinfo=UTC)
        if end:
            return int(value.timestamp() * 1000) + 86_400_000
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


@extend_schema_field({"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]})
class FlexibleDateTimeField(serializers.Field):
    """An ISO date (2026-01-05) or date-time (2026-01-05T10:00:00Z)."""

    def to_internal_value(self, data: Any) -> date | datetime:
        text = str(data).strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise serializers.ValidationError(f"{text!r} is not an ISO date or date-time") from exc

    def to_representation(self, value: Any) -> str:
        return value.isoformat()


class FilterQuerySerializer(serializers.Serializer):
    since = FlexibleDateTimeField(required=False, help_text="ISO date or date-time (inclusive)")
    until = FlexibleDateTimeField(required=False, help_text="ISO date (inclusive day) or date-time (exclusive)")
    channel = CsvListField(required=False, help_text="only events on these channels, e.g. phone,chat")
    segment = serializers.CharField(required=False, help_text="only customers with this segment attribute")
    attribute = serializers.RegexField(r":", required=False, help_text="only customers with attribute key:value",
                                       error_messages={"invalid": "use key:value, e.g. plan:gold"})
    milestone = serializers.SlugField(required=False, help_text="only customers who reached this milestone")
    category = CsvListField(required=False, help_text="only customers with a contact that matched one of these "
                            "categories (paths anchored on an event start or end at such a contact)")
    sentiment_min = serializers.FloatField(required=False, min_value=-5, max_value=5,
                                           help_text="only customers with a contact whose customer sentiment "
                                                     "(-5…5) is at least this")
    sentiment_max = serializers.FloatField(required=False, min_value=-5, max_value=5,
                                           help_text="… and at most this")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "since" in attrs and "until" in attrs and _ms(attrs["since"]) >= _ms(attrs["until"], end=True):
            raise serializers.ValidationError({"until": "must be after since"})
        refuse_reversed(attrs, "sentiment_min", "sentiment_max")
        return attrs

    def filters(self) -> JourneyFilters:
        data = self.validated_data
        attributes = dict([data["attribute"].split(":", 1)]) if "attribute" in data else {}
        return JourneyFilters(since_ms=_ms(data["since"]) if "since" in data else None,
                              until_ms=_ms(data["until"], end=True) if "until" in data else None,
                              channels=tuple(data.get("channel", ())), segment=data.get("segment"),
                              attributes=attributes, milestone=data.get("milestone"),
                              categories=tuple(data.get("category", ())), sentiment_min=data.get("sentiment_min"),
                              sentiment_max=data.get("sentiment_max"))


class TopQuerySerializer(FilterQuerySerializer):
    steps = serializers.IntegerField(min_value=1, max_value=20, default=5, help_text="journey length K")
    with_channel = serializers.BooleanField(default=False, help_text="labels as type@channel")
    limit = serializers.IntegerField(min_value=1, max_value=500, default=20)


class PathsQuerySerializer(FilterQuerySerializer):
    start_event = serializers.CharField(required=False, help_text="what happens after this event")
    end_event = serializers.CharField(required=False, help_text="what led to this event")
    steps = serializers.IntegerField(min_value=1, max_value=MAX_PATH_STEPS, default=5)
    min_count = serializers.IntegerField(min_value=1, default=1, help_text="rarer branches fold into 'other'")
    with_channel = serializers.BooleanField(default=False)
    collapse_repeats = serializers.BooleanField(default=False, help_text="merge consecutive equal steps")
    clean = serializers.ListField(child=serializers.CharField(), required=False,
                                  help_text="repeatable cleaning rule 'regex=>replacement', e.g. ^CC_.*=>CC")

    def validate_clean(self, value: list[str]) -> list[CleaningRule]:
        rules = []
        for item in value:
            if "=>" not in item:
                raise serializers.ValidationError(f"{item!r}: use 'regex=>replacement'")
            pattern, replacement = item.split("=>", 1)
            rules.append(CleaningRule(pattern, replacement))
        return rules

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("start_event") and attrs.get("end_event"):
            raise serializers.ValidationError({"end_event": "give start_event or end_event, not both"})
        return attrs


class FunnelQuerySerializer(FilterQuerySerializer):
    steps = CsvListField(help_text="event types in order, comma separated, e.g. web_visit,cart,purchase")
    window_hours = serializers.FloatField(required=False, min_value=0.001, max_value=MAX_WINDOW_HOURS,
                                          help_text="conversion window")
    by_channel = serializers.BooleanField(default=False, help_text="break down by the entry event's channel")

    def validate_steps(self, value: list[str]) -> list[str]:
        if len(value) > MAX_FUNNEL_STEPS:
            raise serializers.ValidationError(f"at most {MAX_FUNNEL_STEPS} steps, got {len(value)}")
        return value

    def window_ms(self) -> int | None:
        hours = self.validated_data.get("window_hours")
        return int(hours * 3_600_000) if hours is not None else None


class FunnelCustomersQuerySerializer(FunnelQuerySerializer):
    step = serializers.IntegerField(min_value=1, help_text="1-based funnel step")
    dropped = serializers.BooleanField(default=False, help_text="customers who reached the step but not the next")
    entry_channel = serializers.CharField(required=False, help_text="only customers who entered on this channel")
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=10_000, default=100)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs["step"] > len(attrs["steps"]):
            raise serializers.ValidationError({"step": f"the funnel has {len(attrs['steps'])} steps"})
        return attrs


class DfgQuerySerializer(FilterQuerySerializer):
    with_channel = serializers.BooleanField(default=False)


class SimilarityQuerySerializer(serializers.Serializer):
    customer_id = serializers.CharField(required=False)
    sequence = CsvListField(required=False, help_text="event types in order, comma separated")
    threshold = serializers.FloatField(min_value=0.0001, max_value=1.0, default=0.5)
    k = serializers.IntegerField(min_value=1, max_value=100, default=10)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("customer_id" in attrs) == ("sequence" in attrs):
            raise serializers.ValidationError({"customer_id": "give customer_id or sequence (not both)"})
        return attrs


class KpiSeriesQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "week"], default="day")
    dimension = serializers.ChoiceField(choices=["all", "channel", "segment"], default="all")
    value = serializers.CharField(required=False, default="", allow_blank=True,
                                  help_text="the channel or segment when dimension is not 'all'")
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problem = kpi_slice_error(attrs["dimension"], attrs["value"])
        if problem:
            raise serializers.ValidationError({"value": problem})
        return attrs


class KpiWidgetQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "week"], default="day")


# ---------------------------------------------------------------- responses


class JourneyCountSerializer(serializers.Serializer):
    steps = serializers.ListField(child=serializers.CharField())
    customers = serializers.IntegerField()
    share = serializers.FloatField()
    median_duration_ms = serializers.FloatField()


class TopJourneysSerializer(serializers.Serializer):
    total_customers = serializers.IntegerField()
    max_steps = serializers.IntegerField()
    journeys = JourneyCountSerializer(many=True)


class PathNodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    step = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]
    customers = serializers.IntegerField()
    dropped = serializers.IntegerField()


class PathLinkSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]
    target = serializers.CharField()
    customers = serializers.IntegerField()


class PathStepSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    customers = serializers.IntegerField()
    dropped = serializers.IntegerField()
    dropoff_rate = serializers.FloatField()


class PathResultSerializer(serializers.Serializer):
    direction = serializers.CharField()
    anchor = serializers.CharField(allow_null=True)
    total_customers = serializers.IntegerField()
    anchored_customers = serializers.IntegerField()
    nodes = PathNodeSerializer(many=True)
    links = PathLinkSerializer(many=True)
    steps = PathStepSerializer(many=True)


class FunnelStepSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    event = serializers.CharField()
    customers = serializers.IntegerField()
    conversion_from_start = serializers.FloatField()
    conversion_from_previous = serializers.FloatField()
    dropped = serializers.IntegerField()
    median_ms_from_previous = serializers.FloatField(allow_null=True)


class FunnelResultSerializer(serializers.Serializer):
    events = serializers.ListField(child=serializers.CharField())
    window_ms = serializers.IntegerField(allow_null=True)
    conversion = serializers.FloatField()
    steps = FunnelStepSerializer(many=True)
    by_channel = serializers.DictField(child=FunnelStepSerializer(many=True))


class DfgEdgeSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]
    target = serializers.CharField()
    count = serializers.IntegerField()


class DfgSerializer(serializers.Serializer):
    edges = DfgEdgeSerializer(many=True)
    start = serializers.DictField(child=serializers.IntegerField())
    end = serializers.DictField(child=serializers.IntegerField())


class SimilarJourneySerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    score = serializers.FloatField()
    journey = serializers.ListField(child=serializers.CharField())
    shared = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))


class SimilarityResultSerializer(serializers.Serializer):
    query = serializers.ListField(child=serializers.CharField())
    threshold = serializers.FloatField()
    similar_customers = serializers.IntegerField()
    top = SimilarJourneySerializer(many=True)


class KpiDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = KpiDefinition
        fields = ["slug", "name", "kind", "description", "params", "unit", "active"]


class KpiPointSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    value = serializers.FloatField()
    numerator = serializers.FloatField()
    denominator = serializers.FloatField()


class KpiSeriesSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    period = serializers.CharField()
    dimension = serializers.CharField()
    dimension_value = serializers.CharField()
    points = KpiPointSerializer(many=True)
    dimensions = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class MilestoneDefinitionSerializer(KnownFieldsOnly, serializers.ModelSerializer):
    """A milestone: what a customer must do to reach it (its trigger), and how many have."""

    serializer_field_mapping = STRICT_FIELDS
    reached = serializers.IntegerField(read_only=True, source="reaches.count")
    sequence = serializers.ListField(child=TextField(max_length=120), required=False,
                                     help_text='event types in order, e.g. ["cart", "purchase"]')

    class Meta:
        model = MilestoneDefinition
        fields = ["slug", "name", "trigger", "event_type", "sequence", "window_seconds", "attribute", "op", "value",
                  "active", "created_at", "reached"]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {f: attrs.get(f, getattr(self.instance, f, "")) for f in
                  ("trigger", "event_type", "sequence", "attribute", "op")}
        errors = trigger_errors(merged["trigger"], merged["event_type"], merged["sequence"] or [],
                                merged["attribute"], merged["op"])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class MilestoneReachSerializer(serializers.ModelSerializer):
    class Meta:
        model = MilestoneReach
        fields = ["customer_id", "ts", "event_id", "created_at"]


class WebhookSerializer(KnownFieldsOnly, serializers.ModelSerializer):
    """Where milestone reaches are sent, signed with the secret."""

    serializer_field_mapping = STRICT_FIELDS
    secret = serializers.CharField(write_only=True, min_length=8, help_text="HMAC key; never returned")
    milestones = serializers.SlugRelatedField(slug_field="slug", many=True, required=False,
                                              queryset=MilestoneDefinition.objects.all())

    class Meta:
        model = Webhook
        fields = ["id", "name", "url", "secret", "active", "milestones", "created_at"]
        read_only_fields = ["id", "created_at"]

    def to_internal_value(self, data: Any) -> Any:
        """`milestones` is a list of slugs (an object would be read as its keys)."""
        if isinstance(data, dict) and "milestones" in data and not isinstance(data["milestones"], list):
            raise serializers.ValidationError({"milestones": ["Expected a list of milestone slugs."]})
        return super().to_internal_value(data)

    def validate_url(self, value: str) -> str:
        try:
            check_url(value)
        except UnsafeTarget as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """The receiver's status code and error text go to admins (and `manage` keys) only: for anyone
    else they would map which hosts and ports answer behind the hub."""

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "payload", "status", "attempts", "next_attempt_at", "last_status_code",
                  "last_error", "created_at", "delivered_at"]

    def to_representation(self, instance: WebhookDelivery) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not is_admin(request):
            data["last_status_code"], data["last_error"] = None, ""
        return data
