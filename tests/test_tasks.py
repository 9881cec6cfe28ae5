"""crm/tasks.py through a real Celery worker (PostgreSQL pass): one import and one export, end to end."""

import io
import os
import subprocess
import sys
import uuid

import openpyxl
import pytest
import redis
from celery.backends.redis import RedisBackend
from celery.result import AsyncResult
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from config.celery import app as celery_app
from crm.models import Customer, CustomerImport, Job
from crm.resources.finance import PaymentRecordResource
from tests.factories import ClassListFactory, CustomerFactory, PaymentRecordFactory, UserFactory

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER_TIMEOUT = 120

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        reason = f"Redis at {REDIS_URL} is unreachable: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}, and CI requires it.")
        pytest.skip(reason)


def database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(settings, tmp_path):
    """A Celery worker process on the test database, and this process sending to it through Redis."""
    redis_or_skip()
    queue = f"crm-test-{uuid.uuid4().hex}"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    uploads = tmp_path / "uploads"
    settings.STORAGES = {
        **settings.STORAGES,
        "import_export": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": uploads},
        },
    }
    env = {
        **os.environ,
        # The production settings but for the secret: a worker as deployed, with its second connection.
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "SECRET_KEY": "worker-of-the-tests",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "PRIVATE_MEDIA_ROOT": str(settings.PRIVATE_MEDIA_ROOT),
        "IMPORT_TMP_ROOT": str(uploads),
        "JOB_ROWS_THRESHOLD": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue]
        + ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
    )
    saved = {
        name: celery_app.conf[name] for name in ("task_always_eager", "broker_url", "task_default_queue")
    }
    celery_app.conf.update(task_always_eager=False, broker_url=REDIS_URL, task_default_queue=queue)
    settings.JOB_ROWS_THRESHOLD = 1
    backend = RedisBackend(app=celery_app, url=REDIS_URL)
    try:
        yield lambda job: AsyncResult(job.task_id, app=celery_app, backend=backend).get(
            timeout=WORKER_TIMEOUT
        )
    finally:
        celery_app.conf.update(saved)
        process.terminate()
        process.wait(timeout=30)


def logged_in(role: str) -> tuple[Client, object]:
    user = UserFactory(role=role)
    client = Client()
    client.force_login(user)
    return client, user


def test_an_import_and_an_export_run_through_a_celery_worker(worker, import_file):
    boss, boss_user = logged_in("boss")
    started = boss.post(
        reverse("admin:crm_customer_import"),
        {"import_file": SimpleUploadedFile("名单.csv", import_file("customers_utf8.csv"))},
    )
    # The check of the file is a job too (3 rows > JOB_ROWS_THRESHOLD); the import page shows its result.
    check = Job.objects.get(kind=Job.Kind.PREVIEW)
    assert started.url == f"{reverse('admin:crm_customer_import')}?job={check.pk}"
    assert worker(check) == Job.State.DONE
    preview = boss.get(started.url)
    assert not Customer.objects.exists()
    form = preview.context["confirm_form"]

    response = boss.post(
        reverse("admin:crm_customer_process_import"), {name: form.initial[name] for name in form.fields}
    )

    assert response.url == reverse("admin:crm_job_changelist")
    job = Job.objects.get(kind=Job.Kind.IMPORT)
    assert worker(job) == Job.State.DONE
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total, job.error) == (Job.State.DONE, 3, 3, "")
    assert Customer.objects.count() == 3
    assert CustomerImport.objects.get().user == boss_user

    finance, finance_user = logged_in("finance")
    klass = ClassListFactory()
    for number, fee in enumerate((100, 200)):
        customer = CustomerFactory(phone=f"1390000000{number}", qq=f"9000000{number}")
        PaymentRecordFactory(customer=customer, enrolment_class=klass, paid_fee=fee)
    fields = {f"paymentrecordresource_{name}": "on" for name in PaymentRecordResource().get_export_order()}

    response = finance.post(
        reverse("admin:crm_paymentrecord_export"), {"format": "0", "resource": "0", **fields}
    )

    assert response.url == reverse("admin:crm_job_changelist")
    job = Job.objects.get(kind=Job.Kind.EXPORT)
    assert worker(job) == Job.State.DONE
    job.refresh_from_db()
    assert (job.user, job.rows_done, job.rows_total) == (finance_user, 2, 2)
    download = finance.get(reverse("admin:crm_job_download", args=[job.pk]))
    rows = list(openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content))).active.values)
    assert sorted(row[6] for row in rows[1:]) == [100, 200]
    # Written by the worker into the private storage that the web servers share with it.
    assert (settings.PRIVATE_MEDIA_ROOT / job.result_file.name).is_file()
