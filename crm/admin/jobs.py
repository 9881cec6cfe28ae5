"""The background jobs page: who started what, how far it is, its result file; cancel a job."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.admin.base import CrmModelAdmin, ReadOnlyAdminMixin, badge
from crm.admin.rows import cell_html
from crm.models import Job
from crm.services.jobs import (
    jobs_cancel,
    jobs_export_file,
    jobs_should_run_in_background,
    jobs_start_export,
)

STATE_COLOURS = {
    Job.State.QUEUED: "#8a8a8a",
    Job.State.RUNNING: "#2f6fb3",
    Job.State.DONE: "#2e7d32",
    Job.State.FAILED: "#c62828",
    Job.State.CANCELLED: "#8d6e63",
}
# While a job of the page runs, the page reloads itself this often (seconds); no script needed.
REFRESH_SECONDS = 5


def job_started_response(request, job: Job) -> HttpResponse:
    """Where a request that started a background job goes: the jobs page, which follows it."""
    # Without a broker the job ran when its row was committed: read how it ended.
    job.refresh_from_db()
    if job.is_finished:
        # No broker: the job already ran in this request.
        level = messages.SUCCESS if job.state == Job.State.DONE else messages.ERROR
        message = _("%(job)s: %(state)s.") % {"job": job, "state": job.get_state_display()}
    else:
        level = messages.INFO
        message = _(
            "%(job)s runs in the background: follow it here, the page refreshes itself. "
            "Closing the browser does not stop it."
        ) % {"job": job}
    messages.add_message(request, level, message)
    return redirect("admin:crm_job_changelist")


def export_rows(queryset) -> int:
    """How many rows an export of ``queryset`` writes, counted up to one past JOB_ROWS_THRESHOLD: enough to
    tell whether it runs as a background job, and a bounded query even on a million rows."""
    return queryset.order_by()[: settings.JOB_ROWS_THRESHOLD + 1].count()


def export_as_job(model_admin, request, *, subject: str = "", **export) -> HttpResponse | None:
    """The admin export as a background job: inside a job's worker, write the file to the job; for
    more rows than JOB_ROWS_THRESHOLD, start a job. None: export in the request as usual."""
    job = getattr(request, "crm_job", None)
    if job is not None:
        request.crm_job_result = jobs_export_file(job=job, **export)
        return HttpResponse()
    rows = export_rows(export["queryset"])
    if not jobs_should_run_in_background(rows=rows):
        return None
    job = jobs_start_export(
        user=request.user, model_admin=model_admin, request=request, rows=rows, subject=subject
    )
    return job_started_response(request, job)


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, CrmModelAdmin):
    list_display = [
        "created",
        "user",
        "kind",
        "subject",
        "state_badge",
        "rows",
        "percent_done",
        "duration_display",
        "result_link",
        "error",
    ]
    list_filter = ["state", "kind"]
    list_select_related = ["user"]
    search_fields = ["subject", "user__username", "user__name"]
    date_hierarchy = "created"
    fields = [
        "user",
        "kind",
        "subject",
        "state",
        "rows_done",
        "rows_total",
        "created",
        "started",
        "finished",
        "result_link",
        "error",
        "cancel_requested",
    ]
    readonly_fields = ["result_link"]
    actions = ["cancel_jobs"]
    change_list_template = "admin/crm/job/change_list.html"

    def scope_queryset(self, request, queryset):
        return queryset.visible_to(request.user)

    def has_cancel_permission(self, request):
        return self.has_view_permission(request)

    def get_urls(self):
        download = path(
            "<int:object_id>/download/",
            self.admin_site.admin_view(self.download_view),
            name="crm_job_download",
        )
        return [download, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        running = self.get_queryset(request).unfinished().exists()
        extra_context = {"refresh_seconds": REFRESH_SECONDS if running else None, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def download_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = self.get_queryset(request).filter(pk=object_id).first()
        if job is None or not job.result_file:
            raise Http404(_("Not found."))
        try:
            file = job.result_file.open("rb")
        except FileNotFoundError as error:
            raise Http404(_("Not found.")) from error
        return FileResponse(file, as_attachment=True, filename=job.result_name or job.result_file.name)

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj):
        label = obj.get_state_display()
        if obj.cancel_requested and not obj.is_finished:
            label = _("%(state)s, cancel requested") % {"state": label}
        return badge(label, STATE_COLOURS[obj.state])

    @admin.display(description=gettext_lazy("rows done / total"))
    def rows(self, obj):
        return f"{obj.rows_done:,} / {obj.rows_total:,}"

    @admin.display(description=gettext_lazy("percent"))
    def percent_done(self, obj):
        return "" if obj.percent is None else f"{obj.percent}%"

    @admin.display(description=gettext_lazy("duration"))
    def duration_display(self, obj):
        duration = obj.duration
        if duration is None:
            return ""
        minutes, seconds = divmod(int(duration.total_seconds()), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}"

    @admin.display(description=gettext_lazy("result file"))
    def result_link(self, obj):
        if obj.kind == Job.Kind.PREVIEW and obj.state == Job.State.DONE:
            # A check's result is the import page's preview, with the confirm button (and rejected rows).
            url = reverse("admin:crm_customer_import")
            return cell_html('<a href="{}?job={}">{}</a>', url, obj.pk, _("the check's result"))
        if not obj.result_file:
            return ""
        return cell_html(
            '<a href="{}">{}</a>',
            reverse("admin:crm_job_download", args=[obj.pk]),
            obj.result_name or _("download"),
        )

    @admin.action(description=gettext_lazy("Cancel the selected jobs"), permissions=["cancel"])
    def cancel_jobs(self, request, queryset):
        cancelled = 0
        # The queryset is the page's: only jobs the user may see, so may cancel.
        for job in queryset:
            try:
                jobs_cancel(job=job)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.WARNING)
                continue
            cancelled += 1
        if cancelled:
            self.message_user(
                request,
                _("Cancel asked for %(count)d jobs; a running job stops at its next 1,000 rows.")
                % {"count": cancelled},
                messages.SUCCESS,
            )
