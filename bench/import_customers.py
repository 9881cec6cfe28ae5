"""Rows per second and peak memory of a customer import, through the same code path as the admin and
the command, beside a baseline checkout measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm .venv/bin/python bench/import_customers.py \
        [ROWS] [--baseline REF] [--only ours|baseline] [--steps preview,import] [--rounds N]

Each measurement runs in a child process of its own (its peak resident memory, ``ru_maxrss``, is its
own), in a throwaway test database (test_<name>_bench, created and dropped there), never in the real one.
The baseline is the code of git revision REF (default ``HEAD``: the last commit, so uncommitted work
is "ours"), checked out in a temporary worktree. The file is a GBK CSV of ROWS customers (default
100,000); 10% of them already exist in the database (by QQ or phone: they update empty fields), 1% are
duplicated inside the file. It prints the preview (dry run) and the import (the ``import_customers``
command) of each: seconds, rows/s of the wall clock and of the process's CPU, peak memory. The row
and size caps are raised to fit the file. ``--rounds N`` measures each step N times, ours and the
baseline alternately (step by step), so that a change of the machine's load falls on both. Targets
(issue 15): 15,000 rows/s and under 300 MB at 1,000,000 rows.
"""

import csv
import inspect
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADERS = ["姓名", "QQ", "手机", "性别", "来源", "咨询课程", "班级类型", "客户备注"]
SOURCES = ["QQ群", "百度推广", "官方网站", "口碑"]
COURSES = ["Python高级全栈开发", "Linux中高级、Go语言开发", "数据分析"]


def make_file(path: Path, rows: int) -> None:
    with open(path, "w", encoding="gb18030", newline="") as file:
        writer = csv.writer(file)
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


def seed_existing(rows: int) -> None:
    from crm.models import Customer

    # Every tenth customer of the file is already known: half by QQ, half by phone only. Made 2,000
    # at a time, so that the peak memory before the step is Django's, not this seeding's.
    known = range(0, rows, 10)
    for start in range(0, len(known), 2000):
        Customer.objects.bulk_create(
            [
                Customer(qq=str(10_000_000 + n), name="")
                if n % 20 == 0
                else Customer(qq=str(90_000_000 + n), phone=f"13{n:09d}")
                for n in known[start : start + 2000]
            ]
        )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(step: str, path: Path, rows: int) -> None:
    """In a child process: set Django up, make the database, run one step, print its figures."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from crm.models import Customer

    old_name = connection.settings_dict["NAME"]
    # Beside, not in place of, the test suite's own test database.
    connection.settings_dict["TEST"]["NAME"] = f"test_{old_name}_bench"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        seed_existing(rows)
        before = peak_mb()
        start, cpu = time.perf_counter(), time.process_time()
        if step == "preview":
            from crm.services.imports import customers_import

            with path.open("rb") as file:
                # The checkout's own way in: the file itself, or (before the streamed import) its bytes.
                if "file" in inspect.signature(customers_import).parameters:
                    source = {"file": file}
                else:
                    source = {"data": file.read()}
                outcome = customers_import(**source, file_name=path.name, user=None, dry_run=True)
            what = f"new {outcome.new}, updated {outcome.updated}, skipped {outcome.skipped}"
            what += f", errors {outcome.error_count}"
        else:
            call_command("import_customers", str(path), "--no-progress", stdout=io.StringIO())
            what = f"customers in the database: {Customer.objects.count()}"
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"{seconds:.2f}\t{cpu:.2f}\t{peak_mb():.0f}\t{before:.0f}\t{what}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(checkout: Path, step: str, path: Path, rows: int) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": str(checkout),
        "IMPORT_MAX_ROWS": str(rows),
        "IMPORT_MAX_FILE_MB": str(max(50, path.stat().st_size // (1024 * 1024) + 1)),
    }
    command = [sys.executable, str(Path(__file__).resolve()), "--child", step, str(path), str(rows)]
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        return f"failed: {done.stderr.strip()[-500:]}"
    seconds, cpu, peak, before, what = done.stdout.strip().splitlines()[-1].split("\t")
    seconds, cpu = float(seconds), float(cpu)
    return (
        f"{seconds:7.2f} s, {rows / seconds:8,.0f} rows/s wall, {rows / cpu:8,.0f} rows/s CPU, "
        f"peak {float(peak):5.0f} MB (before the step {float(before):.0f} MB); {what}"
    )


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--child"]:
        sys.path.insert(0, os.getcwd())
        child(args[1], Path(args[2]), int(args[3]))
        return
    rows = int(args[0]) if args and args[0].isdigit() else 100_000
    baseline_ref = args[args.index("--baseline") + 1] if "--baseline" in args else "HEAD"
    only = args[args.index("--only") + 1] if "--only" in args else None
    steps = args[args.index("--steps") + 1].split(",") if "--steps" in args else ["preview", "import"]
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.csv"
        make_file(path, rows)
        baseline = Path(folder) / "baseline"
        checkouts = {"ours": ROOT}
        if only != "ours":
            subprocess.run(
                ["git", "worktree", "add", "--detach", "-q", str(baseline), baseline_ref],
                cwd=ROOT,
                check=True,
            )
            checkouts["baseline"] = baseline
        if only == "baseline":
            del checkouts["ours"]
        try:
            print(f"rows: {rows}, file {path.stat().st_size / 1024 / 1024:.1f} MB; baseline: {baseline_ref}")
            print(f"load average before: {os.getloadavg()[0]:.2f}")
            if rounds == 1:
                order = [(name, step) for name in checkouts for step in steps]
            else:
                order = [(name, step) for step in steps for _round in range(rounds) for name in checkouts]
            for name, step in order:
                print(f"{name:8} {step:7}: {run(checkouts[name], step, path, rows)}", flush=True)
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            if "baseline" in checkouts:
                subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
