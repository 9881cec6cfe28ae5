"""Buttons in the cells of a list that POST one row's action (领取, 释放, 确认收款, 驳回).

Forms cannot nest and the list is itself a form: every button names, with its ``form`` attribute, one
form rendered after the list (admin/crm/row_actions_form.html) that carries only the CSRF token, and
says with ``formaction`` where it posts. No script: the content security policy forbids inline ones.
"""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils.html import format_html

# The one form the row buttons of a list submit (``<button form=... formaction=...>``): rendered after
# the changelist's own form, since forms cannot nest (admin/crm/row_actions_form.html).
ROW_ACTIONS_FORM = "crm-row-actions"


def row_button(url: str, label: str, *, danger: bool = False) -> str:
    """A button in a list cell that POSTs (with the CSRF token of ROW_ACTIONS_FORM) to ``url``."""
    return format_html(
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
