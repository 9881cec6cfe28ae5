"""Development: DEBUG on by default and a throwaway secret key."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "django-insecure-local-development-only")

from config.settings.base import *  # noqa: E402,F403
