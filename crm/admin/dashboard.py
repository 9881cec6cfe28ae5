"""The boss's dashboard page in the admin site (wired by ``CrmAdminSite.get_urls``)."""

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm import formats
from crm.formats import validate_year_range
from crm.models import Customer
from crm.querysets import PaymentRecordQuerySet
from crm.services import dashboard as services

# Longer periods would still be a constant number of queries, but each scans more rows.
MAX_DAYS = 3 * 366


class PeriodForm(forms.Form):
    preset = forms.ChoiceField(label=_("Period"), choices=list(services.PRESETS.items()), required=False)
    start = forms.DateField(
        label=_("From"),
        required=False,
        validators=[validate_year_range],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.DateField(
        label=_("To"),
        required=False,
        validators=[validate_year_range],
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if bool(start) != bool(end) and not self.errors:
            raise forms.ValidationError(_("Give both the first and the last day of the period."))
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The first day must not be after the last day."))
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(_("Choose a period of at most three years."))
        return cleaned

    def period(self) -> tuple[services.Period, str]:
        """The period asked for and its preset ("" for a custom range); this month when none or invalid."""
        if self.is_bound and self.is_valid():
            data = self.cleaned_data
            if data["start"] and data["end"]:
                return services.Period(data["start"], data["end"]), ""
            if data["preset"]:
                return services.period_preset(data["preset"]), data["preset"]
        return services.period_preset(services.DEFAULT_PRESET), services.DEFAULT_PRESET


def changelist(model_name: str, **params) -> str:
    url = reverse(f"admin:crm_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def date_range(field_name: str, period: services.Period) -> dict[str, str]:
    """The query parameters of django-admin-rangefilter's DateRangeFilter for the period."""
    return {
        f"{field_name}__range__gte": period.start.isoformat(),
        f"{field_name}__range__lte": period.end.isoformat(),
    }


def summary_links(period: services.Period) -> dict[str, str]:
    dated, enrolled = date_range("date", period), date_range("enrolled_date", period)
    converted = ",".join(services.CONVERTED_STATUSES)
    return {
        "new_leads": changelist("customer", **dated),
        "converted": changelist("customer", status__in=converted, **dated),
        "public_pool": changelist("publiccustomer"),
        "private": changelist("customer", consultant__isnull="False"),
        "follow_ups": changelist("consultrecord", **dated),
        "enrollments": changelist("enrollment", **enrolled),
        "approved": changelist("enrollment", contract_approved__exact=1, **enrolled),
        **payment_links(dated),
    }


def payment_links(params: dict) -> dict[str, str]:
    """The payment list of each total (``?total=``, the same Q as the figure) with ``params``."""
    return {name: changelist("paymentrecord", total=name, **params) for name in PaymentRecordQuerySet.TOTALS}


def sales_links(row: services.SalesRow, period: services.Period) -> dict[str, str]:
    user = {"consultant__id__exact": row.user_id}
    dated = {**user, **date_range("date", period)}
    enrolled = {**user, **date_range("enrolled_date", period)}
    return {
        "owned": changelist("customer", **user),
        "follow_ups": changelist("consultrecord", **dated),
        "enrollments": changelist("enrollment", **enrolled),
        "approved": changelist("enrollment", contract_approved__exact=1, **enrolled),
        **payment_links(dated),
        "leads": changelist("customer", **dated),
        "converted": changelist("customer", status__in=",".join(services.CONVERTED_STATUSES), **dated),
    }


def class_revenue_links(row: services.ClassRevenueRow, period: services.Period) -> dict[str, str]:
    klass = (
        {"enrolment_class__id__exact": row.class_id}
        if row.class_id is not None
        else {"enrolment_class__isnull": "True"}
    )
    payments = {**klass, **date_range("date", period)}
    return {"payments": changelist("paymentrecord", **payments), **payment_links(payments)}


def class_links(row: services.ClassRow) -> dict[str, str]:
    return {
        "class": reverse("admin:crm_classlist_change", args=[row.class_id]),
        "students": changelist("customer", class_list__id__exact=row.class_id),
        "studying": changelist(
            "customer", class_list__id__exact=row.class_id, status__exact=Customer.Status.STUDYING
        ),
        "study_records": changelist("studyrecord", course_record__re_class__id__exact=row.class_id),
    }


# The trend charts: drawn here as SVG (no script, no CDN: the Content-Security-Policy allows neither),
# in a fixed coordinate system that the browser scales to the column's width.
CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM = 600, 180, 12, 26
MAX_TICKS = 8


def _coordinate(value: float) -> str:
    # Pre-formatted: a localized template number could gain a thousands separator.
    return f"{value:.1f}"


def trend_chart(weeks: list[services.WeekRow], attribute: str, title, fmt=str) -> dict:
    """The bars of one weekly series: a bar per week above (or below, for a net refund) the zero line."""
    values = [getattr(week, attribute) for week in weeks]
    high, low = max([0, *values]), min([0, *values])
    span = (high - low) or 1
    plot = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    zero = CHART_TOP + plot * high / span
    slot = CHART_WIDTH / max(len(weeks), 1)
    every = -(-len(weeks) // MAX_TICKS) or 1
    bars = []
    for index, (week, value) in enumerate(zip(weeks, values, strict=True)):
        height = plot * abs(value) / span
        bars.append(
            {
                "x": _coordinate(index * slot + slot * 0.15),
                "y": _coordinate(zero - height if value >= 0 else zero),
                "width": _coordinate(slot * 0.7),
                "height": _coordinate(height),
                "centre": _coordinate(index * slot + slot / 2),
                "tick": formats.format_month_day(week.monday) if index % every == 0 else "",
                "title": f"{formats.format_date(week.monday)}: {fmt(value)}",
                "negative": value < 0,
            }
        )
    return {
        "title": title,
        "total": fmt(sum(values)),
        "bars": bars,
        "zero": _coordinate(zero),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "tick_y": CHART_HEIGHT - 8,
    }


def change(value: float | None) -> dict:
    """A 环比 figure: its text and whether it went up or down."""
    return {"value": value, "direction": "" if value is None else ("up" if value >= 0 else "down")}


def _bar(value: int | float | None, largest: int | float) -> float:
    """Width in percent of a value's bar against the largest value of its column."""
    return round(100 * max(value or 0, 0) / largest, 1) if largest and largest > 0 else 0.0


def dashboard_view(request, site):
    if not services.may_view_dashboard(request.user):
        raise PermissionDenied
    form = PeriodForm(request.GET or None)
    period, preset = form.period()
    board = services.dashboard(period)
    top_lead = max((row.count for row in board.leads), default=0)
    top_sales = max((row.confirmed_net for row in board.sales), default=0)
    top_class = max((row.confirmed_net for row in board.classes_revenue), default=0)
    previous = period.previous()
    context = {
        **site.each_context(request),
        "title": _("Business dashboard"),
        "board": board,
        "form": form,
        "preset": preset,
        "presets": [
            {"code": code, "label": label, "url": f"?{urlencode({'preset': code})}"}
            for code, label in services.PRESETS.items()
        ],
        "period_days": period.days,
        "cap": settings.MAX_CUSTOMER_NUM,
        "links": summary_links(period),
        "leads": [
            {
                "row": row,
                "bar": _bar(row.count, top_lead),
                "url": changelist("customer", source__exact=row.source, **date_range("date", period)),
            }
            for row in board.leads
        ],
        "sales": [
            {"row": row, "bar": _bar(row.confirmed_net, top_sales), "links": sales_links(row, period)}
            for row in board.sales
        ],
        "classes_revenue": [
            {"row": row, "bar": _bar(row.confirmed_net, top_class), "links": class_revenue_links(row, period)}
            for row in board.classes_revenue
        ],
        "classes": [{"row": row, "links": class_links(row)} for row in board.classes],
        "previous_period": previous,
        "changes": {name: change(value) for name, value in board.changes.items()},
        "funnel": [
            {"stage": stage, "bar": _bar(stage.count, board.funnel[0].count)} for stage in board.funnel
        ],
        "charts": [
            trend_chart(board.trend, "new_leads", _("New customers")),
            trend_chart(board.trend, "enrollments", _("Enrollments")),
            trend_chart(board.trend, "confirmed_net", _("Confirmed revenue (net)"), fmt=formats.yuan),
        ],
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/crm/dashboard.html", context)
