"""crm.formats: dates and money written one way in lists, pages and exports."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.template import Context, Template
from django.utils.formats import date_format

from crm import formats

SHANGHAI = ZoneInfo("Asia/Shanghai")
LATE_EVENING_UTC = datetime.datetime(2026, 11, 27, 23, 30, tzinfo=datetime.UTC)  # 07:30 the next day here


def test_dates_and_datetimes_are_written_one_way_in_local_time():
    assert formats.format_date(datetime.date(2026, 3, 1)) == "2026-03-01"
    assert formats.format_date(LATE_EVENING_UTC) == "2026-11-28"
    assert formats.format_datetime(LATE_EVENING_UTC) == "2026-11-28 07:30"
    assert formats.format_date(None) == formats.format_datetime(None) == ""


def test_templates_use_the_same_formats_as_python_code():
    # Finding 13: dates were formatted four ways; Django's own zh_Hans formats say 2026年11月27日.
    day = datetime.date(2026, 11, 27)
    rendered = Template(
        '{{ day|date }}|{{ day|date:"SHORT_DATE_FORMAT" }}|{{ moment|date:"SHORT_DATETIME_FORMAT" }}'
    )
    moment = LATE_EVENING_UTC.astimezone(SHANGHAI)
    assert (
        rendered.render(Context({"day": day, "moment": moment})) == "2026-11-27|2026-11-27|2026-11-28 07:30"
    )
    assert date_format(day) == formats.format_date(day)


def test_exports_get_local_values_without_a_zone():
    assert formats.local_date(LATE_EVENING_UTC) == datetime.date(2026, 11, 28)
    assert formats.local_datetime(LATE_EVENING_UTC) == datetime.datetime(2026, 11, 28, 7, 30)
    assert formats.local_datetime(None) is None


@pytest.mark.parametrize(
    ("amount", "text"),
    [(12345, "¥12,345"), (-2000, "-¥2,000"), (0, "¥0"), (None, "¥0"), (1_000_000, "¥1,000,000")],
)
def test_money_reads_as_yuan(amount, text):
    assert formats.yuan(amount) == text
    assert Template("{% load crm_formats %}{{ amount|yuan }}").render(Context({"amount": amount})) == text


@pytest.mark.parametrize("day", [datetime.date(1900, 1, 1), datetime.date(2100, 12, 31)])
def test_dates_of_the_years_1900_to_2100_are_accepted(day):
    formats.validate_year_range(day)


@pytest.mark.parametrize(
    "day", [datetime.date(1, 1, 1), datetime.date(1899, 12, 31), datetime.date(9999, 12, 31)]
)
def test_dates_beyond_are_refused(day):
    with pytest.raises(ValidationError, match="1900 至 2100"):
        formats.validate_year_range(day)
