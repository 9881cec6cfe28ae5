"""Buttons in the cells of a list that POST one row's action (领取, 释放, 确认收款, 驳回).

Forms cannot nest and the list is itself a form: every button names, with its ``form`` attribute, one
form rendered after the list (admin/crm/row_actions_form.html) that carries only the CSRF token, and
says with ``formaction`` where it posts. No script: the content security policy forbids inline ones.
"""

import copy
import functools
import html

from django import forms
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote
from django.forms.utils import ErrorList
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.safestring import SafeString, mark_safe

# The one form the row buttons of a list submit (``<button form=... formaction=...>``): rendered after
# the changelist's own form, since forms cannot nest (admin/crm/row_actions_form.html).
ROW_ACTIONS_FORM = "crm-row-actions"


# Stands for the row's key in a reversed URL: a key no list has, so it appears once, where the key goes.
_KEY = "987654321987654321"


@functools.lru_cache(maxsize=256)
def _reversed(name: str, keyed: bool, current_app: str | None, urlconf, prefix: str) -> tuple[str, str]:
    url = reverse(name, args=[_KEY] if keyed else None, current_app=current_app)
    head, _key, tail = url.partition(_KEY)
    return head, tail


def row_url(name: str, pk=None, *, current_app: str | None = None) -> str:
    """``reverse(name, args=[quote(pk)])`` (``reverse(name)`` without a key) for every row of a page, at
    the cost of one reverse per URL name, URL configuration and script prefix: a reverse walks the URL
    patterns, and a list page asked for four of them per row."""
    head, tail = _reversed(name, pk is not None, current_app, get_urlconf(), get_script_prefix())
    return f"{head}{quote(pk)}{tail}" if pk is not None else head


def row_button(url: str, label: str, *, danger: bool = False) -> str:
    """A button in a list cell that POSTs (with the CSRF token of ROW_ACTIONS_FORM) to ``url``."""
    return cell_html(
        '<button type="submit" form="{}" formaction="{}" class="button crm-row-button{}">{}</button>',
        ROW_ACTIONS_FORM,
        url,
        " crm-row-button-danger" if danger else "",
        label,
    )


def as_row_action(request, pk, action: str) -> None:
    """Make a row button's POST read like the bulk ``action`` posted with that one row selected, so the
    action (and its confirmation page, which posts back to the row's URL) runs unchanged."""
    post = request.POST.copy()
    post.setlist(ACTION_CHECKBOX_NAME, [str(pk)])
    post["action"] = action
    post["select_across"] = "0"
    request.POST = post


# --- the editable cells of a list (list_editable): 50 rows of three widgets each ---
# Django renders each widget, and each option of a select, through the template engine: two thirds of
# the study records' page. These render the same markup (Django 5.2's django/forms/widgets/select.html,
# select_option.html, input.html and attrs.html; pinned by tests/admin/test_teaching.py) from the
# widget's own context, without a template.


def escaped(value) -> str:
    """``django.utils.html.conditional_escape(value)``, without the lazy-argument wrappers Django's
    escaping functions (and ``format_html``) call for each of the thousands of values of a page."""
    if isinstance(value, Promise):
        value = str(value)
    markup = getattr(value, "__html__", None)
    return markup() if markup is not None else html.escape(str(value))


def cell_html(format_string: str, *args) -> SafeString:
    """``format_html(format_string, *args)``, for the cells of a list: the same markup, without the
    lazy-argument wrappers Django puts around the escaping of every value."""
    return SafeString(format_string.format(*[escaped(arg) for arg in args]))


def cell_html_join(separator, format_string: str, args_generator) -> SafeString:
    """``format_html_join(separator, format_string, args_generator)``, as ``cell_html``."""
    return SafeString(escaped(separator).join(cell_html(format_string, *args) for args in args_generator))


def _attrs(attrs: dict) -> str:
    return "".join(
        f" {name}" if value is True else f' {name}="{escaped(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class CellSelect(forms.Select):
    """A select whose options are written once for all the rows of the list (the rows' copies share
    them, in the active language), each row marking its own value selected: the options' markup, and
    the translation of their lazy labels, were most of the page (50 rows x two selects x 5 to 13
    options)."""

    def __init__(self, attrs=None, choices=()):
        super().__init__(attrs, choices)
        self._options_written = {}  # language -> (the choices written, their markup)

    def __deepcopy__(self, memo):
        # Copied for each row of the list (each form deep-copies its fields): the choices, a list of
        # tuples nobody changes in place, are shared, where Django copies and normalizes them again.
        widget = copy.copy(self)
        widget.attrs = self.attrs.copy()
        memo[id(self)] = widget
        return widget

    def written_options(self) -> list[tuple[str | None, list[tuple[str, str, str]]]]:
        """Per group of options (Django 5.2's ChoiceWidget.optgroups): its label's markup (None for
        no group) and its options, each as the value compared with the row's and its markup before
        and after where `` selected`` goes."""
        language = translation.get_language()
        written = self._options_written.get(language)
        if written is None or written[0] is not self.choices:
            groups = []
            for value, label in self.choices:
                if isinstance(label, (list, tuple)):
                    group, options = value, label
                else:
                    group, options = None, [("" if value is None else value, label)]
                markup = [
                    (str(option), f'<option value="{escaped(option)}"', f">{escaped(text)}</option>")
                    for option, text in options
                ]
                groups.append((escaped(group) if group else None, markup))
            written = self._options_written[language] = (self.choices, groups)
        return written[1]

    def render(self, name, value, attrs=None, renderer=None):
        # Django 5.2's Select.get_context and select.html, select_option.html and attrs.html.
        chosen = self.format_value(value)
        attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            attrs["multiple"] = True
        found, parts = False, []
        for group, options in self.written_options():
            if group is not None:
                parts.append(f'<optgroup label="{group}">')
            for option, before, after in options:
                selected = (not found or self.allow_multiple_selected) and option in chosen
                found |= selected
                parts.append(f"{before} selected{after}" if selected else f"{before}{after}")
            if group is not None:
                parts.append("</optgroup>")
        return mark_safe(f'<select name="{escaped(name)}"{_attrs(attrs)}>{"".join(parts)}</select>')


def _input(widget: forms.widgets.Input, name, value, attrs) -> str:
    widget = widget.get_context(name, value, attrs)["widget"]
    shown = f' value="{escaped(widget["value"])}"' if widget["value"] is not None else ""
    attrs = _attrs(widget["attrs"])
    kind, name = escaped(widget["type"]), escaped(widget["name"])
    return mark_safe(f'<input type="{kind}" name="{name}"{shown}{attrs}>')


class CellTextInput(forms.TextInput):
    def render(self, name, value, attrs=None, renderer=None):
        return _input(self, name, value, attrs)


class CellHiddenInput(forms.HiddenInput):
    def render(self, name, value, attrs=None, renderer=None):
        return _input(self, name, value, attrs)


class CellChoiceField(forms.TypedChoiceField):
    """A cell's choice field (a model field with choices), copied for each row of the list with its
    choices shared (see CellSelect.__deepcopy__), where Django deep-copies them for each form."""

    def __deepcopy__(self, memo):
        return forms.Field.__deepcopy__(self, memo)


def cell_formfield_callback(formfield_for_dbfield):
    """The ``formfield_callback`` of a list's row form (``get_changelist_form``): the admin's own form
    field of each model field, a CellChoiceField for a field with choices."""

    def formfield(db_field, **kwargs):
        if db_field.choices is not None:
            kwargs.setdefault("choices_form_class", CellChoiceField)
        return formfield_for_dbfield(db_field, **kwargs)

    return formfield


class CellErrorList(ErrorList):
    """A cell's errors. Django renders an empty error list through two templates (errors/list/
    default.html including ul.html) to print nothing, before each of the page's editable cells; the
    errors of a rejected save are rendered as Django renders them."""

    def __str__(self):
        return self.render() if self.data else ""

    __html__ = __str__


class CellFormSet(forms.BaseModelFormSet):
    """The formset of a list's editable cells (``get_changelist_formset``): each row's key, a hidden
    input, is written without a template too, and a cell without errors prints none without one."""

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "error_class": CellErrorList}

    def add_fields(self, form, index):
        super().add_fields(form, index)
        key = form.fields[self.model._meta.pk.name]
        if isinstance(key.widget, forms.HiddenInput):
            key.widget = CellHiddenInput(attrs=key.widget.attrs)
