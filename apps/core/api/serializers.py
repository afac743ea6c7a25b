"""Core API serializers: a background job's status, for whoever queued it and polls its URL."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.models import Job


class JobSerializer(serializers.ModelSerializer):
    status = serializers.CharField(help_text="queued, running, retrying, succeeded or failed")
    result = serializers.JSONField(allow_null=True, help_text="what the job returned, once it succeeded")

    class Meta:
        model = Job
        fields = ["id", "kind", "ref", "status", "attempts", "max_attempts", "created", "started", "finished",
                  "next_attempt", "result", "error"]
        read_only_fields = fields


class JobAcceptedSerializer(JobSerializer):
    """The answer of an endpoint that queued a job (202): the job, and the URL to poll for its status."""

    status_url = serializers.URLField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "status_url"]
        read_only_fields = fields
