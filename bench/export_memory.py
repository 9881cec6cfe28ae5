"""Time and peak memory of a 1,000,000-row export as the background job runs it, beside the stock
django-import-export export of the same list in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_exports \
        .venv/bin/python bench/export_memory.py [ROWS] [STOCK_ROWS] [--formats xlsx,csv] \
        [--only payments|customers] [--no-baseline]

Run it against a scratch PostgreSQL database: it migrates it and, if it holds fewer, adds ROWS customers
(default 1,000,000; bench/customers_changelist.py's population) and ROWS payments (one INSERT … SELECT
generate_series: 1,000 a day, so a date range of STOCK_ROWS / 1,000 days holds exactly STOCK_ROWS of them).

Each export is started the way the admin starts it (a POST of the export form by the finance user, or by
the boss for 全部客户, with JOB_ROWS_THRESHOLD at 0 and the broker left out, so the job stays queued), then
run by ``jobs_run`` — the body of the Celery task — in a fresh process of its own, whose time, rows/s and
peak resident memory (``ru_maxrss``) are printed with the size of the file it left in the job storage;
the file's rows are counted back (the sheet's XML streamed out of the zip, or the csv's lines) against
the list's count. The baseline is django-import-export's own export (a tablib Dataset of every row, then
a whole openpyxl workbook: ``get_export_data``) of the same list filtered by a date range to STOCK_ROWS
rows (default 100,000: at 1,000,000 rows it would need about 6.5 GB), also in a fresh process, beside
the job on that same date range. It prints figures; it asserts nothing.
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

PAYMENTS_PER_DAY = 1000
PAYMENT_COLUMNS = (
    "customer_id, enrolment_class_id, consultant_id, pay_type, paid_fee, note, date, status,"
    " confirm_date, confirm_user_id, reject_reason, delete_status"
)
# The i-th payment: 1,000 a day going back from today (local time), a refund in five, two in three confirmed.
PAYMENTS_SQL = f"""
    WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM crm_customer),
    today AS (SELECT date_trunc('day', now() AT TIME ZONE %(zone)s) AT TIME ZONE %(zone)s AS midnight)
    INSERT INTO crm_paymentrecord ({PAYMENT_COLUMNS})
    SELECT numbered.id, (%(classes)s::bigint[])[1 + i %% 10], %(sales)s,
        (ARRAY['deposit', 'tuition', 'tuition', 'refund', 'transfer'])[1 + i %% 5],
        CASE WHEN i %% 5 = 3 THEN -500 ELSE 500 + i %% 9000 END, '备注 ' || i,
        midnight - make_interval(days => i / {PAYMENTS_PER_DAY})
            + make_interval(mins => i %% {PAYMENTS_PER_DAY}),
        CASE WHEN i %% 3 = 0 THEN 'unconfirmed' ELSE 'confirmed' END,
        CASE WHEN i %% 3 <> 0 THEN midnight - make_interval(days => i / {PAYMENTS_PER_DAY} - 1) END,
        CASE WHEN i %% 3 <> 0 THEN %(finance)s::bigint END, '', false
    FROM generate_series(%(start)s, %(stop)s - 1) AS i, today
    JOIN numbered ON true
    WHERE numbered.n = i %% %(customers)s
"""


def setup_django() -> None:
    import django

    django.setup()


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- steps, each run in a child process of its own ---


def populate(rows: int) -> None:
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from crm.models import Campus, ClassList, PaymentRecord
    from tests.factories import UserFactory

    if connection.vendor != "postgresql":
        sys.exit("bench/export_memory.py measures PostgreSQL (DATABASE_URL).")
    call_command("migrate", verbosity=0)
    from bench.customers_changelist import SELLERS
    from bench.customers_changelist import populate as populate_customers

    campuses = [Campus.objects.get_or_create(name=name)[0] for name in ("压测校区A", "压测校区B")]
    sellers = [UserFactory(username=f"bench_sales{n or ''}", role="sales") for n in range(SELLERS)]
    finance = UserFactory(username="bench_finance", name="基准财务", role="finance")
    UserFactory(username="bench_boss", role="boss")
    classes = [
        ClassList.objects.get_or_create(
            course="PythonFullStack",
            semester=900 + index,
            campus=campuses[index % 2],
            defaults={"start_date": datetime.date(2026, 1, 1), "price": 19800},
        )[0].pk
        for index in range(10)
    ]
    populate_customers(rows, sellers, campuses)
    existing = PaymentRecord.objects.count()
    if existing >= rows:
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM crm_customer")
        customers = cursor.fetchone()[0]
        cursor.execute(
            PAYMENTS_SQL,
            {
                "zone": settings.TIME_ZONE,
                "classes": classes,
                "sales": sellers[1].pk,
                "finance": finance.pk,
                "start": existing,
                "stop": rows,
                "customers": customers,
            },
        )
        cursor.execute("VACUUM ANALYZE crm_paymentrecord")
    print(f"  added {rows - existing} payments in {time.perf_counter() - started:.0f} s", flush=True)


def export_post(model: str, file_format: str) -> dict:
    from crm.resources.customers import CustomerExportResource
    from crm.resources.finance import PaymentRecordResource

    resource_class = CustomerExportResource if model == "customer" else PaymentRecordResource
    prefix = resource_class.__name__.lower()
    fields = {f"{prefix}_{name}": "on" for name in resource_class().get_export_order()}
    return {"format": "0" if file_format == "xlsx" else "1", "resource": "0", **fields}


def user_of(model: str):
    from crm.models import UserProfile

    return UserProfile.objects.get(username="bench_boss" if model == "customer" else "bench_finance")


def enqueue(model: str, file_format: str, query: str) -> None:
    """Start the export as the admin does, and leave the job queued for ``run``: print its id."""
    setup_django()
    from django.test import Client, override_settings
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from crm.services import jobs

    setup_test_environment()
    # No broker: the job stays queued, to be run by a fresh process like a worker's.
    started = []
    jobs.jobs_enqueue = lambda *, job: started.append(job.pk)
    client = Client()
    client.force_login(user_of(model))
    url = reverse(f"admin:crm_{model}_export") + (f"?{query}" if query else "")
    with override_settings(JOB_ROWS_THRESHOLD=0):
        response = client.post(url, export_post(model, file_format))
    assert response.status_code == 302, response.status_code
    print(started[0])


def run(job_id: int) -> None:
    """What a Celery worker does with the job (crm.tasks.run_job), timed."""
    setup_django()
    from crm.models import Job
    from crm.services.jobs import jobs_run

    baseline = peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    jobs_run(job_id=job_id)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    job = Job.objects.get(pk=job_id)
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu": cpu,
                "peak": peak_rss_mb(),
                "baseline": baseline,
                "state": job.state,
                "error": job.error,
                "rows": job.rows_done,
                "total": job.rows_total,
                "path": job.result_file.path if job.result_file else "",
            }
        )
    )


def stock(model: str, file_format: str, query: str, path: str) -> None:
    """django-import-export's own export of the same list: a Dataset of every row, a whole workbook."""
    setup_django()
    from django.contrib import admin
    from django.http import QueryDict
    from django.test import RequestFactory
    from import_export.formats import base_formats

    from crm.models import Customer, PaymentRecord

    model_admin = admin.site.get_model_admin(Customer if model == "customer" else PaymentRecord)
    request = RequestFactory().get("/", QueryDict(query))
    request.user = user_of(model)
    baseline = peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    queryset = model_admin.get_export_queryset(request)
    file_class = base_formats.XLSX if file_format == "xlsx" else base_formats.CSV
    data = model_admin.get_export_data(file_class(), request, queryset)
    Path(path).write_bytes(data if isinstance(data, bytes) else data.encode())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rows = queryset.count()
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu": cpu,
                "peak": peak_rss_mb(),
                "baseline": baseline,
                "state": "done",
                "error": "",
                "rows": rows,
                "total": rows,
                "path": path,
            }
        )
    )


# --- the parent ---


def child(*args: str) -> str:
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def rows_in(path: str) -> int:
    """Data rows of the file, read without loading it: the sheet's </row> tags, or the csv's lines."""
    count = 0
    if path.endswith(".xlsx"):
        with zipfile.ZipFile(path) as archive, archive.open("xl/worksheets/sheet1.xml") as sheet:
            tail = b""
            while chunk := sheet.read(1 << 20):
                data = tail + chunk
                count += data.count(b"</row>")
                tail = data[-5:]
                count -= tail.count(b"</row>")
            count += tail.count(b"</row>")
    else:
        with open(path, "rb") as file:
            count = sum(1 for _line in file)
    return count - 1  # the header row


def report(label: str, figures: dict) -> dict:
    path = figures["path"]
    size = os.path.getsize(path) / 1024 / 1024 if path else 0
    read = rows_in(path) if path else 0
    check = "" if read == figures["total"] else f"  ROW COUNT MISMATCH: the list has {figures['total']}"
    rate = figures["rows"] / figures["seconds"] if figures["seconds"] else 0
    print(
        f"{label:<44} {figures['seconds']:7.1f} s ({figures['cpu']:6.1f} s CPU)  {rate:8,.0f} rows/s"
        f"  peak RSS {figures['peak']:6.0f} MB (Django alone {figures['baseline']:3.0f} MB)"
        f"  file {size:6.1f} MB, {read:,} rows{check}"
        + (f"  [{figures['state']}: {figures['error']}]" if figures["error"] else ""),
        flush=True,
    )
    return figures


def measure(model: str, file_format: str, query: str, label: str) -> dict:
    job = child("--_enqueue", model, file_format, query)
    return report(label, json.loads(child("--_run", job)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("stock_rows", nargs="?", type=int, default=100_000)
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--only", choices=["payments", "customers"])
    parser.add_argument("--no-baseline", action="store_true", help="only the exports of all rows")
    parser.add_argument("--_populate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_enqueue", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--_run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_stock", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._populate:
        populate(args._populate)
        return 0
    if args._enqueue:
        enqueue(*args._enqueue)
        return 0
    if args._run:
        run(args._run)
        return 0
    if args._stock:
        stock(*args._stock)
        return 0

    if "DATABASE_URL" not in os.environ:
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database.")
    started = time.perf_counter()
    print(f"Populating up to {args.rows:,} customers and {args.rows:,} payments...", flush=True)
    subprocess.run([sys.executable, __file__, "--_populate", str(args.rows)], check=True)
    ready = time.perf_counter() - started
    print(f"data ready in {ready:.0f} s; load average {os.getloadavg()}\n", flush=True)
    setup_django()
    from django.utils import timezone

    with tempfile.TemporaryDirectory() as folder:
        # The job storage (PRIVATE_MEDIA_ROOT) of every child: the result files go there.
        os.environ["PRIVATE_MEDIA_ROOT"] = folder
        days = args.stock_rows // PAYMENTS_PER_DAY
        # The payments' days are local (TIME_ZONE) days, as the date range filter reads them.
        today = timezone.localdate()
        # The customers are one a minute from now back: the last STOCK_ROWS minutes' days, roughly.
        customer_days = args.stock_rows // 1440
        ranges = {
            "paymentrecord": f"date__range__gte={today - datetime.timedelta(days=days - 1)}"
            f"&date__range__lte={today}",
            "customer": f"date__range__gte={today - datetime.timedelta(days=customer_days)}"
            f"&date__range__lte={today}",
        }
        models = {"payments": "paymentrecord", "customers": "customer"}
        for name, model in models.items():
            if args.only and args.only != name:
                continue
            for file_format in args.formats.split(","):
                measure(model, file_format, "", f"{name} {file_format}, all rows, job")
            if args.no_baseline:
                continue
            query = ranges[model]
            measure(model, "xlsx", query, f"{name} xlsx, date range, job")
            path = str(Path(folder) / f"stock-{model}.xlsx")
            figures = json.loads(child("--_stock", model, "xlsx", query, path))
            report(f"{name} xlsx, date range, stock import-export", figures)
            print(f"  (date range: ?{query}; load average {os.getloadavg()})\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
