"""Medreg settings.

Everything that differs between machines comes from the environment. The defaults give the
embedded set-up a newcomer needs: SQLite under var/, Celery tasks run inline, mail and SMS to
the console. Production (DJANGO_ENV=production) refuses to start without a real secret key.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MEDREG_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    """Read a setting from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


ENVIRONMENT = os.environ.get("DJANGO_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)

_DEV_SECRET = "dev-insecure-secret-key-do-not-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY (or SECRET_KEY_FILE) must be set to a random value of 50+ characters when DJANGO_ENV=production."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Reverse proxies (addresses or networks) whose X-Forwarded-For gives the client's address
# (core.middleware.TrustedProxyMiddleware); empty: REMOTE_ADDR is used as it is.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

INSTALLED_APPS = [
    # The admin with the staff desk as its home page (desk.sites.DeskAdminSite).
    "desk.apps.DeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "csp",
    "core",
    "portal",
    "accounts",
    "registry",
    "verification",
    "orgs",
    "support",
    "desk.apps.DeskConfig",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "backups",
    "perf",
    "demo",
]

MIDDLEWARE = [
    "core.middleware.TrustedProxyMiddleware",
    "core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Answers for a signed-in user or a session that holds data are private: never stored by a
    # browser or a proxy (core.private_pages).
    "core.private_pages.NoStoreMiddleware",
    # Public reads of the register from a read replica; writers pinned to the primary (core.replicas).
    "core.replicas.ReplicaMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% url %} with literal arguments reversed once per process (core/templatetags/memo_url.py).
            "builtins": ["core.templatetags.memo_url"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_POOL_MODE says what sits between the app and PostgreSQL: empty (a direct connection),
# "transaction" or "session" (PgBouncer in that pool mode; see docs/deployment.md). Behind a
# transaction pool, consecutive transactions of one connection may reach different server
# connections, so Django's server-side cursors (declared WITH HOLD outside a transaction, then
# fetched later) are off, and per-session settings cannot be sent as the `options` startup parameter
# (PgBouncer refuses it): the pooler sets them on its server connections instead (connect_query).
DATABASE_POOL_MODE = env_str("DATABASE_POOL_MODE").strip().lower()
if DATABASE_POOL_MODE not in {"", "transaction", "session"}:
    raise ImproperlyConfigured("DATABASE_POOL_MODE must be empty, 'transaction' or 'session'.")
# The web's queries are short index walks: a JIT compilation (tens of milliseconds) or parallel
# workers (process start-up, and cores taken from other requests) cost more than they save.
# Batch jobs that want them can SET them for their own session.
DB_SESSION_OPTIONS = env_str("DB_SESSION_OPTIONS", "-c jit=off -c max_parallel_workers_per_gather=0")


def database_config(url: str, *, pooled: bool, connect_timeout: int | None = None) -> dict:
    config = dj_database_url.parse(
        url, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")), conn_health_checks=True
    )
    if config["ENGINE"] == "django.db.backends.postgresql":
        options = config.setdefault("OPTIONS", {})
        if DB_SESSION_OPTIONS and not pooled:
            options["options"] = DB_SESSION_OPTIONS
        if connect_timeout is not None:
            options["connect_timeout"] = connect_timeout
    return config


DATABASES = {
    "default": database_config(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'medreg.sqlite3'}"), pooled=bool(DATABASE_POOL_MODE)
    )
}
if DATABASE_POOL_MODE == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

# Read replicas (PostgreSQL streaming replicas, reached directly, not through the pooler: a replica
# that goes away must fail at once so it can be skipped; see portal/replicas.py). Public reads of
# the register (search, profiles, exports, API, FHIR) go to a replica that answers and is no more
# than DATABASE_REPLICA_MAX_LAG seconds behind; everything else, and every read of a browser that
# wrote in the last DATABASE_REPLICA_PIN_SECONDS, goes to the primary.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS")
DATABASE_REPLICA_MAX_LAG = float(env_str("DATABASE_REPLICA_MAX_LAG", "10") or 10)
DATABASE_REPLICA_PIN_SECONDS = int(env_str("DATABASE_REPLICA_PIN_SECONDS", "30") or 30)
# A replica's state (up, lag) is re-read at most this often per process; a replica found down or
# lagging is left alone for the longer interval.
DATABASE_REPLICA_CHECK_SECONDS = float(env_str("DATABASE_REPLICA_CHECK_SECONDS", "5") or 0)
DATABASE_REPLICA_RETRY_SECONDS = float(env_str("DATABASE_REPLICA_RETRY_SECONDS", "15") or 0)
DATABASE_REPLICA_CONNECT_TIMEOUT = int(env_str("DATABASE_REPLICA_CONNECT_TIMEOUT", "2") or 2)
for _index, _url in enumerate(DATABASE_REPLICA_URLS, start=1):
    _replica = database_config(_url, pooled=False, connect_timeout=DATABASE_REPLICA_CONNECT_TIMEOUT)
    if not (_replica["ENGINE"] == DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URLS: replicas are PostgreSQL streaming replicas of a PostgreSQL primary."
        )
    # A query on a replica whose host vanished (no reset, no answer) fails after this many
    # milliseconds instead of waiting for TCP's own timeout (minutes).
    _replica["OPTIONS"].setdefault("tcp_user_timeout", DATABASE_REPLICA_CONNECT_TIMEOUT * 1000)
    # Tests: the test database on the replica is the primary's, arriving by replication.
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_index}"] = _replica
DATABASE_ROUTERS = ["core.replicas.ReplicaRouter"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/ yet
    # WAL lets the dev server read while a management command writes; the busy timeout
    # turns "database is locked" into a short wait.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not Django's shared in-memory database: live-server threads of browser tests then
    # open their own connections instead of borrowing the test thread's.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # A RedisCache that serves as "no cache" while Redis is down (core.cache).
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "medreg",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Public register searches per minute per client IP (core.ratelimit); 0 turns the limit off
# (load benchmarks from one address only).
PUBLIC_SEARCH_RATE_LIMIT = int(env_str("PUBLIC_SEARCH_RATE_LIMIT", "120") or 0)

# --- Celery ---------------------------------------------------------------------------------
# Without a broker every task runs inline, so the embedded set-up needs no servers.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# No result backend: nothing reads a task's return value (state lives in the rows the tasks claim).
# With one on Redis, publishing a task subscribed to its result first, and while Redis was down that
# subscription retried for about 19 s in the request (three such requests held every gunicorn worker).
# Tasks ignore their results, and core.reconcile publishes with ignore_result as well, so even an
# explicitly configured CELERY_RESULT_BACKEND is never consulted when a request enqueues.
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# At-least-once delivery (see core/reconcile.py and docs/operations.md, "Fault tolerance"): a task is acknowledged
# only after it ran (acks late), a task whose worker process died goes back to the queue (reject on
# worker lost), and an unacknowledged task of a worker killed outright is redelivered after the
# visibility timeout, which must stay longer than the longest task time limit (tests check every task).
# Tasks claim their rows (conditional UPDATE), so a second delivery does nothing.
CELERY_BROKER_VISIBILITY_TIMEOUT = int(env_str("CELERY_BROKER_VISIBILITY_TIMEOUT", "7200"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
# Publishing gives up quickly while the broker is down: the request that enqueues must not hang;
# its row stays queued and the reconciler enqueues it again (core.reconcile.enqueue_on_commit).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # a worker waits for Redis to come back, however long
# Tests and several installations sharing one Redis keep their tasks apart by queue name.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Worker logs go through LOGGING below (request ids, personal data scrubbed), not Celery's handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "Europe/Moscow"
# Every periodic job is declared here, in one place.
CELERY_BEAT_SCHEDULE = {
    "advance-admission-statuses": {
        "task": "registry.advance_admission_statuses",
        "schedule": crontab(hour=0, minute=5),
    },
    # Exact word counts for the search (new words are added as workers change; see registry.search).
    "rebuild-search-words": {
        "task": "registry.rebuild_search_words",
        "schedule": crontab(hour=3, minute=30),
    },
    # Rows left "queued" because the broker was down when they were enqueued, or "running" on a
    # worker that died, are enqueued again (core.reconcile).
    "reconcile-queued": {
        "task": "core.reconcile_queued",
        "schedule": 300.0,
    },
    # After the statuses have moved, so the digest reports today's changes.
    "saved-search-digest": {
        "task": "registry.saved_search_digest",
        "schedule": crontab(hour=7, minute=0),
    },
    # The organizations' weekly expiry digest (orgs.digest), Monday morning after the statuses moved;
    # claimed per organization and week, so a second run sends nothing.
    "org-expiry-digest": {
        "task": "orgs.expiry_digest",
        "schedule": crontab(hour=7, minute=20, day_of_week=1),
    },
    # Verification deadlines (verification.deadlines): hourly, so the 24-hour escalation is at
    # most an hour late; each sweep is idempotent.
    "verification-deadlines": {
        "task": "verification.run_deadlines",
        "schedule": crontab(minute=15),
    },
    # Blobs of uploads whose transaction rolled back (verification.documents.documents_sweep_orphans).
    "sweep-orphan-documents": {
        "task": "verification.sweep_orphan_documents",
        "schedule": crontab(hour=4, minute=40),
    },
    # Sent e-mail and SMS leave the outbox after 30 days (accounts.outbox.KEEP_SENT).
    "purge-sent-messages": {
        "task": "accounts.purge_sent_messages",
        "schedule": crontab(hour=4, minute=50),
    },
    # Data quality (issue 7): duplicates, discrepancy alerts and their e-mail digest; the weekly
    # audit; the workforce snapshot the monitoring dashboard reads.
    "dq-checks-and-digest": {
        "task": "registry.dq_checks",
        "schedule": crontab(hour=6, minute=30),
    },
    "dq-audit-weekly": {
        "task": "registry.dq_audit",
        "schedule": crontab(hour=3, minute=0, day_of_week="mon"),
    },
    "workforce-snapshot": {
        "task": "registry.workforce_snapshot",
        "schedule": crontab(hour=1, minute=30),
    },
}
# Who gets the discrepancy digest; empty means every active staff user with an e-mail.
DQ_ALERT_EMAILS = [e.strip() for e in os.environ.get("DQ_ALERT_EMAILS", "").split(",") if e.strip()]

# --- Passwords, sessions, cookies -----------------------------------------------------------
# Length and a breach list, no composition rules (NIST SP 800-63B): a long all-digit or all-lower-case
# password is fine unless it is a known one. Our list replaces Django's CommonPasswordValidator.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "snils", "last_name", "first_name", "middle_name", "email")},
    },
    {"NAME": "accounts.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "accounts.password_validation.CommonPasswordListValidator"},
    {"NAME": "accounts.password_validation.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "portal:landing"
# Where a finished login lands (staff desk, cabinet, the page asked for): one function in the wiring,
# so accounts needs to know none of the apps it sends people to.
LOGIN_LANDING = "portal.views.after_login_url"
LOGOUT_REDIRECT_URL = "portal:landing"

# Absolute session lifetime 12 hours; the 30-minute idle limit is enforced by
# accounts.middleware.SessionTimeoutMiddleware.
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_IDLE_TIMEOUT = 30 * 60
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if REDIS_URL else "django.contrib.sessions.backends.db"
PASSWORD_RESET_TIMEOUT = 2 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): no inline scripts or styles anywhere, every asset from us.
# Templates load scripts and styles from static/ only; documents are served with their own stricter
# policy (verification.documents.document_response), which the middleware leaves alone.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if PRODUCTION:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["upgrade-insecure-requests"] = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # The container health check calls /healthz over plain HTTP from inside the container.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Documents ------------------------------------------------------------------------------
# Uploaded documents live outside the web root and are encrypted at rest. Keys are a
# comma-separated list of Fernet keys; the first encrypts, all decrypt (rotation).
DOCUMENT_STORAGE_DIR = Path(os.environ.get("DOCUMENT_STORAGE_DIR", VAR_DIR / "documents"))
DOCUMENT_ENCRYPTION_KEYS = env_list("DOCUMENT_ENCRYPTION_KEYS")
if not DOCUMENT_ENCRYPTION_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured("DOCUMENT_ENCRYPTION_KEYS must be set when DJANGO_ENV=production.")
    # A fixed development key: documents stored by the demo are not secret.
    DOCUMENT_ENCRYPTION_KEYS = ["bWVkcmVnLWRldi1vbmx5LWtleS1ub3Qtc2VjcmV0ISE="]
# Total size of the documents one account may keep (plaintext bytes).
DOCUMENT_QUOTA_BYTES = int(os.environ.get("DOCUMENT_QUOTA_BYTES", str(200 * 1024 * 1024)))
for _key in DOCUMENT_ENCRYPTION_KEYS:
    # Fail at start-up, not at the first upload, when a key is malformed.
    try:
        from cryptography.fernet import Fernet

        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "DOCUMENT_ENCRYPTION_KEYS: each key must be a Fernet key (32 url-safe base64-encoded bytes)"
        ) from None
# Key of `manage.py backup` / `restore` / `verify_backup` (backups.services): 32 bytes, url-safe base64.
# Keep it (and DOCUMENT_ENCRYPTION_KEYS) somewhere other than the backups themselves.
BACKUP_ENCRYPTION_KEY = env_str("BACKUP_ENCRYPTION_KEY")
MEDIA_ROOT = VAR_DIR / "media"
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
# Certificate login trusts exactly the CA certificates (PEM files: roots and intermediates of
# accredited certification centres) in this directory; see accounts/certificates.py.
TRUSTED_CA_CERTIFICATES_DIR = Path(os.environ.get("TRUSTED_CA_CERTIFICATES_DIR", VAR_DIR / "trusted_ca"))

# --- E-mail and SMS -------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Where django.core.mail.backends.filebased.EmailBackend keeps the messages, a file each.
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Медрег <noreply@medreg.local>")
# Dotted path of an SMS backend class (accounts.sms); console in development.
SMS_BACKEND = env_str(
    "SMS_BACKEND", "accounts.sms.HttpGatewayBackend" if PRODUCTION else "accounts.sms.DatabaseBackend"
)
SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL")
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN")

# --- I18N -----------------------------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский")]
TIME_ZONE = "Europe/Moscow"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Encrypted documents (verification.documents) go through the storage alias "documents". Moving
# them to S3-compatible storage is configuration only: install django-storages[s3], set
# DOCUMENT_STORAGE_BACKEND=storages.backends.s3.S3Storage, DOCUMENT_S3_BUCKET and, for a
# non-AWS service, DOCUMENT_S3_ENDPOINT_URL / DOCUMENT_S3_REGION; credentials come from boto3's
# usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. The blobs are encrypted before they leave.
DOCUMENT_STORAGE_BACKEND = env_str("DOCUMENT_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
if DOCUMENT_STORAGE_BACKEND.endswith("FileSystemStorage"):
    _document_storage_options = {
        "location": str(DOCUMENT_STORAGE_DIR),
        "file_permissions_mode": 0o600,
        "directory_permissions_mode": 0o700,
    }
elif ".s3" in DOCUMENT_STORAGE_BACKEND:
    _document_storage_options = {
        "bucket_name": env_str("DOCUMENT_S3_BUCKET"),
        "endpoint_url": env_str("DOCUMENT_S3_ENDPOINT_URL") or None,
        "region_name": env_str("DOCUMENT_S3_REGION") or None,
        "location": env_str("DOCUMENT_S3_PREFIX", "documents"),
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
    }
else:
    _document_storage_options = {}
STORAGES["documents"] = {"BACKEND": DOCUMENT_STORAGE_BACKEND, "OPTIONS": _document_storage_options}

# --- Tables ---------------------------------------------------------------------------------
DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"

# --- Registry rules -------------------------------------------------------------------------
ADMISSION_EXPIRING_DAYS = 90
ADMISSION_VALIDITY_YEARS = 5
CME_CYCLE_HOURS = int(os.environ.get("CME_CYCLE_HOURS", "144"))
# Continuing-education hours required in the 5-year cycle before periodic accreditation.
CME_REQUIRED_HOURS = int(os.environ.get("CME_REQUIRED_HOURS", str(CME_CYCLE_HOURS)))
CME_CYCLE_YEARS = 5

# --- Verification ---------------------------------------------------------------------------
# The state registry gateway (verification.gateways). The default is a stand-in reading the
# StateRegistryReference table; production sets verification.gateways.HttpStateRegistryGateway
# and STATE_REGISTRY_URL (an adapter in front of the tax service and the social fund).
VERIFICATION_GATEWAY = env_str("VERIFICATION_GATEWAY", "verification.gateways.ReferenceTableGateway")
STATE_REGISTRY_URL = env_str("STATE_REGISTRY_URL")
STATE_REGISTRY_TOKEN = env_str("STATE_REGISTRY_TOKEN")
STATE_REGISTRY_TIMEOUT = float(os.environ.get("STATE_REGISTRY_TIMEOUT", "5"))
STATE_REGISTRY_RETRIES = int(os.environ.get("STATE_REGISTRY_RETRIES", "2"))
# Absolute links in e-mail and SMS.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
SUPPORT_PHONE = os.environ.get("SUPPORT_PHONE", "8 800 000-00-00")
SUPPORT_HOURS = os.environ.get("SUPPORT_HOURS", "ежедневно с 8:00 до 20:00 по московскому времени")

# --- Integration API and extracts (api app) ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.PartnerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.PartnerRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.rest.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Медрег API",
    "DESCRIPTION": "Registry of medical workers: workers, organizations, licenses, admission documents, directories.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Without deep links each operation's path is a plain text inside its toggle button: a link
    # nested in a button is an interactive control inside another (axe-core: nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Parameters come from their declarations in api.parameters, the ones that validate the request.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.rest.schema.apply_parameters"],
}
# Requests per minute without a token, per client IP; a partner token carries its own limit.
API_ANON_RATE_PER_MINUTE = int(env_str("API_ANON_RATE_PER_MINUTE", "60") or 0)
# Extract signing keys (Ed25519): "key_id:base64 raw private key" items, comma-separated; the
# first signs, all verify (rotation). Ids listed in EXTRACT_REVOKED_KEY_IDS no longer verify.
EXTRACT_SIGNING_KEYS = env_list("EXTRACT_SIGNING_KEYS")
EXTRACT_REVOKED_KEY_IDS = env_list("EXTRACT_REVOKED_KEY_IDS")
if PRODUCTION and not EXTRACT_SIGNING_KEYS:
    raise ImproperlyConfigured("EXTRACT_SIGNING_KEYS must be set when DJANGO_ENV=production.")
# Empty in development: the api app generates a key once under VAR_DIR; the api app also refuses to
# start with a malformed key (api.apps.ApiConfig.ready).

# --- Logging --------------------------------------------------------------------------------
# Every record carries the request id and goes through core.logging.ScrubFilter, which masks
# passwords, one-time codes, SNILS, INN, phones, e-mails and document bytes before it is written.
# Django's own loggers are routed to the same handler (not to its unfiltered defaults), and Celery
# keeps this configuration instead of installing its own handlers (worker_hijack_root_logger).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logging.RequestIdFilter"},
        "scrub": {"()": "core.logging.ScrubFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id", "scrub"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}
