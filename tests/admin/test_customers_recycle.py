"""我的客户 warns about the customers automatic recycling will put back in the public pool."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import CustomerFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def silence_rule_only(settings):
    """These tests are about the no-follow-up rule; the no-deal rule has its own tests."""
    settings.CUSTOMER_DEAL_DAYS = 0


PRIVATE = "admin:crm_privatecustomer_changelist"


@pytest.fixture(autouse=True)
def fifteen_days(settings):
    settings.CUSTOMER_RECYCLE_DAYS = 15


def silent(owner, days, **fields):
    last = timezone.localdate() - datetime.timedelta(days=days)
    created = timezone.now() - datetime.timedelta(days=days + 30)
    return CustomerFactory(consultant=owner, date=created, last_consult_date=last, **fields)


def rows(response):
    return list(response.context["cl"].result_list)


def badges(response):
    admin = response.context["cl"].model_admin
    return {customer.name: admin.recycle_warning(customer) for customer in rows(response)}


def test_the_list_warns_three_days_before_recycling(sales_client, sales_user):
    for days in (11, 12, 13, 14, 15, 20):
        silent(sales_user, days, name=f"silent{days}")

    response = sales_client.get(reverse(PRIVATE))
    warnings = {name: str(badge) for name, badge in badges(response).items()}

    assert warnings["silent11"] == ""
    assert "3天后回收" in warnings["silent12"]
    assert "2天后回收" in warnings["silent13"]
    assert "1天后回收" in warnings["silent14"]
    assert "即将回收" in warnings["silent15"]
    assert "即将回收" in warnings["silent20"]
    page = response.content.decode()
    assert "3天后回收" in page and "即将回收" in page


def test_customers_who_cannot_be_recycled_get_no_warning(sales_user, sales_client):
    silent(sales_user, 20, name="signed", status="signed")
    enrolled = silent(sales_user, 20, name="enrolled")
    EnrollmentFactory(customer=enrolled, consultant=sales_user)

    assert badges(sales_client.get(reverse(PRIVATE))) == {"signed": "", "enrolled": ""}


def test_the_recycling_soon_filter_lists_only_the_customers_within_three_days(sales_client, sales_user):
    wanted = [silent(sales_user, days) for days in (12, 14, 30)]
    silent(sales_user, 11)
    silent(sales_user, 30, status="studying")
    CustomerFactory(consultant=sales_user)

    response = sales_client.get(reverse(PRIVATE), {"recycling": "soon"})

    assert set(rows(response)) == set(wanted)
    assert "即将回收" in response.content.decode()


def test_no_filter_and_no_warning_when_recycling_is_off(sales_client, sales_user, settings):
    settings.CUSTOMER_RECYCLE_DAYS = 0
    silent(sales_user, 100, name="old")

    response = sales_client.get(reverse(PRIVATE))

    assert badges(response) == {"old": ""}
    assert "recycling=soon" not in response.content.decode()


def test_the_warning_leaves_the_list_count_a_plain_count(sales_client, sales_user):
    silent(sales_user, 14)
    with CaptureQueriesContext(connection) as queries:
        sales_client.get(reverse(PRIVATE))
    # Counted by a COUNT of the customers, or read from their tally (PostgreSQL): never with the warning.
    counts = [
        q["sql"]
        for q in queries
        if (q["sql"].startswith("SELECT COUNT(*)") and "crm_customer" in q["sql"])
        or '"crm_customertally"' in q["sql"]
    ]
    assert counts and all("crm_customertransfer" not in sql for sql in counts)


@pytest.mark.parametrize("count", [10, 100])
def test_the_filtered_list_needs_the_same_queries_at_10_and_100_rows(
    sales_client, sales_user, count, django_assert_max_num_queries
):
    for _ in range(count):
        silent(sales_user, 14)
    # The 7 of every list and the user's quota line.
    with django_assert_max_num_queries(8):
        response = sales_client.get(reverse(PRIVATE), {"recycling": "soon", "per_page": 100})
    assert len(rows(response)) == count
