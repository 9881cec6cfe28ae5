"""The triggers that mark a stored day of the dashboard stale (crm/triggers.py)."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import ConsultRecord, Customer, DashboardDirtyDay
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


def days_ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def marked_days() -> set[datetime.date]:
    return set(DashboardDirtyDay.objects.values_list("day", flat=True))


def test_an_insert_of_many_customers_marks_the_stored_days_of_their_dates(store_days):
    CustomerFactory(date=days_ago(10))
    store_days()

    # One statement (an import's COPY is one too): two rows on one stored day, one on another, one today.
    moments = (days_ago(5), days_ago(5), days_ago(3), timezone.now())
    Customer.objects.bulk_create([CustomerFactory.build(date=moment) for moment in moments])

    assert marked_days() == {timezone.localdate(days_ago(5)), timezone.localdate(days_ago(3))}


def test_an_insert_of_many_follow_ups_marks_their_days_their_customers_days_and_the_next_follow_ups(
    sales_user, store_days
):
    customer, other_customer = CustomerFactory(date=days_ago(9)), CustomerFactory(date=days_ago(8))
    ConsultRecordFactory(customer=customer, consultant=sales_user, date=days_ago(2))
    store_days()

    ConsultRecord.objects.bulk_create(
        [
            ConsultRecordFactory.build(customer=customer, consultant=sales_user, date=days_ago(6)),
            ConsultRecordFactory.build(customer=other_customer, consultant=sales_user, date=days_ago(4)),
        ]
    )

    # Each follow-up's day, its customer's creation day, and the day of the pair's next follow-up.
    assert marked_days() == {timezone.localdate(days_ago(days)) for days in (6, 9, 2, 4, 8)}


@pytest.mark.postgres  # SQLite has no statement triggers: a row trigger marks once per row
def test_one_insert_statement_marks_each_stored_day_once(store_days):
    CustomerFactory(date=days_ago(10))
    store_days()

    Customer.objects.bulk_create([CustomerFactory.build(date=days_ago(5)) for _ in range(50)])

    # A row trigger marked the day 50 times: the statement trigger over the new rows, once.
    assert list(DashboardDirtyDay.objects.values_list("day", flat=True)) == [timezone.localdate(days_ago(5))]
