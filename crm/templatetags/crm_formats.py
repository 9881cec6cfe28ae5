"""The school's formats in templates: money as ¥12,345 and shares as 12.3% (crm.formats)."""

from django import template

from crm import formats

register = template.Library()


@register.filter
def yuan(value) -> str:
    return formats.yuan(value)


@register.filter
def percent(value) -> str:
    """A percentage with one decimal, or a dash when there is nothing to divide."""
    return "—" if value is None else f"{value:.1f}%"


@register.filter
def signed_percent(value) -> str:
    """A change as +12.3% / −4.0%, or a dash when there was nothing to compare with."""
    if value is None:
        return "—"
    return f"{'+' if value >= 0 else '−'}{abs(value):.1f}%"
