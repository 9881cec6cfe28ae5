"""Pieces shared by the admin modules."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404
from django.utils import translation
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from rangefilter import filters as rangefilter

from crm import formats
from crm.admin.confirmation import action_confirmation
from crm.admin.paging import NearestPageAdminMixin
from crm.admin.rows import cell_html
from crm.roles import recycle_permission
from crm.services.recycle_bin import recycle_bin_check, recycle_bin_move

# The years a date filter accepts, as the dashboard's periods (crm.formats): Asia/Shanghai's midnight
# of 0001-01-01 is before year 1 in UTC, which overflows on SQLite; no record of the school is older.
FILTER_YEARS = range(formats.MIN_YEAR, formats.MAX_YEAR + 1)


def badge(label: str, colour: str) -> str:
    """A coloured label in a list cell (a customer's status, a recycling warning)."""
    return cell_html('<span class="crm-badge" style="background:{}">{}</span>', colour, label)


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


class DateRangeFilter(rangefilter.DateRangeFilter):
    """django-admin-rangefilter's date range, ignoring (with a message) a date outside FILTER_YEARS."""

    def dates_outside_years(self) -> bool:
        return self.form.is_valid() and any(
            value and value.year not in FILTER_YEARS for value in self.form.cleaned_data.values()
        )

    def applied_dates(self) -> tuple | None:
        """(from, to) of the range the list is filtered on, either None when not given; None when it is
        filtered on no date: none given, a date the form refuses, or one outside FILTER_YEARS."""
        if not self.form.is_valid() or self.dates_outside_years():
            return None
        low, high = (
            self.form.cleaned_data.get(name) for name in (self.lookup_kwarg_gte, self.lookup_kwarg_lte)
        )
        return (low, high) if low or high else None

    def queryset(self, request, queryset):
        if self.dates_outside_years():
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


def search_terms(search_term: str) -> list[str]:
    """The terms of a list's search as Django's ModelAdmin.get_search_results (5.2) splits them: by
    spaces, a quoted phrase being one term."""
    return [
        unescape_string_literal(bit) if len(bit) > 1 and bit[0] in "\"'" and bit[-1] == bit[0] else bit
        for bit in smart_split(search_term)
    ]


class RelatedSearchAdminMixin:
    """The search of a list whose search fields are a related row's (``customer__name``): each term
    finds the related rows with their own indexes (the customers' trigram indexes), then the list's
    rows that name them, instead of joining every row of the list to its customer to compare the
    names (a 20-second sequential join at 2,000,000 follow-ups). Terms and matching (every term, in
    any field, case-insensitive) are Django's; the list's own fields (a follow-up's note) are searched
    beside, and the two sets of keys united."""

    def get_search_results(self, request, queryset, search_term):
        if any(name[:1] in "^=@" for name in self.get_search_fields(request)):
            return super().get_search_results(request, queryset, search_term)
        # The scope's checks of the list parameters (ScopedAdminMixin) run as for any search.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, "")
        for term in search_terms(search_term):
            queryset = queryset.filter(self.search_term_q(request, term))
        return queryset, may_have_duplicates

    def search_term_q(self, request, term: str) -> Q:
        related, local = {}, Q()
        for name in self.get_search_fields(request):
            relation, _sep, field = name.partition(LOOKUP_SEP)
            if field and self.model._meta.get_field(relation).is_relation:
                related.setdefault(relation, Q())
                related[relation] |= Q(**{f"{field}__icontains": term})
            else:
                local |= Q(**{f"{name}__icontains": term})
        parts = [
            Q(
                **{
                    f"{relation}__in": self.model._meta.get_field(
                        relation
                    ).related_model._default_manager.filter(q)
                }
            )
            for relation, q in related.items()
        ]
        if local:
            parts.append(local)
        if len(parts) == 1:
            return parts[0]
        # Each part with its own index, their keys united: an OR of them would scan the whole list.
        manager = self.model._default_manager
        keys = [manager.filter(part).order_by().values("pk") for part in parts]
        return Q(pk__in=keys[0].union(*keys[1:]))


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


class ValidatedAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget, re-rendering only posted values that are valid keys.

    Django 5.2's ``AutocompleteMixin.optgroups`` looks the posted values up in the database as they
    came, so a form sent back with its errors and a forged value ("0001-01-01", or a number past 64
    bits on SQLite) answers 500 while the field's own validation already reported the error."""

    def optgroups(self, name, value, attr=None):
        key = self.field.target_field
        valid = []
        for item in value:
            try:
                cleaned = key.to_python(item)
            except ValidationError:
                continue
            if isinstance(cleaned, int) and not -(2**63) <= cleaned < 2**63:
                continue
            valid.append(item)
        return super().optgroups(name, valid, attr)


class CrmModelAdmin(ValidSelectionAdminMixin, NearestPageAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_per_page = 20
    list_max_show_all = 200
    # A filtered list would count the whole (scoped) table a second time just to print "of N total".
    show_full_result_count = False

    class Media:
        css = {"all": ["crm/admin/site.css"]}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = ValidatedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def action_checkbox(self, obj):
        # The markup of Django 5.2's ModelAdmin.action_checkbox (pinned by tests/admin/test_base.py)
        # without a form widget rendered through the template engine for every row of every page.
        return cell_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            cell_html(gettext("Select this object for an action - {}"), str(obj)),
        )

    def construct_change_message(self, request, form, formsets, add=False):
        # Django stores the changed fields' labels in English and shows them through gettext of the
        # capitalized label ("Status"), which no catalogue has: the history read "已修改 Status 和
        # Classes joined". The labels are stored instead as the forms show them, in the site's language.
        message = super().construct_change_message(request, form, formsets, add)
        with translation.override(settings.LANGUAGE_CODE):
            labels = [field_labels(form, form.changed_data)] if not add and form.changed_data else []
            for formset in formsets or []:
                labels += [field_labels(formset.forms[0], fields) for _obj, fields in formset.changed_objects]
        shown = iter(labels)
        for entry in message:
            if "changed" in entry:
                entry["changed"]["fields"] = next(shown)
        return message


def field_labels(form, names) -> list[str]:
    """The labels of these fields of the form, as it shows them."""
    return [str(form.fields[name].label or name) if name in form.fields else name for name in names]


class LockedCheckFormMixin:
    """The one save strategy for "the data changed since the form was read".

    The form's ``clean`` runs the service's check that locks the rows the save depends on. Django's
    admin wraps a change form's POST in one transaction (``ModelAdmin.changeform_view``, Django 5.2;
    pinned by tests/admin/test_base.py), so the lock taken in ``clean`` holds until ``save_model``
    commits: a concurrent change either waits for the save, or was committed first and is reported
    here as a form error. The service repeats the check under the same lock for its other callers.
    """

    def run_locked_check(self, check, /, **kwargs):
        """Call ``check(**kwargs)``; its ValidationError becomes errors of this form (on the fields
        it names that the form shows, the rest above the form). Returns what the check returns."""
        try:
            return check(**kwargs)
        except ValidationError as error:
            self.add_check_error(error)
            return None

    def add_check_error(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)


class RecycleBinAdminMixin:
    """Deleting is moving to the recycle bin (``recycle_bin_move``): one action, "移入回收站", behind a
    confirmation page like Django's delete confirmation. Django's own delete (the action and the
    delete page) is the superuser's alone."""

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def has_recycle_permission(self, request):
        # A capability of its own (crm/roles.py), never inferred from changing or deleting rows; it
        # applies to the rows of the user's scope, which are all the action is given.
        return request.user.has_perm(recycle_permission(self.model))

    @admin.action(permissions=["recycle"], description=_("Move to the recycle bin"))
    def move_to_recycle_bin(self, request, queryset):
        rows = list(queryset.order_by("pk"))
        try:
            recycle_bin_check(objects=rows)
            if request.POST.get("post") == "yes":
                count = recycle_bin_move(model=self.model, ids=[row.pk for row in rows], user=request.user)
            else:
                return self.recycle_bin_confirmation(request, rows)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return None
        self.message_user(
            request,
            ngettext(
                "%(count)d row moved to the recycle bin.", "%(count)d rows moved to the recycle bin.", count
            )
            % {"count": count},
            messages.SUCCESS if count else messages.INFO,
        )
        return None

    def recycle_bin_confirmation(self, request, rows):
        name = self.opts.verbose_name
        question = ngettext(
            "Move this %(name)s to the recycle bin? It disappears from the lists and totals; "
            "the record is kept.",
            "Move these %(count)s %(name)s rows to the recycle bin? They disappear from the lists "
            "and totals; the records are kept.",
            len(rows),
        ) % {"count": len(rows), "name": name}
        return action_confirmation(
            self,
            request,
            self.model._default_manager.filter(pk__in=[row.pk for row in rows]).order_by("pk"),
            action="move_to_recycle_bin",
            title=gettext("Move to the recycle bin"),
            question=question,
            submit_label=gettext("Yes, I’m sure"),
        )
