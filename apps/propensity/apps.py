from django.apps import AppConfig


class PropensityConfig(AppConfig):
    name = "apps.propensity"
    label = "propensity"
    default_auto_field = "django.db.models.BigAutoField"
    # Modules that register this app's models with apps.propensity.specs (imported on first lookup).
    model_specs = ("apps.propensity.touchpoints", "apps.propensity.churn", "apps.propensity.csat",
                   "apps.propensity.next_event")

    def ready(self) -> None:
        from apps.core import audit, observability
        from apps.propensity import selectors
        from apps.propensity.models import ModelVersion

        observability.register_job_source("training", selectors.active_run_counts)
        # The registry audits registering, activating and rolling back itself; a deletion (admin,
        # bulk action, shell) is audited here.
        audit.track(ModelVersion, saves=False)
