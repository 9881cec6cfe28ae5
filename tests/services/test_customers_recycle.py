"""Automatic recycling: private customers not followed up for CUSTOMER_RECYCLE_DAYS go back to the pool."""

import datetime
import math
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from crm.models import Customer, CustomerTransfer
from crm.services.customers import customers_recycle
from tests.factories import CustomerFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def silence_rule_only(settings):
    """These tests are about the no-follow-up rule; the no-deal rule has its own tests."""
    settings.CUSTOMER_DEAL_DAYS = 0


TODAY = datetime.date(2026, 11, 27)
LONG_AGO = timezone.make_aware(datetime.datetime(2026, 1, 1, 10, 0))


def silent_customer(owner, days, **fields):
    """A customer of ``owner`` created long ago and last followed up ``days`` days before TODAY."""
    return CustomerFactory(
        consultant=owner, date=LONG_AGO, last_consult_date=TODAY - datetime.timedelta(days=days), **fields
    )


def consultant_of(customer):
    customer.refresh_from_db()
    return customer.consultant


@pytest.mark.parametrize(("days", "recycled"), [(14, False), (15, True), (16, True)])
def test_a_customer_is_recycled_from_the_fifteenth_silent_day(sales_user, days, recycled, settings):
    settings.CUSTOMER_RECYCLE_DAYS = 15
    customer = silent_customer(sales_user, days)

    outcome = customers_recycle(today=TODAY)

    assert consultant_of(customer) == (None if recycled else sales_user)
    assert outcome == ({sales_user.pk: 1} if recycled else {})


@pytest.mark.parametrize(
    ("created_utc", "recycled"),
    [
        # 23:30 on 11-12 in Shanghai: the 15th day before 11-27.
        (datetime.datetime(2026, 11, 12, 15, 30, tzinfo=datetime.UTC), True),
        # 00:30 on 11-13 in Shanghai (still 11-12 in UTC): only the 14th day.
        (datetime.datetime(2026, 11, 12, 16, 30, tzinfo=datetime.UTC), False),
    ],
)
def test_days_are_counted_in_the_schools_time_zone(sales_user, created_utc, recycled):
    customer = CustomerFactory(consultant=sales_user, date=created_utc)

    customers_recycle(days=15, today=TODAY)

    assert (consultant_of(customer) is None) is recycled


def test_the_claim_date_restarts_the_count_but_only_a_claim_by_the_current_owner(
    sales_user, other_sales_user
):
    claimed_recently = silent_customer(sales_user, 30)
    handed_on = silent_customer(sales_user, 30)
    ten_days_ago = timezone.make_aware(datetime.datetime(2026, 11, 17, 9, 0))
    CustomerTransfer.objects.create(
        customer=claimed_recently, to_consultant=sales_user, reason="claim", date=ten_days_ago
    )
    # A recent change to somebody else (the previous owner) does not count for the current owner.
    CustomerTransfer.objects.create(
        customer=handed_on, to_consultant=other_sales_user, reason="claim", date=ten_days_ago
    )

    customers_recycle(days=15, today=TODAY)

    assert consultant_of(claimed_recently) == sales_user
    assert consultant_of(handed_on) is None


def test_a_recent_creation_keeps_the_customer(sales_user):
    customer = CustomerFactory(consultant=sales_user, last_consult_date=None)
    customers_recycle(days=15)
    assert consultant_of(customer) == sales_user


@pytest.mark.parametrize("status", ["signed", "studying", "paid_in_full"])
def test_customers_who_signed_up_are_never_recycled(sales_user, status):
    customer = silent_customer(sales_user, 100, status=status)
    assert customers_recycle(days=15, today=TODAY) == {}
    assert consultant_of(customer) == sales_user


def test_an_enrolled_customer_is_never_recycled(sales_user):
    customer = silent_customer(sales_user, 100)
    EnrollmentFactory(customer=customer, consultant=sales_user)
    assert customers_recycle(days=15, today=TODAY) == {}
    assert consultant_of(customer) == sales_user


def test_the_public_pool_is_left_alone():
    customer = CustomerFactory(date=LONG_AGO)
    assert customers_recycle(days=15, today=TODAY) == {}
    assert CustomerTransfer.objects.filter(customer=customer).count() == 0


def test_zero_days_turns_recycling_off(sales_user, settings, django_assert_num_queries):
    settings.CUSTOMER_RECYCLE_DAYS = 0
    customer = silent_customer(sales_user, 365)
    with django_assert_num_queries(0):
        assert customers_recycle(today=TODAY) == {}
    assert consultant_of(customer) == sales_user


def test_each_recycled_customer_gets_a_history_row_by_the_system(sales_user, other_sales_user):
    mine = [silent_customer(sales_user, 20) for _ in range(2)]
    theirs = silent_customer(other_sales_user, 40)

    outcome = customers_recycle(days=15, today=TODAY)

    assert outcome == {sales_user.pk: 2, other_sales_user.pk: 1}
    transfers = CustomerTransfer.objects.filter(reason=CustomerTransfer.Reason.RECYCLE)
    assert sorted(
        transfers.values_list("customer_id", "from_consultant_id", "to_consultant_id", "by_id")
    ) == [
        (mine[0].pk, sales_user.pk, None, None),
        (mine[1].pk, sales_user.pk, None, None),
        (theirs.pk, other_sales_user.pk, None, None),
    ]


def test_recycling_twice_recycles_nothing_the_second_time(sales_user):
    silent_customer(sales_user, 20)
    assert customers_recycle(days=15, today=TODAY) == {sales_user.pk: 1}
    assert customers_recycle(days=15, today=TODAY) == {}
    assert CustomerTransfer.objects.filter(reason="recycle").count() == 1


def test_a_dry_run_reports_and_changes_nothing(sales_user):
    customer = silent_customer(sales_user, 20)
    assert customers_recycle(days=15, today=TODAY, dry_run=True) == {sales_user.pk: 1}
    assert consultant_of(customer) == sales_user
    assert not CustomerTransfer.objects.exists()


def test_batches_recycle_everything(sales_user):
    customers = [silent_customer(sales_user, 20) for _ in range(7)]
    assert customers_recycle(days=15, today=TODAY, batch_size=3) == {sales_user.pk: 7}
    assert not Customer.objects.filter(pk__in=[c.pk for c in customers], consultant__isnull=False).exists()
    assert CustomerTransfer.objects.filter(reason="recycle").count() == 7


def inserts_needed(count):
    """INSERT statements one bulk_create of ``count`` history rows takes: 1 on PostgreSQL; SQLite
    splits it (Django caps an SQLite statement at 999 parameters, 166 rows of this table)."""
    fields = [field for field in CustomerTransfer._meta.concrete_fields if not field.primary_key]
    per_statement = connection.ops.bulk_batch_size(fields, [None] * count)
    return math.ceil(count / per_statement)


@pytest.mark.parametrize("count", [5, 200])
def test_the_queries_do_not_grow_with_the_number_recycled(
    sales_user, other_sales_user, count, django_assert_num_queries
):
    for index in range(count):
        silent_customer(sales_user if index % 2 else other_sales_user, 20)
    # A savepoint, the lock, the re-check, one UPDATE, the INSERT of the history, the release.
    with django_assert_num_queries(5 + inserts_needed(count)):
        outcome = customers_recycle(days=15, today=TODAY)
    assert sum(outcome.values()) == count
    if connection.vendor == "postgresql":
        assert inserts_needed(count) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_customer_a_salesperson_is_working_on_is_skipped_without_waiting(sales_user):
    busy, idle = silent_customer(sales_user, 20), silent_customer(sales_user, 20)
    locked, done = threading.Event(), threading.Event()

    def salesperson_saving_a_follow_up():
        try:
            with transaction.atomic():
                Customer.objects.select_for_update().get(pk=busy.pk)
                locked.set()
                done.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=salesperson_saving_a_follow_up)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        with connection.cursor() as cursor:
            # Waiting for the salesperson's lock would fail here instead of hanging the test.
            cursor.execute("SET lock_timeout = '2s'")
        outcome = customers_recycle(days=15, today=TODAY)
    finally:
        done.set()
        thread.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    assert outcome == {sales_user.pk: 1}
    assert consultant_of(idle) is None
    assert consultant_of(busy) == sales_user
    # The next run takes the customer skipped this time.
    assert customers_recycle(days=15, today=TODAY) == {sales_user.pk: 1}
