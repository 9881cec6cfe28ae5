"""Settings shared by every environment; values come from the environment."""

import os
from pathlib import Path

import dj_database_url
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


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

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
    "crm",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite at the repository root unless DATABASE_URL names another database.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "crm.UserProfile"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked-out clients before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
# Ours first, then the Chinese we give strings of Django and installed packages (see its header).
LOCALE_PATHS = [BASE_DIR / "crm" / "locale", BASE_DIR / "config" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Homework uploads live outside MEDIA_ROOT: they are served only through a view that checks access.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", BASE_DIR / "private_media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Business rules
MAX_CUSTOMER_NUM = int(os.environ.get("MAX_CUSTOMER_NUM", "150"))

# django-import-export: without these codes every staff user could import and export.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_SKIP_ADMIN_LOG = False

# django-axes: lock a username or a client after repeated failed logins.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "0.5"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- imports ---
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


# --- pages ---
# The login middleware lets these through without a login: URL names, or "namespace:" for a whole
# namespace (the admin has its own login). Static files pass by their URL prefix.
MIDDLEWARE.append("crm.middleware.LoginRequiredMiddleware")
LOGIN_EXEMPT_URL_NAMES = env_list("LOGIN_EXEMPT_URL_NAMES", "login,register,logout,admin:")
# A lockout (django-axes) answers with our translated page, on our login and the admin's alike.
AXES_LOCKOUT_CALLABLE = "crm.views.lockout_response"
HOMEWORK_ALLOWED_EXTENSIONS = env_list(
    "HOMEWORK_ALLOWED_EXTENSIONS", "zip,rar,7z,tar,gz,pdf,doc,docx,txt,md,py,ipynb,png,jpg,jpeg"
)
HOMEWORK_MAX_UPLOAD_MB = int(os.environ.get("HOMEWORK_MAX_UPLOAD_MB", "10"))

# --- review ---
# The minimum length check with its message in Chinese (Django 5.2's stays English; see the module).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "crm.password_validation.MinimumLengthValidator"}
    if validator["NAME"].endswith(".MinimumLengthValidator")
    else validator
    for validator in AUTH_PASSWORD_VALIDATORS
]

# --- recycle ---
# A private customer not followed up by its salesperson for this many days (counted from the claim,
# the last follow-up or the creation, whichever is latest) goes back to the public pool when
# `manage.py recycle_customers` runs; only customers who have not signed up. 0 turns it off.
CUSTOMER_RECYCLE_DAYS = int(os.environ.get("CUSTOMER_RECYCLE_DAYS", "15"))

# --- polish ---
# Local date formats (2026-11-27) for the Chinese screens: crm/formats/zh_Hans/formats.py.
FORMAT_MODULE_PATH = "crm.formats"

if not DEBUG and not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

# IMPORTS (to merge)
# Rows of a customer file read at most, counted while it is read: a larger file is refused before
# its rows are built (an xlsx is also refused when it unpacks to more than 20 × IMPORT_MAX_FILE_MB).
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "200000"))
# A NUL byte in a query string or a path is refused (400) before a view hands it to the database.
MIDDLEWARE.append("crm.middleware.RejectNulBytesMiddleware")
