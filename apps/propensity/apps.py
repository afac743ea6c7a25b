from django.apps import AppConfig


class PropensityConfig(AppConfig):
    name = "apps.propensity"
    label = "propensity"
    default_auto_field = "django.db.models.BigAutoField"
