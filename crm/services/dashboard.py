"""The boss's dashboard (经营看板): the school's figures for a period, as plain data.

Every function takes a ``Period`` (local dates in ``TIME_ZONE``, both ends included) and runs a small
constant number of aggregate queries, whatever the size of the tables and the length of the period. The
sums by day (leads, follow-ups, enrollments, payments) come from ``crm.services.daily_figures``: the
stored figures of the aggregated days plus the live computation of the others, in one query each;
``figures`` lets the functions of one page share those queries.
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import ClassList, Customer, CustomerTally, PaymentRecord, StudyRecord, UserProfile
from crm.roles import VIEW_DASHBOARD
from crm.services.customers import customers_tally_count, customers_tally_counts
from crm.services.daily_figures import (
    ENROLLMENTS,
    FOLLOW_UPS,
    FOLLOWED_CUSTOMERS,
    LEADS,
    PAYMENT_SUM_NAMES,
    PAYMENTS,
    PeriodFigures,
)
from crm.services.students import average_score_aggregate, present_count

# Who may open the dashboard: the capability (the boss, and superusers). Finance keeps to the payment
# list and its totals: the dashboard also shows leads, follow-ups and each salesperson's performance.
DASHBOARD_PERMISSION = VIEW_DASHBOARD

# A customer created in the period counts as converted once signed up, studying or paid in full.
CONVERTED_STATUSES = (
    Customer.Status.SIGNED,
    Customer.Status.STUDYING,
    Customer.Status.PAID_IN_FULL,
)

PRESETS = {
    "last_30_days": _("Last 30 days"),
    "this_week": _("This week"),
    "this_month": _("This month"),
    "last_month": _("Last month"),
    "this_year": _("This year"),
}
# The dashboard opens on the last 30 days, compared with the 30 days before.
DEFAULT_PRESET = "last_30_days"


def may_view_dashboard(user) -> bool:
    return user.is_active and user.has_perm(DASHBOARD_PERMISSION)


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date  # included

    @property
    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """The period as aware datetimes [start of the first day, start of the day after the last)."""
        zone = timezone.get_current_timezone()
        start = datetime.datetime.combine(self.start, datetime.time.min, tzinfo=zone)
        end = datetime.datetime.combine(self.end + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
        return start, end

    def within(self, field_name: str) -> Q:
        """Rows whose datetime ``field_name`` falls on a local day of the period."""
        start, end = self.bounds
        return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        """The period of the same length just before this one (环比 compares with it)."""
        end = self.start - datetime.timedelta(days=1)
        return Period(end - datetime.timedelta(days=self.days - 1), end)


def period_preset(name: str, today: datetime.date | None = None) -> Period:
    """The period of a preset (see PRESETS) around ``today`` (the local date by default)."""
    today = today or timezone.localdate()
    if name == "last_30_days":
        return Period(today - datetime.timedelta(days=29), today)
    if name == "this_week":
        monday = today - datetime.timedelta(days=today.weekday())
        return Period(monday, monday + datetime.timedelta(days=6))
    if name == "this_month":
        return Period(today.replace(day=1), _month_end(today))
    if name == "last_month":
        last_day = today.replace(day=1) - datetime.timedelta(days=1)
        return Period(last_day.replace(day=1), last_day)
    if name == "this_year":
        return Period(today.replace(month=1, day=1), today.replace(month=12, day=31))
    raise ValueError(f"unknown period preset {name!r}")


def _month_end(day: datetime.date) -> datetime.date:
    next_month = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return next_month - datetime.timedelta(days=1)


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


# New leads


@dataclass
class SourceRow:
    source: str
    label: str
    count: int
    share: float | None  # percent of the period's new leads


def leads_by_source(period: Period, figures: PeriodFigures | None = None) -> list[SourceRow]:
    """Customers created in the period, per source (every source, the largest first)."""
    figures = figures or PeriodFigures(period)
    counts: dict[str, int] = {}
    for row in figures.rows(LEADS, LEADS.columns):
        counts[row["source"]] = counts.get(row["source"], 0) + row["leads"]
    total = sum(counts.values())
    rows = [
        SourceRow(
            source=code,
            label=str(label),
            count=counts.get(code, 0),
            share=_percent(counts.get(code, 0), total),
        )
        for code, label in Customer.Source.choices
    ]
    return sorted(rows, key=lambda row: -row.count)


# Salespeople


@dataclass
class SalesRow:
    user_id: int
    name: str
    in_sales_team: bool
    owned: int = 0  # private customers now
    follow_ups: int = 0
    followed_customers: int = 0
    enrollments: int = 0
    approved: int = 0
    confirmed_net: int = 0
    income: int = 0
    refunds: int = 0
    pending: int = 0
    payments: int = 0
    leads: int = 0  # customers created in the period and owned by this salesperson now
    converted: int = 0

    @property
    def cap(self) -> int:
        return settings.MAX_CUSTOMER_NUM

    @property
    def owned_percent(self) -> float:
        return min(100.0, _percent(self.owned, self.cap) or 0.0)

    @property
    def conversion_rate(self) -> float | None:
        return _percent(self.converted, self.leads)


def _holds(codename: str):
    """Users that hold crm.<codename> through one of their groups or directly."""
    crm_perm = Q(content_type__app_label="crm", codename=codename)
    return Exists(Permission.objects.filter(crm_perm, group__user=OuterRef("pk"))) | Exists(
        Permission.objects.filter(crm_perm, user=OuterRef("pk"))
    )


def sales_team() -> Q:
    """The salespeople: the holders of crm.own_customers (``UserProfile.objects.sales_staff()``) who do
    not see everybody's customers (not the boss), as a Q the rows can also be annotated with."""
    return Q(pk__in=UserProfile.objects.sales_staff().values("pk")) & ~_holds("view_all_customers")


def payments_in(period: Period):
    return PaymentRecord.objects.alive().filter(period.within("date")).order_by()


def owned_customers(*, tallied: bool = True) -> dict[int, int]:
    """{owner's id: how many customers they own now}, every owner: from the tally on PostgreSQL
    (a few hundred rows instead of an index entry per owned customer), counted elsewhere or when not
    ``tallied`` (the all-live baseline)."""
    owners = CustomerTally.objects.exclude(consultant=None)
    counts = customers_tally_counts(groups=owners, by=("consultant",)) if tallied else None
    if counts is not None:
        return {owner: count for (owner,), count in counts.items()}
    return dict(
        Customer.objects.exclude(consultant=None)
        .order_by()
        .values_list("consultant")
        .annotate(owned=Count("consultant"))
    )


def sales_performance(period: Period, figures: PeriodFigures | None = None) -> list[SalesRow]:
    """One row per salesperson (and per other user with figures): pool, follow-ups, sales, conversion."""
    figures = figures or PeriodFigures(period)
    by_user: dict[int, dict] = {}

    def merge(rows, names):
        for row in rows:
            user = by_user.setdefault(row["consultant"], {})
            for name in names:
                user[name] = user.get(name, 0) + row[name]

    owned = owned_customers(tallied=figures.stored)
    merge(({"consultant": owner, "owned": count} for owner, count in owned.items()), ("owned",))
    # Created in the period and owned now: only the owners have any, each a range of the index on
    # (owner, date) (index-only), instead of every owned customer's entry.
    merge(
        Customer.objects.filter(period.within("date"), consultant__in=list(owned))
        .order_by()
        .values("consultant")
        .annotate(
            # Of the consultant, not the id: the index holds no id.
            leads=Count("consultant"),
            converted=Count("consultant", filter=Q(status__in=CONVERTED_STATUSES)),
        ),
        ("leads", "converted"),
    )
    merge(figures.rows(FOLLOW_UPS, ("consultant",)), ("follow_ups",))
    merge(
        (
            {"consultant": row["consultant"], "followed_customers": row["customers"]}
            for row in figures.rows(FOLLOWED_CUSTOMERS, ("consultant",))
        ),
        ("followed_customers",),
    )
    merge(figures.rows(ENROLLMENTS, ("consultant",)), ("enrollments", "approved"))
    merge(figures.rows(PAYMENTS, PAYMENTS.columns), PAYMENT_SUM_NAMES.values())
    figures_of = {user_id: values for user_id, values in by_user.items() if any(values.values())}
    users = (
        UserProfile.objects.filter(sales_team() | Q(pk__in=list(figures_of)))
        .annotate(in_sales_team=ExpressionWrapper(sales_team(), output_field=BooleanField()))
        .values("pk", "name", "username", "in_sales_team")
    )
    rows = [
        SalesRow(
            user_id=user["pk"],
            name=user["name"] or user["username"],
            in_sales_team=bool(user["in_sales_team"]),
            **figures_of.get(user["pk"], {}),
        )
        for user in users
    ]
    # The sales team first, the best revenue first; others (the boss, former staff) after them.
    return sorted(
        rows, key=lambda row: (not row.in_sales_team, -row.confirmed_net, -row.follow_ups, row.name)
    )


# Money


@dataclass
class ClassRevenueRow:
    class_id: int | None  # None: payments without a class
    label: str
    payments: int
    confirmed_net: int
    income: int
    refunds: int
    pending: int


def revenue_totals(period: Period, figures: PeriodFigures | None = None) -> dict[str, int]:
    """PaymentRecordQuerySet.totals() of the period's payments."""
    figures = figures or PeriodFigures(period)
    totals = figures.total(PAYMENTS, PAYMENTS.columns)
    return {key: totals[name] for key, name in PAYMENT_SUM_NAMES.items()}


def revenue_by_class(period: Period, figures: PeriodFigures | None = None) -> list[ClassRevenueRow]:
    figures = figures or PeriodFigures(period)
    sums: dict[int | None, dict] = {}
    for row in figures.rows(PAYMENTS, PAYMENTS.columns):
        group = sums.setdefault(row["enrolment_class"], dict.fromkeys(PAYMENT_SUM_NAMES.values(), 0))
        for name in group:
            group[name] += row[name]
    classes = ClassList.objects.filter(pk__in=[pk for pk in sums if pk is not None]).select_related("campus")
    labels = {klass.pk: str(klass) for klass in classes}
    rows = [
        ClassRevenueRow(class_id=pk, label=labels.get(pk) or str(_("No class")), **row)
        for pk, row in sums.items()
    ]
    return sorted(rows, key=lambda row: (row.class_id is None, -row.confirmed_net, -row.pending, row.label))


# Classes


@dataclass
class ClassRow:
    class_id: int
    label: str
    class_type: str
    start_date: datetime.date
    graduate_date: datetime.date | None
    students: int  # customers who joined the class
    studying: int
    lessons: int = 0  # lessons of the period
    study_records: int = 0
    present: int = 0
    average_score: float | None = None

    @property
    def attendance_rate(self) -> float | None:
        return _percent(self.present, self.study_records)


def classes_overview(period: Period) -> list[ClassRow]:
    """Classes running during the period; attendance and scores of their lessons in the period."""
    classes = (
        ClassList.objects.filter(start_date__lte=period.end)
        .filter(Q(graduate_date__isnull=True) | Q(graduate_date__gte=period.start))
        .select_related("campus")
        .annotate(
            student_count=Count("customers", distinct=True),
            studying_count=Count(
                "customers", filter=Q(customers__status=Customer.Status.STUDYING), distinct=True
            ),
        )
        .order_by("-start_date", "course", "semester")
    )
    rows = {
        klass.pk: ClassRow(
            class_id=klass.pk,
            label=str(klass),
            class_type=klass.get_class_type_display(),
            start_date=klass.start_date,
            graduate_date=klass.graduate_date,
            students=klass.student_count,
            studying=klass.studying_count,
        )
        for klass in classes
    }
    study = (
        StudyRecord.objects.filter(
            course_record__re_class__in=list(rows),
            course_record__date__gte=period.start,
            course_record__date__lte=period.end,
        )
        .order_by()
        .values("course_record__re_class")
        .annotate(
            lessons=Count("course_record", distinct=True),
            study_records=Count("pk"),
            present=present_count(),
            average_score=average_score_aggregate(),
        )
    )
    for figures in study:
        row = rows[figures.pop("course_record__re_class")]
        for name, value in figures.items():
            setattr(row, name, value)
    return list(rows.values())


# Headline figures, compared with the period before (环比)


HEADLINE = (
    "new_leads",
    "converted",
    "follow_ups",
    "enrollments",
    "approved",
    "confirmed_net",
    "unconfirmed_net",
)


# The groupings headline() reads (those of the period before, read with the period's own).
HEADLINE_READS = (
    (LEADS, LEADS.columns),
    (FOLLOW_UPS, ("consultant",)),
    (ENROLLMENTS, ("consultant",)),
    (PAYMENTS, PAYMENTS.columns),
)


def headline(
    period: Period, totals: dict[str, int] | None = None, figures: PeriodFigures | None = None
) -> dict[str, int]:
    """The figures of the cards: new customers and how many signed up, follow-ups, enrollments and
    approved contracts, confirmed and pending money (``totals``: the period's payment totals, when
    already read)."""
    figures = figures or PeriodFigures(period)
    leads = figures.total(LEADS, LEADS.columns)
    converted = figures.total(LEADS, LEADS.columns, lambda row: row["status"] in CONVERTED_STATUSES)
    enrollments = figures.total(ENROLLMENTS, ("consultant",))
    totals = totals if totals is not None else revenue_totals(period, figures)
    return {
        "new_leads": leads["leads"],
        "converted": converted["leads"],
        "follow_ups": figures.total(FOLLOW_UPS, ("consultant",))["follow_ups"],
        "enrollments": enrollments["enrollments"],
        "approved": enrollments["approved"],
        "confirmed_net": totals["confirmed_net"],
        "unconfirmed_net": totals["unconfirmed_net"],
    }


def change_percent(current: int, previous: int) -> float | None:
    """The change against the previous period in percent; None when there was nothing to compare with."""
    return 100 * (current - previous) / abs(previous) if previous else None


# The funnel: customers created in the period, and how far they went


FUNNEL_STAGES = {
    "leads": _("Leads"),
    "followed": _("Followed up"),
    "enrolled": _("Enrolled"),
    "paid": _("Paid"),
}


@dataclass
class FunnelStage:
    code: str
    label: str
    count: int
    share: float | None  # percent of the period's leads


def funnel(period: Period, figures: PeriodFigures | None = None) -> list[FunnelStage]:
    """线索 → 已跟进 → 报名 → 缴费 of the customers created in the period: each stage counts the leads
    that also reached it (a follow-up, an enrollment, a confirmed payment), so that every stage holds at
    most the customers of the stage before (``daily_figures.funnel_expressions``)."""
    figures = figures or PeriodFigures(period)
    counts = figures.total(LEADS, LEADS.columns)
    return [
        FunnelStage(
            code=code, label=str(label), count=counts[code], share=_percent(counts[code], counts["leads"])
        )
        for code, label in FUNNEL_STAGES.items()
    ]


# The weekly trend


@dataclass
class WeekRow:
    monday: datetime.date
    new_leads: int = 0
    enrollments: int = 0
    confirmed_net: int = 0


def weekly_trend(period: Period, figures: PeriodFigures | None = None) -> list[WeekRow]:
    """New leads, enrollments and confirmed revenue per week (Monday to Sunday, local time) of the
    period, every week listed."""
    figures = figures or PeriodFigures(period)
    first_monday = period.start - datetime.timedelta(days=period.start.weekday())
    weeks = {
        first_monday + datetime.timedelta(weeks=index): WeekRow(
            monday=first_monday + datetime.timedelta(weeks=index)
        )
        for index in range((period.end - first_monday).days // 7 + 1)
    }
    for figure, source, name in (
        (LEADS, "leads", "new_leads"),
        (ENROLLMENTS, "enrollments", "enrollments"),
        (PAYMENTS, "confirmed_net", "confirmed_net"),
    ):
        # That measure alone: the leads' funnel (three probes per live lead) is read once, by source.
        for row in figures.rows(figure, ("day",), only=(source,)):
            week = weeks[row["day"] - datetime.timedelta(days=row["day"].weekday())]
            setattr(week, name, getattr(week, name) + row[source])
    return list(weeks.values())


# The whole page


@dataclass
class Dashboard:
    period: Period
    leads: list[SourceRow]
    public_pool: int
    sales: list[SalesRow]
    totals: dict[str, int]
    classes_revenue: list[ClassRevenueRow]
    classes: list[ClassRow]
    summary: dict = field(default_factory=dict)
    previous: dict = field(default_factory=dict)  # the headline figures of the period before
    changes: dict = field(default_factory=dict)  # 环比 of each headline figure, in percent
    funnel: list[FunnelStage] = field(default_factory=list)
    trend: list[WeekRow] = field(default_factory=list)


def public_pool_size(*, tallied: bool = True) -> int:
    """The public pool's exact size: from the tally on PostgreSQL, counted elsewhere or when not
    ``tallied``."""
    count = customers_tally_count(groups=CustomerTally.objects.public()) if tallied else None
    return Customer.objects.public().count() if count is None else count


def dashboard(period: Period, *, stored: bool = True) -> Dashboard:
    """Every figure of the dashboard for the period, and the headline figures of the period before
    (``stored=False``: every figure computed live from the base tables, ignoring the stored daily
    figures and the customer tally)."""
    before = period.previous()
    figures, figures_before = PeriodFigures.of_periods(period, before, stored=stored)
    for figure, by in HEADLINE_READS:
        PeriodFigures.read_together([figures, figures_before], figure, by)
    leads = leads_by_source(period, figures)
    sales = sales_performance(period, figures)
    totals = revenue_totals(period, figures)
    current = headline(period, totals, figures)
    previous = headline(before, figures=figures_before)
    board = Dashboard(
        period=period,
        leads=leads,
        public_pool=public_pool_size(tallied=stored),
        sales=sales,
        totals=totals,
        classes_revenue=revenue_by_class(period, figures),
        classes=classes_overview(period),
        previous=previous,
        changes={name: change_percent(current[name], previous[name]) for name in HEADLINE},
        funnel=funnel(period, figures),
        trend=weekly_trend(period, figures),
    )
    board.summary = {
        **current,
        "conversion_rate": _percent(current["converted"], current["new_leads"]),
        "private": sum(row.owned for row in sales),
    }
    return board
