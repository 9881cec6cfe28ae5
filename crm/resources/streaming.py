"""Write a django-import-export resource's rows to .xlsx or .csv without holding them all in memory,
and without letting a cell become a formula.

Stock django-import-export builds a tablib Dataset of every row, then a full openpyxl workbook (408 MB
and 18 s for 100k payments); here rows stream from a database cursor into the sheet of a workbook
written on a temporary file (or straight into the response for csv).
"""

import csv
import datetime
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db.models import Q
from django.http import FileResponse, StreamingHttpResponse
from django.utils.encoding import force_str
from django.utils.functional import Promise
from django.utils.http import content_disposition_header

from crm.formats import format_date, format_datetime
from crm.models.choices import choice_labels
from crm.resources.xlsx import write_xlsx

# A spreadsheet reads a cell starting with one of these as a formula (CSV/formula injection, OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 2000


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def csv_safe(value: Any) -> Any:
    """The csv value of a cell: text that a spreadsheet would run is prefixed with an apostrophe."""
    if isinstance(value, Promise):
        value = force_str(value)
    # Written as the lists show them, which spreadsheets read back as dates.
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    if isinstance(value, datetime.date):
        return format_date(value)
    if is_formula_like(value):
        return "'" + value
    return value


class NamesById:
    """The names of rows of a small table (classes, campuses, staff) by id, for the cells of an export.

    The rows ``bulk`` selects (all of them unless said) are read in one query at the first name asked
    for, so an export costs the same number of queries for one row as for a million, whatever number of
    classes or staff its rows refer to; an id outside them (a row added meanwhile) is read alone.
    """

    def __init__(self, queryset, *, name: Callable[[Any], str] = str, bulk: Q | None = None):
        self.queryset = queryset
        self.name = name
        self.bulk = bulk or Q()
        self.names: dict[Any, str] | None = None

    def __call__(self, pk) -> str:
        if pk is None:
            return ""
        if self.names is None:
            self.names = {row.pk: self.name(row) for row in self.queryset.filter(self.bulk)}
        if pk not in self.names:
            row = self.queryset.filter(pk=pk).first()
            self.names[pk] = "" if row is None else self.name(row)
        return self.names[pk]


class ChoiceLabels:
    """The labels of choices for the cells of an export, from ``choice_labels`` (translated once per
    language and process: ``get_FOO_display`` hashes and translates every choice of its field at each
    call, most of a customer export's time), looked up once per export.

    ``labels(name, code)`` is the label of ``code`` among the choices of the model's field ``name``
    (or of the ``Choices`` class ``choices[name]``), the code itself when it is not one of them.
    """

    def __init__(self, model, **choices):
        self.model = model
        self.choices = choices
        self.labels: dict[str, dict] = {}

    def of(self, name: str) -> dict:
        if name not in self.labels:
            self.labels[name] = choice_labels(self.choices.get(name) or self.model._meta.get_field(name))
        return self.labels[name]

    def __call__(self, name: str, code):
        return self.of(name).get(code, code)


def _row_getters(resource, fields) -> list[Callable[[Any], Any]]:
    # Resource.export_field looks the dehydrate method up again for every cell; resolve it once.
    getters = []
    for field in fields:
        method = field.get_dehydrate_method(resource.get_field_name(field))
        if not callable(method):
            method = getattr(resource, method, None)
        getters.append(method if method is not None else field.export)
    return getters


def iter_rows(resource, fields, queryset) -> Iterator[list[Any]]:
    """The export values of ``fields`` for each row of ``queryset``, read through a cursor in chunks."""
    getters = _row_getters(resource, fields)
    for instance in resource.filter_export(queryset).iterator(chunk_size=CHUNK_SIZE):
        yield [getter(instance) for getter in getters]


class _Echo:
    def write(self, value):
        return value


def iter_csv(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # The byte order mark makes Excel read the file as UTF-8 (Chinese otherwise turns to mojibake).
    yield "\ufeff" + writer.writerow(headers)
    for row in rows:
        yield writer.writerow([csv_safe(value) for value in row])


def export_response(resource, fields, queryset, file_format, filename: str, title: str = "Sheet"):
    """A download response of ``queryset`` through ``resource`` in ``file_format`` (xlsx or csv)."""
    headers = [force_str(field.column_name) for field in fields]
    rows = iter_rows(resource, fields, queryset)
    content_type = file_format.get_content_type()
    if file_format.get_extension() == "csv":
        response = StreamingHttpResponse(
            iter_csv(headers, rows), content_type=f"{content_type}; charset=utf-8"
        )
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
        return response
    file = tempfile.TemporaryFile()
    write_xlsx(file, headers, rows, is_formula_like=is_formula_like, title=title)
    file.seek(0)
    return FileResponse(file, as_attachment=True, filename=filename, content_type=content_type)
