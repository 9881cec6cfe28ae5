"""Time of writing a list page's rows: Django 5.2's ``admin_list.results`` beside crm.admin.results, on
the same ChangeList of each page, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_scale_bench .venv/bin/python bench/list_rows.py [RUNS]

Run it on the database bench/customers_changelist.py and bench/other_changelists.py filled (it reads
their users, bench_sales and bench_boss). Each page is fetched once; its rows are then written RUNS
times (default 30) by each function, alternating, and the medians printed with their ratio. The
template's own loop over the cells, which crm.admin.results also spares (one string per row), is not
in these figures. It asserts nothing.
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

from django.contrib.admin.templatetags import admin_list  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

from crm.admin import results  # noqa: E402

PAGES = [
    ("我的客户 p1", "bench_sales", "crm_privatecustomer"),
    ("公户 p1", "bench_sales", "crm_publiccustomer"),
    ("全部客户 p1 (boss)", "bench_boss", "crm_customer"),
    ("跟进记录 p1 (boss)", "bench_boss", "crm_consultrecord"),
    ("学习记录 p1 (boss)", "bench_boss", "crm_studyrecord"),
    ("报名 p1 (boss)", "bench_boss", "crm_enrollment"),
    ("缴费 p1 (boss)", "bench_boss", "crm_paymentrecord"),
    ("归属记录 p1 (boss)", "bench_boss", "crm_customertransfer"),
]


def changelist(username: str, name: str):
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        response = client.get(reverse(f"admin:{name}_changelist"))
    return response.context["cl"]


def write_rows(write, cl) -> float:
    start = time.perf_counter()
    ["".join(row) for row in write(cl)]
    return (time.perf_counter() - start) * 1000


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    setup_test_environment()  # the test client then keeps the page's context (its ChangeList)
    print(f"median of {runs} runs of writing each page's rows\n")
    for label, username, name in PAGES:
        cl = changelist(username, name)
        django_times, our_times = [], []
        for _ in range(runs):
            django_times.append(write_rows(admin_list.results, cl))
            our_times.append(write_rows(results.results, cl))
        stock, ours = statistics.median(django_times), statistics.median(our_times)
        print(
            f"{label:24} {len(cl.result_list):3} rows   Django {stock:6.2f} ms   ours {ours:6.2f} ms"
            f"   {stock / ours:4.1f}x"
        )


if __name__ == "__main__":
    main()
