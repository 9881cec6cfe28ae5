"""Development (``make run``): the pages a school would see, code reloaded on change.

DEBUG is off by default, so that a missing page or a server error shows our Chinese 404/403/500
pages (crm/templates/), not Django's English debug pages; ``DEBUG=1 make run`` brings those back.
runserver reloads the code whatever DEBUG is; static files are served by WhiteNoise straight from
the apps' static folders (no collectstatic), re-read on change.
"""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "django-insecure-local-development-only")

from config.settings.base import *  # noqa: E402,F403
from config.settings.base import STORAGES  # noqa: E402

# --- static ---
# WhiteNoise (already in MIDDLEWARE, and runserver_nostatic in INSTALLED_APPS) finds the files with the
# staticfiles finders instead of STATIC_ROOT, and looks again on each request.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The manifest storage needs collectstatic; the plain one names the files as they are.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
