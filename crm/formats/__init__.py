"""How the school writes dates and money, in one place.

Django reads the date formats of ``zh_Hans/formats.py`` (``FORMAT_MODULE_PATH``) for templates and
forms; the functions below are the same formats for Python code (admin columns, exports), so that a
list, a page and a spreadsheet show a date one way. Exports write real dates: ``local_date`` and
``local_datetime`` give the values, the xlsx writer stores them as Excel dates in ``EXCEL_*`` formats.
"""

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

# Excel's number formats for the same two formats as SHORT_DATE_FORMAT and SHORT_DATETIME_FORMAT.
EXCEL_DATE_FORMAT = "yyyy-mm-dd"
EXCEL_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def local_date(value: datetime.date | datetime.datetime | None) -> datetime.date | None:
    """The local day (TIME_ZONE) of an aware datetime; a date as it is."""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def local_datetime(value: datetime.datetime | None) -> datetime.datetime | None:
    """An aware datetime as naive local time to the minute, as lists show it (spreadsheets have no zones)."""
    if value is None:
        return None
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.replace(tzinfo=None, second=0, microsecond=0)


def format_date(value) -> str:
    """2026-11-27 (SHORT_DATE_FORMAT); "" for None."""
    day = local_date(value)
    return date_format(day, "SHORT_DATE_FORMAT") if day else ""


def format_datetime(value) -> str:
    """2026-11-27 14:30 in local time (SHORT_DATETIME_FORMAT); "" for None."""
    moment = local_datetime(value)
    return date_format(moment, "SHORT_DATETIME_FORMAT") if moment else ""


def format_month_day(value) -> str:
    """11月27日 (MONTH_DAY_FORMAT): short labels, such as the weeks of a chart."""
    day = local_date(value)
    return date_format(day, "MONTH_DAY_FORMAT") if day else ""


def yuan(value) -> str:
    """Whole yuan with thousands separators, the minus before the sign: ¥12,345, -¥2,000."""
    amount = int(value or 0)
    return f"{'-' if amount < 0 else ''}¥{abs(amount):,}"


# The years a date typed in a form or a URL may have: beyond them a period's bounds overflow
# (9999-12-31 plus a day) or the local midnight of year 1 has no UTC equivalent.
MIN_YEAR, MAX_YEAR = 1900, 2100


def validate_year_range(value: datetime.date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError(
            _("Give a date between the years %(min)s and %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR},
            code="year_range",
        )
