from django.apps import AppConfig


class PropensityConfig(AppConfig):
    name = "apps.propensity"
    label = "propensity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.core import observability
        from apps.propensity import selectors

        observability.register_job_source("training", selectors.active_run_counts)
