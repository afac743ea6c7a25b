"""REST routes of the journeys app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
