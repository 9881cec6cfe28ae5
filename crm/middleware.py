"""The login guard of the pages outside the admin."""

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _


def is_login_exempt(request) -> bool:
    """A request the guard lets through without a login: static files, or a view whose URL name
    (``"login"``) or namespace (``"admin:"``) is listed in ``settings.LOGIN_EXEMPT_URL_NAMES``."""
    if request.path.startswith(settings.STATIC_URL):
        return True
    match = request.resolver_match
    exempt = settings.LOGIN_EXEMPT_URL_NAMES
    if match.view_name in exempt:
        return True
    namespace = ""
    for part in match.namespaces:
        namespace += f"{part}:"
        if namespace in exempt:
            return True
    return False


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware (the redirect to LOGIN_URL with ``next``, and
    ``@login_not_required``), plus the whitelist of URL names of ``is_login_exempt``: the admin is
    exempt as a namespace, because it sends visitors to its own login page.

    Views read the logged-in user from ``request.current_user`` (None for an anonymous visitor of an
    exempt page). Works on resolved views only, so an unknown URL stays a plain 404.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        request.current_user = user if user.is_authenticated else None
        if request.current_user is None and is_login_exempt(request):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class RejectNulBytesMiddleware:
    """Answer 400 to a NUL byte in the path or the query string (a filter value, the autocomplete's
    ``term``, a file name): PostgreSQL refuses NUL in text, so every view would fail on it with a 500.
    Form fields need nothing here: Django's form fields already refuse NUL as a form error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(
                _("The address holds a NUL character, which no page accepts."), content_type="text/plain"
            )
        return self.get_response(request)
