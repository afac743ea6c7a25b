from rest_framework import serializers

from apps.core.pagination import MAX_LIMIT, MAX_OFFSET


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
    order_by = serializers.RegexField(r"^-?[a-z_]+_score$", required=False,
                                      help_text="a stored score, e.g. churn_score (highest first) or -churn_score")
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=50)
