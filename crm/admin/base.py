"""Pieces shared by the admin modules."""

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import router, transaction
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _


def badge(label: str, colour: str) -> str:
    """A coloured label in a list cell (a customer's status, a recycling warning)."""
    return format_html('<span class="crm-badge" style="background:{}">{}</span>', colour, label)


def related_row_lookup(model, key: str):
    """``(path, target model, many)`` when the list parameter ``key`` picks rows of ``model`` by the
    identity of related rows (``enrolment_class``, ``enrolment_class__exact``,
    ``course_record__re_class__id__exact``, ``introduce_from__in`` ...): ``path`` is the lookup of the
    relation itself, ``many`` says the value is a comma-separated list. None for any other parameter."""
    parts = key.split(LOOKUP_SEP)
    opts, fields = model._meta, []
    for part in parts:
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            break
        fields.append(field)
        if not field.is_relation or field.related_model is None:
            break
        opts = field.related_model._meta
    relations = [index for index, field in enumerate(fields) if field.is_relation and field.related_model]
    if not relations:
        return None
    last = relations[-1]
    target = fields[last].related_model
    rest = parts[last + 1 :]
    if rest and rest[0] in ("pk", target._meta.pk.name):
        rest = rest[1:]
    if rest not in ([], ["exact"], ["in"]):
        return None  # isnull, or a column of the related row (its name...): no row is named
    return LOOKUP_SEP.join(parts[: last + 1]), target, rest == ["in"]


class ScopedAdminMixin:
    """Restrict every view of a model admin (list, change, history, delete, export,
    autocomplete, select-across) to the rows a user may see.

    Subclasses implement ``scope_queryset(request, queryset)`` with the model's ``visible_to``.

    A list parameter that names a related row (``?enrolment_class__id__exact=3``) outside what the user
    may see of that model gives an empty list: neither the rows of another scope (an oracle) nor, as
    Django does when the filter's sidebar has nothing to offer, the unfiltered list.
    """

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def scope_queryset(self, request, queryset):
        return queryset

    def related_scope(self, request, model):
        """The rows of a related ``model`` this user may name in a list parameter: those of the model's
        ``visible_to`` (crm/querysets.py), every row of a model without one."""
        manager = model._default_manager
        if hasattr(manager.get_queryset(), "visible_to"):
            return manager.all().visible_to(request.user)
        return None

    def get_search_results(self, request, queryset, search_term):
        # The one hook every list runs (the page, its counts and facets, export, select-across) with
        # the request, after the filters and before the search.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        for key, values in request.GET.lists():
            lookup = related_row_lookup(self.model, key)
            if lookup is None:
                continue
            path, target, many = lookup
            names = [part for value in values for part in (value.split(",") if many else [value])]
            scope = self.related_scope(request, target)
            try:
                if scope is not None and scope.filter(pk__in=names).count() < len(set(names)):
                    return queryset.none(), may_have_duplicates
                if not many and not fields_are_multivalued(self.model, path):
                    # Django drops the parameter of a filter whose sidebar is hidden (one choice):
                    # applied again, it is a no-op when Django applied it.
                    queryset = queryset.filter(**{path: names[-1]})
            except (ValueError, ValidationError):
                return queryset.none(), may_have_duplicates
        return queryset, may_have_duplicates

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Django's change, delete and history views (5.2) redirect to the index saying the object
            # "doesn't exist"; a row outside the user's scope must be as missing as one that does not
            # exist, and a 404 is what both should be.
            raise Http404(_("Not found."))
        return obj


def fields_are_multivalued(model, path: str) -> bool:
    """Whether the relation path crosses a to-many relation (applying it twice would join twice)."""
    opts = model._meta
    for part in path.split(LOOKUP_SEP):
        field = opts.get_field(part)
        if field.many_to_many or field.one_to_many:
            return True
        opts = field.related_model._meta
    return False


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CrmModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
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
