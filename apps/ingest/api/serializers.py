from rest_framework import serializers

from apps.core.problems import ProblemSerializer
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


EVENT_FIELDS = {
    "customer_id": "the customer's id (or give phone, email or account_id)",
    "event_id": "unique per event; derived from the event's content when missing",
    "event_type": "required, e.g. web_visit",
    "channel": "required, e.g. web, voice, chat",
    "timestamp": "required: ISO 8601 with a zone, or epoch seconds or milliseconds (1970-2199 UTC)",
    "phone": "normalised to E.164", "email": "lowercased", "account_id": "an account number",
    "intent": "the contact's intent, if known", "outcome": "the contact's outcome, if known",
}
# Each event is checked on its own: a bad one is quarantined with its reason (in the answer) and
# the others land, so the request body itself only has to be one event or a list of 1-10,000.
EVENT = {"type": "object", "additionalProperties": True,
         "description": "One event. Fields: " + "; ".join(f"`{k}`: {v}" for k, v in EVENT_FIELDS.items())
         + ". Any other field becomes an event attribute. An event that is not valid is quarantined "
           "with its reason and the others land.",
         "example": {"customer_id": "c-1001", "event_type": "web_visit", "channel": "web",
                     "timestamp": "2026-02-01T09:30:00Z", "page": "/pricing"}}
EVENTS_REQUEST = {"oneOf": [EVENT, {"type": "array", "items": EVENT, "minItems": 1, "maxItems": 10_000}]}


class EventsResultSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    received = serializers.IntegerField()
    loaded = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    quarantined = QuarantinedRowSerializer(many=True)


class EventsQuarantinedProblemSerializer(ProblemSerializer):
    """Every event was quarantined: the problem, with the batch's figures and each event's reason."""

    batch = serializers.IntegerField(required=False, help_text="events-quarantined only: the ingest batch")
    received = serializers.IntegerField(required=False)
    loaded = serializers.IntegerField(required=False)
    duplicates = serializers.IntegerField(required=False)
    quarantined = QuarantinedRowSerializer(many=True, required=False,
                                           help_text="events-quarantined only: each event's row number and reason")
