"""Settings shared by every environment; values come from the environment (django-environ)."""
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])

GRAPH_URL = env("GRAPH_URL", default=f"embedded://{VAR_DIR / 'graph'}")
ARTIFACTS_DIR = env("ARTIFACTS_DIR", default=str(VAR_DIR / "artifacts"))
EVENTS_STORE_URL = env("EVENTS_STORE_URL", default=str(VAR_DIR / "events"))
DATA_DIR = env("DATA_DIR", default=str(BASE_DIR / "data"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_htmx",
    "apps.core",
    "apps.customers",
    "apps.ingest",
    "apps.journeys",
    "apps.events",
    "apps.propensity",
    "apps.decisions",
    "apps.dashboard",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.GraphUnavailableMiddleware",
]

ROOT_URLCONF = "journeyhub.urls"
WSGI_APPLICATION = "journeyhub.wsgi.application"
ASGI_APPLICATION = "journeyhub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'journeyhub.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Write-ahead logging lets readers and the one writer overlap; without it every decision-log
    # write waits for a full sync of the database file.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "JourneyHub API",
    "DESCRIPTION": "Customer journeys, analytics, propensity scores and contact-centre decisions.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Phone numbers without a country code are read in this region (ISO 3166 code).
DEFAULT_PHONE_REGION = env("DEFAULT_PHONE_REGION", default="AU")
# Events per atomic graph write: larger chunks spread each write's fixed costs over more events.
INGEST_CHUNK_SIZE = env.int("INGEST_CHUNK_SIZE", default=2500)
# Local files at least this large are read and validated in a second process (0: never).
INGEST_PARSE_PROCESS_BYTES = env.int("INGEST_PARSE_PROCESS_BYTES", default=16 * 1024 * 1024)
# Milestones, the similarity index and KPI marks catch up after this many chunks (and at the end).
INGEST_FOLLOW_UP_CHUNKS = env.int("INGEST_FOLLOW_UP_CHUNKS", default=8)

# The analytics engine over the event store (see README, Configuration).
ANALYTICS_ENGINE = env("ANALYTICS_ENGINE", default="duckdb")
SPARK_MASTER = env("SPARK_MASTER", default="local[2]")
ANALYTICS_SPARK_PARTITIONS = env.int("ANALYTICS_SPARK_PARTITIONS", default=8)
ANALYTICS_MEMORY_LIMIT = env("ANALYTICS_MEMORY_LIMIT", default="1GB")
ANALYTICS_TEMP_DIR = env("ANALYTICS_TEMP_DIR", default=str(VAR_DIR / "analytics-tmp"))
ANALYTICS_THREADS = env.int("ANALYTICS_THREADS", default=0)
ANALYTICS_RESULT_CACHE = env.int("ANALYTICS_RESULT_CACHE", default=64)

# Analytics and decisions tuning (see README, Configuration).
JOURNEYS_KPI_SYNC_DAYS = env.int("JOURNEYS_KPI_SYNC_DAYS", default=3)
JOURNEYS_KPI_SYNC_SECONDS = env.float("JOURNEYS_KPI_SYNC_SECONDS", default=60.0)
JOURNEYS_SIMILARITY_LSH_PERMS = env.int("JOURNEYS_SIMILARITY_LSH_PERMS", default=0)
DECISIONS_LOG_ASYNC = env.bool("DECISIONS_LOG_ASYNC", default=False)
