import datetime
import io

import openpyxl
import pytest

from crm.resources.streaming import csv_safe, is_formula_like
from crm.resources.xlsx import column_letter, write_xlsx


def read_back(headers, rows, title="工作表"):
    file = io.BytesIO()
    count = write_xlsx(file, headers, rows, is_formula_like=is_formula_like, title=title)
    file.seek(0)
    return count, openpyxl.load_workbook(file)


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")])
def test_column_letters(index, letters):
    assert column_letter(index) == letters


def test_values_keep_their_type_and_text_its_characters():
    count, workbook = read_back(
        ["名称", "金额"],
        [['<a & b> "q"', -2000], ["line\r\nbreak\x01", 3.5], [None, 0], [True, ""]],
        title="缴费记录",
    )

    sheet = workbook.active
    assert count == 4
    assert sheet.title == "缴费记录"
    assert list(sheet.iter_rows(values_only=True)) == [
        ("名称", "金额"),
        ('<a & b> "q"', -2000),
        ("line\r\nbreak", 3.5),
        (None, 0),
        (True, None),
    ]
    assert sheet["A1"].font.b


def test_dates_and_datetimes_are_excel_dates():
    day, moment = datetime.date(2026, 11, 27), datetime.datetime(2026, 11, 27, 14, 30)
    _count, workbook = read_back(["日期", "时间"], [[day, moment]])

    date_cell, datetime_cell = workbook.active["A2"], workbook.active["B2"]
    assert date_cell.is_date and date_cell.number_format == "yyyy-mm-dd"
    assert date_cell.value == datetime.datetime(2026, 11, 27)
    assert datetime_cell.is_date and datetime_cell.number_format == "yyyy-mm-dd hh:mm"
    assert datetime_cell.value == moment


def test_an_aware_datetime_is_refused_rather_than_written_in_utc():
    with pytest.raises(ValueError, match="time zone"):
        read_back(["x"], [[datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)]])


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1"])
def test_formula_like_text_stays_text(text):
    _count, workbook = read_back(["x"], [[text]])

    cell = workbook.active["A2"]
    assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True)


def test_plain_text_and_numbers_are_not_prefixed():
    assert csv_safe("张三") == "张三"
    assert csv_safe(-2000) == -2000
    assert csv_safe("=cmd") == "'=cmd"


@pytest.mark.parametrize(
    ("title", "sheet"), [("名单[1]: a/b?*", "名单1 ab"), ("'", "Sheet1"), ("x" * 40, "x" * 31)]
)
def test_sheet_names_excel_refuses_are_cleaned(title, sheet):
    _count, workbook = read_back(["A"], [["a"]], title=title)

    assert workbook.active.title == sheet
