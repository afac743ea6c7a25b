"""Dashboard pages for people (login required, roles checked per view)."""
from django.urls import path

from apps.dashboard.views import contacts, customers, decisions, ingest, journeys, models, overview, widgets

app_name = "dashboard"
urlpatterns = [
    path("", overview.overview, name="overview"),
    path("journeys/explorer/", journeys.explorer, name="explorer"),
    path("journeys/explorer/customers/", journeys.explorer_customers, name="explorer_customers"),
    path("journeys/top/", journeys.top_journeys, name="top_journeys"),
    path("journeys/funnel/", journeys.funnel, name="funnel"),
    path("journeys/funnel/customers/", journeys.funnel_customers, name="funnel_customers"),
    path("customers/", customers.customers, name="customers"),
    path("customers/<path:customer_id>/", customers.customer, name="customer"),
    path("similarity/", customers.similarity, name="similarity"),
    path("contacts/", contacts.contacts, name="contacts"),
    path("models/", models.models_page, name="models"),
    path("models/<str:name>/activate/", models.activate, name="model_activate"),
    path("models/<str:name>/rollback/", models.rollback, name="model_rollback"),
    path("decisions/", decisions.decisions, name="decisions"),
    path("ingest/", ingest.ingest, name="ingest"),
    path("ingest/upload/", ingest.upload, name="ingest_upload"),
    path("ingest/batches/<int:batch_id>/", ingest.batch, name="ingest_batch"),
    path("widgets/", widgets.widgets, name="widgets"),
    path("widgets/<str:kpi>/", widgets.widget, name="widget"),
]
