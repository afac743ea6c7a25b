"""REST routes of the core app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver, path

from apps.core.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("ping", views.ping, name="api-ping"),
    path("jobs/<int:job_id>", views.job_status, name="api-job"),
]
