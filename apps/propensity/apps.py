from django.apps import AppConfig


class PropensityConfig(AppConfig):
    name = "apps.propensity"
    label = "propensity"
    default_auto_field = "django.db.models.BigAutoField"
    # Modules that register this app's models with apps.propensity.specs (imported on first lookup).
    model_specs = ("apps.propensity.touchpoints", "apps.propensity.churn", "apps.propensity.csat")
