from typing import Any, cast

from rest_framework import serializers

from apps.core.pagination import MAX_LIMIT, MAX_OFFSET
from apps.propensity.specs import get_spec, spec_names


def stored_scores() -> list[str]:
    """The customer properties models write their scores to (churn_score, csat_low_score), by name."""
    return sorted({prop for prop in (get_spec(name).score_property for name in spec_names()) if prop})


class IdentifierSerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()
    first_seen = serializers.IntegerField(help_text="epoch ms")


class CustomerSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    first_seen = serializers.IntegerField(help_text="epoch ms")
    last_seen = serializers.IntegerField(help_text="epoch ms")
    attributes = serializers.DictField()
    identifiers = IdentifierSerializer(many=True)
    events_by_channel = serializers.DictField(child=serializers.IntegerField())
    event_count = serializers.IntegerField()


class EventSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    customer_id = serializers.CharField()
    type = serializers.CharField()
    channel = serializers.CharField()
    ts = serializers.IntegerField(help_text="epoch ms")
    source = serializers.CharField()  # type: ignore[assignment]
    intent = serializers.CharField(allow_null=True)
    outcome = serializers.CharField(allow_null=True)
    attributes = serializers.DictField()


class CustomerListQuerySerializer(serializers.Serializer):
    identifier = serializers.CharField(required=False, help_text="kind:value, e.g. phone:+61412345678")
    order_by = serializers.ChoiceField(choices=[], required=False, help_text=(
        "a score the models store, highest first (churn_score) or lowest first (-churn_score)"))
    after = serializers.CharField(required=False, help_text=(
        "the page after this customer id (the `next` link carries it); not with order_by, before or an "
        "offset"))
    before = serializers.CharField(required=False, help_text=(
        "the page before this customer id (the `previous` link carries it); not with order_by, after or an "
        "offset"))
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=50)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the models that store a score on customers register when their app is ready: read then, not at import
        scores = stored_scores()
        field = cast(serializers.ChoiceField, self.fields["order_by"])
        field.choices = [order for name in scores for order in (name, f"-{name}")]
        field.error_messages["invalid_choice"] = (
            "{input!r} is not a stored score: the scores are " + ", ".join(scores) +
            " (highest first; with '-' before, lowest first)")

    def validate(self, attrs: dict) -> dict:
        if "after" in attrs and "before" in attrs:
            raise serializers.ValidationError({"before": ["give after or before, not both"]})
        if "order_by" in attrs and ("after" in attrs or "before" in attrs):
            raise serializers.ValidationError({"order_by": [
                "a list ordered by a score pages by offset; after and before page the list by id"]})
        # each of these was answered as if the other parameter were not there
        if "order_by" in attrs and "identifier" in attrs:
            raise serializers.ValidationError({"order_by": [
                "a list ordered by a score is of every customer; the customers linked to an identifier are "
                "listed by id"]})
        if attrs.get("offset") and ("after" in attrs or "before" in attrs):
            raise serializers.ValidationError({"offset": [
                "a page after or before a customer id starts there; offset is not read with them"]})
        return attrs
