"""crm.admin.rows's markup helpers write what Django's own functions write."""

import pytest
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy

from crm.admin.rows import cell_html, cell_html_join, escaped
from tests.factories import CampusFactory

VALUES = [
    "<b>\"张三\" & 'co'</b>",
    mark_safe("<b>safe</b>"),
    gettext_lazy("Release"),
    mark_safe(gettext_lazy("Release")),
    12,
    None,
    3.5,
    "",
]


@pytest.mark.parametrize("value", VALUES)
def test_escaped_is_conditional_escape(value):
    assert escaped(value) == conditional_escape(value)


@pytest.mark.django_db
def test_escaped_writes_a_model_instance_as_conditional_escape_does():
    campus = CampusFactory(name="<昌平> & 海淀")

    assert escaped(campus) == conditional_escape(campus)


@pytest.mark.parametrize("value", VALUES)
def test_cell_html_is_format_html(value):
    written = cell_html('<a href="{}?customer={}">{}</a>', value, 5, value)

    assert written == format_html('<a href="{}?customer={}">{}</a>', value, 5, value)
    assert isinstance(written, SafeString)


def test_cell_html_join_is_format_html_join():
    rows = [(value,) for value in VALUES]

    written = cell_html_join(mark_safe("<br>"), "<span>{}</span>", rows)

    assert written == format_html_join(mark_safe("<br>"), "<span>{}</span>", rows)
    assert cell_html_join("<br>", "{}", rows) == format_html_join("<br>", "{}", rows)
    assert isinstance(written, SafeString)
    assert (cell_html_join(", ", "{}", []) or "-") == "-"
