"""manage.py recycle_customers, as cron runs it."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from crm.models import CustomerTransfer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def silence_rule_only(settings):
    """These tests are about the no-follow-up rule; the no-deal rule has its own tests."""
    settings.CUSTOMER_DEAL_DAYS = 0


def silent_customers(owner, count, days):
    last = timezone.localdate() - datetime.timedelta(days=days)
    created = timezone.now() - datetime.timedelta(days=days + 30)
    return CustomerFactory.create_batch(count, consultant=owner, date=created, last_consult_date=last)


def run(*args):
    out = StringIO()
    call_command("recycle_customers", *args, stdout=out)
    return out.getvalue()


def test_the_command_recycles_and_prints_the_count_per_salesperson(sales_user, other_sales_user, settings):
    settings.CUSTOMER_RECYCLE_DAYS = 15
    silent_customers(sales_user, 2, 20)
    silent_customers(other_sales_user, 1, 15)
    kept = silent_customers(other_sales_user, 1, 14)[0]

    output = run()

    assert "sales_a (销售甲): 2 recycled" in output
    assert "sales_b (销售乙): 1 recycled" in output
    assert "3 customers recycled" in output
    assert CustomerTransfer.objects.filter(reason="recycle").count() == 3
    kept.refresh_from_db()
    assert kept.consultant == other_sales_user


def test_a_dry_run_prints_the_same_and_changes_nothing(sales_user):
    customers = silent_customers(sales_user, 2, 20)

    output = run("--dry-run")

    assert "sales_a (销售甲): 2 would be recycled" in output
    assert "dry run" in output
    assert not CustomerTransfer.objects.exists()
    for customer in customers:
        customer.refresh_from_db()
        assert customer.consultant == sales_user


def test_days_overrides_the_setting(sales_user, settings):
    settings.CUSTOMER_RECYCLE_DAYS = 15
    silent_customers(sales_user, 1, 10)
    assert "0 customers recycled" in run()
    assert "1 customers recycled" in run("--days", "7")


def test_zero_days_does_nothing(sales_user, settings):
    settings.CUSTOMER_RECYCLE_DAYS = 0
    silent_customers(sales_user, 1, 100)
    assert "off" in run()
    assert not CustomerTransfer.objects.exists()


def test_negative_days_are_refused():
    with pytest.raises(CommandError):
        run("--days", "-1")
