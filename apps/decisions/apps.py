from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "apps.decisions"
    label = "decisions"
    default_auto_field = "django.db.models.BigAutoField"
    # The intent and risk models, registered with apps.propensity.specs on the first model lookup.
    model_specs = ("apps.decisions.modeling",)
