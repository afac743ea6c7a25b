"""REST routes of the decisions app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver, path

from apps.decisions.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("decisions/intent", views.intent, name="decisions-intent"),
    path("decisions/intent/feedback", views.intent_feedback, name="decisions-intent-feedback"),
    path("decisions/risk", views.risk, name="decisions-risk"),
    path("decisions/monitor", views.monitor, name="decisions-monitor"),
    path("profiles/by-phone/<str:e164>", views.profile_by_phone, name="profiles-by-phone"),
]
