"""REST routes of the dashboard app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
