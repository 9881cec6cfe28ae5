"""Production: no secret defaults; DEBUG is off unless explicitly set."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env_bool

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
