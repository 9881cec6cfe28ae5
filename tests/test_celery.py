"""config/celery.py and the JOBS settings, read by a fresh process as a server would."""

from django.conf import settings

from tests.processes import run_fresh

PROBE = (
    "import django; django.setup(); from config.celery import app; "
    "from django.conf import settings; "
    "print(app.conf.task_always_eager, app.conf.broker_url or '-', 'jobs' in settings.DATABASES, "
    "settings.JOB_ROWS_THRESHOLD, settings.JOB_RESULT_DAYS)"
)
JOB_ENVIRONMENT = {"CELERY_BROKER_URL", "DATABASE_URL", "JOB_ROWS_THRESHOLD", "JOB_RESULT_DAYS"}


def probe(**env: str) -> list[str]:
    result = run_fresh(
        ["-c", PROBE],
        settings_module="config.settings.production",
        drop=JOB_ENVIRONMENT.__contains__,
        **{"SECRET_KEY": "x" * 50, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_without_a_broker_jobs_run_in_the_request():
    assert probe() == ["True", "-", "False", "20000", "7"]


def test_with_a_broker_jobs_go_to_the_workers_with_a_progress_connection_on_postgresql():
    assert probe(
        CELERY_BROKER_URL="redis://redis.example:6379/0",
        DATABASE_URL="postgres://crm:secret@db.example:5432/crm",
        JOB_ROWS_THRESHOLD="50000",
        JOB_RESULT_DAYS="3",
    ) == ["False", "redis://redis.example:6379/0", "True", "50000", "3"]


def test_the_test_suite_runs_jobs_eagerly():
    from config.celery import app

    assert app.conf.task_always_eager
    assert "jobs" not in settings.DATABASES
