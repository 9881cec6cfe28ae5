"""Time and query count of every customer list page at scale, beside a stock ModelAdmin in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_scale_bench \
        .venv/bin/python bench/customers_changelist.py [N] [RUNS]

Run it against a scratch PostgreSQL database: it migrates it and, if it holds fewer than N customers
(default 1,000,000), adds them with one INSERT ... SELECT generate_series (QQ numbers 7000000000 + i):
90% in the public pool, a third of them on each of two campuses and a third on none; 10% owned by ten
salespeople, each owned customer with two follow-ups and the transfer of its claim. The salesperson
measured (bench_sales) has campus A and 1/10 of the owned customers.

Each page is fetched RUNS times (default 7) through django.test.Client, ours and then a stock
``ModelAdmin`` (on its own AdminSite, same rows, columns, filters and search; the follow-up count as a
stock admin computes it: an annotated ``Count``; Django's default full-result count), and the median of
each is printed with the ratio and the query counts. The timed requests run without the test
framework's template instrumentation and without recording their queries, as a server runs them; as many
requests again record the queries for their count and SQL time. It asserts nothing.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.contrib import admin  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import include, path, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from rangefilter.filters import DateRangeFilter  # noqa: E402

from crm.models import Campus, Customer, PrivateCustomer, PublicCustomer  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

BASE_QQ = 7_000_000_000
SELLERS = 10
# Which salesperson owns the i-th customer (one in ten is owned): bench_sales holds 150 (the cap), the
# nine others the rest.
OWNER_SQL = "CASE WHEN (i / 10) %% 666 = 0 THEN 1 ELSE 2 + (i / 10) %% 9 END"

stock_site = admin.AdminSite(name="stock")


class StockCustomerAdmin(admin.ModelAdmin):
    """What a stock ModelAdmin of the same list looks like: an annotated Count, Django's counts."""

    list_display = [
        "name", "qq", "phone", "sex", "source", "status", "course", "classes_joined",
        "last_consult_date", "follow_up_count", "date",
    ]  # fmt: skip
    list_filter = ["source", "status", ("date", DateRangeFilter), ("last_consult_date", DateRangeFilter)]
    search_fields = ["name", "qq", "qq_name", "phone", "wechat"]
    list_select_related = ["consultant"]
    list_per_page = 20  # as ours: the same rows on a page

    def get_queryset(self, request):
        return (
            self.scope(request, super().get_queryset(request))
            .annotate(follow_up_count=Count("consult_records"))
            .prefetch_related("class_list")
        )

    def scope(self, request, queryset):
        return queryset

    @admin.display(description="follow-ups")
    def follow_up_count(self, obj):
        return obj.follow_up_count

    @admin.display(description="classes")
    def classes_joined(self, obj):
        return ", ".join(str(c) for c in obj.class_list.all())


class StockPublicAdmin(StockCustomerAdmin):
    def scope(self, request, queryset):
        return queryset.pool_of(request.user)


class StockPrivateAdmin(StockCustomerAdmin):
    def scope(self, request, queryset):
        return queryset.owned_by(request.user)


stock_site.register(PublicCustomer, StockPublicAdmin)
stock_site.register(PrivateCustomer, StockPrivateAdmin)
stock_site.register(Customer, StockCustomerAdmin)
# The floor of any list page: the campuses' (two rows, two columns), ours and stock, same run.
stock_site.register(Campus)

urlpatterns = [path("stock/", stock_site.urls), path("", include("config.urls"))]


def populate(total: int, sellers, campuses) -> None:
    existing = Customer.objects.filter(qq__gte=str(BASE_QQ), qq__lt=str(BASE_QQ + 10**9)).count()
    if existing >= total:
        return
    seller_ids = [seller.pk for seller in sellers]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO crm_customer (qq, qq_name, name, sex, phone, source, course, class_type,
                customer_note, status, network_consult_note, date, last_consult_date, consultant_id,
                campus_id, locked)
            SELECT (%(base)s + i)::text, 'bench' || i, '压测客户' || i,
                CASE WHEN i %% 2 = 0 THEN 'male' ELSE 'female' END, '199' || lpad(i::text, 8, '0'),
                (ARRAY['qq', 'referral', 'website', 'baidu_ads', 'WoM'])[1 + i %% 5], 'PythonFullStack',
                'fulltime', '', 'unregistered', '', now() - make_interval(mins => i),
                CASE WHEN i %% 10 = 0 THEN (now() - make_interval(days => i %% 20))::date END,
                CASE WHEN i %% 10 = 0 THEN (%(sellers)s::bigint[])[%(owner)s] END,
                (ARRAY[NULL, %(a)s, %(b)s]::bigint[])[1 + i %% 3], false
            FROM generate_series(%(start)s, %(stop)s - 1) AS i
            """.replace("%(owner)s", OWNER_SQL),
            {
                "base": BASE_QQ, "sellers": seller_ids, "start": existing,
                "stop": total, "a": campuses[0].pk, "b": campuses[1].pk,
            },
        )  # fmt: skip
        owned = "FROM crm_customer WHERE consultant_id IS NOT NULL AND qq >= %(low)s"
        cursor.execute(
            "INSERT INTO crm_consultrecord (note, status, date, delete_status, consultant_id, customer_id)"
            " SELECT 'bench', 'B', date + make_interval(days => n), false, consultant_id, id "
            + owned.replace("FROM crm_customer", "FROM crm_customer, generate_series(0, 1) AS n"),
            {"low": str(BASE_QQ + existing)},
        )
        cursor.execute(
            "INSERT INTO crm_customertransfer (reason, date, customer_id, to_consultant_id, release_note,"
            " release_reason) SELECT 'claim', date, id, consultant_id, '', '' " + owned,
            {"low": str(BASE_QQ + existing)},
        )
        # Statistics and the visibility map, as autovacuum keeps them on a live database.
        cursor.execute("VACUUM ANALYZE")
    print(f"  added {total - existing} customers in {time.perf_counter() - started:.0f} s", flush=True)


def timed(client, url: str, params: dict, runs: int) -> tuple[float, int, float]:
    """Median wall time of the request (ms), its query count, and the median of its queries' time.

    The requests timed run as a server runs them: without the test framework's instrumentation of
    template rendering (setup_test_environment) and without recording the queries (a debug cursor);
    as many requests again record the queries, for their count and time."""
    client.get(url, params)  # warm: the first request pays for imports and cold caches
    times, sql_times = [], []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, params)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, params, response.status_code)
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            client.get(url, params)
        sql_times.append(sum(float(query["time"]) for query in queries.captured_queries))
    if os.environ.get("BENCH_VERBOSE"):
        for query in queries.captured_queries:
            print(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:300]}")
    return statistics.median(times) * 1000, len(queries), statistics.median(sql_times) * 1000


def compare(client, model: str, params: dict, label: str, runs: int) -> None:
    if os.environ.get("BENCH_ONLY", "") not in label:
        return
    ours, ours_queries, ours_sql = timed(client, reverse(f"admin:crm_{model}_changelist"), params, runs)
    stock, stock_queries, _ = timed(client, reverse(f"stock:crm_{model}_changelist"), params, runs)
    print(
        f"{label:<34} ours {ours:7.1f} ms ({ours_queries:>2} q, SQL {ours_sql:5.1f} ms)"
        f"   stock {stock:7.1f} ms ({stock_queries:>2} q)   {stock / ours:5.1f}x",
        flush=True,
    )


@override_settings(ROOT_URLCONF=__name__, DEBUG=False, ALLOWED_HOSTS=["testserver"])
def measure(owner, boss, runs: int) -> None:
    today = timezone.localdate()
    pool = PublicCustomer.objects.pool_of(owner).count()
    deepest = min(1999, (pool + 19) // 20)
    client = Client()
    client.force_login(owner)
    public, private, every = "publiccustomer", "privatecustomer", "customer"
    print(f"\n{Customer.objects.count()} customers, {pool} in bench_sales's pool; median of {runs} runs\n")
    compare(client, public, {}, "公户 p1", runs)
    compare(client, public, {"p": deepest}, f"公户 p={deepest}", runs)
    compare(client, public, {"q": "bench123456"}, "公户 search q=bench123456", runs)
    compare(client, public, {"q": "压测客户99"}, "公户 search q=压测客户99", runs)
    compare(client, public, {"source__exact": "website"}, "公户 filter source=website", runs)
    compare(client, public, {"status__exact": "unregistered"}, "公户 filter status", runs)
    month = {"date__range__gte": str(today.replace(day=1)), "date__range__lte": str(today)}
    compare(client, public, month, "公户 filter created this month", runs)
    compare(client, private, {}, "我的客户 p1", runs)
    compare(client, private, {"p": 7}, "我的客户 p=7", runs)
    compare(client, private, {"q": "bench1000"}, "我的客户 search q=bench1000", runs)
    compare(client, private, {"source__exact": "website"}, "我的客户 filter source=website", runs)
    client.force_login(boss)
    compare(client, every, {}, "全部客户 p1 (boss)", runs)
    compare(client, every, {"p": 1999}, "全部客户 p=1999 (boss)", runs)
    compare(client, every, {"q": "19900012345"}, "全部客户 search phone (boss)", runs)
    compare(client, every, {"status__exact": "unregistered"}, "全部客户 filter status (boss)", runs)
    compare(client, "campus", {}, "floor: 校区 list, 2 rows (boss)", runs)


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    if connection.vendor != "postgresql":
        sys.exit("bench/customers_changelist.py measures PostgreSQL (DATABASE_URL).")
    call_command("migrate", verbosity=0)
    campuses = [Campus.objects.get_or_create(name=name)[0] for name in ("压测校区A", "压测校区B")]
    sellers = [UserFactory(username=f"bench_sales{n or ''}", role="sales") for n in range(SELLERS)]
    owner = sellers[0]
    if owner.campus_id != campuses[0].pk:
        owner.campus = campuses[0]
        owner.save(update_fields=["campus"])
    boss = UserFactory(username="bench_boss", role="boss")
    print(f"Populating up to {total} customers...", flush=True)
    populate(total, sellers, campuses)
    measure(owner, boss, runs)


if __name__ == "__main__":
    main()
