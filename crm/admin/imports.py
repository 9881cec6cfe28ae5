"""Importing customer lists in the admin: the Import page of 全部客户 and the import history."""

import os
import re
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from import_export.admin import ImportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ImportForm

from crm.admin.base import CrmModelAdmin, ReadOnlyAdminMixin
from crm.admin.confirmation import action_confirmation, is_confirmed
from crm.admin.jobs import REFRESH_SECONDS, job_started_response
from crm.models import CustomerImport, Job
from crm.resources.customers import CustomerResource
from crm.services.imports import (
    ENCODING_CHOICES,
    customer_files_count_rows,
    customer_imports_rejected_file,
    customer_imports_revert,
    customers_import,
    file_size_check,
    outcome_from_json,
)
from crm.services.jobs import jobs_should_run_in_background, jobs_start_import, jobs_start_preview
from crm.uploads import import_uploads_open, import_uploads_save

TEMPLATE_FILES = {
    "csv": ("customer_import_template.csv", "text/csv; charset=utf-8"),
    "xlsx": (
        "customer_import_template.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}
STORED_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class CustomerImportForm(ImportForm):
    encoding = forms.ChoiceField(
        label=gettext_lazy("Encoding of a CSV file"),
        choices=ENCODING_CHOICES,
        initial="auto",
        required=False,
        help_text=gettext_lazy("Excel in China saves CSV as GBK; detection tells it from UTF-8."),
    )

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        # The content of the file tells CSV from xlsx; nobody needs to say it.
        del self.fields["format"]
        self.fields["import_file"].widget.attrs.pop("class", None)
        self.fields["import_file"].widget.attrs["accept"] = ".csv,.txt,.xlsx"

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        file_size_check(upload.size)
        return upload

    @property
    def media(self):
        return forms.Media()


class CustomerConfirmImportForm(forms.Form):
    import_file_name = forms.CharField(widget=forms.HiddenInput())
    original_file_name = forms.CharField(widget=forms.HiddenInput())
    encoding = forms.CharField(widget=forms.HiddenInput())
    # The preview's row count: more than JOB_ROWS_THRESHOLD rows are imported by a background job.
    rows = forms.IntegerField(widget=forms.HiddenInput(), min_value=0, required=False)

    def clean_import_file_name(self):
        name = os.path.basename(self.cleaned_data["import_file_name"])
        if not STORED_NAME.match(name):
            raise ValidationError(_("The uploaded file is no longer available: upload it again."))
        return name


class CustomerImportAdminMixin(ImportMixin):
    """The Import button of the customer admin: preview (a dry run), then confirm.

    Between the two steps the file waits in IMPORT_EXPORT_TMP_STORAGE_CLASS, which every worker sees.
    """

    resource_classes = [CustomerResource]
    import_formats = [CSV, XLSX]
    import_form_class = CustomerImportForm
    confirm_form_class = CustomerConfirmImportForm
    import_template_name = "admin/crm/customer/import.html"

    def url_name(self, view: str, prefix: str = "admin:") -> str:
        app_label, model_name = self.get_model_info()
        return f"{prefix}{app_label}_{model_name}_{view}"

    def get_urls(self):
        urls = [
            path(
                "import/rejected/<str:name>/",
                self.admin_site.admin_view(self.rejected_rows_view),
                name=self.url_name("import_rejected", prefix=""),
            ),
            path(
                "import/template.<str:file_format>",
                self.admin_site.admin_view(self.import_template_view),
                name=self.url_name("import_template", prefix=""),
            ),
        ]
        return urls + super().get_urls()

    def tmp_storage(self, name=None):
        # Always bytes: the encoding of a CSV file is found when it is read, not when it is stored.
        return self.get_tmp_storage_class()(name=name, encoding=None, read_mode="rb")

    def import_action(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method != "POST" and "job" in request.GET:
            return self.preview_job_page(request, request.GET["job"])
        form = self.create_import_form(request)
        if request.method != "POST" or not form.is_valid():
            return self.render_import_page(request, form)
        upload = form.cleaned_data["import_file"]
        # Read where Django put it (a temporary file past FILE_UPLOAD_MAX_MEMORY_SIZE), never as bytes.
        file = upload.file
        encoding = form.cleaned_data.get("encoding") or "auto"
        try:
            rows = customer_files_count_rows(file=file, encoding=encoding)
            if jobs_should_run_in_background(rows=rows):
                # A large file is checked by a background job; the page follows it, then shows its result.
                job = jobs_start_preview(
                    user=request.user,
                    stored_name=import_uploads_save(file),
                    file_name=upload.name,
                    encoding=encoding,
                    rows=rows,
                )
                return redirect(f"{reverse(self.url_name('import'))}?{urlencode({'job': job.pk})}")
            outcome = customers_import(
                file=file, file_name=upload.name, user=request.user, encoding=encoding, dry_run=True
            )
        except ValidationError as error:
            form.add_error("import_file", error)
            return self.render_import_page(request, form)
        confirm_form = None
        if self.confirmable(request, outcome):
            confirm_form = self.confirm_form(outcome, import_uploads_save(file))
        return self.render_import_page(request, form, outcome=outcome, confirm_form=confirm_form)

    def confirmable(self, request, outcome) -> bool:
        if outcome.ok and not (outcome.new or outcome.updated):
            self.message_user(
                request, _("Nothing to import: every row is already known or skipped."), messages.WARNING
            )
        return outcome.ok and bool(outcome.new or outcome.updated)

    def confirm_form(self, outcome, stored_name: str):
        return self.confirm_form_class(
            initial={
                "import_file_name": stored_name,
                "original_file_name": outcome.file_name,
                "encoding": outcome.source.encoding or "auto",
                "rows": outcome.total,
            }
        )

    def preview_job_page(self, request, job_id: str):
        """The import page of a background check: its progress while it runs (the page reloads itself,
        and the check goes on when the browser is closed), then its result with the confirm button."""
        job = (
            Job.objects.visible_to(request.user)
            .filter(kind=Job.Kind.PREVIEW, pk=int(job_id) if job_id.isdecimal() else None)
            .first()
        )
        if job is None:
            raise Http404(_("Not found."))
        form = self.create_import_form(request)
        if job.state != Job.State.DONE:
            if job.error:
                self.message_user(request, job.error, messages.ERROR)
            elif job.state == Job.State.CANCELLED:
                self.message_user(
                    request, _("The check of this file was cancelled: upload it again."), messages.WARNING
                )
            return self.render_import_page(request, form, job=job)
        outcome = outcome_from_json(job.params["outcome"])
        confirm_form = None
        if self.confirmable(request, outcome):
            confirm_form = self.confirm_form(outcome, job.params["stored_name"])
        return self.render_import_page(request, form, outcome=outcome, confirm_form=confirm_form, job=job)

    @method_decorator(require_POST)
    def process_import(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        confirm_form = self.create_confirm_form(request)
        file = None
        if confirm_form.is_valid():
            storage = self.tmp_storage(confirm_form.cleaned_data["import_file_name"])
            file = import_uploads_open(confirm_form.cleaned_data["import_file_name"])
        if file is None:
            self.message_user(
                request, _("The uploaded file is no longer available: upload it again."), messages.ERROR
            )
            return redirect(self.url_name("import"))
        file_name = confirm_form.cleaned_data["original_file_name"]
        rows = confirm_form.cleaned_data["rows"] or 0
        if jobs_should_run_in_background(rows=rows):
            file.close()  # the job opens it again
            job = jobs_start_import(
                user=request.user,
                stored_name=confirm_form.cleaned_data["import_file_name"],
                file_name=file_name,
                encoding=confirm_form.cleaned_data["encoding"],
                rows=rows,
            )
            return job_started_response(request, job)
        try:
            with file:
                outcome = customers_import(
                    file=file,
                    file_name=file_name,
                    user=request.user,
                    encoding=confirm_form.cleaned_data["encoding"],
                )
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return redirect(self.url_name("import"))
        if not outcome.ok:
            # The data changed since the preview (another import, an edit): nothing was written.
            return self.render_import_page(request, self.create_import_form(request), outcome=outcome)
        storage.remove()
        self.message_user(
            request,
            _(
                "Import finished: %(new)d new, %(updated)d updated, %(skipped)d skipped customers. "
                "It can be reverted from the import history."
            )
            % {"new": outcome.new, "updated": outcome.updated, "skipped": outcome.skipped},
            messages.SUCCESS,
        )
        return redirect(self.url_name("changelist"))

    def render_import_page(self, request, form, outcome=None, confirm_form=None, job=None):
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import customers"),
            "form": form,
            "confirm_form": confirm_form,
            "opts": self.model._meta,
            "outcome": outcome,
            "columns": CustomerResource.template_headers(),
            "history_url": reverse("admin:crm_customerimport_changelist"),
            "job": job,
            "jobs_url": reverse("admin:crm_job_changelist"),
            "refresh_seconds": REFRESH_SECONDS if job is not None and not job.is_finished else None,
        }
        if job is not None and job.result_file:
            # A background check wrote its rejected rows to the job's result file.
            context["rejected_url"] = reverse("admin:crm_job_download", args=[job.pk])
        elif outcome is not None and not outcome.ok:
            content, name, _content_type = customer_imports_rejected_file(outcome=outcome)
            storage = self.tmp_storage()
            storage.save(content)
            url = reverse(self.url_name("import_rejected"), args=[os.path.basename(storage.name)])
            context["rejected_url"] = (
                f"{url}?{urlencode({'format': outcome.source.file_format, 'name': name})}"
            )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    def rejected_rows_view(self, request, name):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if not STORED_NAME.match(name):
            raise Http404
        try:
            content = self.tmp_storage(name).read()
        except OSError:
            content = None
        if not content:
            raise Http404
        file_format = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
        file_name = os.path.basename(request.GET.get("name", "")) or f"rejected.{file_format}"
        if not file_name.endswith(f".{file_format}"):
            file_name = f"rejected.{file_format}"
        return attachment(content, file_name, TEMPLATE_FILES[file_format][1])

    def import_template_view(self, request, file_format):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if file_format not in TEMPLATE_FILES:
            raise Http404
        file_name, content_type = TEMPLATE_FILES[file_format]
        content = (settings.BASE_DIR / "fixtures" / file_name).read_bytes()
        return attachment(content, _("customer import template") + f".{file_format}", content_type)


def attachment(content: bytes, file_name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, file_name)
    return response


@admin.register(CustomerImport)
class CustomerImportAdmin(ReadOnlyAdminMixin, CrmModelAdmin):
    list_display = [
        "file_name",
        "user",
        "date",
        "new_count",
        "updated_count",
        "skipped_count",
        "error_count",
        "result",
    ]
    date_hierarchy = "date"
    search_fields = ["file_name", "user__username", "user__name"]
    list_select_related = ["user", "reverted_by"]
    fields = [*list_display[:-1], "reverted_on", "reverted_by", "revert_report"]
    actions = ["revert_imports"]

    def scope_queryset(self, request, queryset):
        if request.user.has_perm("crm.import_customer"):
            return queryset
        return queryset.filter(user=request.user)

    def has_revert_permission(self, request):
        return request.user.has_perm("crm.import_customer")

    @admin.display(description=gettext_lazy("result"))
    def result(self, obj):
        if obj.reverted_on:
            return _("Reverted")
        if obj.error_count:
            return _("Rejected, nothing written")
        return _("Imported")

    @admin.action(description=gettext_lazy("Revert the selected imports"), permissions=["revert"])
    def revert_imports(self, request, queryset):
        if not is_confirmed(request):
            return action_confirmation(
                self,
                request,
                queryset.order_by("pk"),
                action="revert_imports",
                title=_("Revert imports"),
                question=_(
                    "The customers these imports created are deleted, except those worked on since "
                    "(which are kept), and the fields they filled in are emptied:"
                ),
                submit_label=_("Revert"),
            )
        for customer_import in queryset:
            try:
                outcome = customer_imports_revert(customer_import=customer_import, user=request.user)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.WARNING)
                continue
            level = messages.WARNING if outcome.kept else messages.SUCCESS
            self.message_user(
                request,
                _("%(import)s reverted: %(deleted)d customers deleted, %(emptied)d emptied, %(kept)d kept.")
                % {
                    "import": customer_import,
                    "deleted": outcome.deleted,
                    "emptied": outcome.emptied,
                    "kept": len(outcome.kept),
                },
                level,
            )
