"""Pagination of every list: a page number out of range shows the nearest page, and the user picks the
page size (20/50/100) with ``?per_page=``.

Every list also counts and fetches at the database's floor (issue 15):

- A list of more than ``ADMIN_EXACT_COUNT_LIMIT`` rows with no search term and no filter, on PostgreSQL,
  shows the planner's estimate of its rows (「约 90 万条」) instead of counting them; the last pages
  count exactly, so that pagination still reaches the real last page.
- Per-row figures (``NearestPageAdminMixin.get_page_queryset``: a follow-up count, the recycling
  countdown) are computed for the rows of the page only: the page's primary keys are picked by the
  plain list query, and the figures annotated on those rows alone, never on the rows an OFFSET skips
  nor in the count.
- A list, filtered or not, may count from a tally its admin knows of (``get_exact_count``: the
  customers' groups of owner, campus, status and source, CustomerTally; the payments', the follow-ups'
  and the study records'), still exactly, in a millisecond.
- An action's POST does not count nor fetch: Django builds the list before running the action, then
  redirects or shows the action's own page. An action that reads the ticked rows' ids itself
  (``actions_on_ticked_rows``: the claim) does not even build the list's filters and search.
"""

import json
import math

from django import forms
from django.conf import settings
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, InvalidPage, PageNotAnInteger, Paginator
from django.db import connections
from django.urls import NoReverseMatch
from django.utils.functional import cached_property
from django.utils.translation import gettext

PER_PAGE_VAR = "per_page"
# A search that finds at most this many rows is paged over their keys (NearestPageChangeList.search_keys).
SEARCH_KEYS_LIMIT = 1000
PER_PAGE_CHOICES = (20, 50, 100)
# What ChangeList.get_results sets (Django 5.2): reading any of them runs the deferred count and page.
RESULT_ATTRIBUTES = frozenset(
    {
        "result_count",
        "show_full_result_count",
        "show_admin_actions",
        "full_result_count",
        "result_list",
        "can_show_all",
        "multi_page",
        "paginator",
    }
)


def planner_estimate(queryset) -> int | None:
    """PostgreSQL's estimate of how many rows ``queryset`` has (its plan's top row count), or None on
    another database. Planning takes a millisecond where counting a million rows takes tens of them."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def estimated_count_label(count: int) -> str:
    """「约 90 万条」: an estimate shown at its precision."""
    if count >= 10_000:
        return gettext("about %(count)s ten thousand rows") % {"count": round(count / 10_000)}
    return gettext("about %(count)s rows") % {"count": count}


class NearestPagePaginator(Paginator):
    """``?p=abc`` or ``?p=0`` shows the first page and ``?p=`` past the end the last, where Django's
    changelist answers an invalid page by sending the user back to the first page with ``?e=1``.

    With ``may_estimate`` set (by the changelist: no search, no filter), a count over
    ADMIN_EXACT_COUNT_LIMIT is the planner's estimate, and ``count_is_estimated`` says so."""

    may_estimate = False
    count_is_estimated = False

    def validate_number(self, number):
        try:
            return super().validate_number(number)
        except PageNotAnInteger:
            return 1
        except EmptyPage:
            return 1 if int(number) < 1 else self.num_pages

    @cached_property
    def count(self):
        limit = settings.ADMIN_EXACT_COUNT_LIMIT
        if not self.may_estimate or connections[self.object_list.db].vendor != "postgresql":
            return super().count
        # A count that stops after the limit: exact (and the only query, as before) for a shorter list;
        # past it, the planner's estimate.
        bounded = self.object_list.order_by()[: limit + 1].count()
        if bounded <= limit:
            return bounded
        self.count_is_estimated = True
        return max(planner_estimate(self.object_list) or 0, bounded)


def is_action_post(request) -> bool:
    """Whether Django's changelist_view (5.2) runs an action for this request: it then redirects or
    answers with the action's page, and never shows the list it built."""
    return request.method == "POST" and "_save" not in request.POST and "action" in request.POST


def posted_action(request) -> str | None:
    """The action Django's ModelAdmin.response_action (5.2) runs for this POST: the ``action`` of the
    form whose ``index`` was posted (the last one posted when there is no such form)."""
    names = request.POST.getlist("action")
    try:
        index = int(request.POST.get("index", 0))
    except ValueError:
        index = 0
    try:
        return names[index]  # as Django indexes it, a negative index too
    except IndexError:
        return names[-1] if names else None


class TickedRowsChangeList:
    """The list of an action POST on ticked rows, for an action of ``actions_on_ticked_rows``.

    Before an action, Django's changelist_view (5.2; pinned by tests/admin/test_paging.py) uses its
    ChangeList for ``cl.get_queryset(request)`` only, which response_action narrows to the ticked rows;
    these actions read the ticked ids themselves, so the queryset is the admin's scoped one and the
    list's filters, search and ordering are never built. Anything else builds the real ChangeList."""

    def __init__(self, model_admin, request, build):
        self._model_admin = model_admin
        self._build = build

    def get_queryset(self, request, exclude_parameters=None):
        return self._model_admin.get_queryset(request)

    @cached_property
    def _changelist(self):
        return self._build()

    def __getattr__(self, name):
        return getattr(self._changelist, name)


class NearestPageChangeList(ChangeList):
    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        # Django's items_for_result (5.2; pinned by tests/admin/test_paging.py) passes each row's link
        # through add_preserved_filters, which resolves the link again to add the list's query to it
        # (a fifth of a millisecond a row on a filtered or deep page). The query is added once here,
        # by the same function, and the links find nothing more to preserve.
        self.row_query = self.preserved_row_query()
        if self.row_query:
            self.preserved_filters = ""

    def preserved_row_query(self) -> str:
        """The query string Django's add_preserved_filters adds to the link of a row (``?_changelist_
        filters=…``), or "" when it adds none."""
        if not self.preserved_filters:
            return ""
        try:
            url = self.url_for_result_key("0")
        except NoReverseMatch:
            return ""
        context = {"preserved_filters": self.preserved_filters, "opts": self.opts}
        preserved = add_preserved_filters(context, url)
        return preserved[len(url) :] if preserved.startswith(f"{url}?") and "?" not in url else ""

    def get_results(self, request):
        if is_action_post(request):
            self.__dict__["_deferred_results"] = request
            return
        self.get_page_results(request)

    def __getattr__(self, name):
        request = self.__dict__.pop("_deferred_results", None)
        if name in RESULT_ATTRIBUTES and request is not None:
            self.get_page_results(request)
            return getattr(self, name)
        raise AttributeError(name)

    def get_page_results(self, request):
        # ChangeList.get_results of Django 5.2 (pinned by tests/admin/test_paging.py), with an estimated
        # count, an exact count for the last pages, and the per-row figures on the page's rows only.
        keys = self.search_keys()
        if keys is not None:
            # Paged over the keys: the count is theirs, and a page reads its rows by key.
            paginator = self.model_admin.get_paginator(request, keys, self.list_per_page)
        else:
            paginator = self.get_counting_paginator(request)
            estimated = paginator.count and paginator.count_is_estimated
            if estimated and not self.page_is_inside_estimate(paginator):
                paginator = self.get_counting_paginator(request, may_estimate=False)
        result_count = paginator.count
        if self.model_admin.show_full_result_count:
            full_result_count = self.root_queryset.count()
        elif self.shows_whole_list():
            # The whole list is shown: its count is the full one, and the search bar offers no 显示全部
            # that would lead back to it (Django offers it whenever it has not counted the full list).
            full_result_count = result_count
        else:
            full_result_count = None
        can_show_all = result_count <= self.list_max_show_all
        multi_page = result_count > self.list_per_page
        if keys is not None:
            found = self.queryset.filter(pk__in=keys)
            if multi_page and not (self.show_all and can_show_all):
                page = paginator.validate_number(self.page_num)  # the nearest page
                found = found[(page - 1) * self.list_per_page : page * self.list_per_page]
                result_list = self.page_queryset(request, found, sliced=True)
            else:
                result_list = self.page_queryset(request, found)
        elif (self.show_all and can_show_all) or not multi_page:
            result_list = self.page_queryset(request, self.queryset._clone())
        else:
            try:
                page = paginator.page(self.page_num).object_list
            except InvalidPage as error:
                raise IncorrectLookupParameters from error
            result_list = self.page_queryset(request, page, sliced=True)
        self.result_count = result_count
        self.show_full_result_count = self.model_admin.show_full_result_count
        self.show_admin_actions = not self.show_full_result_count or bool(full_result_count)
        self.full_result_count = full_result_count
        self.result_list = result_list
        self.can_show_all = can_show_all
        self.multi_page = multi_page
        self.paginator = paginator
        # The page shown is marked as the current one in the page links ({% pagination %}).
        self.page_num = paginator.validate_number(self.page_num)

    def shows_whole_list(self) -> bool:
        """No search term and no filter: the list shows every row the user may see of it. A lookup of
        the query string that no list filter declares (``?customer__id__exact=5`` of a row's link, a
        date hierarchy's) filters too, where Django's ``has_active_filters`` counts declared filters only."""
        return not self.query and not self.get_filters_params()

    def search_keys(self) -> list | None:
        """The keys of the rows a search finds (in no order), when it finds at most SEARCH_KEYS_LIMIT:
        the search's condition is then evaluated once, where counting the rows and reading the page
        evaluate it twice (two trigram scans of every searched column). None without a search, for a
        search Django makes DISTINCT (through a relation that can repeat a row: left to Django's own
        count), or past the limit: the rows are counted as usual (the keys read stop at the limit)."""
        if not self.query or self.queryset.query.distinct:
            return None
        # In no order: ordered, the database could walk the list's order index testing every row.
        keys = list(self.queryset.order_by().values_list("pk", flat=True)[: SEARCH_KEYS_LIMIT + 1])
        return keys if len(keys) <= SEARCH_KEYS_LIMIT else None

    def get_counting_paginator(self, request, may_estimate=None):
        paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        if may_estimate is None:
            may_estimate = self.shows_whole_list() and not self.date_hierarchy
        may_estimate = may_estimate and hasattr(paginator, "may_estimate")
        exact_count = getattr(self.model_admin, "get_exact_count", None)
        known = exact_count(request, self) if exact_count else None
        if known is None:
            paginator.may_estimate = may_estimate
            return paginator
        # Read from a tally, the whole list's count too: neither counted up to the limit nor planned.
        # Past the limit it is still shown as the estimate the list shows there (「约 90 万条」, its
        # last pages exactly), however it was read.
        paginator.__dict__["count"] = known  # the paginator's cached count
        paginator.count_is_estimated = may_estimate and known > settings.ADMIN_EXACT_COUNT_LIMIT
        return paginator

    def page_is_inside_estimate(self, paginator) -> bool:
        """Whether the page asked for is far enough from the estimated end to be full whatever the
        estimate's error: the last pages (and any past them) count exactly."""
        margin = max(1, math.ceil(paginator.count * 0.1 / self.list_per_page))
        return self.page_num < paginator.num_pages - margin

    def page_queryset(self, request, rows, sliced=False):
        """The rows shown, with the per-row figures of ``get_page_queryset``: for a page of a longer
        list, on the rows whose keys the (sliced) list query picks, not inside the OFFSET."""
        admin_class = type(self.model_admin)
        figures = getattr(admin_class, "get_page_queryset", None) not in (
            None,
            NearestPageAdminMixin.get_page_queryset,
        )
        if not sliced:
            return self.model_admin.get_page_queryset(request, rows) if figures else rows
        if not figures and (not rows.query.select_related or self.page_num <= 1):
            return rows  # the plain page
        # The page's keys first, without the joined rows (select_related) nor the figures: a deep page
        # walks its OFFSET over the list's own rows, and joins or computes for the page's rows alone.
        page = self.queryset.filter(pk__in=rows.values("pk"))
        return self.model_admin.get_page_queryset(request, page) if figures else page

    def estimated_count_label(self) -> str:
        return estimated_count_label(self.result_count)

    def url_for_result(self, result):
        # ChangeList.url_for_result of Django 5.2 (pinned by tests/admin/test_paging.py), reversed once
        # per page rather than once per row and linked column, with the list's preserved query.
        return self.url_for_result_key(getattr(result, self.pk_attname)) + self.row_query

    def url_for_result_key(self, key) -> str:
        from crm.admin.rows import row_url

        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_change"
        return row_url(name, key, current_app=self.model_admin.admin_site.name)


class NearestPageAdminMixin:
    """Every list of ours (CrmModelAdmin and the user and role admins): see NearestPagePaginator."""

    paginator = NearestPagePaginator
    # Actions that act on the ids of the ticked rows whatever the list's filters (TickedRowsChangeList).
    actions_on_ticked_rows: tuple[str, ...] = ()

    def get_changelist(self, request, **kwargs):
        return NearestPageChangeList

    def get_changelist_instance(self, request):
        build = super().get_changelist_instance
        if (
            is_action_post(request)
            and posted_action(request) in self.actions_on_ticked_rows
            and not forms.BooleanField().to_python(request.POST.get("select_across"))
        ):
            return TickedRowsChangeList(self, request, lambda: build(request))
        return build(request)

    def get_page_queryset(self, request, queryset):
        """The rows of one list page with their per-row figures (a count of related rows, a date
        computed from them): annotated here, they are computed for the page's rows only, never for the
        rows an OFFSET skips nor in the list's count. A filter that needs one of them annotates it
        itself."""
        return queryset

    def get_exact_count(self, request, changelist) -> int | None:
        """The exact row count of ``changelist`` (filtered or searched), when it can be read more
        cheaply than by counting the rows (a tally kept by the database); None: the rows are counted."""
        return None

    def tally_groups(self, request, changelist, groups, filters):
        """A tally's rows ``groups`` in the list's scope (``scope_queryset``) with the list's filters,
        when nothing is searched and each filter is one of ``filters`` (the tally's columns' lookups,
        one value each); None otherwise, and for a value the tally's columns refuse: the list's own
        rows are then counted or summed, as for a scope the tally cannot select (``scope_queryset``
        giving None). ``filters`` maps a parameter to how it selects groups
        (``filter(groups, value)``, None for none), or to None for ``groups.filter(parameter=value)``."""
        params = changelist.get_filters_params()
        if changelist.query or not params.keys() <= filters.keys():
            return None
        if any(len(values) != 1 for values in params.values()):
            return None
        groups = self.scope_queryset(request, groups)
        if groups is None:  # a scope the tally's groups do not tell apart
            return None
        try:
            for key, [value] in params.items():
                select = filters[key]
                groups = groups.filter(**{key: value}) if select is None else select(groups, value)
                if groups is None:
                    return None
        except (ValueError, ValidationError):
            return None
        return groups


class PerPageChangeList(NearestPageChangeList):
    def get_filters_params(self, params=None):
        # The page size is not a filter: without this the admin would try to filter on it.
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(PER_PAGE_VAR, None)
        return lookup_params

    def get_results(self, request):
        value = request.GET.get(PER_PAGE_VAR, "")
        if value.isdigit() and int(value) in PER_PAGE_CHOICES:
            self.list_per_page = int(value)
        super().get_results(request)

    def per_page_links(self):
        return [
            (size, self.get_query_string({PER_PAGE_VAR: size}, [PAGE_VAR]), size == self.list_per_page)
            for size in PER_PAGE_CHOICES
        ]


class PerPageAdminMixin:
    """Lets the user pick the page size of the changelist (template: admin/crm/change_list_per_page.html)."""

    change_list_template = "admin/crm/change_list_per_page.html"

    def get_changelist(self, request, **kwargs):
        return PerPageChangeList
