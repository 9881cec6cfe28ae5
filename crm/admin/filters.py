"""List filters shared by several admin lists and by the links of the home page."""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import npgettext, pgettext, pgettext_lazy

from crm.admin.base import badge
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
    return format_html("{}<br>{}", next_date.isoformat(), badge(label, colour))
