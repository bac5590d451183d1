"""OCX settings: one env-driven module for both runtime modes.

Embedded mode (the default) needs nothing installed: SQLite under ``var/``, Celery on an
in-memory broker inside the server process, an in-memory channel layer. Setting
``DATABASE_URL`` and ``REDIS_URL`` switches to the distributed mode (PostgreSQL, Redis broker,
channels-redis) without any code change.

Every environment variable is read here, once, through ``ocx.core.config.env`` (name, default,
parser, accepted aliases); the rest of the code reads the Django settings below. The README's
configuration tables list the same variables (``tests/ocx/test_config.py`` checks both ways).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url

from ocx.core.config import as_bool, as_list, env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env("OCX_VAR_DIR", BASE_DIR / "var", Path)
VAR_DIR.mkdir(parents=True, exist_ok=True)

DATABASE_URL = env("DATABASE_URL", "")
REDIS_URL = env("REDIS_URL", "")
OCX_MODE = "distributed" if (DATABASE_URL and REDIS_URL) else "embedded"

_DEV_SECRET = "ocx-development-secret-key-do-not-use-in-production"
SECRET_KEY = env("OCX_SECRET_KEY", _DEV_SECRET)
DEBUG = env("OCX_DEBUG", False, as_bool)
USING_DEV_SECRET_KEY = SECRET_KEY == _DEV_SECRET  # reported by the ocx.W001 system check

ALLOWED_HOSTS = env("OCX_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"], as_list)
CSRF_TRUSTED_ORIGINS = env("OCX_CSRF_TRUSTED_ORIGINS", [], as_list)

# `manage.py run_embedded` listens here (`make run`; the Procfile's uvicorn reads $PORT itself).
OCX_HOST = env("OCX_HOST", "127.0.0.1", aliases=["HOST"])
PORT = env("PORT", 8000, int)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "channels",
    "django_prometheus",
    "axes",
    "csp",
    "ocx",
    "activity_feed",
    "registry",
    "workflow",
    "runs",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy (django-csp); the policy is CONTENT_SECURITY_POLICY below.
    "csp.middleware.CSPMiddleware",
    "ocx.staticfiles.WhiteNoiseMiddleware",  # WhiteNoise, async-iterating under ASGI
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # django-axes: a locked-out login (admin or POST /api/v1/auth/token) becomes a 429 page / envelope.
    "axes.middleware.AxesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # JSON envelope for every error under /api/ (inside Prometheus's pair, so it still counts them).
    "ocx.core.api.middleware.ApiErrorMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Innermost and sync-only on purpose: under ASGI, Django then runs the whole middleware
    # chain in ONE worker thread and hops to the event loop only around the view; an
    # async-capable innermost middleware makes every MiddlewareMixin above it hop thread <->
    # loop for each of its methods (~20 hops, ~4 ms a request on this machine).
    "ocx.core.audit.AuditContextMiddleware",
]

ROOT_URLCONF = "ocx.urls"
WSGI_APPLICATION = "ocx.wsgi.application"
ASGI_APPLICATION = "ocx.asgi.application"

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

# --- Database -------------------------------------------------------------------------------
# Read whatever the database is, so every variable is declared (and checked) in every mode.
_DB_POOL = env("OCX_DB_POOL", True, as_bool)
_DB_POOL_MIN = env("OCX_DB_POOL_MIN", 2, int)
_DB_POOL_MAX = env("OCX_DB_POOL_MAX", 20, int)
_DB_POOL_TIMEOUT = env("OCX_DB_POOL_TIMEOUT", 10, int)
_DB_PREPARE = env("OCX_DB_PREPARE", True, as_bool)
_DB_PREPARE_THRESHOLD = env("OCX_DB_PREPARE_THRESHOLD", 5, int)
_DB_CONN_MAX_AGE = env("OCX_DB_CONN_MAX_AGE", 60, int)
_SQLITE_PATH = env("OCX_SQLITE_PATH", str(VAR_DIR / "ocx.sqlite3"))

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and _DB_POOL:
        # Under ASGI every request's sync code runs in a fresh thread, so Django's persistent
        # connections never get reused: a connection pool (psycopg_pool) does the job instead.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": _DB_POOL_MIN,
            "max_size": _DB_POOL_MAX,
            "timeout": _DB_POOL_TIMEOUT,
        }
        if _DB_PREPARE:
            # Server-side parameter binding lets psycopg prepare a statement after it ran
            # `prepare_threshold` times on a connection: PostgreSQL then skips planning it
            # (-2.4 ms on an event page). Safe with this in-process pool; set OCX_DB_PREPARE=false
            # behind a transaction-mode pooler that cannot keep prepared statements.
            DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
            DATABASES["default"]["OPTIONS"]["prepare_threshold"] = _DB_PREPARE_THRESHOLD
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = _DB_CONN_MAX_AGE
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _SQLITE_PATH,
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so claim-by-update and
                # read-then-write services serialise instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username/address before any password is checked (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "ocx.core.access.TenantRoleBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Date/time formats that end in their zone (the admin shows "2026-12-01 23:40 UTC").
FORMAT_MODULE_PATH = ["ocx.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve straight from the finders too, so a missed collectstatic never breaks the docs page.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/"

# Bodies above this many bytes are refused with a 400 in the error envelope (see ocx.core.api.parsers).
DATA_UPLOAD_MAX_MEMORY_SIZE = env("OCX_MAX_BODY_BYTES", 1024 * 1024, int)

# --- REST framework ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ocx.core.api.authentication.TokenAuthentication",
        "ocx.core.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: no endpoint takes forms (the browsable API posts JSON from its raw-data form).
    "DEFAULT_PARSER_CLASSES": ["ocx.core.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "ocx.core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 30,
    "EXCEPTION_HANDLER": "ocx.core.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "ocx.core.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OCX API",
    "DESCRIPTION": "Governance control plane: registry, runs, workflow and the event spine.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two apps have a "priority" enum with different values; name each explicitly. Several models
    # have a "status": the activity's, used by two components, would get a hash ("StatusFafEnum").
    "ENUM_NAME_OVERRIDES": {
        "EventPriorityEnum": "activity_feed.models.EventPriority",
        "ActivityStatusEnum": "registry.models.ActivityStatus",
    },
    # The SSE stream is a plain async view drf-spectacular cannot see: it describes itself.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "activity_feed.sse.add_to_schema",
    ],
}

# --- Celery ------------------------------------------------------------------------------------
# "memory://" alone makes kombu warn "No hostname was supplied" on every connection.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env("OCX_CELERY_EAGER", False, as_bool)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes every database connection before and after each task, and under
# the prefork pool that means the whole psycopg pool: three new PostgreSQL sessions per task
# (one per outbox event; measured: 1,263 sessions in 15 s of load, ~8 ms of worker CPU per
# event). With a reuse count the fixup keeps the pool; ``ocx.celery`` instead returns the
# task's connection to the pool after each task (and drops a broken one), as a request does.
CELERY_DB_REUSE_MAX = env("OCX_CELERY_DB_REUSE_MAX", 10_000, int)

OUTBOX_BATCH_SIZE = env("OCX_OUTBOX_BATCH_SIZE", 100, int)
OUTBOX_MAX_ATTEMPTS = env("OCX_OUTBOX_MAX_ATTEMPTS", 8, int)
OUTBOX_BACKOFF_SECONDS = env("OCX_OUTBOX_BACKOFF_SECONDS", 2, int)
# A claimed row whose worker died is reclaimed after this lease runs out.
OUTBOX_LEASE_SECONDS = env("OCX_OUTBOX_LEASE_SECONDS", 60, int)
# The seed's WORKFLOW_WORKER_INTERVAL: workflow has no worker loop of its own, the outbox
# sweep is what runs its automation.
OUTBOX_SWEEP_INTERVAL = env("OCX_OUTBOX_SWEEP_INTERVAL", 5, int, aliases=["WORKFLOW_WORKER_INTERVAL"])
# Done work-queue rows are deleted after this many hours (the events themselves stay).
OUTBOX_RETENTION_HOURS = env("OCX_OUTBOX_RETENTION_HOURS", 24, int)
# A woken dispatcher keeps polling this long for the commits that follow (0: drain and stop).
OUTBOX_LINGER_MS = env("OCX_OUTBOX_LINGER_MS", 500, int)

# Handlers the outbox dispatcher calls for every event, in order (each must be idempotent).
# Apps append theirs in their AppConfig.ready() via activity_feed.publish.register_handler.
OCX_EVENT_HANDLERS: list[str] = []


# --- Registry ---------------------------------------------------------------------------------
def _approval_types(raw: str) -> list[str]:
    types = [t.upper() for t in as_list(raw)]
    if not types:
        raise ValueError("name at least one approval type")
    return types


# Approval types an activity needs before it is APPROVED (comma-separated; default all four).
OCX_REGISTRY_REQUIRED_APPROVALS = env(
    "OCX_REGISTRY_REQUIRED_APPROVALS", ["TECHNICAL", "BUSINESS", "COMPLIANCE", "SECURITY"], _approval_types
)
# How often beat activates deployments whose effective date has come (seconds).
OCX_REGISTRY_ACTIVATION_INTERVAL = env("OCX_REGISTRY_ACTIVATION_INTERVAL", 30, int)


# --- Event spine (activity_feed) ---------------------------------------------------------------
_DEFAULT_RATE_LIMITS: dict[str, tuple[int, int] | None] = {"create": (1200, 60), "ingest": (600, 60)}


def _rate_limits(raw: str) -> dict[str, tuple[int, int] | None]:
    """``create=1200/60,ingest=600/60`` (requests / seconds, per tenant); ``ingest=off`` disables.
    A scope left out keeps its default."""
    limits = dict(_DEFAULT_RATE_LIMITS)
    for part in as_list(raw):
        scope, _, value = part.partition("=")
        if value.strip().lower() in {"off", "none", "0"}:
            limits[scope.strip()] = None
        else:
            count, _, seconds = value.partition("/")
            limits[scope.strip()] = (int(count), int(seconds or 60))
    return limits


OCX_FEED_RATE_LIMITS = env("OCX_FEED_RATE_LIMITS", _DEFAULT_RATE_LIMITS, _rate_limits)
OCX_STREAM_KEEPALIVE_SECONDS = env("OCX_STREAM_KEEPALIVE_SECONDS", 30.0, float)
# On SIGTERM the web server waits this long for open streams before closing them: an SSE stream
# never ends by itself, so without a bound a restart would wait for ever. Clients reconnect with
# Last-Event-ID / a cursor and miss nothing. (Procfile and `make run` pass it to uvicorn.)
OCX_SHUTDOWN_GRACE_SECONDS = env("OCX_SHUTDOWN_GRACE_SECONDS", 10, int)
OCX_STREAM_MAX_REPLAY = env("OCX_STREAM_MAX_REPLAY", 10_000, int)
OCX_INGEST_MAX_BATCH = env("OCX_INGEST_MAX_BATCH", 1000, int)
# The public origin behind a TLS proxy (HubSpot signs the URI it called), e.g. https://ocx.example.com
OCX_PUBLIC_BASE_URL = env("OCX_PUBLIC_BASE_URL", "")

# --- Workflow (seed 003; the seed's names stay accepted as aliases) ----------------------------
# false: automation triggers do not run (transitions and SLAs still work).
WORKFLOW_ENABLED = env("OCX_WORKFLOW_ENABLED", True, as_bool, aliases=["WORKFLOW_ENABLED"])
# Period of the beat job workflow.scan_sla (seconds).
SLA_MONITOR_INTERVAL = env("OCX_SLA_MONITOR_INTERVAL", 60, int, aliases=["SLA_MONITOR_INTERVAL"])
# Fraction of the SLA target after which a task is "at risk" (an SLAConfig may override it).
SLA_AT_RISK_FRACTION = env("OCX_SLA_AT_RISK_FRACTION", 0.8, float, aliases=["SLA_AT_RISK_FRACTION"])
# SLA records one scan statement marks at most.
SLA_SCAN_BATCH = env("OCX_SLA_SCAN_BATCH", 1000, int, aliases=["SLA_SCAN_BATCH"])
WORKFLOW_WEBHOOK_MAX_ATTEMPTS = env(
    "OCX_WORKFLOW_WEBHOOK_MAX_ATTEMPTS", 5, int, aliases=["WORKFLOW_WEBHOOK_MAX_ATTEMPTS"]
)
WORKFLOW_WEBHOOK_BACKOFF_SECONDS = env(
    "OCX_WORKFLOW_WEBHOOK_BACKOFF_SECONDS", 10, int, aliases=["WORKFLOW_WEBHOOK_BACKOFF_SECONDS"]
)
WORKFLOW_WEBHOOK_TIMEOUT = env("OCX_WORKFLOW_WEBHOOK_TIMEOUT", 10.0, float, aliases=["WORKFLOW_WEBHOOK_TIMEOUT"])
# Signing secret of a webhook action that names none.
WORKFLOW_WEBHOOK_SECRET = env("OCX_WORKFLOW_WEBHOOK_SECRET", "", aliases=["WORKFLOW_WEBHOOK_SECRET"])

# Periodic jobs: each app contributes its own in <app>/schedule.py (BEAT_SCHEDULE dict).
CELERY_BEAT_SCHEDULE: dict = {}

# --- Channels -----------------------------------------------------------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # No socket read timeout: channels-redis blocks in BZPOPMIN for brpop_timeout (5 s)
            # and redis-py >= 6 would otherwise time an idle subscriber's read out at 5 s.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "ocx.channels_layer.EmbeddedChannelLayer"}}

# --- Caches (rate limiting and throttles need a shared one in distributed mode) ----------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Prometheus ---------------------------------------------------------------------------------
PROMETHEUS_EXPORT_MIGRATIONS = False
# false: /metrics answers 404 (the counters are still collected in-process).
METRICS_ENABLED = env("OCX_METRICS_ENABLED", True, as_bool, aliases=["METRICS_ENABLED"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("OCX_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The outbox sweep runs every few seconds; its per-run lines would drown everything else.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# --- Runs (seed 001) ------------------------------------------------------------------------------
# Largest run input (compact JSON, bytes); also bounds a reported output and heartbeat details.
OCX_RUNS_MAX_INPUT_BYTES = env("OCX_RUNS_MAX_INPUT_BYTES", 256 * 1024, int)
# Attempts a run gets (lease expiries and retryable failures) unless the request says otherwise.
OCX_RUNS_MAX_ATTEMPTS = env("OCX_RUNS_MAX_ATTEMPTS", 3, int)
# A run still pending this many seconds after it was (re-)offered is failed (0: never).
OCX_RUNS_SCHEDULE_TO_START_SECONDS = env("OCX_RUNS_SCHEDULE_TO_START_SECONDS", 3600, int)
# Longest one attempt may take (seconds): the in-process task's time limit, the cap of an agent's lease.
OCX_RUNS_START_TO_CLOSE_SECONDS = env("OCX_RUNS_START_TO_CLOSE_SECONDS", 300, int)
# An agent's lease when its claim names none (seconds); each heartbeat extends it by as much.
OCX_RUNS_LEASE_SECONDS = env("OCX_RUNS_LEASE_SECONDS", 60, int)
# Base of the exponential backoff between attempts (seconds).
OCX_RUNS_RETRY_BACKOFF_SECONDS = env("OCX_RUNS_RETRY_BACKOFF_SECONDS", 2, int)
# Period of the beat job runs.settle_leases (expired leases, schedule-to-start deadlines), seconds.
OCX_RUNS_SETTLE_INTERVAL = env("OCX_RUNS_SETTLE_INTERVAL", 10, int)
# A long-polling claim looks at the database again after this long without a wake-up (seconds).
OCX_RUNS_CLAIM_RECHECK_SECONDS = env("OCX_RUNS_CLAIM_RECHECK_SECONDS", 5.0, float)
# The runs app's enums, named in the OpenAPI schema (a "role" field also exists on memberships).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["WorkspaceRoleEnum"] = "runs.models.WorkspaceRole"
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["RunStatusEnum"] = "runs.models.RunStatus"

# --- Security: API tokens, login throttling, headers, CSP, /metrics, production (README "Security")
# A new API token lives this many days (0: never expires); a client may ask for less, not more.
OCX_TOKEN_LIFETIME_DAYS = env("OCX_TOKEN_LIFETIME_DAYS", 90, int)
# After a rotation the old key keeps working this long (seconds), unless it is revoked.
OCX_TOKEN_ROTATION_GRACE_SECONDS = env("OCX_TOKEN_ROTATION_GRACE_SECONDS", 86400, int)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["TokenStateEnum"] = "ocx.core.tokens.TOKEN_STATES"

# django-axes (database handler: an admin lifts a lockout in the admin or with `manage.py axes_reset`).
# Failures are counted per username *from one address*: an attacker elsewhere cannot lock a user out.
AXES_FAILURE_LIMIT = env("OCX_LOGIN_FAILURE_LIMIT", 5, int)
AXES_COOLOFF_TIME = timedelta(minutes=env("OCX_LOGIN_COOLOFF_MINUTES", 15, int))
AXES_ENABLED = env("OCX_LOGIN_THROTTLE", True, as_bool)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "ocx.security.lockout_response"
AXES_VERBOSE = False

# Django's security headers (nosniff, Referrer-Policy same-origin, COOP same-origin are its defaults).
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (django-csp 4). Scripts and styles come from our origin only; the one
# inline script left (Swagger UI's settings) carries the request's nonce. No CDN anywhere.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

_CSP = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],  # 'self' covers same-origin ws:/wss: (the dashboard's live feed)
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# true: the policy is only reported by browsers (Content-Security-Policy-Report-Only), not enforced.
if env("OCX_CSP_REPORT_ONLY", False, as_bool):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

# /metrics answers a request from one of these addresses (CIDRs allowed), or one bearing
# `Authorization: Bearer <OCX_METRICS_TOKEN>`; anything else is a 403.
OCX_METRICS_ALLOWED_IPS = env("OCX_METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"], as_list)
OCX_METRICS_TOKEN = env("OCX_METRICS_TOKEN", "")


# Production: `OCX_ENVIRONMENT=production` refuses to start without OCX_SECRET_KEY (or with
# OCX_DEBUG), and turns on HTTPS-only cookies, the HTTPS redirect and HSTS
# (`scripts/ci/check_deploy.sh` runs `manage.py check --deploy` with it).
def _environment(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"development", "production"}:
        raise ValueError("expected development or production")
    return value


OCX_ENVIRONMENT = env("OCX_ENVIRONMENT", "development", _environment)
_HSTS_SECONDS = env("OCX_HSTS_SECONDS", 31_536_000, int)
_SSL_REDIRECT = env("OCX_SSL_REDIRECT", True, as_bool)
# true behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if env("OCX_TRUST_X_FORWARDED_PROTO", False, as_bool):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if OCX_ENVIRONMENT == "production":
    from django.core.exceptions import ImproperlyConfigured  # noqa: E402

    if USING_DEV_SECRET_KEY:
        raise ImproperlyConfigured("OCX_ENVIRONMENT=production needs OCX_SECRET_KEY from the environment.")
    if DEBUG:
        raise ImproperlyConfigured("OCX_ENVIRONMENT=production refuses OCX_DEBUG=true.")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = _SSL_REDIRECT
    # Probes and scrapers talk plain HTTP to the process itself.
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
    SECURE_HSTS_SECONDS = _HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
