"""REST routes of the conversations app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver, path

from apps.conversations.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("contacts", views.contact_list, name="api-contacts"),
    path("contacts/<str:contact_id>", views.contact_detail, name="api-contact"),
]
