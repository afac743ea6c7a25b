"""ASGI entry point."""
import os

from django.core.asgi import get_asgi_application

from journeyhub.long_lived import freeze_loaded_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.local")
application = get_asgi_application()
freeze_loaded_objects()
