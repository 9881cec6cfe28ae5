"""The dashboard's stored daily figures: equal to the live computation, before and after any change."""

import datetime
import importlib

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import (
    ConsultRecord,
    Customer,
    DailyFollowedCustomers,
    DailyLeads,
    DailyPayments,
    DashboardDay,
    DashboardDirtyDay,
    Enrollment,
    PaymentRecord,
)
from crm.services import dashboard as services
from crm.services.daily_figures import PeriodFigures, daily_figures_aggregate, runs
from crm.services.finance import payments_confirm
from tests.factories import (
    ClassListFactory,
    ConsultRecordFactory,
    CustomerFactory,
    EnrollmentFactory,
    PaymentRecordFactory,
)

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


def local(days_back: int, minute: int) -> datetime.datetime:
    """``minute`` minutes after the local midnight ``days_back`` days before today."""
    day = timezone.localdate() - datetime.timedelta(days=days_back)
    midnight = datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_current_timezone())
    return midnight + datetime.timedelta(minutes=minute)


def periods() -> list[services.Period]:
    today = timezone.localdate()
    return [
        services.period_preset("this_year"),
        services.Period(today - datetime.timedelta(days=20), today - datetime.timedelta(days=1)),
        services.Period(today - datetime.timedelta(days=6), today + datetime.timedelta(days=3)),
        # Starting and ending between follow-ups of the same customers (the previous day's bound).
        services.Period(today - datetime.timedelta(days=12), today - datetime.timedelta(days=4)),
    ]


def assert_stored_equals_live():
    for period in periods():
        assert services.dashboard(period) == services.dashboard(period, stored=False), period


moment = st.tuples(st.integers(0, 20), st.integers(0, 24 * 60 - 1))  # days back, minute of the day
customers = st.lists(
    st.tuples(
        moment,
        st.sampled_from(Customer.Source.values),
        st.sampled_from(Customer.Status.values),
        st.integers(0, 2),  # no owner, seller 1, seller 2
    ),
    min_size=1,
    max_size=8,
)
follow_ups = st.lists(st.tuples(st.integers(0, 7), moment, st.integers(1, 2), st.booleans()), max_size=12)
enrollments = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 1), moment, st.integers(1, 2), st.booleans(), st.booleans()),
    max_size=6,
)
payments = st.lists(
    st.tuples(
        st.integers(0, 7),
        moment,
        st.integers(1, 2),
        st.sampled_from(PaymentRecord.PayType.values),
        st.sampled_from(PaymentRecord.Status.values),
        st.integers(-5000, 5000).filter(bool),
        st.booleans(),  # deleted
        st.integers(0, 2),  # class 1, class 2, none
    ),
    max_size=8,
)
# Changes after the days were stored, each through the ORM path the application uses for it.
changes = st.lists(
    st.one_of(
        st.tuples(st.just("status"), st.integers(0, 7), st.sampled_from(Customer.Status.values)),
        st.tuples(st.just("source"), st.integers(0, 7), st.sampled_from(Customer.Source.values)),
        st.tuples(st.just("claim"), st.integers(0, 7), st.integers(0, 2)),
        st.tuples(st.just("delete_customer"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("follow_up"), st.integers(0, 7), st.integers(0, 20)),
        st.tuples(st.just("bin_follow_ups"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("merge"), st.integers(0, 7), st.integers(0, 7)),
        st.tuples(st.just("confirm"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("reject"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("bin_payments"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("approve"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("back_date"), st.integers(0, 7), st.integers(0, 20)),
        st.tuples(st.just("move_follow_ups"), st.integers(0, 7), st.integers(0, 20)),
        st.tuples(st.just("follow_ups_to"), st.integers(0, 7), st.integers(1, 2)),
    ),
    max_size=6,
)


def apply(change, people, sellers) -> None:
    kind, index, value = change
    customer = Customer.objects.filter(pk=people[index % len(people)].pk)
    if kind == "status":
        customer.update(status=value)
    elif kind == "source":
        customer.update(source=value)
    elif kind == "claim":
        customer.update(consultant=sellers[value])
    elif kind == "delete_customer":
        customer.delete()
    elif kind == "follow_up" and customer.exists():
        ConsultRecordFactory(customer=customer.get(), consultant=sellers[1], date=local(value, 600))
    elif kind == "bin_follow_ups":
        ConsultRecord.objects.filter(customer__in=customer).update(delete_status=True)
    elif kind == "merge":
        survivor = Customer.objects.filter(pk=people[value % len(people)].pk).first()
        if survivor is not None:
            ConsultRecord.objects.filter(customer__in=customer).update(customer=survivor)
            PaymentRecord.objects.filter(customer__in=customer).update(customer=survivor)
    elif kind == "confirm":
        PaymentRecord.objects.filter(customer__in=customer).update(status=PaymentRecord.Status.CONFIRMED)
    elif kind == "reject":
        PaymentRecord.objects.filter(customer__in=customer).update(status=PaymentRecord.Status.REJECTED)
    elif kind == "bin_payments":
        PaymentRecord.objects.filter(customer__in=customer).update(delete_status=True)
    elif kind == "approve":
        Enrollment.objects.filter(customer__in=customer).update(contract_approved=True)
    elif kind == "back_date":
        customer.update(date=local(value, 30))
    elif kind == "move_follow_ups":
        ConsultRecord.objects.filter(customer__in=customer).update(date=local(value, 900))
    elif kind == "follow_ups_to":
        ConsultRecord.objects.filter(customer__in=customer).update(consultant=sellers[value])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    customers=customers, follow_ups=follow_ups, enrollments=enrollments, payments=payments, changes=changes
)
def test_the_stored_figures_equal_the_live_ones_before_and_after_any_change(
    sales_user, other_sales_user, store_days, customers, follow_ups, enrollments, payments, changes
):
    sellers = [None, sales_user, other_sales_user]
    try:
        with transaction.atomic():
            classes = [ClassListFactory(start_date=datetime.date(2020, 1, 1)) for _ in range(2)]
            people = [
                CustomerFactory(date=local(*when), source=source, status=status, consultant=sellers[owner])
                for when, source, status, owner in customers
            ]
            for index, when, seller, deleted in follow_ups:
                ConsultRecordFactory(
                    customer=people[index % len(people)],
                    consultant=sellers[seller],
                    date=local(*when),
                    delete_status=deleted,
                )
            enrolled = set()
            for index, klass, when, seller, approved, deleted in enrollments:
                key = (index % len(people), klass)
                if key in enrolled:
                    continue
                enrolled.add(key)
                EnrollmentFactory(
                    customer=people[key[0]],
                    enrolment_class=classes[klass],
                    consultant=sellers[seller],
                    enrolled_date=local(*when),
                    contract_approved=approved,
                    delete_status=deleted,
                )
            for index, when, seller, pay_type, status, fee, deleted, klass in payments:
                PaymentRecordFactory(
                    customer=people[index % len(people)],
                    consultant=sellers[seller],
                    date=local(*when),
                    pay_type=pay_type,
                    status=status,
                    paid_fee=fee,
                    delete_status=deleted,
                    enrolment_class=(classes + [None])[klass],
                )
            store_days()
            assert not DashboardDirtyDay.objects.exists()
            assert_stored_equals_live()
            for change in changes:
                apply(change, people, sellers)
            # At once, before any aggregation: the changed days are live again.
            assert_stored_equals_live()
            store_days()
            assert not DashboardDirtyDay.objects.exists()
            assert_stored_equals_live()
            raise Rollback
    except Rollback:
        pass


def test_closed_days_are_stored_and_today_is_computed_live(sales_user):
    CustomerFactory(date=local(2, 60), consultant=sales_user)
    CustomerFactory(date=local(0, 60))
    # Registered (two days ago, and yesterday with nothing), then stored; today is neither.
    assert daily_figures_aggregate() == (2, 0)
    assert daily_figures_aggregate() == (0, 2)
    assert daily_figures_aggregate() == (0, 0)
    assert set(DashboardDay.objects.values_list("day", flat=True)) == {
        timezone.localdate() - datetime.timedelta(days=days) for days in (1, 2)
    }
    assert DailyLeads.objects.get().leads == 1
    period = services.Period(timezone.localdate() - datetime.timedelta(days=2), timezone.localdate())
    assert PeriodFigures(period).stored_days == {period.start, period.start + datetime.timedelta(days=1)}
    assert services.headline(period)["new_leads"] == 2


def test_a_payment_confirmed_after_its_day_was_stored_counts_at_once(sales_user, finance_user, store_days):
    payment = PaymentRecordFactory(consultant=sales_user, paid_fee=1200, date=local(3, 600))
    store_days()
    period = services.Period(timezone.localdate() - datetime.timedelta(days=5), timezone.localdate())
    assert services.revenue_totals(period)["unconfirmed_net"] == 1200

    payments_confirm(payments=PaymentRecord.objects.filter(pk=payment.pk), user=finance_user)

    assert list(DashboardDirtyDay.objects.values_list("day", flat=True).distinct()) == [
        period.start + datetime.timedelta(days=2)
    ]
    assert services.revenue_totals(period)["confirmed_net"] == 1200
    store_days()
    assert not DashboardDirtyDay.objects.exists()
    assert DailyPayments.objects.get().confirmed_net == 1200
    assert services.revenue_totals(period)["confirmed_net"] == 1200


def test_a_claim_or_a_release_marks_no_day(sales_user, store_days):
    customer = CustomerFactory(date=local(3, 600))
    store_days()
    Customer.objects.filter(pk=customer.pk).update(consultant=sales_user, locked=True)
    customer.refresh_from_db()
    customer.consultant = None
    customer.save()
    assert not DashboardDirtyDay.objects.exists()


def test_a_change_of_today_marks_nothing(sales_user, store_days):
    store_days()
    customer = CustomerFactory(consultant=sales_user)
    ConsultRecordFactory(customer=customer, consultant=sales_user)
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.SIGNED)
    assert not DashboardDirtyDay.objects.exists()


def test_runs_of_days():
    day = datetime.date(2026, 11, 1)
    days = [
        day,
        day + datetime.timedelta(days=1),
        day + datetime.timedelta(days=2),
        day + datetime.timedelta(days=6),
    ]
    assert runs(reversed(days)) == [(days[0], days[2]), (days[3], days[3])]
    assert runs([]) == []


# The customers followed per salesperson (DailyFollowedCustomers)


def followed(period: services.Period, seller) -> int:
    rows = {row.user_id: row for row in services.sales_performance(period)}
    return rows[seller.pk].followed_customers


def days_back(first: int, last: int) -> services.Period:
    today = timezone.localdate()
    return services.Period(today - datetime.timedelta(days=first), today - datetime.timedelta(days=last))


def test_a_customer_followed_on_several_stored_days_counts_once_in_any_period(
    sales_user, other_sales_user, store_days
):
    often, once = CustomerFactory(consultant=sales_user), CustomerFactory(consultant=sales_user)
    for back in (12, 8, 8, 5, 2):
        ConsultRecordFactory(customer=often, consultant=sales_user, date=local(back, 600))
    ConsultRecordFactory(customer=once, consultant=sales_user, date=local(5, 700))
    ConsultRecordFactory(customer=often, consultant=other_sales_user, date=local(5, 800))
    ConsultRecordFactory(customer=once, consultant=sales_user, date=local(3, 700), delete_status=True)
    store_days()
    assert not DashboardDirtyDay.objects.exists()

    expected = {(14, 1): 2, (12, 12): 1, (11, 6): 1, (9, 3): 2, (4, 1): 1, (7, 6): 0}
    for (first, last), count in expected.items():
        assert followed(days_back(first, last), sales_user) == count, (first, last)
    assert followed(days_back(9, 3), other_sales_user) == 1
    stored = DailyFollowedCustomers.objects.filter(consultant=sales_user.pk)
    # Day 5: one customer first followed then, one whose last follow-up before was on day 8.
    assert set(stored.filter(day=local(5, 0).date()).values_list("previous_day", "customers")) == {
        (local(8, 0).date(), 1),
        (None, 1),
    }


def test_a_follow_up_added_before_a_stored_one_of_the_same_pair_takes_that_later_day_live(
    sales_user, other_sales_user, store_days
):
    customer = CustomerFactory(consultant=sales_user)
    other = CustomerFactory(consultant=sales_user)
    ConsultRecordFactory(customer=customer, consultant=sales_user, date=local(10, 600))
    ConsultRecordFactory(customer=customer, consultant=sales_user, date=local(3, 600))
    ConsultRecordFactory(customer=other, consultant=sales_user, date=local(2, 600))
    store_days()
    period = days_back(5, 1)
    assert followed(period, sales_user) == 2

    # Day 4 now comes between days 10 and 3: day 3's previous follow-up day is in the period.
    ConsultRecordFactory(customer=customer, consultant=sales_user, date=local(4, 600))

    marked = set(DashboardDirtyDay.objects.values_list("day", flat=True))
    assert marked == {local(4, 0).date(), local(3, 0).date()}  # not the other customer's day 2
    assert followed(period, sales_user) == 2
    store_days()
    assert followed(period, sales_user) == 2


def test_a_follow_up_binned_between_two_stored_ones_of_the_same_pair_takes_the_next_day_live(
    sales_user, store_days
):
    customer = CustomerFactory(consultant=sales_user)
    ConsultRecordFactory(customer=customer, consultant=sales_user, date=local(10, 600))
    middle = ConsultRecordFactory(customer=customer, consultant=sales_user, date=local(4, 600))
    ConsultRecordFactory(customer=customer, consultant=sales_user, date=local(3, 600))
    store_days()
    period = days_back(5, 1)
    assert followed(period, sales_user) == 1

    ConsultRecord.objects.filter(pk=middle.pk).update(delete_status=True)

    assert set(DashboardDirtyDay.objects.values_list("day", flat=True)) == {
        local(4, 0).date(),
        local(3, 0).date(),
    }
    assert followed(period, sales_user) == 1  # on day 3 now, its previous follow-up on day 10
    store_days()
    assert followed(period, sales_user) == 1


def test_the_migration_to_the_followed_customers_takes_every_stored_day_live_until_stored_again(
    sales_user, store_days
):
    from django.apps import apps

    migration = importlib.import_module("crm.migrations.0016_followed_customers")
    customer = CustomerFactory(consultant=sales_user, date=local(6, 60))
    ConsultRecordFactory(customer=customer, consultant=sales_user, date=local(4, 600))
    store_days()
    DailyFollowedCustomers.objects.all().delete()  # as before the migration: the days without it

    migration.mark_stored_days_stale(apps, None)

    assert set(DashboardDirtyDay.objects.values_list("day", flat=True)) == set(
        DashboardDay.objects.values_list("day", flat=True)
    )
    assert followed(days_back(5, 1), sales_user) == 1
    store_days()
    assert DailyFollowedCustomers.objects.get().customers == 1
    assert followed(days_back(5, 1), sales_user) == 1
