"""The one place where every app's REST routes are mounted under /api/."""
from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.core.routers import other_spelling

# Decisions first: a caller is waiting on those routes, and Django tries routes in order.
APPS_WITH_API = ["decisions", "core", "customers", "ingest", "journeys", "propensity", "conversations"]

urlpatterns = [
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Redoc's search runs in a worker it builds from a blob: URL; allowed on its page alone
    path("redoc", csp_update({"worker-src": ["'self'", "blob:"]})(SpectacularRedocView.as_view(url_name="api-schema")),
         name="api-redoc"),
] + [path("", include(f"apps.{name}.api.urls")) for name in APPS_WITH_API] + [
    # last: a path no route above matched, answered by its route with the trailing slash added or removed
    re_path(r"^.*$", other_spelling, name="api-other-spelling"),
]
