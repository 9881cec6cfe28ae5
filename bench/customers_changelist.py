"""Query count and time of the customer changelists with many customers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench \
        .venv/bin/python bench/customers_changelist.py [N]

Run it against a scratch database: it migrates it and adds customers (QQ numbers 7000000000 + i) until
there are N (default 100000) of them, half in the public pool, half owned by one salesperson, with a
follow-up each for the owned ones; four customers in five belong to one of four campuses. The pool is
measured for a salesperson without a campus (all of it) and for one with a campus (that campus's and
the campus-less customers: the index crm_customer_pool_campus). It prints figures; it asserts nothing.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

from crm.models import Campus, ConsultRecord, Customer  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

BASE_QQ = 7_000_000_000
BATCH = 5000
CAMPUSES = 4


def populate(total: int, owner, campuses: list[Campus]) -> None:
    existing = Customer.objects.filter(qq__startswith="7").count()
    for start in range(existing, total, BATCH):
        stop = min(start + BATCH, total)
        customers = Customer.objects.bulk_create(
            Customer(
                qq=str(BASE_QQ + i),
                name=f"压测客户{i}",
                qq_name=f"bench{i}",
                phone=f"199{i:08d}",
                course=["PythonFullStack"],
                consultant=owner if i % 2 else None,
                campus=campuses[i % (CAMPUSES + 1)] if i % (CAMPUSES + 1) < CAMPUSES else None,
            )
            for i in range(start, stop)
        )
        ConsultRecord.objects.bulk_create(
            ConsultRecord(customer=c, consultant=owner, note="bench", status="B")
            for c in customers
            if c.consultant_id
        )
        print(f"  {stop} customers", flush=True)


def measure(client, url_name: str, params: dict, label: str, repeat: int = 3) -> None:
    url = reverse(url_name)
    best = None
    for _ in range(repeat):
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, params)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        best = elapsed if best is None else min(best, elapsed)
    slowest = max(queries.captured_queries, key=lambda query: float(query["time"]))
    print(
        f"{label:<40} {len(queries):>3} queries  {best * 1000:8.1f} ms (best of {repeat}),"
        f" slowest query {float(slowest['time']) * 1000:.1f} ms"
    )
    if os.environ.get("BENCH_VERBOSE"):
        print("    " + slowest["sql"][:400])


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    setup_test_environment()
    call_command("migrate", verbosity=0)
    owner = UserFactory(username="bench_sales", role="sales")
    boss = UserFactory(username="bench_boss", role="boss")
    campuses = [Campus.objects.get_or_create(name=f"压测校区{n}")[0] for n in range(CAMPUSES)]
    campus_sales = UserFactory(username="bench_campus_sales", role="sales", campus=campuses[0])
    print(f"Populating up to {total} customers ({connection.vendor})...")
    populate(total, owner, campuses)
    if connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum would have them on a live database.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    client = Client()
    client.force_login(owner)
    print(f"\n{Customer.objects.count()} customers in the database ({connection.vendor})")
    measure(client, "admin:crm_publiccustomer_changelist", {}, "公户, 20 per page")
    measure(client, "admin:crm_publiccustomer_changelist", {"per_page": 100}, "公户, 100 per page")
    measure(client, "admin:crm_publiccustomer_changelist", {"p": 50}, "公户, page 51")
    measure(client, "admin:crm_publiccustomer_changelist", {"q": "bench1234"}, "公户, search q=bench1234")
    measure(client, "admin:crm_privatecustomer_changelist", {"per_page": 100}, "我的客户, 100 per page")
    client.force_login(campus_sales)
    measure(client, "admin:crm_publiccustomer_changelist", {}, "公户 of a campus, 20 per page")
    measure(
        client, "admin:crm_publiccustomer_changelist", {"per_page": 100}, "公户 of a campus, 100 per page"
    )
    measure(client, "admin:crm_publiccustomer_changelist", {"p": 50}, "公户 of a campus, page 51")
    measure(
        client, "admin:crm_publiccustomer_changelist", {"q": "bench1234"}, "公户 of a campus, q=bench1234"
    )
    client.force_login(owner)
    measure(client, "admin:crm_consultrecord_changelist", {"per_page": 100}, "跟进记录, 100 per page")
    client.force_login(boss)
    measure(client, "admin:crm_customer_changelist", {}, "全部客户 (boss), 20 per page")
    measure(client, "admin:crm_customer_changelist", {"q": "13800"}, "全部客户 (boss), search q=13800")


if __name__ == "__main__":
    main()
