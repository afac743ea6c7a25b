"""Settings shared by every environment; values come from the environment (django-environ)."""
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

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
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "django_q",
    "apps.core",
    "apps.customers",
    "apps.ingest",
    "apps.journeys",
    "apps.events",
    "apps.propensity",
    "apps.decisions",
    "apps.conversations",
    "apps.dashboard",
    "apps.demo",
]

MIDDLEWARE = [
    "apps.core.observability.ObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.GraphUnavailableMiddleware",
    "apps.core.audit.AuditContextMiddleware",
    "axes.middleware.AxesMiddleware",
    "apps.core.middleware.RequestSizeLimitMiddleware",
    "apps.core.parameters.UnknownQueryParametersMiddleware",
]

# Content security policy (django-csp) on every page: scripts only from this site (the dashboard has
# no inline script), inline styles allowed because Plotly and the KPI widget set them. The API docs
# page starts Swagger UI (served from drf-spectacular-sidecar's static files) with an inline script,
# so it is left out (either spelling of its path: the prefix has no trailing slash). Framing is
# left to X-Frame-Options, set per view (KPI widgets are framed by agent desktops).
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/docs"],
    "DIRECTIVES": {
        "default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"], "font-src": ["'self'", "data:"], "connect-src": ["'self'"],
        "object-src": ["'none'"], "base-uri": ["'self'"], "form-action": ["'self'"],
    },
}

# Failed logins are counted per username and address; after AXES_FAILURE_LIMIT of them that pair is
# locked out (HTTP 429) for AXES_COOLOFF_MINUTES. `axes_reset` lifts a lockout early.
AUTHENTICATION_BACKENDS = ["apps.core.auth.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

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



def sqlite_tuned(database: dict[str, Any]) -> dict[str, Any]:
    """SQLite for several processes and threads at once (web, job worker, decision-log writer).
    Write-ahead logging lets readers and the one writer overlap; without it every decision-log write
    waits for a full sync of the database file. Transactions take the write lock when they begin
    (IMMEDIATE): a transaction that reads, then writes (the next model version, a job claim) would
    otherwise fail at once with "database is locked" when another writer got there first, since
    SQLite cannot wait out that deadlock; now it waits its turn, up to `timeout` seconds."""
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("OPTIONS", {}).update({
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE", "timeout": 20})
    return database


DATABASES = {"default": sqlite_tuned(env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'journeyhub.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

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
    # Every view declares its own rule (apps.core.permissions); a view that forgets is refused to all.
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.permissions.Undeclared"],
    # Per API key (or person): API_THROTTLE_RATE for the API, API_THROTTLE_DECIDE_RATE for the
    # decision endpoints a contact flow calls; over it, 429 with Retry-After. Counted in the default
    # cache (CACHE_URL), so share a cache between processes for one count per key.
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.throttling.ApiThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": env("API_THROTTLE_RATE", default="6000/min"),
                               # above any contact flow's peak (hundreds of calls a second, one or two
                               # decisions each, all on the Lambda's one key): a budget is for a runaway
                               # client, and a decision refused with 429 is a caller sent to the fallback
                               "decide": env("API_THROTTLE_DECIDE_RATE", default="5000/s")},
    # One contract (apps.core.problems, apps.core.pagination): JSON answers, limit/offset pages,
    # every error as RFC 9457 problem details, and a schema that documents each of them.
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.ProblemAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.negotiation.FirstRendererWhenUnmatched",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.BoundedLimitOffsetPagination",
    # Request bodies are JSON (a form's empty field would read as "none" where JSON says "blank").
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "JourneyHub API",
    "DESCRIPTION": "Customer journeys, analytics, propensity scores and contact-centre decisions.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get their own components, so what a request must hold (no blank names) is not
    # read as a promise about what answers hold.
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and its docs page describe open-source code: public, declared here.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI and Redoc come from the pinned drf-spectacular-sidecar package and are served as static
    # files, so /api/docs and /api/redoc work offline and never pull an unpinned script from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A training run's status appears in the run and in the 202 of `train`: one enum, one name.
    "ENUM_NAME_OVERRIDES": {"TrainingRunStatusEnum": "apps.propensity.models.TrainingRun.Status"},
}

# Log lines as JSON objects (LOG_FORMAT=json, the production default) or text; each carries its request id.
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.observability.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # gremlinpython announces every traversal source it creates at INFO, which every command printed.
    # django-axes announces itself at INFO whenever it starts (every command, every worker).
    # py4j (Spark) logs while the interpreter shuts its streams at exit.
    "loggers": {"gremlinpython": {"level": "WARNING"}, "axes": {"level": "WARNING"}, "py4j": {"level": "WARNING"}},
}
# Prometheus scrapers send `Authorization: Bearer <METRICS_TOKEN>` to /metrics (staff logins may look too).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Errors to Sentry when a DSN is given (no personal data is sent).
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(dsn=SENTRY_DSN, send_default_pii=False,
                    traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0))

# Background jobs (apps/core/jobs.py) on django-q2 with its ORM broker: the queue is a table in the
# database above, `python manage.py qcluster` is the worker. A job is stopped after JOB_TIMEOUT seconds;
# a job whose worker died is handed out again after JOB_RETRY_SECONDS (kept above the timeout, so a
# job still running is never handed out twice) and counts as one attempt.
JOB_TIMEOUT = env.int("JOB_TIMEOUT", default=3600)
JOB_RETRY_SECONDS = env.int("JOB_RETRY_SECONDS", default=JOB_TIMEOUT + 300)
# Attempts a failing job gets by default, the first retry after JOB_BACKOFF_SECONDS, doubling each time.
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
JOB_BACKOFF_SECONDS = env.int("JOB_BACKOFF_SECONDS", default=30)
# Run the worker as a thread of the web process (`runserver`, `demo`): the embedded graph store opens in
# one process only, so with GRAPH_URL=embedded:// a separate worker could not read it (see OPERATIONS.md).
JOBS_IN_PROCESS = env.bool("JOBS_IN_PROCESS", default=False)
# Uploaded files wait here for their ingest job (web and worker share this folder).
JOB_UPLOAD_DIR = env("JOB_UPLOAD_DIR", default=str(VAR_DIR / "uploads"))
Q_CLUSTER: dict[str, Any] = {
    "name": "journeyhub", "orm": "default", "label": "Jobs",
    "workers": env.int("JOB_WORKERS", default=2), "timeout": JOB_TIMEOUT, "retry": JOB_RETRY_SECONDS,
    # Retries and backoff are the job layer's (apps/core/jobs.py); a failure leaves the queue at once.
    "max_attempts": 1, "ack_failures": True, "save_limit": 1000, "catch_up": False, "poll": 1,
    "sync": env.bool("JOBS_SYNC", default=False),
}

# Phone numbers without a country code are read in this region (ISO 3166 code).
DEFAULT_PHONE_REGION = env("DEFAULT_PHONE_REGION", default="AU")
# Events per atomic graph write: larger chunks spread each write's fixed costs over more events.
INGEST_CHUNK_SIZE = env.int("INGEST_CHUNK_SIZE", default=2500)
# Local files at least this large are read and validated in a second process (0: never).
INGEST_PARSE_PROCESS_BYTES = env.int("INGEST_PARSE_PROCESS_BYTES", default=16 * 1024 * 1024)
# Milestones, the similarity index and KPI marks catch up after this many chunks (and at the end).
INGEST_FOLLOW_UP_CHUNKS = env.int("INGEST_FOLLOW_UP_CHUNKS", default=8)

# The event store: the columnar (Parquet) copy of every event the graph accepted, a folder or
# s3://bucket/prefix (apps/events). Off only to measure what it costs.
EVENTS_STORE_URL = env("EVENTS_STORE_URL", default=str(VAR_DIR / "events"))
EVENTS_STORE_ENABLED = env.bool("EVENTS_STORE_ENABLED", default=True)
# Events an ingest holds before writing them out (one file per event date each time).
EVENTS_STORE_FLUSH_ROWS = env.int("EVENTS_STORE_FLUSH_ROWS", default=100_000)
# How long an update of rows, a compaction or a repair waits for another to finish with the store's
# files before it gives up with an error (apps.events.store.rewriting). Short, because decision
# feedback waits in a request thread.
EVENTS_REWRITE_WAIT_SECONDS = env.float("EVENTS_REWRITE_WAIT_SECONDS", default=5.0)
# An S3 store's rewrite lock is a lease in the database, renewed every third of this while its holder
# works; a holder that died frees it this long after its last renewal.
EVENTS_REWRITE_LEASE_SECONDS = env.float("EVENTS_REWRITE_LEASE_SECONDS", default=120.0)
if not EVENTS_REWRITE_LEASE_SECONDS > 0:  # a lease that expires at once would let two rewrites in together
    raise ImproperlyConfigured(f"EVENTS_REWRITE_LEASE_SECONDS must be more than 0, not {EVENTS_REWRITE_LEASE_SECONDS}")
# The worker merges each day's files into one this often (minutes).
EVENTS_COMPACT_MINUTES = env.int("EVENTS_COMPACT_MINUTES", default=60)
# The analytics engine over the event store (see README, Configuration).
ANALYTICS_ENGINE = env("ANALYTICS_ENGINE", default="duckdb")
SPARK_MASTER = env("SPARK_MASTER", default="local[2]")
ANALYTICS_SPARK_PARTITIONS = env.int("ANALYTICS_SPARK_PARTITIONS", default=8)
ANALYTICS_MEMORY_LIMIT = env("ANALYTICS_MEMORY_LIMIT", default="1GB")
ANALYTICS_TEMP_DIR = env("ANALYTICS_TEMP_DIR", default=str(VAR_DIR / "analytics-tmp"))
ANALYTICS_THREADS = env.int("ANALYTICS_THREADS", default=0)
ANALYTICS_RESULT_CACHE = env.int("ANALYTICS_RESULT_CACHE", default=64)
# journey order (positions, neighbours) computed once per store content into ANALYTICS_TEMP_DIR (DuckDB)
ANALYTICS_JOURNEY_TABLE = env.bool("ANALYTICS_JOURNEY_TABLE", default=True)
# a full (re)build runs on a thread while analyses sort in their own queries; a store that only gained
# files is brought up to date by a delta of the customers they touch, folded into a new full table once
# those pass this share of the table's customers
ANALYTICS_JOURNEY_BACKGROUND = env.bool("ANALYTICS_JOURNEY_BACKGROUND", default=True)
ANALYTICS_JOURNEY_FOLD_SHARE = env.float("ANALYTICS_JOURNEY_FOLD_SHARE", default=0.05)
ANALYTICS_PROGRESS_SECONDS = env.float("ANALYTICS_PROGRESS_SECONDS", default=10.0)

# Analytics and decisions tuning (see README, Configuration).
JOURNEYS_KPI_SYNC_DAYS = env.int("JOURNEYS_KPI_SYNC_DAYS", default=3)
JOURNEYS_KPI_SYNC_SECONDS = env.float("JOURNEYS_KPI_SYNC_SECONDS", default=60.0)
JOURNEYS_SIMILARITY_LSH_PERMS = env.int("JOURNEYS_SIMILARITY_LSH_PERMS", default=0)
DECISIONS_LOG_ASYNC = env.bool("DECISIONS_LOG_ASYNC", default=False)
# Stale thresholds, rules and active models are re-read off the request's path (apps.core.refresh).
REFRESH_IN_BACKGROUND = env.bool("REFRESH_IN_BACKGROUND", default=True)

# Deadlines on remote calls (seconds; see README, Configuration). A remote graph store must finish its
# WebSocket handshake within GRAPH_CONNECT_TIMEOUT and send each answer frame within GRAPH_READ_TIMEOUT.
GRAPH_CONNECT_TIMEOUT = env.float("GRAPH_CONNECT_TIMEOUT", default=5.0)
GRAPH_READ_TIMEOUT = env.float("GRAPH_READ_TIMEOUT", default=60.0)
# /healthz answers within this budget whatever the graph store does (a probe still running is "down").
HEALTHZ_TIMEOUT = env.float("HEALTHZ_TIMEOUT", default=1.5)
# S3 and other AWS calls made through boto3.
AWS_CONNECT_TIMEOUT = env.float("AWS_CONNECT_TIMEOUT", default=5.0)
AWS_READ_TIMEOUT = env.float("AWS_READ_TIMEOUT", default=30.0)
AWS_MAX_ATTEMPTS = env.int("AWS_MAX_ATTEMPTS", default=3)
# Webhook deliveries: connect deadline, total deadline per delivery (connect, send, whole answer), how
# many redirects are followed (each target checked again), networks allowed although private or
# loopback (CIDRs, e.g. "10.0.0.0/8"), and the replay window receivers should enforce.
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
WEBHOOK_MAX_REDIRECTS = env.int("WEBHOOK_MAX_REDIRECTS", default=0)
WEBHOOK_ALLOWED_NETWORKS: list[str] = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
WEBHOOK_REPLAY_WINDOW_SECONDS = env.int("WEBHOOK_REPLAY_WINDOW_SECONDS", default=300)
# Largest request body (bytes): 10,000 events of up to about 3 KB each fit in a request.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=32 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
