"""Settings shared by every environment; values come from the environment.

Grouped by subject in cookiecutter-django's order, each setting defined once; the overlays
(local, test, production) change only what differs there.
"""

import os
from pathlib import Path

import dj_database_url
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
# Ours first, then the Chinese we give strings of Django and installed packages (see its header).
LOCALE_PATHS = [BASE_DIR / "crm" / "locale", BASE_DIR / "config" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# Local date formats (2026-11-27) for the Chinese screens: crm/formats/zh_Hans/formats.py.
FORMAT_MODULE_PATH = "crm.formats"
# How many reverse proxies stand in front of the application and append to X-Forwarded-For (nginx
# with `proxy_add_x_forwarded_for`: 1). 0 trusts no header: the client is REMOTE_ADDR. A wrong
# value either lets a client choose its own address (too high) or gives everyone the proxy's (0).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# DATABASES
# ------------------------------------------------------------------------------
# SQLite at the repository root unless DATABASE_URL names another database.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# CACHES
# ------------------------------------------------------------------------------
# The registration rate limit counts in the cache, so every gunicorn worker must see the same one:
# production sets REDIS_URL (or CACHE_URL), e.g. redis://127.0.0.1:6379/1. Without it each process
# keeps its own in memory, which is right for development and tests only.
CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# URLS
# ------------------------------------------------------------------------------
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "crm.apps.CrmAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "import_export",
    "rangefilter",
    "multiselectfield",
    "axes",
    "csp",
    "crm",
]

# AUTHENTICATION
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "crm.UserProfile"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked-out clients before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading a user's permissions in one query instead of two.
    "crm.backends.ModelBackend",
]
LOGIN_URL = "login"
# The login middleware lets these through without a login: URL names, or "namespace:" for a whole
# namespace (the admin has its own login). Static files pass by their URL prefix.
LOGIN_EXEMPT_URL_NAMES = env_list("LOGIN_EXEMPT_URL_NAMES", "login,register,logout,admin:")
# django-axes. Failures are counted per (username, client) pair and per username, never per client
# alone: behind a proxy, or at a school where everyone shares one public address, a per-address lock
# would lock everybody out for what one visitor typed. The boss unlocks a user in the admin (登录尝试).
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "0.5"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# A lockout answers with our translated page, on our login and the admin's alike.
AXES_LOCKOUT_CALLABLE = "crm.views.lockout_response"
# The client address through django-ipware. ipware counts the proxies *listed in* X-Forwarded-For
# after the client, and the nearest proxy is REMOTE_ADDR, not in the header: with N trusted proxies
# the client is the N-th address from the right, which is ipware's proxy_count N - 1. Not strict, so
# that a longer header (addresses the client made up, on the left) still yields the right one.
AXES_IPWARE_PROXY_ORDER = "left-most"
AXES_IPWARE_PROXY_COUNT = max(TRUSTED_PROXY_COUNT - 1, 0) if TRUSTED_PROXY_COUNT else None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if TRUSTED_PROXY_COUNT else ("REMOTE_ADDR",)
)
IPWARE_STRICT = False

# PASSWORDS
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # The minimum length check with its message in Chinese (Django 5.2's stays English; see the module).
    {"NAME": "crm.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "crm.password_validation.NotBlankValidator"},
]

# MIDDLEWARE
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "crm.middleware.LoginRequiredMiddleware",
    # A NUL byte in a query string or a path is refused (400) before a view hands it to the database.
    "crm.middleware.RejectNulBytesMiddleware",
]

# STATIC
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# MEDIA
# ------------------------------------------------------------------------------
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Homework uploads live outside MEDIA_ROOT: they are served only through a view that checks access.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", BASE_DIR / "private_media"))
# The largest request body that is not a file upload (form fields), read into memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(2_621_440)))
# Ours first: it stops reading a homework upload once it passes HOMEWORK_MAX_UPLOAD_MB.
FILE_UPLOAD_HANDLERS = [
    "crm.uploads.HomeworkSizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# TEMPLATES
# ------------------------------------------------------------------------------
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# SECURITY
# ------------------------------------------------------------------------------
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# HTTPS redirect, HSTS and secure cookies are production's (config/settings/production.py).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts only from our own static files. A nonce for the inline scripts of django-admin-rangefilter's
# templates (they print request.csp_nonce), and the hash of the one inline handler of
# django-import-export's export form (its "select all" box, admin/import_export/export.html, 4.x).
# Inline styles stay allowed: Django's own admin/change_list.html and several admin templates of ours
# have <style> blocks, and the dashboard's bars set their widths in style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [
            csp.SELF,
            csp.NONCE,
            csp.UNSAFE_HASHES,
            "'sha256-wid4zL8fR53ZYy1ljOepzR77Dn6vWUUxuNnnWWBP3I8='",
        ],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# ADMIN LISTS
# ------------------------------------------------------------------------------
# A list of more rows than this, with no search term and no filter, shows PostgreSQL's estimate of its
# rows (「约 90 万条」) instead of counting them at every page; SQLite always counts.
ADMIN_EXACT_COUNT_LIMIT = int(os.environ.get("ADMIN_EXACT_COUNT_LIMIT", "100000"))

# SALES
# ------------------------------------------------------------------------------
MAX_CUSTOMER_NUM = int(os.environ.get("MAX_CUSTOMER_NUM", "150"))
# A private customer not followed up by its salesperson for this many days (counted from the claim,
# the last follow-up or the creation, whichever is latest) goes back to the public pool when
# `manage.py recycle_customers` runs; only customers who have not signed up. 0 turns it off.
CUSTOMER_RECYCLE_DAYS = int(os.environ.get("CUSTOMER_RECYCLE_DAYS", "15"))
# The public pool's rules; each 0 turns the rule off.
# Claims one user may make from the pool since local midnight (customers handed out by the boss do not count).
CUSTOMER_DAILY_CLAIM_LIMIT = int(os.environ.get("CUSTOMER_DAILY_CLAIM_LIMIT", "30"))
# Days during which a salesperson cannot claim back a customer they released or that was recycled from them.
CUSTOMER_RECLAIM_COOLDOWN_DAYS = int(os.environ.get("CUSTOMER_RECLAIM_COOLDOWN_DAYS", "7"))
# A private customer not enrolled within this many days of its claim is recycled, even if followed up.
CUSTOMER_DEAL_DAYS = int(os.environ.get("CUSTOMER_DEAL_DAYS", "90"))
# Private customers one user may lock against recycling.
CUSTOMER_LOCK_LIMIT = int(os.environ.get("CUSTOMER_LOCK_LIMIT", "10"))
# Accounts the register page creates per client address and hour; 0 turns the limit off.
REGISTER_RATE = int(os.environ.get("REGISTER_RATE", "10"))

# TEACHING
# ------------------------------------------------------------------------------
HOMEWORK_ALLOWED_EXTENSIONS = env_list(
    "HOMEWORK_ALLOWED_EXTENSIONS", "zip,rar,7z,tar,gz,pdf,doc,docx,txt,md,py,ipynb,png,jpg,jpeg"
)
HOMEWORK_MAX_UPLOAD_MB = int(os.environ.get("HOMEWORK_MAX_UPLOAD_MB", "10"))

# FINANCE
# ------------------------------------------------------------------------------

# IMPORTS
# ------------------------------------------------------------------------------
# django-import-export: without these codes every staff user could import and export.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
# The uploaded file waits between the preview and the confirmation in storage that every gunicorn
# worker sees (a worker's own temp folder would lose it). Default: a folder outside MEDIA_ROOT, so
# that customer lists are never reachable from a public URL; share it between servers, or use
# "import_export.tmp_storages.CacheStorage" with a shared cache.
IMPORT_EXPORT_TMP_STORAGE_CLASS = os.environ.get(
    "IMPORT_EXPORT_TMP_STORAGE_CLASS", "import_export.tmp_storages.MediaStorage"
)
IMPORT_TMP_ROOT = Path(os.environ.get("IMPORT_TMP_ROOT", PRIVATE_MEDIA_ROOT / "imports"))
STORAGES["import_export"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": IMPORT_TMP_ROOT},
}
# Largest file accepted by the import page, in megabytes.
IMPORT_MAX_FILE_MB = int(os.environ.get("IMPORT_MAX_FILE_MB", "50"))
# Rows of a customer file read at most, counted while it is read: a larger file is refused before
# its rows are built (an xlsx is also refused when it unpacks to more than 20 × IMPORT_MAX_FILE_MB).
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "200000"))

# JOBS
# ------------------------------------------------------------------------------
# Imports and exports of more rows than this run as background jobs (Celery tasks) with a job page.
JOB_ROWS_THRESHOLD = int(os.environ.get("JOB_ROWS_THRESHOLD", "20000"))
# A job's result file (an export, the rejected rows of an import) and the uploads of import previews
# never confirmed are deleted by `manage.py cleanup_jobs` after this many days.
JOB_RESULT_DAYS = int(os.environ.get("JOB_RESULT_DAYS", "7"))
# Redis, e.g. redis://127.0.0.1:6379/0. Without it a job runs in the request that starts it, so a
# single server needs nothing more; with it, `celery -A config worker` runs the jobs.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "crm")
# The job's row holds its state and result; a result backend is optional (the test of the worker uses one).
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# A job takes minutes: a worker takes one at a time, so that a second job waits for a free worker.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# `celery -A config beat` (one, on one server): the dashboard's daily figures of closed days are stored
# every DASHBOARD_AGGREGATE_SECONDS (`manage.py aggregate_dashboard` from cron does the same); the
# dashboard computes the days not stored yet live, so this only decides how fast it is, never its figures.
DASHBOARD_AGGREGATE_SECONDS = int(os.environ.get("DASHBOARD_AGGREGATE_SECONDS", "300"))
CELERY_BEAT_SCHEDULE = {
    "aggregate-dashboard": {"task": "crm.aggregate_dashboard", "schedule": DASHBOARD_AGGREGATE_SECONDS},
}
# PostgreSQL compiles a query to machine code (JIT) when its plan looks expensive: two of the three
# seconds of the dashboard's year with 30 days changed since they were stored, and a quarter to two
# thirds of the all-live figures, never won back on the queries of a web request (bench/README.md).
# Off for the application's connections; POSTGRES_JIT=on keeps the server's own setting.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool("POSTGRES_JIT", False):
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()

# An import writes in one transaction; its progress goes through a second connection to the same
# database, so that the job page sees it before the commit (PostgreSQL only: SQLite has one writer).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["jobs"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}

if not DEBUG and not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
