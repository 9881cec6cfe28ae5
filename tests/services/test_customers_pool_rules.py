"""The public pool's rules beyond the cap: the daily claim limit, the reclaim cool-down, the no-deal
recycling, locking, and releasing with a reason — each on its boundary, and under threads."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from crm.models import Customer, CustomerTransfer
from crm.services.customers import (
    customer_update,
    customers_claim,
    customers_claimed_today,
    customers_lock,
    customers_quota,
    customers_recycle,
    customers_release,
    customers_unlock,
)
from tests.factories import CustomerFactory, EnrollmentFactory
from tests.services.test_customers import ids, run_in_threads

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 15)


def days_ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def transfer(customer, *, reason, date, from_consultant=None, to_consultant=None, by=None):
    return CustomerTransfer.objects.create(
        customer=customer,
        reason=reason,
        date=date,
        from_consultant=from_consultant,
        to_consultant=to_consultant,
        by=by,
    )


# --- The daily claim limit ---


@pytest.fixture
def daily_limit(settings):
    settings.CUSTOMER_DAILY_CLAIM_LIMIT = 5
    settings.MAX_CUSTOMER_NUM = 150
    return 5


def test_claims_up_to_the_daily_limit_exactly_are_allowed(sales_user, daily_limit):
    customers_claim(user=sales_user, customer_ids=ids(CustomerFactory.create_batch(daily_limit)))

    assert customers_claimed_today(user=sales_user) == daily_limit


def test_a_claim_past_the_daily_limit_claims_nothing_and_says_the_limit(sales_user, daily_limit):
    customers_claim(user=sales_user, customer_ids=ids(CustomerFactory.create_batch(daily_limit - 1)))
    more = CustomerFactory.create_batch(2)

    with pytest.raises(ValidationError) as error:
        customers_claim(user=sales_user, customer_ids=ids(more))

    assert error.value.code == "daily_limit"
    assert "5" in error.value.messages[0]
    assert Customer.objects.filter(pk__in=ids(more), consultant__isnull=True).count() == 2


def test_releasing_does_not_give_a_claim_back(sales_user, daily_limit, settings):
    settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS = 0
    batch = CustomerFactory.create_batch(daily_limit)
    customers_claim(user=sales_user, customer_ids=ids(batch))
    customers_release(user=sales_user, customer_ids=ids(batch), reason="no_interest")

    with pytest.raises(ValidationError) as error:
        customers_claim(user=sales_user, customer_ids=ids(batch[:1]))

    assert error.value.code == "daily_limit"


def test_claims_of_yesterday_and_customers_given_by_the_boss_do_not_count(
    sales_user, other_sales_user, boss_user, daily_limit
):
    for customer in CustomerFactory.create_batch(daily_limit):
        transfer(
            customer,
            reason=CustomerTransfer.Reason.CLAIM,
            date=days_ago(1),
            to_consultant=sales_user,
            by=sales_user,
        )
    given = CustomerFactory(consultant=other_sales_user)
    given.consultant = sales_user
    customer_update(customer=given, by=boss_user, fields=["consultant"])

    assert customers_claimed_today(user=sales_user) == 0
    customers_claim(user=sales_user, customer_ids=ids(CustomerFactory.create_batch(daily_limit)))


def test_a_daily_limit_of_zero_turns_it_off(sales_user, settings):
    settings.CUSTOMER_DAILY_CLAIM_LIMIT = 0
    customers_claim(user=sales_user, customer_ids=ids(CustomerFactory.create_batch(40)))

    assert Customer.objects.owned_by(sales_user).count() == 40


# --- The cool-down of the previous owner ---


@pytest.fixture
def cooldown(settings):
    settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS = 7
    return 7


@pytest.mark.parametrize(("released_days_ago", "refused"), [(0, True), (6, True), (7, False)])
def test_a_released_customer_can_be_claimed_back_from_the_seventh_day(
    sales_user, cooldown, released_days_ago, refused
):
    customer = CustomerFactory(name="回头客")
    released = timezone.localtime() - datetime.timedelta(days=released_days_ago)
    transfer(customer, reason=CustomerTransfer.Reason.RELEASE, date=released, from_consultant=sales_user)

    if not refused:
        customers_claim(user=sales_user, customer_ids=[customer.pk])
        assert Customer.objects.get(pk=customer.pk).consultant == sales_user
        return
    with pytest.raises(ValidationError) as error:
        customers_claim(user=sales_user, customer_ids=[customer.pk])
    assert error.value.code == "cooldown"
    claimable = (timezone.localdate(released) + datetime.timedelta(days=cooldown)).isoformat()
    assert "回头客" in error.value.messages[0]
    assert claimable in error.value.messages[0]


def test_a_customer_recycled_away_is_in_the_cool_down_too_but_others_may_claim_it(
    sales_user, other_sales_user, cooldown
):
    customer = CustomerFactory()
    transfer(customer, reason=CustomerTransfer.Reason.RECYCLE, date=days_ago(1), from_consultant=sales_user)

    with pytest.raises(ValidationError):
        customers_claim(user=sales_user, customer_ids=[customer.pk])

    customers_claim(user=other_sales_user, customer_ids=[customer.pk])
    assert Customer.objects.get(pk=customer.pk).consultant == other_sales_user


def test_one_customer_in_the_cool_down_keeps_the_whole_batch_in_the_pool(sales_user, cooldown):
    free = CustomerFactory.create_batch(2)
    released = CustomerFactory()
    transfer(released, reason=CustomerTransfer.Reason.RELEASE, date=days_ago(2), from_consultant=sales_user)

    with pytest.raises(ValidationError):
        customers_claim(user=sales_user, customer_ids=[*ids(free), released.pk])

    assert Customer.objects.public().count() == 3


def test_the_cool_down_runs_from_the_last_time_the_customer_left(sales_user, cooldown):
    customer = CustomerFactory(name="两进两出")
    for days in (5, 1):
        transfer(
            customer, reason=CustomerTransfer.Reason.RELEASE, date=days_ago(days), from_consultant=sales_user
        )

    with pytest.raises(ValidationError) as error:
        customers_claim(user=sales_user, customer_ids=[customer.pk])

    claimable = (timezone.localdate(days_ago(1)) + datetime.timedelta(days=cooldown)).isoformat()
    assert claimable in error.value.messages[0]


# --- The cost of a claim ---


@pytest.mark.parametrize("count", [1, 10])
def test_a_claim_takes_the_same_queries_for_one_customer_or_ten(
    sales_user, settings, cooldown, count, django_assert_num_queries
):
    settings.MAX_CUSTOMER_NUM = 150
    settings.CUSTOMER_DAILY_CLAIM_LIMIT = 30
    CustomerFactory.create_batch(3, consultant=sales_user)
    pool = CustomerFactory.create_batch(count)

    # The savepoint, the owner's locked row, the locked customers with the owner's figures, the
    # update, the history, the savepoint's release.
    with django_assert_num_queries(6):
        claimed = customers_claim(user=sales_user, customer_ids=ids(pool))

    assert len(claimed) == count
    assert Customer.objects.owned_by(sales_user).count() == 3 + count


def test_a_claim_of_customers_all_gone_still_reports_the_cap_first(sales_user, settings):
    settings.MAX_CUSTOMER_NUM = 2
    CustomerFactory.create_batch(2, consultant=sales_user)
    gone = CustomerFactory()
    gone.delete()

    with pytest.raises(ValidationError) as error:
        customers_claim(user=sales_user, customer_ids=[gone.pk])

    assert error.value.code == "cap"


# --- Recycling without a deal ---


@pytest.fixture
def deal_rule(settings):
    settings.CUSTOMER_DEAL_DAYS = 90
    settings.CUSTOMER_RECYCLE_DAYS = 0
    return 90


def claimed_customer(owner, *, claimed_days_before_today: int, **fields):
    created = timezone.make_aware(datetime.datetime.combine(TODAY, datetime.time(12))) - datetime.timedelta(
        days=claimed_days_before_today
    )
    customer = CustomerFactory(consultant=owner, date=created - datetime.timedelta(days=1), **fields)
    transfer(customer, reason=CustomerTransfer.Reason.CLAIM, date=created, to_consultant=owner, by=owner)
    return customer


@pytest.mark.parametrize(("days", "recycled"), [(89, False), (90, True)])
def test_a_customer_without_a_deal_is_recycled_on_the_ninetieth_day_even_if_followed_up(
    sales_user, deal_rule, days, recycled
):
    customer = claimed_customer(sales_user, claimed_days_before_today=days, last_consult_date=TODAY)

    outcome = customers_recycle(today=TODAY)

    customer.refresh_from_db()
    assert (customer.consultant is None) == recycled
    assert outcome == ({sales_user.pk: 1} if recycled else {})
    if recycled:
        row = CustomerTransfer.objects.get(reason=CustomerTransfer.Reason.RECYCLE)
        assert row.release_reason == CustomerTransfer.ReleaseReason.NO_DEAL


def test_an_enrolled_customer_is_never_recycled_by_the_deal_rule(sales_user, deal_rule):
    customer = claimed_customer(sales_user, claimed_days_before_today=200)
    EnrollmentFactory(customer=customer, consultant=sales_user)

    assert customers_recycle(today=TODAY) == {}


def test_the_silence_rule_records_its_own_reason(sales_user, settings):
    settings.CUSTOMER_DEAL_DAYS = 90
    settings.CUSTOMER_RECYCLE_DAYS = 15
    customer = claimed_customer(sales_user, claimed_days_before_today=20)

    customers_recycle(today=TODAY)

    customer.refresh_from_db()
    assert customer.consultant is None
    row = CustomerTransfer.objects.get(reason=CustomerTransfer.Reason.RECYCLE)
    assert row.release_reason == CustomerTransfer.ReleaseReason.NO_FOLLOW_UP


# --- Locking ---


@pytest.fixture
def lock_limit(settings):
    settings.CUSTOMER_LOCK_LIMIT = 3
    return 3


def test_locking_up_to_the_limit_exactly_and_not_one_more(sales_user, lock_limit):
    own = CustomerFactory.create_batch(lock_limit + 1, consultant=sales_user)
    customers_lock(user=sales_user, customer_ids=ids(own[:lock_limit]))

    with pytest.raises(ValidationError) as error:
        customers_lock(user=sales_user, customer_ids=[own[-1].pk])

    assert error.value.code == "lock_limit"
    assert Customer.objects.filter(locked=True).count() == lock_limit


def test_locking_an_already_locked_customer_does_not_count_twice(sales_user, lock_limit):
    own = CustomerFactory.create_batch(lock_limit, consultant=sales_user)
    customers_lock(user=sales_user, customer_ids=ids(own))

    assert customers_lock(user=sales_user, customer_ids=ids(own)) == []


def test_only_own_customers_can_be_locked_or_unlocked(sales_user, other_sales_user, lock_limit):
    theirs = CustomerFactory(consultant=other_sales_user, locked=True)
    pool = CustomerFactory()

    for service in (customers_lock, customers_unlock):
        with pytest.raises(ValidationError):
            service(user=sales_user, customer_ids=[theirs.pk])
    with pytest.raises(ValidationError):
        customers_lock(user=sales_user, customer_ids=[pool.pk])
    assert Customer.objects.get(pk=theirs.pk).locked


def test_a_locked_customer_is_never_recycled_but_counts_in_the_cap(sales_user, settings, lock_limit):
    settings.CUSTOMER_RECYCLE_DAYS = 15
    settings.CUSTOMER_DEAL_DAYS = 90
    settings.MAX_CUSTOMER_NUM = 1
    customer = claimed_customer(sales_user, claimed_days_before_today=365)
    customers_lock(user=sales_user, customer_ids=[customer.pk])

    assert customers_recycle(today=TODAY) == {}
    with pytest.raises(ValidationError) as error:
        customers_claim(user=sales_user, customer_ids=[CustomerFactory().pk])
    assert error.value.code == "cap"


def test_releasing_a_locked_customer_unlocks_it(sales_user, lock_limit, settings):
    settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS = 0
    customer = CustomerFactory(consultant=sales_user, locked=True)

    customers_release(user=sales_user, customer_ids=[customer.pk], reason="duplicate")

    customer.refresh_from_db()
    assert (customer.consultant, customer.locked) == (None, False)


def test_unlocking_frees_a_place_under_the_limit(sales_user, lock_limit):
    own = CustomerFactory.create_batch(lock_limit + 1, consultant=sales_user)
    customers_lock(user=sales_user, customer_ids=ids(own[:lock_limit]))
    customers_unlock(user=sales_user, customer_ids=[own[0].pk])

    customers_lock(user=sales_user, customer_ids=[own[-1].pk])

    assert Customer.objects.filter(locked=True).count() == lock_limit


# --- Releasing with a reason ---


def test_a_release_without_a_known_reason_releases_nothing(sales_user):
    own = CustomerFactory(consultant=sales_user)
    for reason in ("", "no_deal", "whatever"):
        with pytest.raises(ValidationError):
            customers_release(user=sales_user, customer_ids=[own.pk], reason=reason)
    assert Customer.objects.get(pk=own.pk).consultant == sales_user


def test_other_needs_a_note(sales_user):
    own = CustomerFactory(consultant=sales_user)
    with pytest.raises(ValidationError) as error:
        customers_release(user=sales_user, customer_ids=[own.pk], reason="other", note="  ")
    assert error.value.code == "note"

    customers_release(user=sales_user, customer_ids=[own.pk], reason="other", note="转给分校")
    row = CustomerTransfer.objects.get()
    assert (row.release_reason, row.release_note) == ("other", "转给分校")


# --- The quota line ---


def test_the_quota_gives_each_figure_in_one_query(sales_user, settings, django_assert_num_queries):
    settings.MAX_CUSTOMER_NUM = 150
    settings.CUSTOMER_DAILY_CLAIM_LIMIT = 30
    settings.CUSTOMER_LOCK_LIMIT = 10
    settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS = 0
    CustomerFactory.create_batch(2, consultant=sales_user, locked=True)
    claimed = CustomerFactory.create_batch(3)
    customers_claim(user=sales_user, customer_ids=ids(claimed))
    customers_release(user=sales_user, customer_ids=ids(claimed[:1]), reason="no_interest")

    with django_assert_num_queries(1):
        quota = customers_quota(user=sales_user)

    assert quota == {
        "owned": 4,
        "cap": 150,
        "claimed_today": 3,
        "daily_limit": 30,
        "locked": 2,
        "lock_limit": 10,
    }


# --- Races (PostgreSQL, real threads) ---


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_users_claiming_at_once_never_pass_their_daily_limit_or_cap(make_user, settings):
    assert connection.vendor == "postgresql"
    settings.CUSTOMER_DAILY_CLAIM_LIMIT = 3
    settings.MAX_CUSTOMER_NUM = 4
    settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS = 0
    users = [make_user("sales", username=f"racer{n}") for n in range(8)]
    CustomerFactory.create_batch(2, consultant=users[0])
    batches = {user.pk: [ids(CustomerFactory.create_batch(1)) for _tab in range(4)] for user in users}

    run_in_threads(
        [
            lambda user=user, batch=batch: customers_claim(user=user, customer_ids=batch)
            for user in users
            for batch in batches[user.pk]
        ]
    )

    for user in users:
        assert customers_claimed_today(user=user) <= 3
        assert Customer.objects.owned_by(user).count() <= 4
    assert Customer.objects.owned_by(users[0]).count() == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_claim_release_claim_from_many_tabs_does_not_reset_the_quota(make_user, settings):
    settings.CUSTOMER_DAILY_CLAIM_LIMIT = 2
    settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS = 0
    user = make_user("sales", username="churner")
    customers = CustomerFactory.create_batch(6)
    customers_claim(user=user, customer_ids=[customers[0].pk])
    customers_release(user=user, customer_ids=[customers[0].pk], reason="no_interest")

    run_in_threads(
        [
            lambda customer=customer: customers_claim(user=user, customer_ids=[customer.pk])
            for customer in customers
        ]
    )

    assert customers_claimed_today(user=user) == 2
    assert Customer.objects.owned_by(user).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lock_racing_a_recycling_run_ends_consistent(make_user, settings):
    settings.CUSTOMER_RECYCLE_DAYS = 15
    settings.CUSTOMER_DEAL_DAYS = 0
    settings.CUSTOMER_LOCK_LIMIT = 50
    owner = make_user("sales", username="locker")
    customers = [claimed_customer(owner, claimed_days_before_today=30) for _ in range(20)]

    run_in_threads(
        [
            lambda: customers_lock(user=owner, customer_ids=ids(customers)),
            lambda: customers_recycle(today=TODAY, batch_size=5),
        ]
    )

    for customer in Customer.objects.filter(pk__in=ids(customers)):
        # Either locked and still the owner's, or recycled and unlocked: never locked in the pool.
        assert (customer.consultant_id, customer.locked) in {
            (owner.pk, True),
            (None, False),
            (owner.pk, False),
        }
    recycled = CustomerTransfer.objects.filter(reason=CustomerTransfer.Reason.RECYCLE).count()
    assert recycled == Customer.objects.filter(pk__in=ids(customers), consultant__isnull=True).count()
