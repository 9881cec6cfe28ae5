"""The login middleware guards every page outside the admin, except the whitelist of URL names."""

import pytest
from django.test import RequestFactory
from django.urls import resolve, reverse

from crm.middleware import is_login_exempt

pytestmark = pytest.mark.django_db


def request_for(path: str):
    request = RequestFactory().get(path)
    request.resolver_match = resolve(path)
    return request


@pytest.mark.parametrize("name", ["home", "me"])
def test_an_anonymous_visitor_is_sent_to_the_login_page_with_next(client, name):
    response = client.get(reverse(name), {"tab": "x"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse(name)}%3Ftab%3Dx"


@pytest.mark.parametrize("name", ["login", "register"])
def test_the_whitelisted_pages_open_without_a_login(client, name):
    assert client.get(reverse(name)).status_code == 200


def test_the_admin_passes_the_middleware_and_uses_its_own_login(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert client.get(reverse("admin:login")).status_code == 200


def test_the_whitelist_is_the_setting_of_url_names(client, settings):
    settings.LOGIN_EXEMPT_URL_NAMES = ["login"]
    response = client.get(reverse("register"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_namespace_entry_exempts_every_url_of_the_namespace(settings):
    assert is_login_exempt(request_for(reverse("admin:crm_customer_changelist")))
    settings.LOGIN_EXEMPT_URL_NAMES = ["login"]
    assert not is_login_exempt(request_for(reverse("admin:crm_customer_changelist")))
    settings.LOGIN_EXEMPT_URL_NAMES = ["admin:crm_customer_changelist"]
    assert is_login_exempt(request_for(reverse("admin:crm_customer_changelist")))


def test_static_files_pass_by_their_url_prefix(settings):
    request = RequestFactory().get(f"{settings.STATIC_URL}crm/pages.css")
    request.resolver_match = resolve(reverse("home"))
    assert is_login_exempt(request)


def test_an_unknown_url_stays_a_404(client):
    assert client.get("/no-such-page/").status_code == 404


def test_the_logged_in_user_is_on_the_request(client, student_user):
    client.force_login(student_user)
    response = client.get(reverse("me"))
    assert response.status_code == 200
    assert response.wsgi_request.current_user == student_user


def test_an_anonymous_visitor_of_a_whitelisted_page_has_no_current_user(client):
    response = client.get(reverse("login"))
    assert response.wsgi_request.current_user is None


def test_the_guard_is_djangos_login_required_middleware():
    from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangosMiddleware

    from crm.middleware import LoginRequiredMiddleware

    assert issubclass(LoginRequiredMiddleware, DjangosMiddleware)
    assert LoginRequiredMiddleware.process_view is not DjangosMiddleware.process_view


def test_the_redirect_follows_the_login_url_setting(client, settings):
    settings.LOGIN_URL = "/elsewhere/"
    response = client.get(reverse("me"))
    assert response["Location"] == f"/elsewhere/?next={reverse('me')}"


def test_a_view_marked_login_not_required_opens_without_a_login(client, settings):
    from django.contrib.auth.decorators import login_not_required
    from django.http import HttpResponse
    from django.urls import path

    from config.urls import urlpatterns as site_patterns

    @login_not_required
    def open_page(request):
        return HttpResponse(f"current user: {request.current_user}")

    class URLConf:
        urlpatterns = [path("open/", open_page, name="open"), *site_patterns]

    settings.ROOT_URLCONF = URLConf
    response = client.get("/open/")
    assert response.status_code == 200
    assert response.content == b"current user: None"
