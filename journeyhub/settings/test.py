"""Settings for the test suite: in-memory graph store unless GRAPH_URL says otherwise."""
import tempfile

from .base import *  # noqa: F403
from .base import env, sqlite_tuned

DEBUG = False
SECRET_KEY = "test-key-only-for-the-test-suite"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
GRAPH_URL = env("GRAPH_URL", default="embedded://memory")
ARTIFACTS_DIR = env("ARTIFACTS_DIR", default=tempfile.mkdtemp(prefix="journeyhub-artifacts-"))
EVENTS_STORE_URL = env("EVENTS_STORE_URL", default=tempfile.mkdtemp(prefix="journeyhub-events-"))
ANALYTICS_TEMP_DIR = tempfile.mkdtemp(prefix="journeyhub-analytics-")
ANALYTICS_JOURNEY_BACKGROUND = False  # builds where they are asked for (tests of the background build set it)
DATABASES = {"default": env.db("DATABASE_URL", default="sqlite://:memory:")}
if DATABASES["default"]["NAME"] != ":memory:":  # a file shared with worker and server processes
    sqlite_tuned(DATABASES["default"])
# Jobs run where they are queued (django-q2's sync mode), inside the test's transaction.
Q_CLUSTER = {**Q_CLUSTER, "sync": env.bool("JOBS_SYNC", default=True)}  # noqa: F405
JOB_UPLOAD_DIR = tempfile.mkdtemp(prefix="journeyhub-uploads-")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Stale configuration and models are re-read where they are asked for, inside the test's transaction
# (tests of the background re-read set it).
REFRESH_IN_BACKGROUND = False
