"""REST routes of the ingest app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver, include, path

from apps.core.routers import ApiRouter
from apps.ingest.api import views

router = ApiRouter()
router.register("ingest/batches", views.IngestBatchViewSet, basename="ingest-batch")

urlpatterns: list[URLPattern | URLResolver] = [
    path("events", views.post_events, name="api-events"),
    path("", include(router.urls)),
]
