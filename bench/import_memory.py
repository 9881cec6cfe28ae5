"""Peak memory of reading and previewing customer files: the largest the caps admit, and hostile ones.

    .venv/bin/python bench/import_memory.py [CASE ...]

Each case runs in a child process of its own, whose peak resident memory (``ru_maxrss``) is printed
beside the baseline (a child that only sets Django up). The files are made in a temporary folder:
IMPORT_MAX_ROWS rows (default 200,000) as GBK CSV and as xlsx, and the hostile files of the review.
"read" cases stop after the file is read through (its rows streamed as the import streams them);
"preview" cases run the admin's preview (a dry-run import)
in a scratch SQLite database migrated for the purpose. Target: under 300 MB for every case.
It prints figures; it asserts nothing.
"""

import csv
import io
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

HEADERS = ["姓名", "QQ", "手机", "性别", "来源", "咨询课程", "班级类型", "客户备注"]
SHEET_START = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
HEADER_ROW = b'<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c><c r="B1" t="inlineStr"><is><t>qq</t></is></c></row>'  # noqa: E501
CASES = {
    # name: (file, what to do)
    "baseline": (None, None),
    "csv-cap-read": ("cap.csv", "read"),
    "xlsx-cap-read": ("cap.xlsx", "read"),
    "csv-cap-preview": ("cap.csv", "preview"),
    "xlsx-cap-preview": ("cap.xlsx", "preview"),
    "xlsx-million-empty-rows": ("empty_rows.xlsx", "read"),
    "xlsx-dimension-XFD1048576": ("dimension.xlsx", "read"),
    "csv-million-rows": ("million.csv", "read"),
}


def rows(count: int):
    for index in range(count):
        yield [
            f"学员{index}",
            str(3_000_000_000 + index),
            f"139{index:08d}",
            "男" if index % 2 else "女",
            "百度推广",
            "Python高级全栈开发",
            "脱产班",
            "想转行做开发，晚上方便接电话",
        ]


def sheet_xlsx(path: Path, chunks) -> None:
    """A one-sheet workbook whose sheet XML is ``chunks``, written as they come."""
    import openpyxl

    buffer = io.BytesIO()
    openpyxl.Workbook().save(buffer)
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as original,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for member in original.infolist():
            if member.filename == "xl/worksheets/sheet1.xml":
                with archive.open(member.filename, "w") as sheet:
                    for chunk in chunks:
                        sheet.write(chunk)
            else:
                archive.writestr(member, original.read(member))


def make_files(folder: Path, cap: int) -> None:
    from crm.resources.streaming import is_formula_like
    from crm.resources.xlsx import write_xlsx

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADERS)
    writer.writerows(rows(cap))
    (folder / "cap.csv").write_bytes(text.getvalue().encode("gb18030"))
    with open(folder / "cap.xlsx", "wb") as file:
        write_xlsx(file, HEADERS, rows(cap), is_formula_like=is_formula_like)
    sheet_xlsx(
        folder / "empty_rows.xlsx",
        [SHEET_START + HEADER_ROW, *([b"<row/>" * 10_000] * 100), b"</sheetData></worksheet>"],
    )
    dimension = SHEET_START.replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>')
    sheet_xlsx(folder / "dimension.xlsx", [dimension + HEADER_ROW + b"</sheetData></worksheet>"])
    (folder / "million.csv").write_bytes(b"name,qq\n" + b"x,1\n" * 1_000_000)


def run_case(name: str, folder: Path) -> None:
    """In the child: do the case, then print its peak memory (MB) and what happened."""
    import django

    django.setup()
    file_name, action = CASES[name]
    outcome = "-"
    started = time.perf_counter()
    if file_name:
        from django.core.exceptions import ValidationError

        from crm.services.imports import customer_files_read, customers_import

        file = (folder / file_name).open("rb")
        try:
            if action == "read":
                # Streamed as the import reads it: a chunk at a time, nothing kept.
                outcome = f"{sum(1 for _row in customer_files_read(file=file).rows())} rows read"
            else:
                from django.core.management import call_command

                call_command("migrate", verbosity=0)
                result = customers_import(file=file, file_name=file_name, user=None, dry_run=True)
                outcome = f"preview: {result.new} new, {result.error_count} errors"
        except ValidationError as error:
            outcome = f"refused: {error.messages[0]}"
        finally:
            file.close()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{peak:.0f}\t{seconds:.1f}\t{outcome}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        name, folder = sys.argv[2].split("@", 1)
        run_case(name, Path(folder))
        return
    names = sys.argv[1:] or list(CASES)
    with tempfile.TemporaryDirectory() as folder:
        import django

        django.setup()
        from django.conf import settings

        make_files(Path(folder), settings.IMPORT_MAX_ROWS)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3"}
        results = {}
        for name in ["baseline", *[name for name in names if name != "baseline"]]:
            child = subprocess.run(
                [sys.executable, __file__, "--child", f"{name}@{folder}"],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            line = (
                child.stdout.strip().splitlines()[-1]
                if child.stdout.strip()
                else f"failed: {child.stderr[-300:]}"
            )
            results[name] = line.split("\t") if "\t" in line else ["?", "?", line]
        baseline = float(results["baseline"][0])
        sizes = {
            name: (Path(folder) / file).stat().st_size for name, (file, _action) in CASES.items() if file
        }
        print(f"IMPORT_MAX_ROWS={settings.IMPORT_MAX_ROWS}, IMPORT_MAX_FILE_MB={settings.IMPORT_MAX_FILE_MB}")
        print(f"{'case':28} {'file':>9} {'peak MB':>8} {'+baseline':>10} {'s':>6}  outcome")
        for name, (peak, seconds, outcome) in results.items():
            size = f"{sizes[name] / 1024:.0f} KB" if name in sizes else ""
            extra = f"{float(peak) - baseline:+.0f}" if peak != "?" else "?"
            print(f"{name:28} {size:>9} {peak:>8} {extra:>10} {seconds:>6}  {outcome}")


if __name__ == "__main__":
    main()
