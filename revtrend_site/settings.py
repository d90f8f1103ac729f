"""RevTrend settings: one file, driven by environment variables (see .env.example)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
import dj_email_url
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE

from .csp import plotly_style_hashes
from .env import env_bool, env_float, env_int, env_list, env_str, env_url, local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("REVTREND_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY") or local_secret_key(VAR_DIR / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "accounts",
    "customers",
    "analytics",
    "reports",
    "backtests",
    "workflow",
    "operations",
    "audit",
    "django_celery_beat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "revtrend_site.middleware.RejectControlCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "revtrend_site.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "revtrend_site.urls"
WSGI_APPLICATION = "revtrend_site.wsgi.application"

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
                "accounts.context_processors.teams",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
_DEFAULT_DB_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
_db_url = env_url(
    "DATABASE_URL",
    schemes=("sqlite", "postgres", "postgresql", "pgsql"),
    default=_DEFAULT_DB_URL,
)
DATABASES = {"default": dj_database_url.parse(_db_url, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets pages read while an import writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # The app's queries are short; PostgreSQL's JIT compiled them anyway, adding 10–34 ms
    # to each risk-table page (measured with EXPLAIN ANALYZE at 100,000 customers).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT failures for one account, or
# from one address, further attempts are refused for LOGIN_LOCKOUT_MINUTES; an admin
# unlocks sooner in the admin ("Access attempts") or with `manage.py axes_reset_username`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "revtrend_site.middleware.client_ip"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.min.js ships inside the plotly package: served by us, never from a CDN.
    "revtrend_site.storage.PlotlyFinder",
]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (cached for a year: a new version is a new name), gzip and brotli beside.
    "staticfiles": {"BACKEND": "revtrend_site.storage.StaticStorage"},
}
# Serve from the app directories too, so a checkout works before collectstatic.
WHITENOISE_USE_FINDERS = True

# Uploads: the largest file accepted (checked while it arrives), in MB.
MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 200, minimum=1)
# An upload never confirmed is deleted (with its file) by the watchdog after this long.
DRAFT_UPLOAD_HOURS = env_int("DRAFT_UPLOAD_HOURS", 24, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Files stream to a temporary file and are cut off past MAX_UPLOAD_MB while still arriving.
FILE_UPLOAD_HANDLERS = ["customers.uploading.SizeLimitedUploadHandler"]

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", schemes=("redis", "rediss", "amqp", "amqps", "pyamqp", "memory")
)
# No broker configured: tasks run in-process, which is what a laptop demo wants — queued from
# a web request, in a thread of their own, so the page answers at once and polls their
# progress like a worker's (a long import or LLM call never runs against the request's limit).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # Eager tasks reach no broker, but Celery still builds a connection object to serialise
    # them; with no URL kombu warned "No hostname was supplied" on every command. The
    # in-memory transport has no host to miss.
    CELERY_BROKER_URL = "memory://localhost/"
EAGER_TASKS_IN_BACKGROUND = env_bool("EAGER_TASKS_IN_BACKGROUND", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = (
    env_str(
        "CELERY_RESULT_BACKEND",
        CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "",
    )
    or None
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("BROKER_CONNECT_TIMEOUT", 3.0, minimum=0.1)
# A request that queues work waits at most this long for the broker, then says it is down.
BROKER_SEND_TIMEOUT = CELERY_BROKER_CONNECTION_TIMEOUT
# The watchdog (`make beat`, or `manage.py watchdog`): work with no sign of life for this
# many seconds is queued again, finished or failed with the reason.
WATCHDOG_STALLED_AFTER = env_int("WATCHDOG_STALLED_AFTER", 300, minimum=10)
# `make beat` keeps its schedule in the database (django-celery-beat): these entries, and
# each team's scheduled analysis, which its admins set on the team's schedule page.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DIGEST_HOUR = env_int("DIGEST_HOUR", 7, minimum=0)  # local time of the daily and weekly digests
CELERY_BEAT_SCHEDULE = {
    "watchdog": {"task": "operations.tasks.watchdog_task", "schedule": 60.0},
    "daily-digest": {
        "task": "workflow.tasks.daily_digest_task",
        "schedule": crontab(minute=0, hour=DIGEST_HOUR),
    },
    "weekly-digest": {
        "task": "workflow.tasks.weekly_digest_task",
        "schedule": crontab(minute=15, hour=DIGEST_HOUR, day_of_week="mon"),
    },
}
# Re-analyse a team's data after each successful import (each team may turn it off too).
ANALYSE_AFTER_IMPORT = env_bool("ANALYSE_AFTER_IMPORT", True)

# --- E-mail and links -------------------------------------------------------------
# EMAIL_URL (smtp://user:password@host:587/?tls=True, console:, …) or the usual EMAIL_*
# settings; without either, e-mail is printed on the console.
_email = dj_email_url.parse(env_str("EMAIL_URL", "console:"))
EMAIL_BACKEND = env_str("EMAIL_BACKEND", _email["EMAIL_BACKEND"])
EMAIL_HOST = env_str("EMAIL_HOST", _email["EMAIL_HOST"] or "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", _email["EMAIL_PORT"] or 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", _email["EMAIL_HOST_USER"] or "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", _email["EMAIL_HOST_PASSWORD"] or "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", _email["EMAIL_USE_TLS"])
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", _email["EMAIL_USE_SSL"])
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "RevTrend <revtrend@localhost>")
# Where the app is reached from outside: links in e-mails and webhook messages.
SITE_URL = env_url("SITE_URL", schemes=("http", "https"), default="http://127.0.0.1:8000")
# Webhooks: seconds to wait for an answer, and attempts before giving up (backing off).
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 10.0, minimum=0.5)
WEBHOOK_ATTEMPTS = env_int("WEBHOOK_ATTEMPTS", 5, minimum=1)
WEBHOOK_BACKOFF = env_float("WEBHOOK_BACKOFF", 30.0, minimum=0.0)

# --- Analysis -------------------------------------------------------------------
# Customers per chunk task: large portfolios are split so Celery spreads them over workers.
ANALYSIS_CHUNK_SIZE = env_int("ANALYSIS_CHUNK_SIZE", 20000, minimum=1)
# The longest window analysed, in months (older data stays stored but is not read).
ANALYSIS_WINDOW_MONTHS = env_int("ANALYSIS_WINDOW_MONTHS", 60, minimum=12)

# --- LLM (reports) --------------------------------------------------------------
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_url("OPENAI_BASE_URL", schemes=("http", "https"))
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_TIMEOUT = env_float("OPENAI_TIMEOUT", 60.0, minimum=1.0)
# Our retry policy for the model server (429, 5xx, timeouts): attempts, first wait in
# seconds (doubling, with jitter), and the longest Retry-After we honour.
LLM_RETRY_ATTEMPTS = env_int("LLM_RETRY_ATTEMPTS", 3, minimum=1)
LLM_RETRY_BACKOFF = env_float("LLM_RETRY_BACKOFF", 1.0, minimum=0.0)
LLM_RETRY_AFTER_CAP = env_float("LLM_RETRY_AFTER_CAP", 30.0, minimum=0.0)

# --- Security (production) -----------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_COOKIES", default=not DEBUG and bool(env_str("SECRET_KEY"))):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
if env_bool("SECURE_HSTS", default=False):
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
# Content-Security-Policy on every response: scripts, styles, images and requests from the
# app itself only; no inline script, no eval (htmx is configured for it in base.html, and
# the Plotly charts run without eval — the Chromium test watches for violations).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # Style elements: the app's stylesheet, and Plotly's own (an empty element it fills
        # through CSSOM, one literal stylesheet) by their hashes — nothing injected can match.
        "style-src-elem": [SELF, *plotly_style_hashes()],
        # Style attributes cannot run script; Plotly (d3) writes them from its JS.
        "style-src-attr": [UNSAFE_INLINE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],  # Plotly's "download as PNG"
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # An expected 4xx (403, 404, 405) is one line, not a traceback; a 500 keeps its traceback.
    "filters": {"one_line_4xx": {"()": "revtrend_site.logs.OneLineClientErrors"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["one_line_4xx"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # In-process tasks (no broker) would print Celery's "Task … succeeded in …" between a
    # command's own lines; a worker's log keeps them.
    "loggers": {"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {},
}
