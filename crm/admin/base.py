"""Pieces shared by the admin modules."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.http import Http404
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from rangefilter import filters as rangefilter

# The years a date filter accepts: Asia/Shanghai's midnight of 0001-01-01 is before year 1 in UTC,
# which overflows on SQLite; no record of the school is older or newer.
FILTER_YEARS = range(1900, 2101)


def badge(label: str, colour: str) -> str:
    """A coloured label in a list cell (a customer's status, a recycling warning)."""
    return format_html('<span class="crm-badge" style="background:{}">{}</span>', colour, label)


class DateRangeFilter(rangefilter.DateRangeFilter):
    """django-admin-rangefilter's date range, ignoring (with a message) a date outside FILTER_YEARS."""

    def queryset(self, request, queryset):
        if self.form.is_valid() and any(
            value and value.year not in FILTER_YEARS for value in self.form.cleaned_data.values()
        ):
            messages.warning(
                request,
                _("Dates before %(first)d or after %(last)d are not filtered on: the filter was ignored.")
                % {"first": FILTER_YEARS[0], "last": FILTER_YEARS[-1]},
            )
            return queryset
        return super().queryset(request, queryset)


class ScopedAdminMixin:
    """Restrict every view of a model admin (list, change, history, delete, export,
    autocomplete, select-across) to the rows a user may see.

    Subclasses implement ``scope_queryset(request, queryset)`` with the model's ``visible_to``.
    """

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def scope_queryset(self, request, queryset):
        return queryset

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index saying the object "doesn't exist"; a row outside the user's
        # scope must be indistinguishable from a missing one, and a 404 is what both should be.
        raise Http404(_("Not found."))


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ValidSelectionAdminMixin:
    """An action whose ``_selected_action`` is not an id ("abc") says so instead of failing with a 500."""

    def response_action(self, request, queryset):
        # A forged or stale `_selected_action` ("abc") would reach the database as an id and fail there.
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                self.model._meta.pk.to_python(value)
        except ValidationError:
            self.message_user(
                request, _("The selection is not valid: select the rows again."), messages.ERROR
            )
            return None  # the changelist shows the message again, having done nothing
        return super().response_action(request, queryset)


class CrmModelAdmin(ValidSelectionAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_per_page = 20
    list_max_show_all = 200
    # A filtered list would count the whole (scoped) table a second time just to print "of N total".
    show_full_result_count = False

    class Media:
        css = {"all": ["crm/admin/site.css"]}


class SaveErrorsAdminMixin:
    """A ValidationError raised while saving the add/change form shows the form again with the error.

    The form's checks run before the save without locks; the services re-check under row locks, and
    a concurrent change committed in between (the same enrollment added twice at once, the owner's
    cap filled meanwhile) makes them raise ValidationError. Everything the failed save wrote is rolled
    back (a savepoint), then the view runs again with the error added to the form, which makes it
    invalid: the user sees the form with the error, and nothing is saved.
    """

    def _changeform_view(self, request, object_id, form_url, extra_context):
        if request.method != "POST":
            return super()._changeform_view(request, object_id, form_url, extra_context)
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super()._changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            request.crm_save_error = error
        return super()._changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        save_error = getattr(request, "crm_save_error", None)
        if save_error is None:
            return form

        class SaveErrorForm(form):
            def _post_clean(self):
                super()._post_clean()
                # The form's own checks may already report it (they now see the committed change).
                if not self.errors:
                    fields = getattr(save_error, "error_dict", {})
                    if set(fields) <= set(self.fields):
                        self.add_error(None, save_error)
                    else:
                        self.add_error(None, ValidationError(save_error.messages))

        return SaveErrorForm
