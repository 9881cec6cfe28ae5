import os
import subprocess
import sys

from django.conf import settings

PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default']['ENGINE'], settings.MAX_CUSTOMER_NUM)"
)


def run_settings(module: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "MAX_CUSTOMER_NUM"}
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, "DJANGO_SETTINGS_MODULE": module, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
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


def test_local_development_defaults_to_sqlite_and_the_default_cap():
    result = run_settings("config.settings.local")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "150"]


def test_the_site_speaks_chinese_in_shanghai_time():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ
    assert "django.contrib.postgres" in settings.INSTALLED_APPS


LOCAL_PAGES_PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG, settings.WHITENOISE_USE_FINDERS, settings.WHITENOISE_AUTOREFRESH, "
    "settings.STORAGES['staticfiles']['BACKEND'], "
    "'whitenoise.runserver_nostatic' in settings.INSTALLED_APPS, "
    "'whitenoise.middleware.WhiteNoiseMiddleware' in settings.MIDDLEWARE)"
)


def run_local(**env: str) -> list[str]:
    clean = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "DEBUG"}}
    result = subprocess.run(
        [sys.executable, "-c", LOCAL_PAGES_PROBE],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.local", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
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
