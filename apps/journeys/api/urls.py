"""REST routes of the journeys app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver, path

from apps.core.routers import ApiRouter
from apps.journeys.api import views

router = ApiRouter()
router.register("kpis", views.KpiViewSet, basename="kpi")
router.register("milestones", views.MilestoneViewSet, basename="milestone")
router.register("webhooks", views.WebhookViewSet, basename="webhook")

urlpatterns: list[URLPattern | URLResolver] = [
    path("journeys/top", views.top_journeys, name="api-journeys-top"),
    path("journeys/paths", views.journey_paths, name="api-journeys-paths"),
    path("journeys/funnel", views.funnel, name="api-journeys-funnel"),
    path("journeys/funnel/customers", views.funnel_customers, name="api-journeys-funnel-customers"),
    path("journeys/dfg", views.dfg, name="api-journeys-dfg"),
    path("similarity", views.similarity, name="api-similarity"),
    path("kpis/<slug:slug>/widget", views.kpi_widget, name="api-kpi-widget"),
    *router.urls,
]
