"""Settings for the Crowd Safety Manager, read from the environment (12-factor, django-environ).

With no environment at all the platform runs on an embedded stack: SQLite under ``var/``, a Celery
broker on the local file system and a file-based cache, so ``make run`` needs nothing but Python.
With ``DATABASE_URL`` and ``REDIS_URL`` it runs on PostgreSQL and Redis, the production stack.
Every variable is listed in README.md.
"""

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# ENV_FILE: a file of VARIABLE=value lines read at start (default: .env in the project root; empty: none).
_ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if _ENV_FILE:
    environ.Env.read_env(_ENV_FILE, overwrite=False)

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
# The test suite runs in parallel processes (pytest-xdist names them gw0, gw1, ... in PYTEST_XDIST_WORKER):
# each keeps its own files here and its own Redis database below, so one process's cache.clear(), queue or
# lock never reaches another's. Processes a test starts get the already separated values, not this name.
TEST_WORKER = env.str("PYTEST_XDIST_WORKER", default="")
if TEST_WORKER:
    VAR_DIR = VAR_DIR / TEST_WORKER
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else from the file SECRET_KEY_FILE names (a container secret, or
    the key `make` keeps in var/secret_key). Only with DEBUG is a missing key generated and kept in
    VAR_DIR; anywhere else the platform refuses to start, rather than sign sessions and derive the source
    secret keys from a key nobody chose (and that differs between web and worker hosts)."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    key_file = env.str("SECRET_KEY_FILE", default="")
    if key_file:
        try:
            key = Path(key_file).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"SECRET_KEY_FILE {key_file} cannot be read: {exc.strerror}.") from exc
        if not key:
            raise ImproperlyConfigured(f"SECRET_KEY_FILE {key_file} is empty.")
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE, a file holding it) in the "
            "environment or in .env; `make` does this for its own commands. Only with DEBUG=true is a "
            "random key generated and kept in VAR_DIR/secret_key."
        )
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "core.problems.csrf_failure"  # problem JSON on API paths
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "core",
    "tenants",
    "sources",
    "areas",
    "incidents",
    "sharing",
    "sta",
    "configpkg",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.input_guard.JsonLimitMiddleware",  # deep JSON: 400, oversized body: 413, on every path
    "core.input_guard.RejectNulMiddleware",  # NUL in API input: 400, not a database error
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "config.security.SessionExpiryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.middleware.MfaRequiredMiddleware",
    "tenants.middleware.TenantPageMiddleware",
    "tenants.auth_backends.LockoutMiddleware",  # last: a log-in refused by the lock-out becomes the 429 page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data -----------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'csm.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file on a laptop: WAL lets readers run beside the one
    # writer, IMMEDIATE transactions take the write lock up front instead of failing half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # Tests on a file, not Django's shared in-memory database: the browser tests' live server answers each
    # request in its own thread, and with an in-memory database all threads share one connection, so two
    # requests writing at once fail with "database table is locked". On a file each thread has its own
    # connection and waits for the write lock (the timeout above), as web and worker do on a laptop.
    # One file per process, so two test runs sharing a VAR_DIR never open the same file.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# Least privilege (docs/operations.md): the application connects as a role that owns nothing and so cannot
# disable the append-only triggers; `manage.py migrate` connects as the owner, MIGRATION_DATABASE_URL, and
# then grants the application role its rights (tenants/dbroles.py).
MIGRATION_DATABASE_URL = env.str("MIGRATION_DATABASE_URL", default="")
APP_DATABASE_USER = DATABASES["default"].get("USER", "")
if MIGRATION_DATABASE_URL and len(sys.argv) > 1 and sys.argv[1] == "migrate":
    DATABASES["default"] = {**DATABASES["default"], **env.db_url_config(MIGRATION_DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and TEST_WORKER:
    _redis = urlsplit(REDIS_URL)
    _redis_db = int(_redis.path.strip("/") or 0) + 1 + int(TEST_WORKER.removeprefix("gw"))
    REDIS_URL = _redis._replace(path=f"/{_redis_db}").geturl()

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND", default=REDIS_URL or f"file://{(VAR_DIR / 'celery' / 'results').as_posix()}"
)
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    for _d in (_queue_dir, VAR_DIR / "celery" / "results", VAR_DIR / "celery" / "control"):
        _d.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    # Above the longest countdown/ETA we use, so Redis does not redeliver a task that is merely waiting.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
    if env.int("CELERY_UNACKED_RESTORE_SECONDS", default=0):
        # How often a worker looks for messages whose worker died (kombu's default is about 100 s).
        CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_interval"] = env.int(
            "CELERY_UNACKED_RESTORE_SECONDS"
        )
        CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_throttle"] = 1
# No task may run as long as the visibility timeout, or Redis would hand a running task to a second
# worker. The longest is a tenant's forecast training (issue target: under a minute for 200 counters);
# the hard limit leaves it thirty times that and stays well below the hour (checked at start).
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=1800)
CELERY_TASK_SOFT_TIME_LIMIT = env.int(
    "CELERY_TASK_SOFT_TIME_LIMIT",
    default=CELERY_TASK_TIME_LIMIT - max(1, min(60, CELERY_TASK_TIME_LIMIT // 10)),
)
_visibility = CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
if _visibility is not None and _visibility <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_TASK_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT} s) must be below CELERY_VISIBILITY_TIMEOUT "
        f"({_visibility} s): a task still running when the timeout passes is handed to a second worker."
    )
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Auth -----------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "tenants.auth_backends.LockoutBackend",  # first: refuses attempts while user name or address is locked
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Sessions end 12 h after log-in whatever the activity, after 30 min without a request, and when the
# browser closes (config.security.SessionExpiryMiddleware enforces the first two).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True  # scripts read the token from the page (csrf-token input), never the cookie
# Two-factor authentication (django-otp): see tenants/mfa.py for who needs it.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Crowd Safety Manager")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Log-in lock-out (tenants/lockout.py): per user name with an exponential delay, and a generous limit per
# client address (a town hall behind NAT is one address). Counts page, admin and token endpoint failures
# and wrong codes. A locked account still logs in with password plus a second-factor code.
LOGIN_LOCKOUT_ENABLED = env.bool("LOGIN_LOCKOUT_ENABLED", default=True)
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCK_BASE_SECONDS = env.int("LOGIN_LOCK_BASE_SECONDS", default=60)
LOGIN_LOCK_MAX_SECONDS = env.int("LOGIN_LOCK_MAX_SECONDS", default=3600)
LOGIN_FAILURE_RESET_SECONDS = env.int("LOGIN_FAILURE_RESET_SECONDS", default=86400)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=100)
LOGIN_ADDRESS_WINDOW_SECONDS = env.int("LOGIN_ADDRESS_WINDOW_SECONDS", default=900)
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=30)
GUARDIAN_RAISE_403 = False

# --- Email (invitations) --------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crowd-safety@localhost")

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("TOKEN_THROTTLE_RATE", default="10/min"),
        "push": env.str("PUSH_THROTTLE_RATE", default="600/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # ?format= is ours (json or csv on observation reads), not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Crowd Safety Manager API",
    "DESCRIPTION": (
        "Live crowd levels, forecasts, alerts and the action log per tenant (municipality, police unit "
        "or event organiser). Tenant resources live under `/api/v1/tenants/{tenant}/`. Every error is "
        "an RFC 7807 problem document."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TenantKindEnum": "tenants.choices.TenantKind",
        "AreaKindEnum": "areas.choices.AreaKind",
        "RoleEnum": "tenants.choices.Role",
        "MetricEnum": "sources.choices.Metric",
        "CrowdLevelEnum": "areas.levels.LEVELS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.add_problem_responses",
        "config.schema_examples.add_examples",
    ],
}

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
# Deepest JSON nesting accepted anywhere (request bodies, feeds, package files); deeper: 400 / parse error.
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=64)
if not 16 <= JSON_MAX_DEPTH <= 500:  # GeoJSON needs about 8 levels; Python's own parser stops near 1000
    raise ImproperlyConfigured(f"JSON_MAX_DEPTH must be between 16 and 500, got {JSON_MAX_DEPTH}.")
# Action-log attachments (photos, PDFs): stored under MEDIA_ROOT, served only through the tenant API (no
# MEDIA_URL), purged after the tenant's retention period.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)

# --- Locale, static -------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "frontend" / "locale"]  # compiled by `make assets` (manage.py compilemessages)
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing root before collectstatic ran
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Hardening (production) -----------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HSTS_SECONDS > 0)
# A year or more of HSTS (with subdomains) qualifies for the browsers' preload list; say so unless told not.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS >= 31536000)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content Security Policy (django-csp): our own files only, no inline script or style. Per-tenant map tile
# hosts are added per response by the pages that show the map (frontend.views._allow_tile_host).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "child-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Celery workers log through LOGGING below (with its redaction filter) instead of their own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Every handler redacts secrets and personal data (config/redaction.py).
    "filters": {"redact": {"()": "config.redaction.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},  # one line per feed request is noise; failures are recorded per source
        "httpcore": {"level": "WARNING"},
    },
}

# --- Audit trail ----------------------------------------------------------------------------------
# How many reverse proxies in front of the app append to X-Forwarded-For: the audit trail takes the client
# address from that header only when this is above 0 (then the entry the outermost trusted proxy added).
# With 0 it records REMOTE_ADDR, so a client cannot forge its address. Default: 1 behind the TLS proxy.
AUDIT_TRUSTED_PROXY_HOPS = env.int(
    "AUDIT_TRUSTED_PROXY_HOPS", default=1 if env.bool("BEHIND_TLS_PROXY", False) else 0
)
# Platform entries (no tenant: failed log-ins with unknown names, invalid tokens) are kept this long.
AUDIT_PLATFORM_RETENTION_DAYS = env.int("AUDIT_PLATFORM_RETENTION_DAYS", default=730)

# --- Geography ------------------------------------------------------------------------------------
# Service region (minlon, minlat, maxlon, maxlat); geometry lying outside it but inside when its axes are
# swapped is rejected as "latitude/longitude swapped". Default: the Netherlands with its coastal waters.
HOME_REGION_BBOX = tuple(env.list("HOME_REGION_BBOX", cast=float, default=[3.0, 50.6, 7.4, 53.8]))

# --- Sources --------------------------------------------------------------------------------------
# Fernet keys (newest first) that encrypt source secrets at rest; empty: derived from SECRET_KEY.
SOURCE_SECRET_KEYS = env.list("SOURCE_SECRET_KEYS", default=[])
SOURCE_HTTP_TIMEOUT = env.float("SOURCE_HTTP_TIMEOUT", default=20.0)
# Successful fetches in a row without a single observation before a source shows "no_data".
SOURCE_NO_DATA_FETCHES = env.int("SOURCE_NO_DATA_FETCHES", default=3)
# Plausibility window of observations (sources/plausibility.py): how far back a push may reach (never
# further than the tenant's retention), how far ahead an observation and a forecast may lie.
PUSH_MAX_AGE_DAYS = env.int("PUSH_MAX_AGE_DAYS", default=3650)
OBSERVATION_MAX_FUTURE_SECONDS = env.int("OBSERVATION_MAX_FUTURE_SECONDS", default=300)
FORECAST_MAX_AHEAD_DAYS = env.int("FORECAST_MAX_AHEAD_DAYS", default=31)


def _egress_networks() -> list[str]:
    """EGRESS_ALLOW_NETWORKS: CIDR networks outgoing requests may reach although not public (empty)."""
    import ipaddress

    networks = env.list("EGRESS_ALLOW_NETWORKS", default=[])
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"EGRESS_ALLOW_NETWORKS: {network!r} is not a CIDR network ({exc})"
            ) from exc
    return networks


EGRESS_ALLOW_NETWORKS = _egress_networks()
SOURCE_MAX_PAYLOAD_BYTES = env.int("SOURCE_MAX_PAYLOAD_BYTES", default=50 * 1024 * 1024)
# After this many consecutive failures a source's circuit opens and fetching pauses (with backoff).
SOURCE_CIRCUIT_THRESHOLD = env.int("SOURCE_CIRCUIT_THRESHOLD", default=5)
# One download per national feed (e.g. NDW's trafficspeed.xml.gz) for every source that reads it
# (sources/shared_feeds.py); false: every source downloads the file itself.
SOURCE_SHARED_FEEDS = env.bool("SOURCE_SHARED_FEEDS", default=True)
PUSH_MAX_ROWS = env.int("PUSH_MAX_ROWS", default=10_000)
# Seconds the area status and GeoJSON are shared between callers who see the same areas (0: off).
CROWD_PICTURE_CACHE_SECONDS = env.int("CROWD_PICTURE_CACHE_SECONDS", default=5)
# SensorThings API: entities per page when $top is absent, and the most one page (or expansion) carries.
STA_DEFAULT_TOP = env.int("STA_DEFAULT_TOP", default=100)
STA_MAX_TOP = env.int("STA_MAX_TOP", default=1000)
