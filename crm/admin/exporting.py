"""django-import-export in the admin: exactly the changelist's rows (or the selected ones), streamed."""

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from import_export.admin import ExportActionMixin
from import_export.formats import base_formats
from import_export.forms import SelectableFieldsExportForm
from import_export.signals import post_export

from crm.admin.base import CrmModelAdmin, DateRangeFilter
from crm.admin.jobs import export_as_job, export_rows
from crm.resources.streaming import export_response
from crm.services.jobs import jobs_should_run_in_background

# Strings of django-import-export's templates that its Chinese catalog lacks; ours translates them.
# "Submit" is the only button of the export page (import.html, which also has one, is replaced by ours).
UPSTREAM_STRINGS = [_("Select all"), _("Submit")]


class ExportForm(SelectableFieldsExportForm):
    # _init_formats and _get_field_label have no public counterpart in django-import-export 4.4.3
    # (checked against that version); tests/admin/test_finance.py pins what they do (.xlsx chosen,
    # headers only).
    # The export page then has the back office's layout (its narrower sidebar) like the lists.
    Media = CrmModelAdmin.Media

    def _init_formats(self, formats):
        super()._init_formats(formats)
        # Finance exports for Excel: .xlsx (the first format) is chosen unless the user picks .csv.
        self.fields["format"].choices = [choice for choice in self.fields["format"].choices if choice[0]]
        self.fields["format"].initial = "0"

    def _get_field_label(self, resource, field_name: str) -> str:
        # The stock label is the English field name followed by the header; show the header only.
        field = resource.fields.get(field_name)
        return field.column_name if field else field_name


class StreamingExportMixin(ExportActionMixin):
    """Export through the model's resource, as .xlsx or .csv, from the changelist or the action.

    The rows are those of the changelist (its scope, search, filters and date range) and, from the
    action, only the selected ones among them; they stream from the database into the file.
    """

    export_formats = [base_formats.XLSX, base_formats.CSV]
    export_form_class = ExportForm
    # The change form keeps Django's own template (no "export this row" button).
    change_form_template = None
    show_change_form_export = False

    export_template_name = "admin/crm/export.html"

    def export_action(self, request):
        try:
            response = super().export_action(request)
        except IncorrectLookupParameters:
            # An address whose filters the list cannot apply (edited by hand, or from an older version
            # of the list): back to the whole list, as the list itself does with such an address, and
            # told why nothing was exported.
            self.message_user(
                request,
                _(
                    "The filters in the export's address are not valid, so nothing was exported. "
                    "Filter the list again, then export it."
                ),
                messages.ERROR,
            )
            return HttpResponseRedirect(self.admin_url("changelist"))
        if isinstance(response, TemplateResponse) and not exports_ticked_rows(request):
            # The form of the whole list (the action's form names its ticked rows instead).
            response.context_data["export_scope"] = self.export_scope(request)
        return response

    def admin_url(self, view: str) -> str:
        """The URL of this admin's ``view`` ("changelist", "export") on its site."""
        return reverse(f"{self.admin_site.name}:%s_%s_{view}" % self.get_model_info())

    def export_scope(self, request) -> dict:
        """What the export page says it will write: how many rows, which filters and search of the list,
        and whether it runs as a background job, so that the user sees it before clicking 导出."""
        changelist = request.crm_changelist  # the one the export's queryset came from (RememberedChangeList)
        rows = export_rows(changelist.queryset)
        changelist_url = self.admin_url("changelist")
        query = request.GET.urlencode()
        return {
            "rows": rows,
            "background": jobs_should_run_in_background(rows=rows),
            "threshold": settings.JOB_ROWS_THRESHOLD,
            "filters": scope_parts(changelist),
            "list_url": f"{changelist_url}?{query}" if query else changelist_url,
        }

    def export_subject(self, request, title: str) -> str:
        """The export's name on the jobs page: the list, and its filters and search when it has some
        ("缴费记录（交款日期 2026-11-01 – 2026-11-30 · 状态 已确认）"); ticked rows: the list's name."""
        parts = [] if exports_ticked_rows(request) else scope_parts(request.crm_changelist)
        if not parts:
            return title
        scope = " · ".join(f"{part_title} {shown}" for part_title, shown in parts)
        return _("%(list)s (%(scope)s)") % {"list": title, "scope": scope}

    def get_changelist(self, request, **kwargs):
        return remembered(super().get_changelist(request, **kwargs))

    def get_valid_export_item_pks(self, request):
        # django-import-export 4.4 loads every pk of the table to validate the posted ones (issue
        # #2056: seconds at a million rows); only the posted ids within the changelist can be valid.
        posted = [value for value in request.POST.getlist("export_items") if value.isdigit()]
        return self.get_export_queryset(request).filter(pk__in=posted).values_list("pk", flat=True)

    def export_admin_action(self, request, queryset):
        if request.POST.get("select_across") == "1":
            # "Select all N rows" is the whole changelist: export it as such rather than posting
            # every one of its pks back through a hidden field.
            url = self.admin_url("export")
            query = request.GET.urlencode()
            return HttpResponseRedirect(f"{url}?{query}" if query else url)
        return super().export_admin_action(request, queryset)

    def get_export_filename(self, request, queryset, file_format):
        # A list narrowed to dates is named by them (缴费记录-2026-11-01至2026-11-30.xlsx), so that one
        # month's file and the next one's differ; any other by the day of the export.
        changelist = getattr(request, "crm_changelist", None)
        days = exported_days(changelist) if changelist is not None else ""
        name = days or timezone.localdate().isoformat()
        return f"{self.model._meta.verbose_name_plural}-{name}.{file_format.get_extension()}"

    # django-import-export 4.4.3 builds the whole file in memory here and has no public hook for
    # writing it otherwise (checked against that version); the export tests (tests/admin/test_finance.py,
    # tests/admin/test_jobs.py) pin the streamed file and the job.
    def _do_file_export(self, file_format, request, queryset, export_form=None):
        if not self.has_export_permission(request):
            raise PermissionDenied
        resource = self.choose_export_resource_class(export_form, request)(
            **self.get_export_resource_kwargs(request)
        )
        fields = resource.get_export_fields(self.get_export_resource_fields_from_form(export_form))
        filename = self.get_export_filename(request, queryset, file_format)
        title = str(self.model._meta.verbose_name_plural)
        background = export_as_job(
            self,
            request,
            resource=resource,
            fields=fields,
            queryset=queryset,
            file_format=file_format,
            filename=filename,
            title=title,
            subject=self.export_subject(request, title),
        )
        if background is not None:
            return background
        response = export_response(
            resource,
            fields,
            queryset,
            file_format,
            filename,
            title=title,
        )
        post_export.send(sender=None, model=self.model)
        return response


def exports_ticked_rows(request) -> bool:
    """Whether this export request is the 导出 action's, of the rows ticked in the list (their ids are
    posted as ``export_items``), rather than the whole list's."""
    return "export_items" in request.POST


@functools.cache
def remembered(changelist_class):
    """``changelist_class`` leaving each of its instances on its request as ``crm_changelist``.

    django-import-export 4.4.3 builds the export's queryset with a subclass of the admin's ChangeList
    (``get_export_queryset``, which has no other way to hand it out: checked against that version); the
    export page describes that changelist's filters, rather than building and counting the list again.
    tests/admin/test_exporting.py pins the page's query count."""

    class RememberedChangeList(changelist_class):
        def __init__(self, request, *args, **kwargs):
            super().__init__(request, *args, **kwargs)
            request.crm_changelist = self

    return RememberedChangeList


def scope_parts(changelist) -> list[tuple[str, str]]:
    """(title, what it keeps) of each filter the list is filtered by, then of its search."""
    parts = [
        (str(spec.title), shown)
        for spec in changelist.filter_specs
        if (shown := active_filter_display(spec, changelist))
    ]
    if changelist.query:
        parts.append((pgettext("export scope", "Search"), f"“{changelist.query}”"))
    return parts


def exported_days(changelist) -> str:
    """The days of the first date range the list is filtered on, for a file name; "" when there is none."""
    for spec in changelist.filter_specs:
        if isinstance(spec, DateRangeFilter) and (dates := spec.applied_dates()):
            low, high = (day.isoformat() if day else None for day in dates)
            if low and high:
                return _("%(from)s to %(to)s") % {"from": low, "to": high}
            return _("from %(from)s") % {"from": low} if low else _("until %(to)s") % {"to": high}
    return ""


def active_filter_display(spec, changelist) -> str:
    """What an active filter of the list keeps, as its sidebar shows it ("已确认", "2026-11-01 – 2026-11-30"),
    or "" when the filter is not used."""
    if not any(name in changelist.filter_params for name in spec.expected_parameters()):
        return ""
    if isinstance(spec, DateRangeFilter):
        # Only the dates the list is filtered on: a refused or ignored date filters nothing.
        dates = spec.applied_dates()
        return " – ".join(day.isoformat() if day else "…" for day in dates) if dates else ""
    shown = []
    for choice in spec.choices(changelist):
        # A drop-down filter (crm.admin.filters.SelectListFilterMixin) gives its options in one choice.
        shown += [display for _value, display, selected in choice.get("options", ()) if selected]
        empty = choice.get("empty")
        if empty and empty["selected"]:
            shown.append(empty["display"])
        if choice.get("selected") and "display" in choice:
            shown.append(choice["display"])
    return "、".join(str(display) for display in shown)
