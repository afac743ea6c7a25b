"""REST routes of the demo app, mounted under /api/ by journeyhub/api_router.py."""
from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
