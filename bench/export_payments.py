"""Time and peak memory of exporting 100,000 payment records to .xlsx through the admin's export view.

    .venv/bin/python bench/export_payments.py [--rows 100000] [--format xlsx|csv] [--stock]

Uses DATABASE_URL (default: a SQLite file in /tmp, created and filled once). The export runs in a fresh
process, so its peak RSS is the export's (plus Django's own baseline, printed too). ``--stock`` runs
django-import-export's own path (tablib Dataset + full openpyxl workbook) for comparison. Target:
under 10 s and under 150 MB peak for 100k rows. The row count is checked with LibreOffice when it is
installed, otherwise with openpyxl in read-only mode.
"""

import argparse
import datetime
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/crm_bench_finance.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def setup_django():
    import django

    django.setup()


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(rows: int) -> None:
    setup_django()
    from django.core.management import call_command
    from django.utils import timezone

    from crm.models import Campus, ClassList, Customer, PaymentRecord, UserProfile

    call_command("migrate", verbosity=0)
    existing = PaymentRecord.objects.count()
    if existing >= rows:
        return
    sales, _ = UserProfile.objects.get_or_create(username="bench_sales", defaults={"name": "基准销售"})
    finance, _ = UserProfile.objects.get_or_create(username="bench_finance", defaults={"name": "基准财务"})
    campus, _ = Campus.objects.get_or_create(name="基准校区")
    classes = [
        ClassList.objects.get_or_create(
            course="PythonFullStack",
            semester=900 + index,
            campus=campus,
            defaults={"start_date": datetime.date(2026, 1, 1), "price": 19800},
        )[0]
        for index in range(10)
    ]
    customer_count = rows // 5
    have = Customer.objects.filter(qq__startswith="9").count()
    Customer.objects.bulk_create(
        [
            Customer(
                qq=str(900000000 + index),
                name=["张三", '=HYPERLINK("x")', "李四", "+1+1"][index % 4] + str(index),
                consultant=sales,
                course=["PythonFullStack"],
            )
            for index in range(have, customer_count)
        ],
        batch_size=2000,
    )
    customers = list(
        Customer.objects.filter(qq__startswith="9").values_list("pk", flat=True)[:customer_count]
    )
    start = timezone.now() - datetime.timedelta(days=365)
    types = ["deposit", "tuition", "tuition", "refund", "transfer"]
    batch = []
    for index in range(existing, rows):
        batch.append(
            PaymentRecord(
                customer_id=customers[index % len(customers)],
                enrolment_class=classes[index % len(classes)],
                consultant=sales,
                pay_type=types[index % len(types)],
                paid_fee=-500 if index % 5 == 3 else 500 + index % 9000,
                status="confirmed" if index % 3 else "unconfirmed",
                confirm_user=finance if index % 3 else None,
                date=start + datetime.timedelta(minutes=index),
                note=f"备注 {index}",
            )
        )
        if len(batch) == 5000:
            PaymentRecord.objects.bulk_create(batch)
            batch = []
    PaymentRecord.objects.bulk_create(batch)


def export(path: str, file_format: str, stock: bool) -> None:
    setup_django()
    from django.contrib import admin
    from django.contrib.auth.models import Permission
    from django.test import RequestFactory

    from crm.models import PaymentRecord, UserProfile
    from crm.resources.finance import PaymentRecordResource

    user = UserProfile.objects.get(username="bench_finance")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_paymentrecord", "export_paymentrecord"])
    )
    user = UserProfile.objects.get(pk=user.pk)
    model_admin = admin.site._registry[PaymentRecord]
    index = "0" if file_format == "xlsx" else "1"
    fields = {f"paymentrecordresource_{name}": "on" for name in PaymentRecordResource().get_export_order()}
    request = RequestFactory().post(
        "/admin/crm/paymentrecord/export/", {"format": index, "resource": "0", **fields}
    )
    request.user = user
    request._dont_enforce_csrf_checks = True
    baseline = peak_rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    if stock:
        from import_export.formats import base_formats

        queryset = model_admin.get_export_queryset(request)
        file_class = base_formats.XLSX if file_format == "xlsx" else base_formats.CSV
        data = model_admin.get_export_data(file_class(), request, queryset)
        Path(path).write_bytes(data if isinstance(data, bytes) else data.encode())
    else:
        response = model_admin.export_action(request)
        with open(path, "wb") as out:
            for chunk in response.streaming_content:
                out.write(chunk if isinstance(chunk, bytes) else chunk.encode())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(
        f"export: {elapsed:.2f} s wall ({cpu:.2f} s CPU of this process; the database's own time is in"
        f" the wall time), peak RSS {peak_rss_mb():.0f} MB (Django baseline {baseline:.0f} MB)"
    )
    print(f"changelist rows: {model_admin.get_export_queryset(request).count()}")


def read_back(path: str, file_format: str) -> tuple[int, int, str]:
    """(rows, cells holding formula-like text, reader): the file as a spreadsheet program reads it."""
    import csv

    office = shutil.which("soffice") or shutil.which("libreoffice")
    if file_format == "xlsx" and office:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(
                [
                    office,
                    "--headless",
                    "--convert-to",
                    "csv:Text - txt - csv (StarCalc):44,34,76",
                    "--outdir",
                    out,
                    path,
                ],
                check=True,
                capture_output=True,
            )
            path, reader = str(next(Path(out).glob("*.csv"))), "LibreOffice"
            return (*_read_csv(path, csv), reader)
    if file_format == "csv":
        return (*_read_csv(path, csv), "csv reader")
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = texts = 0
        for row in workbook.active.iter_rows():
            rows += 1
            texts += sum(1 for cell in row if cell.data_type == "s" and str(cell.value).startswith("="))
        return rows, texts, "openpyxl (read-only)"
    finally:
        workbook.close()


def _read_csv(path: str, csv) -> tuple[int, int]:
    # A cell computed as a formula would read back as its result, not as the text "=HYPERLINK(...)".
    with open(path, encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    return len(rows), sum(1 for row in rows for cell in row if cell.startswith(("=", "'=")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    parser.add_argument("--stock", action="store_true", help="django-import-export's own export path")
    parser.add_argument("--_seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_export", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._seed:
        seed(args.rows)
        return 0
    if args._export:
        export(args._export, args.format, args.stock)
        return 0

    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--_seed", "--rows", str(args.rows)], check=True)
    print(f"data: {args.rows} payment records ready in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / f"payments.{args.format}")
        command = [sys.executable, __file__, "--_export", path, "--format", args.format]
        done = subprocess.run(
            command + (["--stock"] if args.stock else []), check=True, capture_output=True, text=True
        )
        print(done.stdout, end="")
        expected = int(done.stdout.rsplit("changelist rows: ", 1)[1])
        size = Path(path).stat().st_size / 1024 / 1024
        rows, texts, reader = read_back(path, args.format)
    print(f"file: {size:.1f} MB, {rows - 1} data rows + 1 header row, read back with {reader}")
    print(f"formula-like names read back as text: {texts}")
    if rows - 1 != expected:
        print(f"ROW COUNT MISMATCH: the changelist has {expected} rows", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
