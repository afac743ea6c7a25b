"""REST routes of the customers app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver, path

from apps.customers.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("customers", views.customer_list, name="api-customers"),
    path("customers/<str:customer_id>", views.customer_detail, name="api-customer"),
    path("customers/<str:customer_id>/journey", views.customer_journey, name="api-customer-journey"),
]
