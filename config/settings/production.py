"""Production: no secret defaults; DEBUG is off unless explicitly set; HTTPS by default.

`manage.py check --deploy` passes with these defaults. A plain-HTTP intranet turns HTTPS off with
SECURE_SSL_REDIRECT=0, SECURE_HSTS_SECONDS=0 and SECURE_COOKIES=0 (and then check --deploy says so).
"""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import env_bool

# SECURITY
# ------------------------------------------------------------------------------
# The proxy terminates TLS and says so in this header (the README's nginx example sets it).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
# Browsers remember for this long to use HTTPS only; lower it first if HTTPS may be given up.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
