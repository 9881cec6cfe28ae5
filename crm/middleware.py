"""The login guard of the pages outside the admin."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login


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


class LoginRequiredMiddleware:
    """Send a request without a logged-in user to the login page with ``next``, unless it is exempt.

    Views read the logged-in user from ``request.current_user`` (None for an anonymous visitor of an
    exempt page). Works on resolved views only, so an unknown URL stays a plain 404.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        request.current_user = user if user.is_authenticated else None
        if request.current_user is None and not is_login_exempt(request):
            return redirect_to_login(request.get_full_path())
        return None
