"""Strings of Django's own admin templates that Django 5.2's Chinese catalogue lacks.

Marked here so that ``makemessages`` puts them in our catalogue, which Django reads before its own
(LOCALE_PATHS); their Chinese is in scripts/translations/foundation.py. Nothing imports this module.
"""

from django.utils.translation import gettext_noop

DJANGO_ADMIN_STRINGS = [
    # Column headings of the admin index and navigation sidebar, read out by screen readers.
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # Form error prefix read out by screen readers, and the admin login page's reset link.
    gettext_noop("Error:"),
    gettext_noop("Forgotten your login credentials?"),
]
