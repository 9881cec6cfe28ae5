"""List filters shared by several admin lists and by the links of the home page."""

from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR
from django.http import QueryDict
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import npgettext, pgettext, pgettext_lazy

from crm.admin.base import badge
from crm.admin.rows import cell_html, escaped
from crm.querysets import CustomerQuerySet


class FollowUpFilter(admin.SimpleListFilter):
    """下次跟进: ``?follow_up=today|overdue|week``, over the customer's ``next_date``."""

    title = pgettext_lazy("follow-up", "next follow-up")
    parameter_name = "follow_up"
    TODAY, OVERDUE, WEEK = "today", "overdue", "week"
    QS = {
        TODAY: CustomerQuerySet.follow_up_today_q,
        OVERDUE: CustomerQuerySet.follow_up_overdue_q,
        WEEK: CustomerQuerySet.follow_up_week_q,
    }

    def lookups(self, request, model_admin):
        return [
            (self.TODAY, pgettext_lazy("follow-up", "Today")),
            (self.OVERDUE, pgettext_lazy("follow-up", "Overdue")),
            (self.WEEK, pgettext_lazy("follow-up", "Next 7 days")),
        ]

    def queryset(self, request, queryset):
        q = self.QS.get(self.value())
        # Any other value is ignored, as Django's own choice filters do with a value they do not offer.
        return queryset if q is None else queryset.filter(q())


FOLLOW_UP_COLOURS = {FollowUpFilter.OVERDUE: "#c0392b", FollowUpFilter.TODAY: "#e67e22"}


def follow_up_badge(next_date, *, today=None) -> str:
    """The 下次跟进 cell: the date, with a badge when it is today or past (overdue by N days)."""
    if next_date is None:
        return "-"
    today = today or timezone.localdate()
    overdue = (today - next_date).days
    if overdue > 0:
        label = npgettext("follow-up", "Overdue by %(days)d day", "Overdue by %(days)d days", overdue) % {
            "days": overdue
        }
        colour = FOLLOW_UP_COLOURS[FollowUpFilter.OVERDUE]
    elif overdue == 0:
        label, colour = pgettext("follow-up", "Today"), FOLLOW_UP_COLOURS[FollowUpFilter.TODAY]
    else:
        return next_date.isoformat()
    return cell_html("{}<br>{}", next_date.isoformat(), badge(label, colour))


def options_html(options) -> str:
    """The ``<option>`` of each (value, display, selected): written here, not looped over in the
    template, which took a few milliseconds of every page for a school's 200 classes."""
    return mark_safe(
        "".join(
            f'<option value="{escaped(value)}"{" selected" if selected else ""}>{escaped(display)}</option>'
            for value, display, selected in options
        )
    )


class SelectListFilterMixin:
    """A related-field list filter offered as a drop-down list rather than a link per choice: a class
    among 200 is found in a list it can be typed into, where 200 links fill the sidebar (and building
    each link's query string cost the page milliseconds). A GET form holds the list's other parameters;
    picking a choice submits it (crm/static/crm/admin/select_filter.js), and without script its button
    does. 全部 and the empty choice (未指定) stay links."""

    template = "admin/crm/select_filter.html"

    def choices(self, changelist):
        # Django 5.2's RelatedFieldListFilter.choices, pinned by tests/admin/test_filters.py.
        facets = self.get_facet_queryset(changelist) if changelist.add_facets else None
        chosen = self.lookup_val or []
        options = []
        for value, display in self.lookup_choices:
            if facets is not None:
                display = f"{display} ({facets[f'{value}__c']})"
            options.append((value, display, str(value) in chosen))
        empty = None
        if self.include_empty_choice:
            display = self.empty_value_display
            if facets is not None:
                display = f"{display} ({facets['__c']})"
            empty = {
                "selected": bool(self.lookup_val_isnull),
                "query_string": changelist.get_query_string(
                    {self.lookup_kwarg_isnull: "True"}, [self.lookup_kwarg]
                ),
                "display": display,
            }
        # The page is dropped by name: ``remove`` drops every parameter starting with its strings.
        others = changelist.get_query_string({PAGE_VAR: None}, [self.lookup_kwarg, self.lookup_kwarg_isnull])
        yield {
            "name": self.lookup_kwarg,
            "hidden": [(name, value) for name, values in QueryDict(others[1:]).lists() for value in values],
            "options": options,
            "options_html": options_html(options),
            "chosen": any(selected for _value, _display, selected in options),
            "all_selected": self.lookup_val is None and not self.lookup_val_isnull,
            "all_query_string": others,
            "empty": empty,
        }
