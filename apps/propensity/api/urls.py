"""REST routes of the propensity app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver, path

from apps.propensity.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("models", views.model_list, name="api-models"),
    path("models/<str:name>", views.model_detail, name="api-model"),
    path("models/<str:name>/activate", views.model_activate, name="api-model-activate"),
    path("models/<str:name>/rollback", views.model_rollback, name="api-model-rollback"),
    path("models/<str:name>/train", views.model_train, name="api-model-train"),
    path("training-runs/<int:run_id>", views.training_run, name="api-training-run"),
    path("customers/<path:customer_id>/scores", views.customer_scores, name="api-customer-scores"),
    path("customers/<path:customer_id>/next-event", views.customer_next_event, name="api-customer-next-event"),
]
