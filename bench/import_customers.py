"""Rows per second of a customer import, through the same code path as the admin and the command.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm .venv/bin/python bench/import_customers.py [ROWS]

Runs in a throwaway test database (test_<name>, created and dropped here), never in the real one.
The file is a GBK CSV of ROWS customers (default 100,000); 10% of them already exist in the database
(by QQ or phone: they update empty fields), 1% are duplicated inside the file. It prints the figures
of the preview (dry run) and of the import itself (the ``import_customers`` command). Target: at
least 10,000 rows/s on PostgreSQL.
"""

import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from crm.models import Customer  # noqa: E402
from crm.services.imports import customers_import  # noqa: E402

HEADERS = ["姓名", "QQ", "手机", "性别", "来源", "咨询课程", "班级类型", "客户备注"]
SOURCES = ["QQ群", "百度推广", "官方网站", "口碑"]
COURSES = ["Python高级全栈开发", "Linux中高级、Go语言开发", "数据分析"]


def make_file(rows: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    for i in range(rows):
        n = i - 1 if i % 100 == 99 else i  # 1% duplicates of the previous row
        writer.writerow(
            [
                f"客户{n}",
                str(10_000_000 + n),
                f"13{n:09d}",
                "男" if n % 2 else "女",
                SOURCES[n % len(SOURCES)],
                COURSES[n % len(COURSES)],
                "脱产班",
                "批量导入的名单",
            ]
        )
    return buffer.getvalue().encode("gb18030")


def seed_existing(rows: int) -> None:
    # Every tenth customer of the file is already known: half by QQ, half by phone only.
    Customer.objects.bulk_create(
        [
            Customer(qq=str(10_000_000 + n), name="")
            if n % 20 == 0
            else Customer(qq=str(90_000_000 + n), phone=f"13{n:09d}")
            for n in range(0, rows, 10)
        ],
        batch_size=2000,
    )


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        print(f"database: {connection.vendor} ({connection.settings_dict['NAME']}), rows: {rows}")
        data = make_file(rows)
        seed_existing(rows)

        start, cpu = time.perf_counter(), time.process_time()
        outcome = customers_import(data=data, file_name="bench.csv", user=None, dry_run=True)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"preview (dry run): {seconds:.2f} s, {rows / seconds:,.0f} rows/s "
            f"(this process's CPU: {cpu:.2f} s, {rows / cpu:,.0f} rows/s) "
            f"(new {outcome.new}, updated {outcome.updated}, skipped {outcome.skipped}, "
            f"errors {outcome.error_count})"
        )

        with tempfile.NamedTemporaryFile(suffix=".csv") as file:
            file.write(data)
            file.flush()
            start, cpu = time.perf_counter(), time.process_time()
            call_command("import_customers", file.name, "--no-progress", stdout=io.StringIO())
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"import (command):  {seconds:.2f} s, {rows / seconds:,.0f} rows/s "
            f"(this process's CPU: {cpu:.2f} s, {rows / cpu:,.0f} rows/s)"
        )
        print(f"customers in the database: {Customer.objects.count()}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
