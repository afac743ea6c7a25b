"""`{% load labels %}`: codes as words in templates (`{{ code|intent_label }}`, `{{ code|event_label }}`)."""
from __future__ import annotations

from django import template

from apps.dashboard import labels

register = template.Library()
register.filter("intent_label", labels.intent_label)
register.filter("event_label", labels.event_label)
