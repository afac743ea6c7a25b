"""Serializers of the propensity API: registry entries, training runs and online scores."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.problems import KnownFieldsOnly, ProblemSerializer
from apps.propensity.models import ModelVersion, TrainingRun


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "name", "version", "is_active", "gate", "metrics", "baseline_metrics", "calibration",
                  "features", "params", "train_start", "train_end", "trained_by", "created", "activated_at", "sha256",
                  "artifact"]
        read_only_fields = fields


class ModelSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    active = ModelVersionSerializer(allow_null=True)
    versions = ModelVersionSerializer(many=True)


class ActivateSerializer(KnownFieldsOnly, serializers.Serializer):
    """The version to serve."""

    version = serializers.IntegerField(min_value=1)


class TrainRequestSerializer(KnownFieldsOnly, serializers.Serializer):
    """The window of events to train on, the model's parameters and the seed; each may be left out."""

    since = serializers.DateTimeField(required=False, allow_null=True)
    until = serializers.DateTimeField(required=False, allow_null=True)
    params = serializers.DictField(required=False, default=dict)
    seed = serializers.IntegerField(required=False, default=0)


class TrainingRunSerializer(serializers.ModelSerializer):
    model_version = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "model_name", "status", "progress", "message", "since", "until", "options", "started",
                  "finished", "created", "trained_by", "model_version", "error"]
        read_only_fields = fields

    def get_model_version(self, run: TrainingRun) -> int | None:
        return run.model_version.version if run.model_version else None


class TrainingAcceptedSerializer(TrainingRunSerializer):
    """202 from `train`: the queued run, where to poll it (`status_url`, also the `Location` header) and
    the background job that runs it (its attempts and error: `job_url`)."""

    job_id = serializers.IntegerField(read_only=True)
    job_url = serializers.URLField(read_only=True)
    status_url = serializers.URLField(read_only=True)

    class Meta(TrainingRunSerializer.Meta):
        fields = [*TrainingRunSerializer.Meta.fields, "job_id", "job_url", "status_url"]
        read_only_fields = fields


class TrainingBusySerializer(ProblemSerializer):
    """409 from `train` (problem type `training-in-progress`): the run of the same model already
    queued or running (one at a time)."""

    run = TrainingRunSerializer()


class ContributionSerializer(serializers.Serializer):
    feature = serializers.CharField()
    value = serializers.FloatField()
    contribution = serializers.FloatField(help_text="effect on the model's log-odds")


class CustomerScoreSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    score = serializers.FloatField(help_text="calibrated probability")
    above_threshold = serializers.BooleanField(source="label", allow_null=True,
                                               help_text="score at or above the model's decision threshold")
    contributions = ContributionSerializer(many=True)


class CustomerScoresSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    scores = CustomerScoreSerializer(many=True)


class NextEventSerializer(serializers.Serializer):
    event_type = serializers.CharField(allow_null=True, help_text="null when the journey is predicted to end")
    ends_journey = serializers.BooleanField()
    probability = serializers.FloatField()


class LastEventSerializer(serializers.Serializer):
    event_type = serializers.CharField()
    ts = serializers.IntegerField(help_text="epoch milliseconds")


class CustomerNextEventsSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    model = serializers.CharField()
    version = serializers.IntegerField()
    beats_baseline = serializers.BooleanField(help_text="whether the active version passes the activation gate")
    after = LastEventSerializer(allow_null=True, help_text="the journey's latest event, which the prediction follows")
    next_events = NextEventSerializer(many=True)
