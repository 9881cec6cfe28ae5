"""``{% crm_result_list cl %}``: Django's ``{% result_list cl %}`` (5.2), its rows written by
crm.admin.results, through the same per-model, per-app or global change_list_results.html."""

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode

from crm.admin import results

register = template.Library()


@register.tag(name="crm_result_list")
def result_list_tag(parser, token):
    # InclusionAdminNode is what Django's own result_list tag is built on (checked against 5.2): it
    # picks the template a model or app overrides.
    return InclusionAdminNode(
        parser, token, func=results.result_list, template_name="change_list_results.html", takes_context=False
    )
