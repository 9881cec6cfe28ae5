"""我的客户 shows 下次跟进 with a badge and lists the calls due first."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PRIVATE = "admin:crm_privatecustomer_changelist"


def customer(owner, name, offset):
    next_date = None if offset is None else timezone.localdate() + datetime.timedelta(days=offset)
    return CustomerFactory(consultant=owner, name=name, next_date=next_date)


def test_my_customers_are_listed_overdue_first_then_today_then_later_then_without_a_date(
    sales_client, sales_user
):
    for name, offset in [("later", 5), ("none", None), ("today", 0), ("overdue", -3), ("tomorrow", 1)]:
        customer(sales_user, name, offset)

    response = sales_client.get(reverse(PRIVATE))

    assert [c.name for c in response.context["cl"].result_list] == [
        "overdue",
        "today",
        "tomorrow",
        "later",
        "none",
    ]


def test_the_next_follow_up_column_shows_the_badge(sales_client, sales_user):
    customer(sales_user, "overdue", -4)
    customer(sales_user, "today", 0)

    page = sales_client.get(reverse(PRIVATE)).content.decode()

    assert "下次跟进" in page
    assert "逾期 4 天" in page
    assert 'class="crm-badge"' in page and "今天" in page


def test_sorting_by_the_column_keeps_customers_without_a_date_last(sales_client, sales_user):
    customer(sales_user, "none", None)
    customer(sales_user, "later", 5)
    customer(sales_user, "overdue", -1)
    # ``o`` counts the columns of the list as shown, the action checkbox first.
    column = sales_client.get(reverse(PRIVATE)).context["cl"].list_display.index("next_follow_up")

    response = sales_client.get(reverse(PRIVATE), {"o": str(column)})

    assert [c.name for c in response.context["cl"].result_list] == ["overdue", "later", "none"]
