"""Number formats of the dashboard: money as ¥12,345 and shares as 12.3%."""

from django import template

register = template.Library()


@register.filter
def yuan(value) -> str:
    """Whole yuan with thousands separators, the minus before the sign: -¥2,000."""
    amount = int(value or 0)
    return f"{'-' if amount < 0 else ''}¥{abs(amount):,}"


@register.filter
def percent(value) -> str:
    """A percentage with one decimal, or a dash when there is nothing to divide."""
    return "—" if value is None else f"{value:.1f}%"
