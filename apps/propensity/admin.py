"""Admin for the model registry: metrics beside the baseline, activate and roll back (both audited)."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin_mixins import AuditedAdminMixin
from apps.propensity import registry
from apps.propensity.models import ActivationPolicy, ModelVersion, TrainingRun


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None else str(value)


def _pair(version: ModelVersion, metric: str) -> str:
    model, base = version.metrics.get(metric), version.baseline_metrics.get(metric)
    if model is None and base is None:
        return "–"
    return f"{_number(model)} / {_number(base)}"


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "is_active", "beats_baseline", "auc_vs_baseline", "f1_vs_baseline",
                    "trained_by", "created", "activated_at"]
    list_filter = ["name", "is_active"]
    search_fields = ["name", "trained_by"]
    actions = ["activate_selected", "roll_back"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]

    @admin.display(description="Beats its baseline (gate, current margin)", boolean=True)
    def beats_baseline(self, obj: ModelVersion) -> bool:
        from apps.propensity.gate import judge_version

        return judge_version(obj).qualifies

    @admin.display(description="AUC (model / baseline)")
    def auc_vs_baseline(self, obj: ModelVersion) -> str:
        return _pair(obj, "auc")

    @admin.display(description="F1 (model / baseline)")
    def f1_vs_baseline(self, obj: ModelVersion) -> str:
        return _pair(obj, "f1")

    @admin.action(description="Activate the selected version (one per model)")
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        by_name: dict[str, list[ModelVersion]] = {}
        for version in queryset:
            by_name.setdefault(version.name, []).append(version)
        for name, versions in by_name.items():
            if len(versions) > 1:
                self.message_user(request, f"{name}: select one version to activate", messages.ERROR)
                continue
            registry.activate(name=name, version=versions[0].version, user=request.user)
            self.message_user(request, f"{name} v{versions[0].version} is now active", messages.SUCCESS)

    @admin.action(description="Roll back to the previously active version")
    def roll_back(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for name in sorted({v.name for v in queryset}):
            try:
                version = registry.rollback(name=name, user=request.user)
            except registry.RegistryError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{name} rolled back to v{version.version}", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Versions are created by training, which also stores the model file."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["model_name", "status", "progress", "message", "created", "finished", "model_version"]
    list_filter = ["model_name", "status"]
    readonly_fields = [f.name for f in TrainingRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ActivationPolicy)
class ActivationPolicyAdmin(AuditedAdminMixin):
    """The activation gate's margin per model (or `*`); every change is audited."""

    list_display = ["model_name", "margin", "updated"]
    list_editable = ["margin"]
