import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.processes import run_fresh

PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default']['ENGINE'], settings.MAX_CUSTOMER_NUM)"
)


def run_settings(module: str, **env: str) -> subprocess.CompletedProcess:
    return run_fresh(
        ["-c", PROBE],
        settings_module=module,
        drop={"SECRET_KEY", "DEBUG", "DATABASE_URL", "MAX_CUSTOMER_NUM"}.__contains__,
        **env,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = run_settings("config.settings.production")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_starts_with_a_secret_key_and_reads_the_environment():
    result = run_settings(
        "config.settings.production",
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://crm:secret@db.example:5432/crm",
        MAX_CUSTOMER_NUM="80",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "80"]


JIT_PROBE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps([settings.DATABASES.get(alias, {}).get('OPTIONS', {}).get('options')"
    " for alias in ('default', 'jobs')]))"
)


@pytest.mark.parametrize(
    ("env", "options"),
    [
        ({}, "-c jit=off"),
        (
            {"DATABASE_URL": "postgres://db.example/crm?options=-c%20work_mem%3D64MB"},
            "-c work_mem=64MB -c jit=off",
        ),
        ({"POSTGRES_JIT": "on"}, None),
    ],
)
def test_the_applications_postgresql_connections_turn_jit_off_unless_told(env, options):
    import json

    result = run_fresh(
        ["-c", JIT_PROBE],
        settings_module="config.settings.production",
        drop={"DATABASE_URL", "POSTGRES_JIT"}.__contains__,
        SECRET_KEY="x",
        **{"DATABASE_URL": "postgres://db.example:5432/crm", **env},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [options, options]


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_test_databases_connection_runs_without_jit():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)


def test_local_development_defaults_to_sqlite_and_the_default_cap():
    result = run_settings("config.settings.local")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "150"]


def test_the_site_speaks_chinese_in_shanghai_time():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ
    assert "django.contrib.postgres" in settings.INSTALLED_APPS


# Production defaults and the security headers

DEPLOY_SECRET_KEY = "k3#f9Lq!vZ2@pW8xR6$tY1&uN4^mB7*cD0(eH5)gJ-aS_oI=Xw+Ev~Tr%Nb"


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run_fresh(
        ["manage.py", *args],
        settings_module="config.settings.production",
        drop=lambda key: key.startswith(("SECURE_", "DATABASE_URL")),
        timeout=120,
        **env,
    )


def test_check_deploy_passes_without_a_warning_on_the_production_defaults():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=DEPLOY_SECRET_KEY)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_a_plain_http_intranet_turns_https_off_by_the_environment():
    result = run_manage(
        "check",
        "--deploy",
        SECRET_KEY=DEPLOY_SECRET_KEY,
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
    )
    assert result.returncode == 0, result.stderr
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


CLIENT_IP_PROBE = (
    "import django; django.setup(); from django.test import RequestFactory; "
    "from axes.helpers import get_client_ip_address; "
    "print(get_client_ip_address(RequestFactory().get('/', REMOTE_ADDR='10.0.0.2', "
    "HTTP_X_FORWARDED_FOR='{header}')))"
)


def client_ip_with(trusted: str | None, header: str) -> str:
    env = {"SECRET_KEY": "x"} | ({"TRUSTED_PROXY_COUNT": trusted} if trusted is not None else {})
    result = run_fresh(
        ["-c", CLIENT_IP_PROBE.format(header=header)],
        settings_module="config.settings.production",
        drop="TRUSTED_PROXY_COUNT".__eq__,
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_trusted_proxies_the_client_is_the_peer_whatever_the_header_says():
    assert client_ip_with(None, "203.0.113.5") == "10.0.0.2"


def test_one_trusted_proxy_takes_the_address_it_appended_to_x_forwarded_for():
    assert client_ip_with("1", "203.0.113.5") == "203.0.113.5"
    # A client that sends its own header only adds addresses on the left.
    assert client_ip_with("1", "6.6.6.6, 203.0.113.5") == "203.0.113.5"


def test_two_trusted_proxies_take_the_second_address_from_the_right():
    assert client_ip_with("2", "6.6.6.6, 203.0.113.5, 10.0.0.3") == "203.0.113.5"


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["login", "register", "admin:login"])
def test_every_page_sends_the_security_headers(client, url_name):
    response = client.get(reverse(url_name))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


@pytest.mark.django_db
def test_the_admin_dashboard_and_the_students_page_send_the_policy(boss_client, student_client):
    assert "script-src 'self'" in boss_client.get(reverse("admin:index"))["Content-Security-Policy"]
    dashboard = boss_client.get(reverse("admin:dashboard"), follow=True)
    assert dashboard.status_code == 200
    assert "script-src 'self'" in dashboard["Content-Security-Policy"]
    response = student_client.get(reverse("me"))
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert '<script src="/static/crm/pages.js" defer></script>' in response.content.decode()


@pytest.mark.django_db
def test_the_range_filter_scripts_carry_the_nonce_of_the_policy(boss_client):
    response = boss_client.get(reverse("admin:crm_paymentrecord_changelist"))
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert nonce, response["Content-Security-Policy"]
    assert f'nonce="{nonce.group(1)}"' in response.content.decode()


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def test_no_template_of_ours_has_an_inline_script_or_event_handler():
    offenders = [
        str(path.relative_to(settings.BASE_DIR))
        for path in (settings.BASE_DIR / "crm" / "templates").rglob("*.html")
        if INLINE_SCRIPT.search(path.read_text()) or INLINE_HANDLER.search(path.read_text())
    ]
    assert offenders == []


def test_djangos_admin_templates_have_no_inline_script_or_event_handler():
    import django.contrib.admin

    root = Path(django.contrib.admin.__file__).parent / "templates"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.html")
        if INLINE_SCRIPT.search(path.read_text()) or INLINE_HANDLER.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.django_db
def test_the_export_forms_one_inline_handler_is_allowed_by_its_hash(client):
    import base64
    import hashlib

    import import_export

    template = Path(import_export.__file__).parent / "templates" / "admin" / "import_export" / "export.html"
    handlers = re.findall(r'\son[a-z]+="([^"]*)"', template.read_text())
    assert handlers == ["onSelectToggleChange(event)"]
    digest = base64.b64encode(hashlib.sha256(handlers[0].encode()).digest()).decode()
    policy = client.get(reverse("login"))["Content-Security-Policy"]
    assert f"'unsafe-hashes' 'sha256-{digest}'" in policy


CACHE_PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.CACHES['default']['BACKEND'], settings.CACHES['default'].get('LOCATION', '-'))"
)


def test_a_redis_url_gives_the_workers_one_shared_cache():
    result = run_fresh(
        ["-c", CACHE_PROBE],
        settings_module="config.settings.production",
        drop=lambda key: False,
        SECRET_KEY="x",
        REDIS_URL="redis://cache.example:6379/1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://cache.example:6379/1",
    ]


@pytest.mark.django_db
def test_a_request_body_over_the_memory_limit_is_a_400(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post(reverse("login"), {"username": "x" * 2048, "password": "y"})
    assert response.status_code == 400


LOCAL_PAGES_PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG, settings.WHITENOISE_USE_FINDERS, settings.WHITENOISE_AUTOREFRESH, "
    "settings.STORAGES['staticfiles']['BACKEND'], "
    "'whitenoise.runserver_nostatic' in settings.INSTALLED_APPS, "
    "'whitenoise.middleware.WhiteNoiseMiddleware' in settings.MIDDLEWARE)"
)


def run_local(**env: str) -> list[str]:
    result = run_fresh(
        ["-c", LOCAL_PAGES_PROBE],
        settings_module="config.settings.local",
        drop={"SECRET_KEY", "DEBUG"}.__contains__,
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_make_run_shows_the_schools_error_pages_and_serves_static_files_without_collectstatic():
    debug, finders, autorefresh, storage, nostatic, middleware = run_local()

    assert debug == "False"  # our 404/403/500 pages, not Django's debug pages
    assert (finders, autorefresh, nostatic, middleware) == ("True", "True", "True", "True")
    assert storage == "django.contrib.staticfiles.storage.StaticFilesStorage"


def test_debug_pages_come_back_with_debug_set():
    assert run_local(DEBUG="1")[0] == "True"
