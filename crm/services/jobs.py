"""Background jobs: start an import or an export as a Celery task, run it, report its progress, cancel
it, and delete what old jobs left behind.

The task (crm.tasks.run_job) only calls ``jobs_run``; the import and the export themselves are the
same functions the admin calls in the request (``customers_import``, the export mixin's file export).
"""

import datetime
import io
import logging
import tempfile
import uuid

from django.conf import settings
from django.contrib.admin import site
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from import_export.tmp_storages import MediaStorage

from crm.models import Job
from crm.models.jobs import RESULT_FOLDER
from crm.resources.streaming import is_formula_like, iter_csv, iter_rows
from crm.resources.xlsx import write_xlsx
from crm.uploads import import_tmp_storage, import_uploads_open

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 1000
# The folder of import-export's MediaStorage inside its storage.
UPLOAD_FOLDER = "django-import-export"


class JobCancelled(BaseException):
    """Raised from a job's progress report once a cancel was asked for.

    A BaseException, not an Exception: django-import-export turns every Exception raised while a row is
    imported into an error of that row and goes on with the next row; this one must instead leave the
    import at once, through its transaction, which then rolls back.
    """


def jobs_should_run_in_background(*, rows: int) -> bool:
    return rows > settings.JOB_ROWS_THRESHOLD


def progress_database() -> str:
    # The import's own connection is inside its transaction: what it writes is seen at the commit.
    return "jobs" if "jobs" in settings.DATABASES else "default"


def jobs_enqueue(*, job: Job) -> None:
    """Send the job to a worker once the row is committed (a worker must find it), or run it now when
    no broker is configured (CELERY_TASK_ALWAYS_EAGER)."""
    from crm.tasks import run_job

    def send():
        if run_job.app.conf.task_always_eager:
            # Run it here, without a producer for a broker that is not there.
            run_job.apply(args=[job.pk], task_id=job.task_id, throw=True)
        else:
            run_job.apply_async(args=[job.pk], task_id=job.task_id)

    transaction.on_commit(send)


@transaction.atomic
def _jobs_start_upload(*, kind, user, stored_name: str, file_name: str, encoding: str, rows: int) -> Job:
    job = Job.objects.create(
        user=user,
        kind=kind,
        subject=file_name[:255],
        params={"stored_name": stored_name, "file_name": file_name, "encoding": encoding},
        rows_total=rows,
        task_id=uuid.uuid4().hex,
    )
    jobs_enqueue(job=job)
    return job


def jobs_start_import(*, user, stored_name: str, file_name: str, encoding: str, rows: int) -> Job:
    """A job importing the upload waiting in the import storage under ``stored_name``."""
    return _jobs_start_upload(
        kind=Job.Kind.IMPORT,
        user=user,
        stored_name=stored_name,
        file_name=file_name,
        encoding=encoding,
        rows=rows,
    )


def jobs_start_preview(*, user, stored_name: str, file_name: str, encoding: str, rows: int) -> Job:
    """A job checking (a dry run of the import) the upload waiting under ``stored_name``; the upload
    stays there for the confirmation, which the import page offers once the job is done."""
    return _jobs_start_upload(
        kind=Job.Kind.PREVIEW,
        user=user,
        stored_name=stored_name,
        file_name=file_name,
        encoding=encoding,
        rows=rows,
    )


@transaction.atomic
def jobs_start_export(*, user, model_admin, request, rows: int, subject: str = "") -> Job:
    """A job exporting what this export request of ``model_admin`` asks for: the worker replays the
    request (its changelist query and export form) as the same user, so it sees the same rows.
    ``subject`` names it on the jobs page (default: the list's name)."""
    post = {key: values for key, values in request.POST.lists() if key != "csrfmiddlewaretoken"}
    job = Job.objects.create(
        user=user,
        kind=Job.Kind.EXPORT,
        subject=(subject or str(model_admin.model._meta.verbose_name_plural))[:255],
        params={
            "model": model_admin.model._meta.label_lower,
            "path": request.path,
            "query": request.GET.urlencode(),
            "post": post,
        },
        rows_total=rows,
        task_id=uuid.uuid4().hex,
    )
    jobs_enqueue(job=job)
    return job


@transaction.atomic
def jobs_cancel(*, job: Job) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one stops at its next progress
    report (every 1000 rows), and an import then rolls back: it writes nothing."""
    # Lock the row: the worker's start (queued -> running) must not cross a cancel of the queued job.
    job = Job.objects.select_for_update(no_key=True).get(pk=job.pk)
    if job.is_finished:
        raise ValidationError(_("%(job)s has already finished.") % {"job": job}, code="finished")
    job.cancel_requested = True
    fields = ["cancel_requested"]
    if job.state == Job.State.QUEUED:
        job.state = Job.State.CANCELLED
        job.finished = timezone.now()
        fields += ["state", "finished"]
    job.save(update_fields=fields)
    return job


def jobs_progress(*, job: Job, done: int, total: int | None = None) -> None:
    """Record how far the job is; raise JobCancelled when a cancel was asked for meanwhile."""
    rows = Job.objects.using(progress_database()).filter(pk=job.pk)
    changes = {"rows_done": done}
    if total is not None:
        changes["rows_total"] = total
    rows.update(**changes)
    if rows.filter(cancel_requested=True).exists():
        raise JobCancelled


def _begin(job_id: int) -> Job | None:
    with transaction.atomic():
        job = Job.objects.select_for_update(no_key=True).filter(pk=job_id).first()
        if job is None or job.state != Job.State.QUEUED:
            # Cancelled while queued, or delivered twice by the broker.
            return None
        job.state = Job.State.RUNNING
        job.started = timezone.now()
        job.save(update_fields=["state", "started"])
    return job


def _finish(job: Job, state: str, **fields) -> None:
    job.state = state
    job.finished = timezone.now()
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=["state", "finished", *fields])


def jobs_run(*, job_id: int) -> Job | None:
    """The body of the task: run a queued job to its end (done, failed or cancelled).

    Run outside any transaction: the job's state is committed before the import opens its own.
    """
    job = _begin(job_id)
    if job is None:
        return None
    try:
        if job.kind == Job.Kind.IMPORT:
            fields = _run_import(job)
        elif job.kind == Job.Kind.PREVIEW:
            fields = _run_preview(job)
        else:
            fields = _run_export(job)
    except JobCancelled:
        _finish(job, Job.State.CANCELLED, cancel_requested=True)
    except ValidationError as error:
        _finish(job, Job.State.FAILED, error=" ".join(error.messages))
    except Exception as error:
        logger.exception("Job %s failed", job.pk)
        _finish(job, Job.State.FAILED, error=_("The job failed: %(error)s") % {"error": error})
    else:
        state = Job.State.FAILED if fields.get("error") else Job.State.DONE
        _finish(job, state, **fields)
    return job


def _stored_upload(job: Job):
    """The job's upload, open for reading a chunk at a time (never read whole into memory)."""
    file = import_uploads_open(job.params["stored_name"])
    if file is None:
        raise ValidationError(_("The uploaded file is no longer available: upload it again."))
    return file


def _run_import(job: Job) -> dict:
    from crm.services.imports import customer_imports_rejected_file, customers_import

    file = _stored_upload(job)
    try:
        with file, transaction.atomic():
            outcome = customers_import(
                file=file,
                file_name=job.params["file_name"],
                user=job.user,
                encoding=job.params["encoding"],
                progress=lambda done, total: jobs_progress(job=job, done=done, total=total),
            )
    finally:
        import_tmp_storage(job.params["stored_name"]).remove()
    fields = {"rows_done": outcome.total, "rows_total": outcome.total}
    if not outcome.ok:
        # The data changed since the preview (another import, an edit): nothing was written; the
        # rejected rows with their reasons are the job's result.
        content, name, _content_type = customer_imports_rejected_file(outcome=outcome)
        job.result_file.save(name, ContentFile(content), save=False)
        fields.update(
            result_file=job.result_file,
            result_name=name,
            error=_("%(count)d rows were rejected, nothing was written: see the result file.")
            % {"count": outcome.error_count},
        )
    return fields


def _run_preview(job: Job) -> dict:
    """The dry run of the import, as the admin's preview makes it; its outcome goes into the job's
    parameters (the import page shows it) and its rejected rows into the result file."""
    from crm.services.imports import customer_imports_rejected_file, customers_import, outcome_as_json

    with _stored_upload(job) as file:
        outcome = customers_import(
            file=file,
            file_name=job.params["file_name"],
            user=job.user,
            encoding=job.params["encoding"],
            dry_run=True,
            progress=lambda done, total: jobs_progress(job=job, done=done, total=total),
        )
    job.params = {**job.params, "outcome": outcome_as_json(outcome)}
    fields = {"rows_done": outcome.total, "rows_total": outcome.total, "params": job.params}
    if not outcome.ok:
        content, name, _content_type = customer_imports_rejected_file(outcome=outcome)
        job.result_file.save(name, ContentFile(content), save=False)
        fields.update(result_file=job.result_file, result_name=name)
    return fields


def export_request(job: Job) -> HttpRequest:
    """The export request that started the job, as its user, for the admin to answer again."""
    request = HttpRequest()
    request.method = "POST"
    request.path = request.path_info = job.params["path"]
    request.GET = QueryDict(job.params["query"])
    request.POST = QueryDict(mutable=True)
    for key, values in job.params["post"].items():
        request.POST.setlist(key, values)
    request.user = job.user
    request.crm_job = job
    return request


def _run_export(job: Job) -> dict:
    from django.apps import apps

    if job.user is None or not job.user.is_active:
        raise ValidationError(_("The user who started this export no longer exists."))
    model_admin = site.get_model_admin(apps.get_model(job.params["model"]))
    request = export_request(job)
    model_admin.export_action(request)
    if not getattr(request, "crm_job_result", None):
        # The form did not validate (or the user lost the permission meanwhile): nothing exported.
        raise ValidationError(_("The export could not be made again: start it again from the list."))
    return request.crm_job_result


def jobs_export_file(*, job: Job, resource, fields, queryset, file_format, filename: str, title: str) -> dict:
    """Write the export to a file of the job's private storage, reporting progress every 1000 rows.

    The admin's export calls this instead of answering with the file when it runs inside a job.
    """
    total = queryset.count()
    jobs_progress(job=job, done=0, total=total)

    written = [0]

    def counted(rows):
        for done, row in enumerate(rows, start=1):
            written[0] = done
            if done % PROGRESS_EVERY == 0:
                jobs_progress(job=job, done=done)
            yield row

    headers = [force_str(field.column_name) for field in fields]
    rows = counted(iter_rows(resource, fields, queryset))
    with tempfile.TemporaryFile() as file:
        if file_format.get_extension() == "csv":
            text = io.TextIOWrapper(file, encoding="utf-8", newline="")
            text.writelines(iter_csv(headers, rows))
            text.flush()
            text.detach()
        else:
            write_xlsx(file, headers, rows, is_formula_like=is_formula_like, title=title)
        file.seek(0)
        job.result_file.save(filename, File(file), save=False)
    done = written[0]
    return {
        "rows_done": done,
        "rows_total": max(total, done),
        "result_file": job.result_file,
        "result_name": filename,
    }


def jobs_cleanup(*, now: datetime.datetime | None = None) -> tuple[int, int]:
    """Delete the result files of jobs finished more than JOB_RESULT_DAYS ago (and those as old that
    no job names), and the uploads of import previews never confirmed for as long. Returns (result
    files, uploads) deleted."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.JOB_RESULT_DAYS)
    results = 0
    old = Job.objects.filter(finished__lt=cutoff).exclude(result_file="")
    for job in old.iterator():
        job.result_file.delete(save=False)
        job.save(update_fields=["result_file"])
        results += 1

    return results + _delete_orphan_results(cutoff), _delete_old_uploads(cutoff)


def _delete_orphan_results(cutoff: datetime.datetime) -> int:
    # A worker stopped between writing a result file and finishing its job leaves a file that no job
    # names: deleted once as old as the others. A newer one may be a job's that is finishing now.
    storage = Job._meta.get_field("result_file").storage
    named = set(Job.objects.exclude(result_file="").values_list("result_file", flat=True))
    try:
        folders, _names = storage.listdir(RESULT_FOLDER)
    except FileNotFoundError:
        return 0
    deleted = 0
    for folder in folders:
        for name in storage.listdir(f"{RESULT_FOLDER}/{folder}")[1]:
            path = f"{RESULT_FOLDER}/{folder}/{name}"
            if path not in named and storage.get_modified_time(path) < cutoff:
                storage.delete(path)
                deleted += 1
    return deleted


def _delete_old_uploads(cutoff: datetime.datetime) -> int:
    # Only MediaStorage keeps files (in the "import_export" storage, its folder "django-import-export");
    # import-export's CacheStorage expires its entries by itself.
    if import_string(settings.IMPORT_EXPORT_TMP_STORAGE_CLASS) is not MediaStorage:
        return 0
    # An upload waits for an import or a check not yet finished; a finished check's upload waits for
    # its confirmation as long as any upload (JOB_RESULT_DAYS), then goes with the others.
    waiting = set(
        Job.objects.unfinished()
        .filter(kind__in=[Job.Kind.IMPORT, Job.Kind.PREVIEW])
        .values_list("params__stored_name", flat=True)
    )
    storage = storages["import_export"] if "import_export" in settings.STORAGES else storages["default"]
    try:
        _folders, names = storage.listdir(UPLOAD_FOLDER)
    except FileNotFoundError:
        return 0
    deleted = 0
    for name in names:
        path = f"{UPLOAD_FOLDER}/{name}"
        if name not in waiting and storage.get_modified_time(path) < cutoff:
            storage.delete(path)
            deleted += 1
    return deleted
