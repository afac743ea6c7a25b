"""WSGI entry point (gunicorn journeyhub.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

from journeyhub.long_lived import freeze_loaded_objects, hold_cpu_wake_latency, shorten_switch_interval

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.local")
django_application = get_wsgi_application()

from apps.decisions.api import fast_path  # noqa: E402 - needs the settings loaded above
from apps.events.engine import warm_up  # noqa: E402

application = fast_path.wrap(django_application)  # decisions skip the middleware and DRF in the ordinary case
warm_up()  # the analytics engine connects at start, not on the first question

from apps.core.parameters import warm_up as warm_up_parameters  # noqa: E402
from apps.dashboard.warm import warm_up as warm_up_pages  # noqa: E402

warm_up_pages()  # routes, templates and the graph store ready before the first page
warm_up_parameters()  # the query parameters each API operation reads, from its schema
freeze_loaded_objects()
shorten_switch_interval()
hold_cpu_wake_latency()  # only with CPU_WAKE_LATENCY_US set: hosts that serve decisions
