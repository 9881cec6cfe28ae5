"""Query count and time of the boss's dashboard with many customers, follow-ups, enrollments and payments.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench \
        .venv/bin/python bench/dashboard.py [N]

Run it against a scratch database: it migrates it and adds customers (QQ numbers 8000000000 + i) until
there are N (default 100000) of them, spread over this year, two thirds owned by ten salespeople, each
owned one with a follow-up, a payment and (every other one) an enrollment; then VACUUM ANALYZE, as
autovacuum would. It stores the daily figures (``daily_figures_aggregate``, timed: the first run of
``manage.py aggregate_dashboard``), then prints for this month and this year, best of 3 each, the
dashboard's figures and the page with the stored days beside the baseline of the same run: every day
computed live from the base tables (``dashboard(period, stored=False)``, what the page did before the
daily figures), with query counts. Last, the page after changes on 30 stored days (computed live until
the next aggregation) and the incremental aggregation that stores them again. It asserts nothing.
With BENCH_VERBOSE=N it prints the N slowest statements of each best run with their times.
"""

import datetime
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Case, Value, When  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.models import ClassList, ConsultRecord, Customer, Enrollment, PaymentRecord  # noqa: E402
from crm.services import dashboard as services  # noqa: E402
from crm.services.daily_figures import daily_figures_aggregate  # noqa: E402
from tests.factories import ClassListFactory, UserFactory  # noqa: E402

BASE_QQ = 8_000_000_000
BATCH = 5000
SOURCES = Customer.Source.values
STATUSES = Customer.Status.values


def populate(total: int, sellers, classes) -> None:
    existing = Customer.objects.filter(qq__startswith="8").count()
    now = timezone.now()
    start_of_year = now.replace(month=1, day=1, hour=0, minute=0)
    span = (now - start_of_year).total_seconds()
    for start in range(existing, total, BATCH):
        stop = min(start + BATCH, total)
        customers = Customer.objects.bulk_create(
            Customer(
                qq=str(BASE_QQ + i),
                name=f"看板客户{i}",
                source=SOURCES[i % len(SOURCES)],
                status=STATUSES[i % len(STATUSES)],
                course=["PythonFullStack"],
                date=start_of_year + datetime.timedelta(seconds=span * (i % 997) / 997),
                consultant=sellers[i % len(sellers)] if i % 3 else None,
            )
            for i in range(start, stop)
        )
        owned = [c for c in customers if c.consultant_id]
        ConsultRecord.objects.bulk_create(
            ConsultRecord(customer=c, consultant_id=c.consultant_id, note="bench", status="B", date=c.date)
            for c in owned
        )
        PaymentRecord.objects.bulk_create(
            PaymentRecord(
                customer=c,
                consultant_id=c.consultant_id,
                enrolment_class=classes[c.pk % len(classes)],
                pay_type="refund" if c.pk % 50 == 0 else "tuition",
                paid_fee=1000,
                status="confirmed" if c.pk % 4 else "unconfirmed",
                date=c.date,
            )
            for c in owned
        )
        Enrollment.objects.bulk_create(
            Enrollment(
                customer=c,
                consultant_id=c.consultant_id,
                enrolment_class=classes[c.pk % len(classes)],
                school_id=classes[c.pk % len(classes)].campus_id,
                contract_approved=c.pk % 3 == 0,
                enrolled_date=c.date,
            )
            for c in owned
            if c.pk % 2
        )
        print(f"  {stop} customers", flush=True)


def measure(label: str, run, repeat: int = 3) -> float:
    best = None
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            run()
            elapsed = time.perf_counter() - started
        if best is None or elapsed < best:
            best, queries = elapsed, captured.captured_queries
    queries = sorted(queries, key=lambda query: -float(query["time"]))
    sql_ms = sum(float(query["time"]) for query in queries) * 1000
    slowest_ms = float(queries[0]["time"]) * 1000 if queries else 0.0
    print(
        f"{label:<44} {len(queries):>3} queries  {best * 1000:8.1f} ms (best of {repeat}),"
        f" SQL {sql_ms:.0f} ms, slowest query {slowest_ms:.1f} ms"
    )
    if os.environ.get("BENCH_VERBOSE"):
        # The slowest statements of the best run, each with its time (BENCH_VERBOSE=5: five of them).
        for query in queries[: int(os.environ["BENCH_VERBOSE"])]:
            print(f"    {float(query['time']) * 1000:6.1f} ms  {query['sql'][:300]}")
    return best


def live_page(client, url, preset):
    """The page with every day computed live (the view calls ``services.dashboard(period)``): the baseline."""
    original = services.dashboard
    services.dashboard = lambda period: original(period, stored=False)
    try:
        return client.get(url, {"preset": preset})
    finally:
        services.dashboard = original


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    setup_test_environment()
    call_command("migrate", verbosity=0)
    sellers = [UserFactory(username=f"bench_sales{n}", role="sales") for n in range(10)]
    boss = UserFactory(username="bench_boss", role="boss")
    # A second run reuses the classes of the first (the factory's semesters would collide).
    classes = list(ClassList.objects.order_by("pk")[:6])
    classes += [ClassListFactory(start_date=datetime.date(2020, 1, 1)) for _ in range(6 - len(classes))]
    print(f"Populating up to {total} customers ({connection.vendor})...")
    populate(total, sellers, classes)
    if connection.vendor == "postgresql":
        # Fresh statistics and visibility map, as autovacuum would have them on a live database.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    counts = ", ".join(
        f"{model.objects.count()} {model._meta.verbose_name_plural}"
        for model in (Customer, ConsultRecord, Enrollment, PaymentRecord)
    )
    print(f"\n{counts} ({connection.vendor}); load average {os.getloadavg()}")
    for _ in range(2):  # the first run registers the days, the second stores them
        started = time.perf_counter()
        registered, stored = daily_figures_aggregate()
        print(
            f"aggregate_dashboard: {registered} days registered, {stored} stored"
            f" in {time.perf_counter() - started:.1f} s"
        )
    client = Client()
    client.force_login(boss)
    url = reverse("admin:dashboard")
    for preset in ("this_month", "this_year"):
        period = services.period_preset(preset)
        print(f"-- {preset}: {period.start} to {period.end}")
        measure("dashboard() figures, stored days", lambda p=period: services.dashboard(p))
        measure("the page, stored days", lambda p=preset: client.get(url, {"preset": p}))
        # Once: a minute each for a year under load.
        baseline = lambda p=period: services.dashboard(p, stored=False)  # noqa: E731
        measure("dashboard() figures, BASELINE all live", baseline, 1)
        measure("the page, BASELINE all live", lambda p=preset: live_page(client, url, p), 1)
    # Changes on 30 past days (a status each): those days are live until the next aggregation.
    today = timezone.localdate()
    for back in range(1, 31):
        day = datetime.datetime.combine(
            today - datetime.timedelta(days=back * 5),
            datetime.time(12),
            tzinfo=timezone.get_current_timezone(),
        )
        changed = Customer.objects.filter(date__gte=day).order_by("date").values("pk")[:1]
        # Another status than it has (a second run changes them again).
        Customer.objects.filter(pk__in=changed).update(
            status=Case(
                When(status=Customer.Status.SIGNED, then=Value(Customer.Status.STUDYING)),
                default=Value(Customer.Status.SIGNED),
            )
        )
    print("-- after a change on each of 30 stored days of this year")
    measure("the page, this year, 30 days live", lambda: client.get(url, {"preset": "this_year"}), repeat=1)
    started = time.perf_counter()
    registered, stored = daily_figures_aggregate()
    print(
        f"aggregate_dashboard again: {stored} days stored in {(time.perf_counter() - started) * 1000:.0f} ms"
    )
    measure("the page, this year, stored again", lambda: client.get(url, {"preset": "this_year"}))
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
