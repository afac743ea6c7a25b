"""Default routing: thresholds 0.8/0.6 for every channel and the three score rules."""
from django.db import migrations

RULES = [
    (10, "high risk: verify identity with a skilled agent", [{"variable": "score", "op": ">", "value": 800}],
     "pass_to_skilled_agent"),
    (20, "medium risk: an agent", [{"variable": "score", "op": ">", "value": 200}], "pass_to_agent"),
    (30, "low risk: the bot", [{"variable": "score", "op": "<=", "value": 200}], "pass_to_bot"),
]


def create_defaults(apps, schema_editor):
    IntentThreshold = apps.get_model("decisions", "IntentThreshold")
    RiskRule = apps.get_model("decisions", "RiskRule")
    IntentThreshold.objects.get_or_create(channel="*", defaults={"high": 0.8, "low": 0.6})
    if not RiskRule.objects.exists():
        for position, name, conditions, outcome in RULES:
            RiskRule.objects.create(position=position, name=name, conditions=conditions, outcome=outcome)


def remove_defaults(apps, schema_editor):
    apps.get_model("decisions", "IntentThreshold").objects.filter(channel="*").delete()
    apps.get_model("decisions", "RiskRule").objects.filter(position__in=[10, 20, 30]).delete()


class Migration(migrations.Migration):
    dependencies = [("decisions", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
