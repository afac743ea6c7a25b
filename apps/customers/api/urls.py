"""REST routes of the customers app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver, path, register_converter

from apps.customers.api import views


class CustomerIdConverter:
    """Any customer id, "/" included, except ids ending in a sub-resource's name (/journey, /scores,
    /next-event): those paths go to the sub-resource, here and in apps.propensity.api.urls. Nor one
    ending in "/": `/api/customers/42/` is customer 42 with the slash a client added
    (apps.core.routers)."""

    regex = r".*[^/](?<!/journey)(?<!/scores)(?<!/next-event)"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CustomerIdConverter, "customer_id")

urlpatterns: list[URLPattern | URLResolver] = [
    path("customers", views.customer_list, name="api-customers"),
    path("customers/<customer_id:customer_id>", views.customer_detail, name="api-customer"),
    path("customers/<path:customer_id>/journey", views.customer_journey, name="api-customer-journey"),
]
