from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "apps.ingest"
    label = "ingest"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.core import observability
        from apps.ingest import selectors

        observability.register_job_source("ingest", selectors.running_batch_counts)
