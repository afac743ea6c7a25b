from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "apps.decisions"
    label = "decisions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.decisions import modeling  # noqa: F401 - registers the intent and risk model specs
