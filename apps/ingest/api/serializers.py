from rest_framework import serializers

from apps.ingest.models import IngestBatch, QuarantinedRow


class IngestBatchSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = IngestBatch
        fields = ["id", "source", "format", "status", "rows_read", "loaded", "duplicates", "updated", "quarantined",
                  "customers_created", "progress", "error", "started", "finished"]


class QuarantinedRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuarantinedRow
        fields = ["row_number", "reason", "raw"]


class EventInSerializer(serializers.Serializer):
    """Documents the event shape; extra keys become event attributes."""

    event_id = serializers.CharField(required=False)
    customer_id = serializers.CharField(required=False)
    event_type = serializers.CharField()
    channel = serializers.CharField()
    timestamp = serializers.CharField(help_text="ISO 8601 with a zone, or epoch seconds/milliseconds")
    phone = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    account_id = serializers.CharField(required=False)
    intent = serializers.CharField(required=False)
    outcome = serializers.CharField(required=False)


class EventsResultSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    received = serializers.IntegerField()
    loaded = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    quarantined = QuarantinedRowSerializer(many=True)
