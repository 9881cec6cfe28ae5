"""我的客户 warns about the customers automatic recycling will soon put back in the public pool."""

from django.contrib import admin
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin.base import badge
from crm.admin.rows import cell_html
from crm.services.customers import (
    RECYCLE_WARNING_DAYS,
    customers_recycle_days_left,
    customers_recycling_soon_q,
)

RECYCLE_WARNING_COLOURS = {"due": "#c0392b", "soon": "#e67e22"}


def with_recycle_from(queryset):
    """``queryset.with_recycle_from()``, once: the filter's rows already carry it on the page."""
    if "recycle_from" in queryset.query.annotations:
        return queryset
    return queryset.with_recycle_from()


class RecyclingSoonFilter(admin.SimpleListFilter):
    title = _("automatic recycling")
    parameter_name = "recycling"

    def lookups(self, request, model_admin):
        if customers_recycling_soon_q() is None:
            return []  # both recycling rules are off: no filter
        return [("soon", _("Recycling soon"))]

    def queryset(self, request, queryset):
        soon = customers_recycling_soon_q()
        if self.value() != "soon" or soon is None:
            return queryset
        return with_recycle_from(queryset).filter(soon)


class RecycleWarningMixin:
    """A "N天后回收" / "即将回收" badge under the last follow-up date, and the 即将回收 filter.

    The badge sits in the last follow-up cell rather than a column of its own, so that the list still
    fits a 1366-pixel window. The dates it counts from (``with_recycle_from``: correlated subqueries)
    are computed for the rows of the page only (NearestPageAdminMixin.get_page_queryset); the 即将回收
    filter annotates them for the rows it filters."""

    def get_page_queryset(self, request, queryset):
        return with_recycle_from(super().get_page_queryset(request, queryset))

    def get_list_filter(self, request):
        return [*super().get_list_filter(request), RecyclingSoonFilter]

    @admin.display(description=_("last follow-up"), ordering="last_consult_date")
    def last_follow_up(self, obj):
        shown = super().last_follow_up(obj)
        warning = self.recycle_warning(obj)
        return cell_html("{}<br>{}", shown, warning) if warning else shown

    def recycle_warning(self, obj) -> str:
        left = customers_recycle_days_left(
            getattr(obj, "recycle_from", None), getattr(obj, "owned_from", None)
        )
        if left is None or left > RECYCLE_WARNING_DAYS:
            return ""
        if left <= 0:
            label, colour = gettext("Recycling soon"), RECYCLE_WARNING_COLOURS["due"]
        else:
            label = gettext("Recycled in %(days)d days") % {"days": left}
            colour = RECYCLE_WARNING_COLOURS["soon"]
        return badge(label, colour)
