import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.querysets import JobQuerySet
from crm.storage import private_storage

# The folder of the result files in their storage (the cleanup looks there for files no job names).
RESULT_FOLDER = "jobs"


def job_result_upload_to(instance, filename: str) -> str:
    # A random name: the download view (which checks who asks) is the only way to the file.
    return f"{RESULT_FOLDER}/{uuid.uuid4().hex}/{filename}"


class Job(models.Model):
    """An import or an export too large for one request, run by a Celery worker (or in the request
    when no broker is configured); its row is what the job page shows and what a cancel sets."""

    class Kind(models.TextChoices):
        IMPORT = "import", _("import")
        EXPORT = "export", _("export")
        # The check of a large file before its import: its result is the import page's preview.
        PREVIEW = "preview", _("import check")

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    UNFINISHED = (State.QUEUED, State.RUNNING)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="jobs",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # What is imported or exported: the file's name, or the list exported.
    subject = models.CharField(_("subject"), max_length=255)
    # What the task needs to run it again from scratch: the stored upload, the export's query and form.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    rows_total = models.PositiveIntegerField(_("rows in total"), default=0)
    created = models.DateTimeField(_("created on"), default=timezone.now, db_index=True)
    started = models.DateTimeField(_("started on"), null=True, blank=True)
    finished = models.DateTimeField(_("finished on"), null=True, blank=True)
    result_file = models.FileField(
        _("result file"), storage=private_storage, upload_to=job_result_upload_to, blank=True, max_length=255
    )
    result_name = models.CharField(_("result file name"), max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    task_id = models.CharField(_("task id"), max_length=64, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created", "-id"]
        permissions = [("view_all_jobs", _("Can see everyone's background jobs"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject}"

    @property
    def is_finished(self) -> bool:
        return self.state not in self.UNFINISHED

    @property
    def percent(self) -> int | None:
        if self.state == self.State.DONE:
            return 100
        if not self.rows_total:
            return None
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def duration(self):
        if self.started is None:
            return None
        return (self.finished or timezone.now()) - self.started
