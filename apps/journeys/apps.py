from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "apps.journeys"
    label = "journeys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.journeys import signals

        signals.connect()
