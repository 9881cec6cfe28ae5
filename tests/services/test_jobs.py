import datetime
import gc
import io
import os

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils import timezone

from crm.models import Customer, CustomerImport, Job
from crm.services import jobs as job_services
from crm.services.imports import customers_import
from crm.services.jobs import (
    UPLOAD_FOLDER,
    jobs_cancel,
    jobs_cleanup,
    jobs_run,
    jobs_start_import,
    jobs_start_preview,
)
from crm.services.jobs import import_tmp_storage as tmp_storage
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_tmp_storage", "private_media")]


def customer_file(rows: int) -> bytes:
    lines = ["姓名,QQ"] + [f"客户{number},{20000000 + number}" for number in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def stored_upload(data: bytes) -> str:
    storage = tmp_storage()
    storage.save(data)
    return os.path.basename(storage.name)


def queued(start, user, data: bytes, django_capture_on_commit_callbacks) -> Job:
    """The job ``start`` (jobs_start_import or jobs_start_preview) queues for an upload of ``data``."""
    with django_capture_on_commit_callbacks(execute=False):
        return start(
            user=user, stored_name=stored_upload(data), file_name="名单.csv", encoding="auto", rows=0
        )


def queued_import(user, data: bytes, django_capture_on_commit_callbacks) -> Job:
    return queued(jobs_start_import, user, data, django_capture_on_commit_callbacks)


def test_an_import_job_imports_the_stored_upload_and_removes_it(
    boss_user, django_capture_on_commit_callbacks, import_tmp_storage
):
    job = queued_import(boss_user, customer_file(3), django_capture_on_commit_callbacks)

    jobs_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total, job.error) == (Job.State.DONE, 3, 3, "")
    assert job.started <= job.finished
    assert Customer.objects.count() == 3
    assert CustomerImport.objects.get().user == boss_user
    assert not (import_tmp_storage / "django-import-export" / job.params["stored_name"]).exists()


def test_a_cancelled_import_writes_nothing(boss_user, django_capture_on_commit_callbacks, monkeypatch):
    job = queued_import(boss_user, customer_file(2500), django_capture_on_commit_callbacks)
    reports = []
    report = job_services.jobs_progress

    def cancel_at_the_first_batch(*, job, done, total=None):
        reports.append(done)
        if done == 1000:
            jobs_cancel(job=job)
        report(job=job, done=done, total=total)

    monkeypatch.setattr(job_services, "jobs_progress", cancel_at_the_first_batch)

    jobs_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and job.cancel_requested
    # It stopped between batches, before the rest of the file.
    assert reports == [1000]
    assert not Customer.objects.exists()
    assert not CustomerImport.objects.exists()


def test_a_queued_job_cancelled_never_runs(boss_user, django_capture_on_commit_callbacks):
    job = queued_import(boss_user, customer_file(3), django_capture_on_commit_callbacks)

    jobs_cancel(job=job)
    assert jobs_run(job_id=job.pk) is None

    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and job.finished is not None
    assert not Customer.objects.exists()


def test_a_finished_job_cannot_be_cancelled(boss_user, django_capture_on_commit_callbacks):
    job = queued_import(boss_user, customer_file(3), django_capture_on_commit_callbacks)
    jobs_run(job_id=job.pk)

    with pytest.raises(ValidationError):
        jobs_cancel(job=job)
    job.refresh_from_db()
    assert job.state == Job.State.DONE and not job.cancel_requested


def test_an_import_job_of_a_file_that_changed_meanwhile_fails_with_the_rejected_rows(
    boss_user, django_capture_on_commit_callbacks
):
    job = queued_import(boss_user, customer_file(3) + "坏,12\n".encode(), django_capture_on_commit_callbacks)

    jobs_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "1" in job.error
    assert job.result_name == "名单-rejected.csv"
    assert "12" in job.result_file.read().decode("utf-8-sig")
    assert not Customer.objects.exists()


def test_an_import_job_whose_upload_is_gone_fails_clearly(boss_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = jobs_start_import(
            user=boss_user, stored_name="gone", file_name="a.csv", encoding="auto", rows=0
        )

    jobs_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error == "上传的文件已失效，请重新上传。"


def test_the_import_leaves_the_garbage_collector_alone(boss_user, monkeypatch):
    # A process-wide switch would reach every thread of a threaded web worker.
    def refuse():
        raise AssertionError("gc.disable() called")

    monkeypatch.setattr(gc, "disable", refuse)

    outcome = customers_import(file=customer_file(1200), file_name="a.csv", user=boss_user)

    assert outcome.ok and outcome.new == 1200
    assert gc.isenabled()


def test_cleanup_deletes_old_result_files_and_unconfirmed_uploads(
    boss_user, django_capture_on_commit_callbacks, settings, import_tmp_storage
):
    settings.JOB_RESULT_DAYS = 7
    now = timezone.now()
    old = Job.objects.create(
        user=boss_user,
        kind=Job.Kind.EXPORT,
        subject="x",
        state=Job.State.DONE,
        finished=now - datetime.timedelta(days=8),
    )
    old.result_file.save("old.csv", io.BytesIO(b"a"))
    recent = Job.objects.create(
        user=boss_user,
        kind=Job.Kind.EXPORT,
        subject="y",
        state=Job.State.DONE,
        finished=now - datetime.timedelta(days=6),
    )
    recent.result_file.save("recent.csv", io.BytesIO(b"b"))
    forgotten = stored_upload(b"forgotten")
    fresh = stored_upload(b"fresh")
    waiting = queued_import(boss_user, b"waiting", django_capture_on_commit_callbacks).params["stored_name"]
    folder = import_tmp_storage / "django-import-export"
    week_ago = (now - datetime.timedelta(days=8)).timestamp()
    for name in (forgotten, waiting):
        os.utime(folder / name, (week_ago, week_ago))
    old_path = old.result_file.path

    assert jobs_cleanup(now=now) == (1, 1)

    old.refresh_from_db()
    assert not old.result_file and not os.path.exists(old_path)
    recent.refresh_from_db()
    assert recent.result_file.read() == b"b"
    assert sorted(os.listdir(folder)) == sorted([fresh, waiting])


def test_cleanup_deletes_old_result_files_that_no_job_names(boss_user, settings):
    # A worker stopped between writing an export's file and finishing its job leaves such a file.
    settings.JOB_RESULT_DAYS = 7
    now = timezone.now()
    storage = Job._meta.get_field("result_file").storage
    orphan = storage.save("jobs/a/缴费记录.xlsx", io.BytesIO(b"orphan"))
    finishing = storage.save("jobs/b/缴费记录.xlsx", io.BytesIO(b"a job finishing now"))
    named = Job.objects.create(
        user=boss_user,
        kind=Job.Kind.EXPORT,
        subject="x",
        state=Job.State.DONE,
        finished=now - datetime.timedelta(days=1),
    )
    named.result_file.save("kept.xlsx", io.BytesIO(b"kept"))
    week_ago = (now - datetime.timedelta(days=8)).timestamp()
    for name in (orphan, named.result_file.name):
        os.utime(storage.path(name), (week_ago, week_ago))

    assert jobs_cleanup(now=now) == (1, 0)

    assert not storage.exists(orphan)
    assert storage.exists(finishing) and storage.exists(named.result_file.name)


def test_an_export_job_of_a_user_gone_inactive_fails(django_capture_on_commit_callbacks):
    user = UserFactory(role="finance", is_active=False)
    job = Job.objects.create(
        user=user, kind=Job.Kind.EXPORT, subject="x", params={"model": "crm.paymentrecord"}
    )

    jobs_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED and job.error


def queued_check(user, data: bytes, django_capture_on_commit_callbacks) -> Job:
    return queued(jobs_start_preview, user, data, django_capture_on_commit_callbacks)


def test_a_check_job_stores_the_preview_and_keeps_the_upload_for_the_confirmation(
    boss_user, django_capture_on_commit_callbacks, import_tmp_storage
):
    job = queued_check(boss_user, customer_file(3), django_capture_on_commit_callbacks)

    jobs_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total, job.error) == (Job.State.DONE, 3, 3, "")
    assert job.params["outcome"]["counts"] == [3, 3, 0, 0, 0]
    assert not Customer.objects.exists()
    assert (import_tmp_storage / UPLOAD_FOLDER / job.params["stored_name"]).exists()


@pytest.mark.parametrize("kind", ["import", "check"])
def test_a_job_reads_its_upload_from_the_stored_file_not_into_memory(
    boss_user, django_capture_on_commit_callbacks, monkeypatch, kind
):
    from import_export.tmp_storages import MediaStorage

    from crm.services import imports

    job = (queued_import if kind == "import" else queued_check)(
        boss_user, customer_file(3), django_capture_on_commit_callbacks
    )
    given = []
    import_file = imports.customers_import

    def recorded(*, file, **kwargs):
        given.append(file)
        return import_file(file=file, **kwargs)

    def read_whole(self):
        raise AssertionError("the whole upload was read into memory")

    monkeypatch.setattr(imports, "customers_import", recorded)
    monkeypatch.setattr(MediaStorage, "read", read_whole)

    jobs_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.state, job.rows_done, job.error) == (Job.State.DONE, 3, "")
    # The stored file itself, opened from the storage (and closed after).
    assert isinstance(given[0], File) and given[0].closed


def test_a_check_job_whose_upload_is_gone_fails_clearly(boss_user, django_capture_on_commit_callbacks):
    job = queued_check(boss_user, customer_file(3), django_capture_on_commit_callbacks)
    tmp_storage(job.params["stored_name"]).remove()

    jobs_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "上传的文件已失效" in job.error


def test_a_cancelled_check_stops(boss_user, django_capture_on_commit_callbacks, monkeypatch):
    job = queued_check(boss_user, customer_file(2500), django_capture_on_commit_callbacks)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)

    jobs_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and "outcome" not in job.params


def test_cleanup_deletes_the_uploads_of_checks_never_confirmed_and_keeps_a_running_checks(
    boss_user, django_capture_on_commit_callbacks, settings, import_tmp_storage
):
    settings.JOB_RESULT_DAYS = 7
    now = timezone.now()
    done = queued_check(boss_user, customer_file(3), django_capture_on_commit_callbacks)
    jobs_run(job_id=done.pk)
    done.refresh_from_db()
    Job.objects.filter(pk=done.pk).update(finished=now - datetime.timedelta(days=8))
    running = queued_check(boss_user, customer_file(3), django_capture_on_commit_callbacks)
    folder = import_tmp_storage / UPLOAD_FOLDER
    week_ago = (now - datetime.timedelta(days=8)).timestamp()
    for job in (done, running):
        os.utime(folder / job.params["stored_name"], (week_ago, week_ago))

    assert jobs_cleanup(now=now) == (0, 1)

    assert os.listdir(folder) == [running.params["stored_name"]]
