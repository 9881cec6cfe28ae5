"""Importing customer lists: read a CSV or xlsx file, import it all-or-nothing, keep it, revert it.

The admin's Import page and the ``import_customers`` command both go through ``customers_import``.
"""

import codecs
import csv
import datetime
import functools
import io
import itertools
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Customer, CustomerImport, CustomerTransfer
from crm.resources.customers import CustomerResource, Table, query_chunks
from crm.resources.streaming import csv_safe, is_formula_like
from crm.resources.xlsx import write_xlsx

ENCODING_CHOICES = [
    ("auto", gettext_lazy("Detect automatically")),
    ("utf-8", "UTF-8"),
    ("gb18030", "GBK / GB18030"),
]
ENCODING_LABELS = {
    "utf-8-sig": "UTF-8 (BOM)",
    "utf-8": "UTF-8",
    "gb18030": "GBK / GB18030",
    "utf-16": "UTF-16",
}


@dataclass
class CustomerFile:
    """A file as the user gave it: its headers, how many rows it has, and how it was written.

    The rows are not kept: ``rows()`` reads them again from the file, a few at a time, so that an
    import holds one chunk of them at once (a 200,000-row list built whole took 600 MB).
    """

    headers: list[str]
    row_count: int
    file_format: str  # "csv" or "xlsx"
    encoding: str | None  # of a CSV file: "utf-8-sig", "utf-8", "gb18030" or "utf-16"
    open_rows: Callable[[], Iterator]  # the raw rows, the header first

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.encoding or "", "")

    def rows(self) -> Iterator[tuple]:
        """The rows under the header, as wide as it (blank rows kept, trailing blank rows dropped)."""
        rows = self.open_rows()
        next(rows, None)
        return table_rows(rows, len(self.headers))

    @property
    def dataset(self) -> Table:
        """All the rows at once: for tests and small files only."""
        return Table(headers=self.headers, rows=list(self.rows()))


@dataclass
class RowProblem:
    line: int  # row number in the spreadsheet, the header being row 1; 0 for the whole file
    reasons: list[str]
    row: tuple | None = None  # its cells as the file has them, for the rejected-rows file


@dataclass
class ImportOutcome:
    file_name: str
    source: CustomerFile
    dry_run: bool
    total: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    error_count: int = 0
    # The first PROBLEMS_KEPT rows with errors (error_count counts them all), and skipped rows likewise.
    problems: list[RowProblem] = field(default_factory=list)
    skipped_rows: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    # Columns we have no field for, written into the customer note as "header: value" lines.
    noted_columns: list[str] = field(default_factory=list)
    customer_import: CustomerImport | None = None

    @property
    def ok(self) -> bool:
        return not self.error_count

    @property
    def problems_more(self) -> int:
        return self.error_count - len(self.problems)

    @property
    def skipped_more(self) -> int:
        return self.skipped - len(self.skipped_rows)


def outcome_as_json(outcome: ImportOutcome) -> dict:
    """What the preview page shows of an outcome, for a background check to store in its job."""
    return {
        "file_name": outcome.file_name,
        "file_format": outcome.source.file_format,
        "encoding": outcome.source.encoding,
        "counts": [outcome.total, outcome.new, outcome.updated, outcome.skipped, outcome.error_count],
        "problems": [[problem.line, problem.reasons] for problem in outcome.problems],
        "skipped_rows": [[row.line, row.reasons] for row in outcome.skipped_rows],
        "ignored_columns": outcome.ignored_columns,
        "noted_columns": outcome.noted_columns,
    }


def outcome_from_json(data: dict) -> ImportOutcome:
    total, new, updated, skipped, error_count = data["counts"]
    source = CustomerFile(
        headers=[],
        row_count=total,
        file_format=data["file_format"],
        encoding=data["encoding"],
        open_rows=lambda: iter(()),
    )
    return ImportOutcome(
        file_name=data["file_name"],
        source=source,
        dry_run=True,
        total=total,
        new=new,
        updated=updated,
        skipped=skipped,
        error_count=error_count,
        problems=[RowProblem(line=line, reasons=reasons) for line, reasons in data["problems"]],
        skipped_rows=[RowProblem(line=line, reasons=reasons) for line, reasons in data["skipped_rows"]],
        ignored_columns=data["ignored_columns"],
        noted_columns=data["noted_columns"],
    )


def customer_files_count_rows(*, file: BinaryIO | bytes, encoding: str = "auto") -> int:
    """The rows of a file, counted without building them, to choose between a preview in the request
    and a background check: exact for a CSV file (its streaming check), the row tags of an xlsx file
    (its bounds checked, its cells not parsed). Raises ValidationError as ``customer_files_read``."""
    file = binary_file(file)
    file_size_check(file_size(file))
    if file_head(file).startswith(b"PK\x03\x04"):
        return max(xlsx_row_tags(file) - 1, 0)
    return customer_files_read(file=file, encoding=encoding).row_count


def binary_file(file: BinaryIO | bytes) -> BinaryIO:
    """The file an import reads, from its start and a chunk at a time, never whole: an open binary
    file (the upload's temporary file, the stored upload, a path opened by the command) as it is;
    bytes (a small file, the tests) through a BytesIO, which does not copy them."""
    return io.BytesIO(file) if isinstance(file, bytes | bytearray) else file


def file_size(file: BinaryIO) -> int:
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    return size


def file_head(file: BinaryIO, size: int = 4) -> bytes:
    file.seek(0)
    return file.read(size)


def file_chunks(file: BinaryIO) -> Iterator[bytes]:
    """The file's bytes from its start, DECODE_CHUNK at a time."""
    file.seek(0)
    while chunk := file.read(DECODE_CHUNK):
        yield chunk


def not_a_table() -> ValidationError:
    return ValidationError(
        _("This file is not a table that can be imported: save it as CSV or Excel (.xlsx)."),
        code="not_a_table",
    )


# Columns of an xlsx sheet read at most: a cell at column XFD would otherwise make every row 16,384 wide.
MAX_COLUMNS = 200
# An xlsx file unpacks to at most this many times IMPORT_MAX_FILE_MB (a zip bomb is refused unread).
XLSX_EXPANSION = 20
DECODE_CHUNK = 1 << 20


def file_size_check(size: int) -> None:
    """The one check of an import file's size, made before it is read (the form, the command, the service)."""
    if size > settings.IMPORT_MAX_FILE_MB * 1024 * 1024:
        raise ValidationError(
            _("The file is larger than %(size)d MB: split it.") % {"size": settings.IMPORT_MAX_FILE_MB},
            code="too_large",
        )


def too_many_rows() -> ValidationError:
    return ValidationError(
        _("The file has more than %(count)d rows: split it into files of at most %(count)d rows.")
        % {"count": settings.IMPORT_MAX_ROWS},
        code="too_many_rows",
    )


def unknown_encoding() -> ValidationError:
    return ValidationError(
        _(
            "The file is neither UTF-8 nor GBK / GB18030 text (nor UTF-16, Excel's Unicode text), the "
            "encodings that can be imported: save it as CSV UTF-8."
        ),
        code="encoding",
    )


def looks_like_gb18030(*, unusual: int, common: int) -> bool:
    """Text decoded as GB18030 that is Chinese rather than mojibake: Latin-1 or Big5 bytes mostly decode
    to the rare characters outside GB2312 (an accented letter and the ASCII letter after it make one).
    ``unusual`` counts the text's characters outside GB2312, ``common`` its non-ASCII ones inside."""
    # Names hold the odd rare character (镕, 堃); a quarter of them is no Chinese text.
    return unusual * 3 <= common or unusual < 2


def gb2312_counts(text: str) -> tuple[int, int]:
    """(characters outside GB2312, non-ASCII characters inside it) of ``text``, counted by the codecs
    in C: what GB2312 cannot encode is dropped, ASCII is one byte of it."""
    inside = len(text.encode("gb2312", errors="ignore").decode("gb2312"))
    ascii_count = len(text.encode("ascii", errors="ignore"))
    return len(text) - inside, inside - ascii_count


def decodes_as(file: BinaryIO, encoding: str, *, check_chinese: bool) -> bool:
    """Whether the whole file decodes, read a chunk at a time (never whole)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    unusual = common = 0
    try:
        for chunk in file_chunks(file):
            text = decoder.decode(chunk)
            if "\x00" in text:
                raise not_a_table()
            if check_chinese:
                more_unusual, more_common = gb2312_counts(text)
                unusual, common = unusual + more_unusual, common + more_common
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return not check_chinese or looks_like_gb18030(unusual=unusual, common=common)


def text_encoding(file: BinaryIO, encoding: str) -> str:
    """The encoding a CSV file is in. ``auto``: UTF-8 (with or without BOM) when the bytes are valid
    UTF-8, else GB18030, the superset of GBK that Excel in China writes, when they read as Chinese."""
    head = file_head(file)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]  # Excel's "Unicode text"
    elif any(b"\x00" in chunk for chunk in file_chunks(file)):
        raise not_a_table()
    elif encoding == "auto":
        candidates = ["utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8", "gb18030"]
    else:
        candidates = ["utf-8-sig" if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8) else encoding]
    for candidate in candidates:
        check_chinese = encoding == "auto" and candidate == "gb18030"
        if decodes_as(file, candidate, check_chinese=check_chinese):
            return candidate
    if encoding == "auto":
        raise unknown_encoding()
    raise ValidationError(
        _("The file cannot be read as %(encoding)s text. Choose another encoding, or save it as CSV UTF-8.")
        % {"encoding": ENCODING_LABELS.get(candidates[-1], candidates[-1])},
        code="encoding",
    )


def is_blank(row) -> bool:
    # any(row): a cell that is neither None nor "" (nor 0, which is a value too: the slow path).
    return not any(row) and not any(cell not in (None, "") for cell in row)


def table_headers(header) -> list[str]:
    headers = ["" if cell is None else str(cell).strip() for cell in header]
    while headers and not headers[-1]:
        headers.pop()
    return headers


def table_rows(rows, width: int):
    """The rows under a header of ``width`` columns, as tuples of that width; trailing blank rows
    dropped. Counted as they are read: past IMPORT_MAX_ROWS the file is refused before the rest is
    read, and blank rows take no memory until a filled row follows them."""
    blanks, max_rows, padding = 0, settings.IMPORT_MAX_ROWS, (None,) * width
    for count, row in enumerate(rows, start=1):
        if count > max_rows:
            raise too_many_rows()
        if is_blank(row):
            blanks += 1
            continue
        if blanks:
            yield from itertools.repeat(padding, blanks)
            blanks = 0
        yield tuple(row[:width]) + padding[len(row) :] if len(row) < width else tuple(row[:width])


def count_table_rows(rows) -> int:
    """How many rows ``table_rows`` makes of ``rows``, with its bound, without making them."""
    last_filled, max_rows = 0, settings.IMPORT_MAX_ROWS
    for count, row in enumerate(rows, start=1):
        if count > max_rows:
            raise too_many_rows()
        if not is_blank(row):
            last_filled = count
    return last_filled


def checked_table(open_rows, *, count_rows: bool = True) -> tuple[list[str], int]:
    """The headers and the row count of a table whose first row is the header, read once as a stream
    (nothing kept); one clear ValidationError when it is empty, headless, without rows or too long.
    Without ``count_rows`` only the header is read (the count is 0)."""
    rows = open_rows()
    header = next(rows, None)
    if header is None:
        raise ValidationError(_("The file is empty."), code="empty")
    headers = table_headers(header)
    if not headers:
        if is_blank(header) and next(rows, None) is None:
            raise ValidationError(_("The file is empty."), code="empty")
        raise ValidationError(_("The first row of the file must hold the column headers."), code="no_headers")
    if not count_rows:
        return headers, 0
    count = count_table_rows(rows)
    if not count:
        raise ValidationError(_("The file has headers but no rows to import."), code="no_rows")
    return headers, count


def too_many_columns() -> ValidationError:
    return ValidationError(
        _("A row of the file has more than %(count)d columns: save only the columns of the customer list.")
        % {"count": MAX_COLUMNS},
        code="too_many_columns",
    )


QUOTED = re.compile(r'"[^"]*"')


def bounded_lines(lines, delimiter: str):
    """The lines of a CSV file, refused as soon as one holds more than MAX_COLUMNS cells (a line of a
    million commas would make a row of a million cells before any check could see it)."""
    for line in lines:
        # Commas inside quoted cells are not separators; count them out only when the count is high.
        if line.count(delimiter) >= MAX_COLUMNS and QUOTED.sub("", line).count(delimiter) >= MAX_COLUMNS:
            raise too_many_columns()
        yield line


def text_lines(file: BinaryIO, encoding: str):
    """The file's text from its start, as lines (newlines kept, for the csv module to read)."""
    file.seek(0)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        # Not ``yield from``: an early stop would close the wrapper, and with it the file.
        for line in text:  # noqa: UP028
            yield line
    finally:
        # Nor may the wrapper close it when it goes: the file is the caller's, read again later.
        if not file.closed:
            text.detach()


def csv_rows(file: BinaryIO, encoding: str, delimiter: str):
    try:
        yield from csv.reader(bounded_lines(text_lines(file, encoding), delimiter), delimiter=delimiter)
    except csv.Error as error:
        raise not_a_table() from error


def customer_files_read(*, file: BinaryIO | bytes, encoding: str = "auto") -> CustomerFile:
    """Check an uploaded file (read once as a stream, counting its rows); one clear ValidationError
    when it cannot be imported at all. ``file``: see ``binary_file``; its rows are read from it again
    by ``rows()``, so it must stay open until the import is over."""
    file = binary_file(file)
    file_size_check(file_size(file))
    if not any(chunk.strip() for chunk in file_chunks(file)):
        raise ValidationError(_("The file is empty."), code="empty")
    head = file_head(file)
    if head.startswith(b"PK\x03\x04"):
        # Its bounds were checked in its bytes; its cells are parsed once, by the import (openpyxl
        # reads a few thousand rows a second: a second pass would double a preview).
        count = max(xlsx_row_tags(file) - 1, 1)
        open_rows = functools.partial(xlsx_sheet_rows, file)
        headers, _none = checked_table(open_rows, count_rows=False)
        return CustomerFile(
            headers=headers, row_count=count, file_format="xlsx", encoding=None, open_rows=open_rows
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationError(
            _("Old Excel .xls files cannot be read: save the file as .xlsx or CSV."), code="xls"
        )
    used = text_encoding(file, encoding)
    first_line = next(text_lines(file, used), "")
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    open_rows = functools.partial(csv_rows, file, used, delimiter)
    headers, count = checked_table(open_rows)
    return CustomerFile(
        headers=headers, row_count=count, file_format="csv", encoding=used, open_rows=open_rows
    )


# What openpyxl raises on a damaged file: a broken zip or XML, a missing part, a value of the wrong type.
BROKEN_XLSX = (zipfile.BadZipFile, zlib.error, KeyError, OSError, EOFError, ValueError, TypeError)
BROKEN_XLSX += (AttributeError, IndexError, SyntaxError)  # SyntaxError: ElementTree's and lxml's ParseError


# Where Excel, WPS, LibreOffice and openpyxl put the sheets; the row count while reading covers the rest.
WORKSHEET_PART = re.compile(r"(^|/)worksheets/[^/]+\.xml$")
ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
ROW_NUMBER = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\s[^>]*?\br=\"(\d{1,9})\"")


def count_row_tags(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    """The ``<row>`` elements of a sheet, counted in its bytes, or its highest row number when that
    is more (openpyxl makes the rows of a gap): a million empty rows are refused in a tenth of a
    second, where openpyxl's parser would take seconds and keep every element it read. A number cut
    by a chunk boundary may be missed: the import's own count of the rows it reads refuses the file
    then."""
    count, tail = 0, b""
    with archive.open(member) as stream:
        while chunk := stream.read(DECODE_CHUNK):
            window = tail + chunk
            count += len(ROW_TAG.findall(window))
            if numbers := ROW_NUMBER.findall(window):
                count = max(count, int(numbers[-1]))
            # A tag cut by the chunk boundary is counted in the next window, and only there.
            cut = window.rfind(b"<", max(len(window) - 64, 0))
            tail = window[cut:] if cut >= 0 and not ROW_TAG.search(window, cut) else b""
    return count


def xlsx_rows(sheet):
    """The rows of a read-only sheet, as wide as its header row, whatever its ``<dimension>`` claims."""
    # openpyxl's read-only sheet trusts <dimension>: A1:XFD1048576 in a 5 KB file made a million rows.
    sheet.reset_dimensions()
    header = next(sheet.iter_rows(max_row=1, max_col=MAX_COLUMNS, values_only=True), ())
    yield header
    width = len(header)
    while width and header[width - 1] in (None, ""):
        width -= 1
    if width:
        yield from sheet.iter_rows(min_row=2, max_col=width, values_only=True)


def xlsx_row_tags(file: BinaryIO) -> int:
    """The rows of the largest sheet, by its row tags and their row numbers, once the unpacked size
    is known to be within bounds; a file past them is refused unparsed."""
    most = 0
    try:
        with zipfile.ZipFile(file) as archive:
            # zipfile never unpacks a member past its declared size, so the sum bounds what is read.
            unpacked = sum(member.file_size for member in archive.infolist())
            if unpacked > settings.IMPORT_MAX_FILE_MB * XLSX_EXPANSION * 1024 * 1024:
                raise ValidationError(
                    _("This Excel file unpacks to more than %(size)d MB: split it, or save it as CSV.")
                    % {"size": settings.IMPORT_MAX_FILE_MB * XLSX_EXPANSION},
                    code="too_large",
                )
            for member in archive.infolist():
                if WORKSHEET_PART.search(member.filename):
                    most = max(most, count_row_tags(archive, member))
                    if most > settings.IMPORT_MAX_ROWS + 1:
                        raise too_many_rows()
    except BROKEN_XLSX as error:
        raise not_a_table() from error
    return most


def xlsx_sheet_rows(file: BinaryIO):
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except (*BROKEN_XLSX, InvalidFileException) as error:
        raise not_a_table() from error
    try:
        sheet = workbook.active
        if not hasattr(sheet, "iter_rows"):  # no sheet at all, or a chart sheet
            raise not_a_table()
        yield from xlsx_rows(sheet)
    except BROKEN_XLSX as error:
        raise not_a_table() from error
    finally:
        workbook.close()


def customers_import(
    *,
    file: BinaryIO | bytes,
    file_name: str,
    user,
    encoding: str = "auto",
    dry_run: bool = False,
    keep_rejected: bool = True,
    progress=None,
) -> ImportOutcome:
    """Import a customer list all-or-nothing (one transaction; ``dry_run`` writes nothing).

    Raises ValidationError when the file is not an importable table. A file with bad rows writes
    no customer; unless ``keep_rejected`` is off, a real (not dry-run) attempt is kept in the history
    with its error count. A dry run writes nothing at all, not even history. ``file``: an open binary
    file, read a chunk at a time (or bytes, see ``binary_file``).
    """
    source = customer_files_read(file=file, encoding=encoding)
    columns = CustomerResource.prepare_columns(source.headers)
    resource = CustomerResource(user=user, file_name=file_name, progress=progress)
    with transaction.atomic():
        totals = resource.import_rows(source.rows(), columns, total=source.row_count, dry_run=dry_run)
        if not totals.rows:
            raise ValidationError(_("The file has headers but no rows to import."), code="no_rows")
        if dry_run or totals.error_count:
            # All or nothing: a file with bad rows writes no customer (a dry run wrote none anyway).
            transaction.set_rollback(True)
    outcome = ImportOutcome(
        file_name=file_name,
        source=source,
        dry_run=dry_run,
        total=totals.rows,
        new=totals.new,
        updated=totals.updated,
        skipped=totals.skipped,
        error_count=totals.error_count,
        problems=[RowProblem(line=line, reasons=reasons, row=row) for line, reasons, row in totals.problems],
        skipped_rows=[RowProblem(line=line, reasons=[note]) for line, note in totals.skipped_rows],
        ignored_columns=columns.ignored,
        noted_columns=columns.noted,
        customer_import=resource.customer_import,
    )
    if outcome.error_count and keep_rejected and not dry_run:
        outcome.customer_import = CustomerImport.objects.create(
            user=user, file_name=file_name[:255], error_count=outcome.error_count
        )
    return outcome


def rejected_cell(value):
    """A cell of the rejected-rows file: a date typed in Excel comes back as the date the import reads."""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value


def customer_imports_rejected_file(*, outcome: ImportOutcome) -> tuple[bytes, str, str]:
    """The rejected rows in the file's own format and columns, plus a reason column.

    A cell that a spreadsheet would run as a formula (a bought list may hold ``=HYPERLINK(…)``) is
    written as text: quote-prefixed in xlsx, behind an apostrophe in csv, which the import drops again.
    Returns (content, file name, content type).
    """
    headers = [*outcome.source.headers, _("Reason of rejection")]
    rows = [
        [*map(rejected_cell, problem.row), "；".join(problem.reasons)]
        for problem in outcome.problems
        if problem.row is not None
    ]
    stem = PurePath(outcome.file_name).stem or "customers"
    if outcome.source.file_format == "xlsx":
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        buffer = io.BytesIO()
        write_xlsx(buffer, headers, rows, is_formula_like=is_formula_like, title=stem)
        return buffer.getvalue(), f"{stem}-rejected.xlsx", content_type
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headers)
    writer.writerows([csv_safe(value) for value in row] for row in rows)
    # The same encoding as the file, so that Excel opens it as it opened the original.
    encoding = "gb18030" if outcome.source.encoding == "gb18030" else "utf-8-sig"
    return text.getvalue().encode(encoding), f"{stem}-rejected.csv", f"text/csv; charset={encoding}"


@dataclass
class RevertOutcome:
    deleted: int = 0
    emptied: int = 0
    kept: list[str] = field(default_factory=list)


def referenced_customer_ids(ids: list[int]) -> set[int]:
    """Those of ``ids`` that something else refers to: follow-ups, enrollments, payments, classes…"""
    referenced = set()
    for chunk in query_chunks(ids):
        for relation in Customer._meta.related_objects:
            rows = relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": chunk})
            if relation.related_model is CustomerTransfer:
                rows = rows.exclude(reason=CustomerTransfer.Reason.IMPORT)
            referenced.update(rows.values_list(relation.field.attname, flat=True))
        forward = Q(user__isnull=False) | Q(class_list__isnull=False) | Q(introduce_from__isnull=False)
        referenced.update(Customer.objects.filter(forward, pk__in=chunk).values_list("pk", flat=True))
    return referenced


def empty_value(name: str):
    if name == "course":
        return []
    return None if Customer._meta.get_field(name).null else ""


@transaction.atomic
def customer_imports_revert(*, customer_import: CustomerImport, user) -> RevertOutcome:
    """Undo an import: delete the customers it created that nothing refers to yet, empty the fields
    it filled that nobody changed since. What cannot be undone is listed in the report."""
    # Lock the history entry: two admins reverting at once must not both undo it.
    entry = CustomerImport.objects.select_for_update().get(pk=customer_import.pk)
    if entry.reverted_on:
        raise ValidationError(_("%(import)s was already reverted.") % {"import": entry})
    if not entry.created_ids and not entry.filled_fields:
        raise ValidationError(
            _("%(import)s wrote nothing, so there is nothing to revert.") % {"import": entry}
        )
    outcome = RevertOutcome()
    created = list(entry.created_ids)
    referenced = referenced_customer_ids(created)
    for chunk in query_chunks(sorted(referenced)):
        for customer in Customer.objects.filter(pk__in=chunk):
            outcome.kept.append(_("%(customer)s: kept, other records refer to it.") % {"customer": customer})
    deletable = [pk for pk in created if pk not in referenced]
    for chunk in query_chunks(deletable):
        outcome.deleted += Customer.objects.filter(pk__in=chunk).delete()[1].get(Customer._meta.label, 0)

    filled = {int(pk): fields for pk, fields in entry.filled_fields.items()}
    changed, changed_fields = [], set()
    for chunk in query_chunks(sorted(filled)):
        for customer in Customer.objects.filter(pk__in=chunk):
            emptied = []
            for name, value in filled[customer.pk].items():
                current = getattr(customer, name)
                current = current.isoformat() if hasattr(current, "isoformat") else current
                if current == value or (isinstance(value, list) and list(current or []) == value):
                    setattr(customer, name, empty_value(name))
                    emptied.append(name)
                else:
                    outcome.kept.append(
                        _("%(customer)s: %(field)s was changed after the import, kept.")
                        % {"customer": customer, "field": Customer._meta.get_field(name).verbose_name}
                    )
            if emptied:
                changed.append(customer)
                changed_fields.update(emptied)
    if changed:
        Customer.objects.bulk_update(changed, sorted(changed_fields), batch_size=1000)
    outcome.emptied = len(changed)

    entry.reverted_on = timezone.now()
    entry.reverted_by = user
    entry.revert_report = "\n".join(
        [
            _("%(deleted)d customers deleted, %(emptied)d customers' filled fields emptied.")
            % {"deleted": outcome.deleted, "emptied": outcome.emptied},
            *outcome.kept,
        ]
    )
    entry.save(update_fields=["reverted_on", "reverted_by", "revert_report"])
    return outcome
