"""The triggers that mark a stored day of the dashboard stale (crm/triggers.py)."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import Customer, DashboardDirtyDay
from crm.triggers import drop_statements, install_triggers
from tests.factories import ConsultRecordFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def three_days_ago() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=3)


def test_the_receiver_of_post_migrate_reinstalls_the_triggers_a_table_rebuild_dropped(store_days):
    customer = CustomerFactory(date=three_days_ago())
    store_days()
    with connection.cursor() as cursor:
        for statement in drop_statements(connection.vendor):
            cursor.execute(statement)
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.SIGNED)
    assert not DashboardDirtyDay.objects.exists()

    install_triggers(using="default")

    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.STUDYING)
    # Marked from the row before and after the change: the same day twice.
    assert set(DashboardDirtyDay.objects.values_list("day", flat=True)) == {timezone.localdate(customer.date)}


def test_an_update_that_changes_nothing_the_figures_read_marks_nothing(store_days):
    customer = CustomerFactory(date=three_days_ago())
    store_days()
    customer.name = "改名"
    customer.save()  # every column written, none changed that the figures read
    assert not DashboardDirtyDay.objects.exists()
    customer.delete()
    assert DashboardDirtyDay.objects.count() == 1


def test_a_follow_up_marks_the_day_of_the_next_follow_up_of_the_same_salesperson_and_customer(
    sales_user, other_sales_user, store_days
):
    def at(days_back: int) -> datetime.datetime:
        return timezone.now() - datetime.timedelta(days=days_back)

    customer, other_customer = CustomerFactory(), CustomerFactory()
    ConsultRecordFactory(customer=customer, consultant=sales_user, date=at(2))
    ConsultRecordFactory(customer=customer, consultant=other_sales_user, date=at(3))  # another's
    ConsultRecordFactory(customer=other_customer, consultant=sales_user, date=at(8))  # another pair
    store_days()

    ConsultRecordFactory(customer=customer, consultant=sales_user, date=at(6))

    # Its own day, and the day of that salesperson's next follow-up of that customer (its previous
    # follow-up day changed); no other pair's.
    assert set(DashboardDirtyDay.objects.values_list("day", flat=True)) == {
        timezone.localdate(at(6)),
        timezone.localdate(at(2)),
    }
