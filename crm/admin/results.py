"""The rows of a list page, as Django's ``{% result_list %}`` renders them, at a fraction of its cost.

Django 5.2's ``admin_list.items_for_result`` works out, for every cell of the page, what is the same for
the whole column: it looks the column's name up among the model's fields (raising and catching
FieldDoesNotExist for each cell of an admin method's column), reads the admin's empty value, flattens
a field's choices into a new dict, and writes the cell through ``format_html``'s lazy wrappers; the
template then renders each cell as a variable. On a page of 20 rows and 15 columns that was a quarter
of the page's time.

Here a column is worked out once per page (``Column``), and each row's cells are written as one
string. The markup is Django 5.2's to the byte, for every list of ours, with links, the action
checkbox, booleans, choices, dates, related objects, empty values, popups, preserved filters and
list_editable forms (pinned by tests/admin/test_results.py against ``admin_list.results``).
"""

import datetime

from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    result_headers,
    result_hidden_fields,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field, display_for_value, lookup_field
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch
from django.utils.safestring import SafeString

from crm.admin.rows import escaped


def model_field(opts, name):
    """The model field ``lookup_field`` (Django 5.2's ``_get_non_gfk_field``) reads the column from,
    or None for a column it computes: a callable, an admin or model method, a property, a reverse
    relation, a generic foreign key, a ``<fk>_id`` column or a path through relations."""
    if callable(name):
        return None
    try:
        field = opts.get_field(name)
    except FieldDoesNotExist:
        return None
    if field.is_relation and ((field.many_to_one and not field.related_model) or field.one_to_many):
        return None
    if field.is_relation and not field.many_to_many and hasattr(field, "attname") and field.attname == name:
        return None
    return field


class Column:
    """One column of the list, worked out once per page; ``cell(result, form)`` writes a row's cell."""

    def __init__(self, cl, index: int, name, *, link: bool, first_link: bool):
        model_admin = cl.model_admin
        self.cl = cl
        self.name = name
        self.link = link
        self.tag = "th" if first_link else "td"
        # What a cell shows for an empty value: the admin's, or its column's own (``empty_value_display``
        # of an admin method), as Django reads it.
        self.admin_empty = self.empty = model_admin.get_empty_value_display()
        coerced = name
        if callable(name):
            coerced = f"lambda{index}" if name.__name__ == "<lambda>" else name.__name__
        self.classes = f"field-{coerced}"
        self.field = model_field(cl.lookup_opts, name)
        self.attr = None
        self.boolean = False
        self.choices = None
        if self.field is not None:
            field = self.field
            self.value = self.field_value
            self.nowrap = isinstance(field, (models.DateField, models.TimeField, models.ForeignKey))
            if not field.auto_created and not isinstance(field.remote_field, models.ManyToOneRel):
                if getattr(field, "flatchoices", None):
                    self.choices = dict(field.flatchoices)
        elif callable(name) or (hasattr(model_admin, name) and name != "__str__"):
            self.attr = name if callable(name) else getattr(model_admin, name)
            self.value = self.computed_value
            self.empty = getattr(self.attr, "empty_value_display", self.empty)
            self.boolean = getattr(self.attr, "boolean", False)
            if name == "action_checkbox":
                self.classes = "action-checkbox"
        else:
            self.value = self.looked_up_value

    def field_value(self, result):
        return self.field, None, getattr(result, self.name)

    def computed_value(self, result):
        return None, self.attr, self.attr(result)

    def looked_up_value(self, result):
        return lookup_field(self.name, result, self.cl.model_admin)

    def cell(self, result, form) -> str:
        # Django 5.2's items_for_result, for one column.
        classes = self.classes
        empty = self.empty
        try:
            field, attr, value = self.value(result)
        except ObjectDoesNotExist:
            shown = self.admin_empty
        else:
            if attr is not None and self.attr is None:  # looked up on the model: its own settings
                empty = getattr(attr, "empty_value_display", empty)
            if isinstance(value, str) and value.strip() == "":
                value = ""
            if field is None or field.auto_created:
                boolean = self.boolean if self.attr is not None else getattr(attr, "boolean", False)
                if isinstance(attr, property) and hasattr(attr, "fget"):
                    boolean = getattr(attr.fget, "boolean", False)
                shown = display_for_value(value, empty, boolean)
                if isinstance(value, (datetime.date, datetime.time)):
                    classes = f"{classes} nowrap"
            else:
                if isinstance(field.remote_field, models.ManyToOneRel):
                    related = getattr(result, field.name)
                    shown = empty if related is None else related
                elif self.choices is not None:
                    try:
                        shown = self.choices.get(value, empty)
                    except TypeError:  # an unhashable value: Django's own lookup
                        shown = display_for_field(value, field, empty, avoid_link=self.link)
                else:
                    shown = display_for_field(value, field, empty, avoid_link=self.link)
                if self.nowrap:
                    classes = f"{classes} nowrap"
        if self.link:
            try:
                url = self.cl.url_for_result(result)
            except NoReverseMatch:
                inner = escaped(shown)
            else:
                cl = self.cl
                if cl.preserved_filters:
                    context = {"preserved_filters": cl.preserved_filters, "opts": cl.opts}
                    url = add_preserved_filters(context, url)
                popup = ""
                if cl.is_popup:
                    key = str(cl.to_field) if cl.to_field else cl.lookup_opts.pk.attname
                    popup = f' data-popup-opener="{escaped(result.serializable_value(key))}"'
                inner = f'<a href="{escaped(url)}"{popup}>{escaped(shown)}</a>'
            return f'<{self.tag} class="{classes}">{inner}</{self.tag}>'
        if (
            form is not None
            and self.name in form.fields
            and not (self.name == self.cl.model._meta.pk.name and form[self.name].is_hidden)
        ):
            bound = form[self.name]
            shown = SafeString(str(bound.errors) + str(bound))
        return f'<td class="{classes}">{escaped(shown)}</td>'


def columns(cl) -> list[Column]:
    links = cl.list_display_links
    built, first = [], True
    for index, name in enumerate(cl.list_display):
        if links is None:
            link = False
        else:
            link = (first and not links) or name in links
        built.append(Column(cl, index, name, link=link, first_link=link and first))
        if link:
            first = False
    return built


def results(cl):
    """``admin_list.results(cl)``: each row as a ResultList of its cells, here one string of them (a
    row with a form's non-field errors keeps its cells: the template spans them)."""
    page_columns = columns(cl)
    forms = cl.formset.forms if cl.formset else None
    pk_name = cl.model._meta.pk.name
    for position, result in enumerate(cl.result_list):
        if forms is not None and position >= len(forms):
            break  # Django zips the rows with the forms
        form = forms[position] if forms is not None else None
        cells = [column.cell(result, form) for column in page_columns]
        if form is not None and not form[pk_name].is_hidden:
            cells.append(f"<td>{escaped(form[pk_name])}</td>")
        if form is not None and form.non_field_errors():
            yield ResultList(form, [SafeString(cell) for cell in cells])
        else:
            yield ResultList(form, [SafeString("".join(cells))])


def result_list(cl):
    """``admin_list.result_list(cl)`` (Django 5.2) with ``results`` above."""
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for header in headers if header["sortable"] and header["sorted"]),
        "results": list(results(cl)),
    }
