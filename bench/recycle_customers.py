"""Time and query count of automatic recycling, and of 我的客户 with its recycling badge and filter.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_recycle_bench \
        .venv/bin/python bench/recycle_customers.py [N] [PRIVATE]

Run it against a scratch database: it migrates it and adds N customers (default 100000; QQ numbers
8000000000 + i), of which PRIVATE (default 20000) belong to 150-customer salespeople, each claimed
between 0 and 40 days ago with a last follow-up between 0 and 40 days ago. Then it measures a dry run
and a real run of ``customers_recycle`` (the real run changes the data: a second run of the bench adds
nothing and recycles nothing). It prints figures; it asserts nothing.
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
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.models import Customer, CustomerTransfer  # noqa: E402
from crm.services.customers import customers_recycle  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

BASE_QQ = 8_000_000_000
BATCH = 5000
PER_SALES = 150


def populate(total: int, private: int) -> list:
    owners = [
        UserFactory(username=f"bench_recycle{n}", role="sales")
        for n in range((private + PER_SALES - 1) // PER_SALES)
    ]
    existing = Customer.objects.filter(qq__startswith="8").count()
    now, today = timezone.now(), timezone.localdate()
    for start in range(existing, total, BATCH):
        stop = min(start + BATCH, total)
        customers = Customer.objects.bulk_create(
            Customer(
                qq=str(BASE_QQ + i),
                name=f"回收压测{i}",
                phone=f"198{i:08d}",
                date=now - datetime.timedelta(days=60),
                last_consult_date=today - datetime.timedelta(days=(i * 7) % 41),
                consultant=owners[i // PER_SALES] if i < private else None,
            )
            for i in range(start, stop)
        )
        CustomerTransfer.objects.bulk_create(
            CustomerTransfer(
                customer=c,
                to_consultant_id=c.consultant_id,
                reason="claim",
                date=now - datetime.timedelta(days=(int(c.qq) * 13) % 41),
            )
            for c in customers
            if c.consultant_id
        )
        print(f"  {stop} customers", flush=True)
    return owners


def timed(label: str, function):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - started
    slowest = max((float(q["time"]) for q in queries.captured_queries), default=0)
    print(
        f"{label:<44} {len(queries):>4} queries  {elapsed * 1000:9.1f} ms,"
        f" slowest query {slowest * 1000:.1f} ms"
    )
    return result


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    private = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    setup_test_environment()
    call_command("migrate", verbosity=0)
    print(f"Populating up to {total} customers, {private} private ({connection.vendor})...")
    owners = populate(total, private)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    client = Client()
    client.force_login(owners[0])
    url = reverse("admin:crm_privatecustomer_changelist")
    timed("我的客户, 100 per page", lambda: client.get(url, {"per_page": 100}))
    timed("我的客户, filter 即将回收", lambda: client.get(url, {"recycling": "soon", "per_page": 100}))
    due = timed("customers_recycle dry run", lambda: customers_recycle(days=15, dry_run=True))
    done = timed("customers_recycle", lambda: customers_recycle(days=15))
    print(f"due {sum(due.values())}, recycled {sum(done.values())} from {len(done)} salespeople")


if __name__ == "__main__":
    main()
