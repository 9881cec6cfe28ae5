"""The intermediate page of a bulk action that asks before it changes anything, like Django's delete
confirmation: it lists what will change, may ask for details (a form), and posts the same action and
selection back with ``post=yes``."""

from django.contrib.admin import helpers
from django.template.response import TemplateResponse

# Rows listed by name on the page; the rest are counted.
LISTED_ROWS = 50


def is_confirmed(request) -> bool:
    return request.POST.get("post") == "yes"


def action_confirmation(
    model_admin,
    request,
    queryset,
    *,
    action: str,
    title: str,
    question: str,
    submit_label: str,
    form=None,
    describe=str,
):
    """The confirmation page of ``action`` over ``queryset``: a TemplateResponse the action returns.
    ``describe(row)`` is the line listing a row (its ``str`` unless given)."""
    count = queryset.count()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "submit_label": submit_label,
        "opts": model_admin.opts,
        "form": form,
        "objects": [describe(row) for row in queryset[:LISTED_ROWS]],
        "count": count,
        "action": action,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/crm/action_confirmation.html", context)
