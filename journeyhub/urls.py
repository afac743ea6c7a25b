"""Top-level URLs: API, health, metrics, login, admin and the dashboard."""
from django.contrib import admin
from django.urls import include, path

from apps.core.views import healthz, metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/", include("journeyhub.api_router")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("apps.dashboard.urls")),
]
