"""Tests: fast hashing, quiet logs, DEBUG off as in production."""

import os

os.environ.setdefault("SECRET_KEY", "django-insecure-tests-only")

from config.settings.base import *  # noqa: E402,F403

# PASSWORDS
# ------------------------------------------------------------------------------
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# MIDDLEWARE
# ------------------------------------------------------------------------------
# Tests never serve collected static files; WhiteNoise would only warn that STATIC_ROOT is missing.
MIDDLEWARE = [entry for entry in MIDDLEWARE if not entry.startswith("whitenoise.")]  # noqa: F405

# STATIC
# ------------------------------------------------------------------------------
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {"version": 1, "disable_existing_loggers": False}

# JOBS
# ------------------------------------------------------------------------------
# Jobs run in the test's own transaction (eagerly): no second connection for their progress.
DATABASES.pop("jobs", None)  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = True
