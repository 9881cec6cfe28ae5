"""The dashboard's daily figures: what each one sums, the writer that stores closed days and the reader.

A figure (``LEADS``, ``FOLLOW_UPS``, ``FOLLOWED_CUSTOMERS``, ``ENROLLMENTS``, ``PAYMENTS``) is an aggregate
of base rows grouped by their local day and a few columns. ``daily_figures_aggregate()`` (``manage.py
aggregate_dashboard``, the ``crm.aggregate_dashboard`` beat task) stores it per day for the closed days
(before today) in the Daily* tables of ``crm.models.dashboard``. ``PeriodFigures`` answers for a period
with one query per grouping (``PeriodFigures.read_together``: for several periods at once): the stored
rows of the aggregated days UNION ALL the same aggregate computed live from the base tables for every
other day of the period (today, the future, days not aggregated yet, days changed since). Both halves
are the same expressions, so the sum is exactly what the live computation alone gives. The customers
followed per salesperson, a distinct count, add up over days because they are stored by the day of the
pair's previous follow-up (``DailyFollowedCustomers``): a figure may restrict both halves to a period
(``Figure.of_period``).

What makes a stored day stale is any insert, update of a column the figures read, or delete of a base
row dated on it (or, for the leads, of a follow-up, enrollment or payment of a customer created on it;
for the customers followed, of the same salesperson's previous follow-up of the customer): database
triggers (``crm/triggers.py``) add a ``DashboardDirtyDay`` row in the same transaction as the change,
whatever wrote it (services, the admin, ``QuerySet.update()``, an import, a merge, a shell), and the reader
takes that day live until the next aggregation stores it again.
"""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from django.db import connection, models, transaction
from django.db.models import Count, Exists, ExpressionWrapper, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import TruncDate, TruncDay
from django.utils import timezone

from crm.models import ConsultRecord, Customer, Enrollment, PaymentRecord
from crm.models.dashboard import (
    DailyEnrollments,
    DailyFollowedCustomers,
    DailyFollowUps,
    DailyLeads,
    DailyPayments,
    DashboardDay,
    DashboardDirtyDay,
)
from crm.querysets import PaymentRecordQuerySet

# Storing up to this many days, the funnel probes each lead's follow-ups, enrollments and payments by
# index (a correlated EXISTS); beyond, it hashes each whole set once, with the memory to do so.
FEW_DAYS = 7
# PostgreSQL hashes an ``IN (subquery)`` only if the hash fits in work_mem (4 MB by default: about 200,000
# ids); past that it rescans the subquery for every lead, which takes hours at 1M customers.
AGGREGATE_WORK_MEM = "256MB"
BATCH = 2000

# PaymentRecordQuerySet.totals() under the names of the dashboard's rows and of DailyPayments.
PAYMENT_SUM_NAMES = {
    "count": "payments",
    "confirmed_net": "confirmed_net",
    "confirmed_income": "income",
    "confirmed_refunds": "refunds",
    "unconfirmed_net": "pending",
}


def payment_sums() -> dict:
    expressions = PaymentRecordQuerySet.total_expressions()
    return {name: expressions[key] for key, name in PAYMENT_SUM_NAMES.items()}


def funnel_expressions(*, correlated: bool) -> dict:
    """线索 → 已跟进 → 报名 → 缴费 of customers: each stage counts those that also reached the ones before.

    ``correlated``: three index probes per lead, linear in the leads (the live days of a page);
    otherwise uncorrelated ``IN`` sets, hashed once each (storing many days, with AGGREGATE_WORK_MEM)."""
    if correlated:
        followed = Exists(ConsultRecord.objects.alive().filter(customer=OuterRef("pk")))
        enrolled = Exists(Enrollment.objects.alive().filter(customer=OuterRef("pk")))
        paid = Exists(
            PaymentRecord.objects.alive().filter(PaymentRecordQuerySet.confirmed_q(), customer=OuterRef("pk"))
        )
        followed, enrolled, paid = Q(followed), Q(enrolled), Q(paid)
    else:
        followed = Q(pk__in=ConsultRecord.objects.alive().values("customer_id"))
        enrolled = Q(pk__in=Enrollment.objects.alive().values("customer_id"))
        paid = Q(
            pk__in=PaymentRecord.objects.alive()
            .filter(PaymentRecordQuerySet.confirmed_q())
            .values("customer_id")
        )
    return {
        "leads": Count("pk"),
        "followed": Count("pk", filter=followed),
        "enrolled": Count("pk", filter=followed & enrolled),
        "paid": Count("pk", filter=followed & enrolled & paid),
    }


def _no_condition(period) -> tuple[Q, Q]:
    return Q(), Q()


@dataclass(frozen=True)
class Figure:
    model: type[models.Model]  # its Daily* table: ``day``, the columns, the measures
    base: Callable[[], models.QuerySet]
    date_field: str  # the datetime of a base row that gives its day
    columns: tuple[str, ...]  # grouped by; named alike in the base rows (or ``annotations``) and the table
    measures: Callable[[bool], dict]  # (correlated?) -> the aggregates, named as the table's columns
    # Columns that a base row does not have but that its stored row is grouped by: name -> expression.
    annotations: Callable[[], dict] = dict
    # period -> (which base rows, which stored rows) a period's figure sums; every row by default.
    of_period: Callable[[object], tuple[Q, Q]] = _no_condition

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The measures' names (building the measures themselves costs a few querysets each time)."""
        return tuple(self.measures(True))

    def measure_names(self, only: Iterable[str] | None = None) -> list[str]:
        return [name for name in self.names if only is None or name in only]

    def live(
        self,
        when: Q,
        by: Iterable[str],
        *,
        correlated: bool = True,
        only: Iterable[str] | None = None,
        part: int | None = None,
    ) -> models.QuerySet:
        """The aggregates (those named ``only``, or all) of the base rows matching ``when``, per ``by``
        (columns and/or ``day``); ``part``: a constant column of that name, to tell the parts of a
        UNION apart."""
        rows = self.base().filter(when).order_by()
        extra = {name: expression for name, expression in self.annotations().items() if name in by}
        if "day" in by:
            extra["day"] = TruncDate(self.date_field, tzinfo=timezone.get_current_timezone())
        measures = self.measures(correlated)
        measures = {name: measures[name] for name in self.measure_names(only)}
        return _part_of(rows.annotate(**extra), part).values(*_parted(by, part)).annotate(**measures)

    def stored(
        self, when: Q, by: Iterable[str], *, only: Iterable[str] | None = None, part: int | None = None
    ) -> models.QuerySet:
        # Summed under other names (an annotation may not shadow a column); the UNION takes the live names.
        sums = {f"{name}_": Sum(name) for name in self.measure_names(only)}
        rows = self.model.objects.filter(when).order_by()
        return _part_of(rows, part).values(*_parted(by, part)).annotate(**sums)


def _part_of(rows: models.QuerySet, part: int | None) -> models.QuerySet:
    return rows if part is None else rows.annotate(part=Value(part, output_field=models.IntegerField()))


def _parted(by: Iterable[str], part: int | None) -> tuple[str, ...]:
    return tuple(by) if part is None else ("part", *by)


LEADS = Figure(
    DailyLeads,
    Customer.objects.all,
    "date",
    ("source", "status"),
    lambda correlated: funnel_expressions(correlated=correlated),
)
FOLLOW_UPS = Figure(
    DailyFollowUps,
    ConsultRecord.objects.alive,
    "date",
    ("consultant",),
    lambda correlated: {"follow_ups": Count("pk")},
)


def _same_pair_before(day_start) -> models.QuerySet:
    """The live follow-ups by the same salesperson of the same customer as the outer follow-up,
    before ``day_start`` (an expression of the outer row)."""
    return ConsultRecord.objects.alive().filter(
        customer=OuterRef("customer"), consultant=OuterRef("consultant"), date__lt=day_start
    )


def _start_of_its_day():
    outer = ExpressionWrapper(OuterRef("date"), output_field=models.DateTimeField())
    return TruncDay(outer, tzinfo=timezone.get_current_timezone())


def _previous_follow_up_day() -> dict:
    """Per follow-up: the local day of the last follow-up of the same pair before its own day."""
    last = _same_pair_before(_start_of_its_day()).order_by("-date").values("date")[:1]
    return {"previous_day": TruncDate(Subquery(last), tzinfo=timezone.get_current_timezone())}


def _first_in_period(period) -> tuple[Q, Q]:
    """A pair's follow-ups on the first day of the period it was followed on: live, those with no
    follow-up of the pair in the period before their day; stored, the days whose previous one is
    before the period."""
    start, _end = day_bounds(period.start, period.end)
    earlier = _same_pair_before(_start_of_its_day()).filter(date__gte=start)
    return Q(~Exists(earlier)), Q(previous_day__lt=period.start) | Q(previous_day=None)


# The customers each salesperson followed up over a period, each counted once (see the model).
FOLLOWED_CUSTOMERS = Figure(
    DailyFollowedCustomers,
    ConsultRecord.objects.alive,
    "date",
    ("consultant", "previous_day"),
    # All of a pair's follow-ups of a day have the same previous day: a distinct count of customers.
    lambda correlated: {"customers": Count("customer", distinct=True)},
    annotations=_previous_follow_up_day,
    of_period=_first_in_period,
)
ENROLLMENTS = Figure(
    DailyEnrollments,
    Enrollment.objects.alive,
    "enrolled_date",
    ("consultant",),
    lambda correlated: {
        "enrollments": Count("pk"),
        "approved": Count("pk", filter=Q(contract_approved=True)),
    },
)
PAYMENTS = Figure(
    DailyPayments,
    PaymentRecord.objects.alive,
    "date",
    ("consultant", "enrolment_class"),
    lambda correlated: payment_sums(),
)
FIGURES = (LEADS, FOLLOW_UPS, FOLLOWED_CUSTOMERS, ENROLLMENTS, PAYMENTS)


# Days, runs of days and their bounds


def day_bounds(first: datetime.date, last: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[midnight starting ``first``, midnight ending ``last``) in the school's time zone."""
    zone = timezone.get_current_timezone()
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    return start, end


def runs(days: Iterable[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    """Consecutive days as (first, last) runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    result: list[list[datetime.date]] = []
    for day in sorted(set(days)):
        if result and day - result[-1][1] == datetime.timedelta(days=1):
            result[-1][1] = day
        else:
            result.append([day, day])
    return [(first, last) for first, last in result]


def rows_on(field_name: str, day_runs) -> Q:
    """Base rows whose datetime ``field_name`` falls on one of the runs' local days."""
    when = Q(pk__in=[])
    for first, last in day_runs:
        start, end = day_bounds(first, last)
        when |= Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
    return when


def stored_on(day_runs) -> Q:
    when = Q(pk__in=[])
    for first, last in day_runs:
        when |= Q(day__gte=first, day__lte=last)
    return when


def _each_day(first: datetime.date, last: datetime.date):
    for offset in range((last - first).days + 1):
        yield first + datetime.timedelta(days=offset)


# The reader


def _current_days(first: datetime.date, last: datetime.date) -> set[datetime.date]:
    """The days from ``first`` to ``last`` whose stored figures are current (aggregated, unchanged since)."""
    return set(
        DashboardDay.objects.filter(day__gte=first, day__lte=last)
        .exclude(day__in=DashboardDirtyDay.objects.values("day"))
        .values_list("day", flat=True)
    )


class PeriodFigures:
    """The figures of one period (anything with ``start`` and ``end`` dates): each grouping one query,
    read once and kept."""

    def __init__(self, period, *, stored: bool = True):
        self.period = period
        self.stored = stored  # False: everything live from the base tables (the baseline, the tests)
        self._rows: dict = {}

    @classmethod
    def of_periods(cls, *periods, stored: bool = True) -> list["PeriodFigures"]:
        """The figures of several periods, their stored days read in one query."""
        figures = [cls(period, stored=stored) for period in periods]
        if stored and periods:
            days = _current_days(min(p.start for p in periods), max(p.end for p in periods))
            for each in figures:
                each.stored_days = {day for day in days if each.period.start <= day <= each.period.end}
        return figures

    @cached_property
    def stored_days(self) -> set[datetime.date]:
        """The days of the period whose stored figures are current (aggregated, unchanged since)."""
        if not self.stored:
            return set()
        return _current_days(self.period.start, self.period.end)

    @cached_property
    def _runs(self) -> tuple[list, list]:
        """The runs of stored days and those of the other days of the period."""
        every_day = set(_each_day(self.period.start, self.period.end))
        return runs(self.stored_days), runs(every_day - self.stored_days)

    def rows(self, figure: Figure, by: tuple[str, ...], only: tuple[str, ...] | None = None) -> list[dict]:
        """The figure's measures (those named ``only``, or all) per ``by`` over the period (a list of
        dicts, one per group)."""
        key = (figure, by, only)
        if key not in self._rows:
            PeriodFigures.read_together([self], figure, by, only)
        return self._rows[key]

    @staticmethod
    def read_together(
        figures: list["PeriodFigures"],
        figure: Figure,
        by: tuple[str, ...],
        only: tuple[str, ...] | None = None,
    ) -> None:
        """``rows(figure, by, only)`` of each of ``figures`` (of several periods) in one query: for each
        period its live days' aggregate and its stored days' sums, UNION ALL, each part tagged with its
        period."""
        names = figure.measure_names(only)
        parts = []
        for index, each in enumerate(figures):
            stored, live = each._runs
            live_rows, stored_rows = figure.of_period(each.period)
            when_live, when_stored = (
                rows_on(figure.date_field, live) & live_rows,
                stored_on(stored) & stored_rows,
            )
            parts.append(figure.live(when_live, by, only=only, part=index))
            parts.append(figure.stored(when_stored, by, only=only, part=index))
        groups: list[dict[tuple, dict]] = [{} for _ in figures]
        for row in parts[0].union(*parts[1:], all=True):
            group = groups[row["part"]].setdefault(
                tuple(row[name] for name in by), {name: row[name] for name in by}
            )
            for name in names:
                # int(): PostgreSQL sums a bigint column as numeric (a Decimal).
                group[name] = group.get(name, 0) + int(row[name] or 0)
        for each, found in zip(figures, groups, strict=True):
            each._rows[(figure, by, only)] = list(found.values())

    def total(self, figure: Figure, by: tuple[str, ...], when: Callable[[dict], bool] | None = None) -> dict:
        """The measures summed over the groups of ``rows(figure, by)`` for which ``when(group)``."""
        totals = dict.fromkeys(figure.names, 0)
        for row in self.rows(figure, by):
            if when is None or when(row):
                for name in totals:
                    totals[name] += row[name]
        return totals


# The writer


def _first_day(today: datetime.date) -> datetime.date:
    """The local day of the oldest base row of any figure (today when there is none)."""
    zone = timezone.get_current_timezone()
    oldest = [figure.base().aggregate(oldest=Min(figure.date_field))["oldest"] for figure in FIGURES]
    days = [timezone.localtime(moment, zone).date() for moment in oldest if moment is not None]
    return min([*days, today])


def daily_figures_aggregate(*, today: datetime.date | None = None) -> tuple[int, int]:
    """Register every closed day (before ``today``, the local date) not registered yet, and store the
    figures of every day registered by an earlier run and not stored yet or changed since; returns how
    many days were registered and how many stored.

    A day is stored from the run after the one that registered it: a writer whose statement ran before
    the registration committed left no mark, and its transaction has committed by the next run (a
    transaction open for longer than DASHBOARD_AGGREGATE_SECONDS is the limit of that guarantee).
    """
    today = today or timezone.localdate()
    now = timezone.now()
    first = _first_day(today)
    with transaction.atomic():
        known = set(DashboardDay.objects.filter(day__lt=today).values_list("day", flat=True))
        new = [
            (day, day_bounds(day, day))
            for day in _each_day(first, today - datetime.timedelta(days=1))
            if day not in known
        ]
        DashboardDay.objects.bulk_create(
            [DashboardDay(day=day, start_at=start, end_at=end, computed_at=now) for day, (start, end) in new],
            batch_size=BATCH,
            ignore_conflicts=True,  # a run started at the same time registered them
        )
        DashboardDirtyDay.objects.bulk_create(
            [DashboardDirtyDay(day=day) for day, _ in new], batch_size=BATCH
        )
    # Committed: from here the triggers note every change on these days. A change that the queries below
    # do not see leaves its mark for the next run.
    with transaction.atomic():
        # One run at a time (beat and a manual run): two would both insert a day's rows. The first day's
        # row is the mutex; the triggers only read the registry, so writers never wait for it.
        DashboardDay.objects.select_for_update().order_by("day").first()
        marks = list(DashboardDirtyDay.objects.values_list("pk", "day"))
        registered = {day for day, _ in new}
        marks = [(pk, day) for pk, day in marks if day < today and day not in registered]
        day_runs = runs(day for _pk, day in marks)
        if day_runs:
            correlated = sum((last - first).days + 1 for first, last in day_runs) <= FEW_DAYS
            if not correlated and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('work_mem', %s, true)", [AGGREGATE_WORK_MEM])
            for figure in FIGURES:
                figure.model.objects.filter(stored_on(day_runs)).delete()
                when = rows_on(figure.date_field, day_runs)
                computed = figure.live(when, ("day", *figure.columns), correlated=correlated)
                figure.model.objects.bulk_create((figure.model(**row) for row in computed), batch_size=BATCH)
            DashboardDay.objects.filter(stored_on(day_runs)).update(computed_at=now)
        # Only the marks read above: a change committed since keeps its own mark.
        pks = [pk for pk, _day in marks]
        for start in range(0, len(pks), 900):
            DashboardDirtyDay.objects.filter(pk__in=pks[start : start + 900]).delete()
    return len(new), sum((last - first).days + 1 for first, last in day_runs)
