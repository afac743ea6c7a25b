"""Settings for a laptop: debug on, a fixed development key when none is given."""
from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-development-key-not-for-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# The local store, database and model files live under var/; make sure it exists on a fresh checkout.
VAR_DIR.mkdir(exist_ok=True)
# The embedded store opens in this process only, so jobs run on a worker thread here (apps/core/jobs.py).
JOBS_IN_PROCESS = env.bool("JOBS_IN_PROCESS", default=GRAPH_URL.startswith("embedded://"))  # noqa: F405
if JOBS_IN_PROCESS:
    # The cluster on a thread of the demo's server says "ready for work", "stopped monitoring", ... around
    # every recurring job (seven lines every half minute); apps.core.jobs logs each job's attempts and
    # outcome, so only django-q's warnings are kept here.
    LOGGING["loggers"]["django-q"] = {"level": "WARNING"}  # noqa: F405
