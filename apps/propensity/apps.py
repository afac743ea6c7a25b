from django.apps import AppConfig


class PropensityConfig(AppConfig):
    name = "apps.propensity"
    label = "propensity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.core import audit, observability
        from apps.propensity import churn, csat, next_event, selectors, touchpoints  # noqa: F401 - spec modules
        from apps.propensity.models import ModelVersion

        # churn, csat, next_event and touchpoints register their model specs when imported (above)
        observability.register_job_source("training", selectors.active_run_counts)
        # The registry audits registering, activating and rolling back itself; a deletion (admin,
        # bulk action, shell) is audited here.
        audit.track(ModelVersion, saves=False)
