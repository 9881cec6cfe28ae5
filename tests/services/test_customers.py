"""Claiming and releasing customers: all or nothing, under the cap, each customer owned once."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from crm.models import Customer, CustomerStatusChange, CustomerTransfer
from crm.services.customers import (
    customer_create,
    customer_update,
    customers_advance_status,
    customers_claim,
    customers_correct_status,
    customers_release,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def ids(customers):
    return [customer.pk for customer in customers]


def test_claim_moves_public_customers_to_the_user_and_records_it(sales_user):
    pool = CustomerFactory.create_batch(3)

    claimed = customers_claim(user=sales_user, customer_ids=ids(pool))

    assert len(claimed) == 3
    assert Customer.objects.owned_by(sales_user).count() == 3
    transfers = CustomerTransfer.objects.filter(reason=CustomerTransfer.Reason.CLAIM)
    assert transfers.count() == 3
    assert {(t.from_consultant_id, t.to_consultant_id, t.by_id) for t in transfers} == {
        (None, sales_user.pk, sales_user.pk)
    }


def test_claim_of_a_taken_customer_claims_nothing_and_names_it(sales_user, other_sales_user):
    free = CustomerFactory.create_batch(2)
    taken = CustomerFactory(consultant=other_sales_user, name="已占用客户")

    with pytest.raises(ValidationError) as error:
        customers_claim(user=sales_user, customer_ids=[*ids(free), taken.pk])

    assert "已占用客户" in error.value.messages[0]
    assert error.value.code == "taken"
    assert Customer.objects.owned_by(sales_user).count() == 0
    assert Customer.objects.public().count() == 2
    assert not CustomerTransfer.objects.exists()


def test_claim_of_a_customer_deleted_meanwhile_claims_nothing(sales_user):
    free = CustomerFactory()

    with pytest.raises(ValidationError):
        customers_claim(user=sales_user, customer_ids=[free.pk, free.pk + 1000])

    assert Customer.objects.owned_by(sales_user).count() == 0


@pytest.fixture
def cap(settings):
    settings.MAX_CUSTOMER_NUM = 150
    return 150


def test_claim_at_149_takes_the_150th(sales_user, cap):
    CustomerFactory.create_batch(cap - 1, consultant=sales_user)
    free = CustomerFactory()

    customers_claim(user=sales_user, customer_ids=[free.pk])

    assert Customer.objects.owned_by(sales_user).count() == cap


def test_claim_at_the_cap_claims_nothing_and_says_the_cap_and_count(sales_user, cap):
    CustomerFactory.create_batch(cap, consultant=sales_user)
    free = CustomerFactory()

    with pytest.raises(ValidationError) as error:
        customers_claim(user=sales_user, customer_ids=[free.pk])

    assert error.value.code == "cap"
    assert "150" in error.value.messages[0]
    assert Customer.objects.get(pk=free.pk).consultant is None


def test_a_batch_that_would_cross_the_cap_claims_nothing(sales_user, cap):
    CustomerFactory.create_batch(cap - 2, consultant=sales_user)
    free = CustomerFactory.create_batch(3)

    with pytest.raises(ValidationError) as error:
        customers_claim(user=sales_user, customer_ids=ids(free))

    assert "148" in error.value.messages[0]
    assert Customer.objects.owned_by(sales_user).count() == cap - 2
    assert Customer.objects.public().count() == 3


def test_release_puts_own_customers_back_in_the_pool(sales_user):
    own = CustomerFactory.create_batch(2, consultant=sales_user)

    customers_release(user=sales_user, customer_ids=ids(own), reason="no_interest")

    assert Customer.objects.public().count() == 2
    transfers = CustomerTransfer.objects.filter(reason=CustomerTransfer.Reason.RELEASE)
    assert {(t.from_consultant_id, t.to_consultant_id) for t in transfers} == {(sales_user.pk, None)}


def test_release_of_another_users_customer_releases_nothing(sales_user, other_sales_user):
    own = CustomerFactory(consultant=sales_user)
    theirs = CustomerFactory(consultant=other_sales_user)

    with pytest.raises(ValidationError):
        customers_release(user=sales_user, customer_ids=[own.pk, theirs.pk], reason="no_interest")

    assert Customer.objects.get(pk=own.pk).consultant == sales_user
    assert Customer.objects.get(pk=theirs.pk).consultant == other_sales_user
    assert not CustomerTransfer.objects.exists()


def test_creating_a_customer_with_an_owner_respects_the_cap(sales_user, settings):
    settings.MAX_CUSTOMER_NUM = 1
    customer_create(customer=CustomerFactory.build(consultant=sales_user), by=sales_user)

    with pytest.raises(ValidationError):
        customer_create(customer=CustomerFactory.build(consultant=sales_user), by=sales_user)

    assert Customer.objects.owned_by(sales_user).count() == 1
    assert CustomerTransfer.objects.get().reason == CustomerTransfer.Reason.CREATE


def test_a_new_consultant_is_recorded_as_a_reassignment(sales_user, other_sales_user, boss_user):
    customer = CustomerFactory(consultant=sales_user)
    customer.consultant = other_sales_user
    customer.name = "改名"

    customer_update(customer=customer, by=boss_user, fields=["consultant", "name"])

    customer.refresh_from_db()
    assert customer.consultant == other_sales_user
    assert customer.name == "改名"
    transfer = CustomerTransfer.objects.get()
    assert (transfer.from_consultant, transfer.to_consultant, transfer.by) == (
        sales_user,
        other_sales_user,
        boss_user,
    )
    assert transfer.reason == CustomerTransfer.Reason.REASSIGN


def test_a_reassignment_to_a_consultant_at_the_cap_changes_nothing(
    sales_user, other_sales_user, boss_user, settings
):
    settings.MAX_CUSTOMER_NUM = 2
    CustomerFactory.create_batch(2, consultant=other_sales_user)
    customer = CustomerFactory(consultant=sales_user, name="原名")
    customer.consultant = other_sales_user
    customer.name = "改名"

    with pytest.raises(ValidationError) as raised:
        customer_update(customer=customer, by=boss_user, fields=["consultant", "name"])

    assert raised.value.code == "cap"
    message = " ".join(raised.value.messages)
    assert str(other_sales_user) in message and "2" in message
    customer.refresh_from_db()
    assert (customer.consultant, customer.name) == (sales_user, "原名")
    assert not CustomerTransfer.objects.exists()


def test_a_reassignment_up_to_the_cap_is_allowed(sales_user, other_sales_user, boss_user, settings):
    settings.MAX_CUSTOMER_NUM = 2
    CustomerFactory(consultant=other_sales_user)
    customer = CustomerFactory(consultant=sales_user)
    customer.consultant = other_sales_user

    customer_update(customer=customer, by=boss_user, fields=["consultant"])

    assert Customer.objects.owned_by(other_sales_user).count() == 2


def test_moving_a_customer_back_to_the_pool_ignores_the_cap(sales_user, boss_user, settings):
    settings.MAX_CUSTOMER_NUM = 0
    customer = CustomerFactory(consultant=sales_user)
    customer.consultant = None

    customer_update(customer=customer, by=boss_user, fields=["consultant"])

    assert Customer.objects.get(pk=customer.pk).consultant is None


def test_an_edit_writes_only_the_changed_fields(sales_user, other_sales_user):
    customer = CustomerFactory()
    stale = Customer.objects.get(pk=customer.pk)
    customers_claim(user=other_sales_user, customer_ids=[customer.pk])  # claimed meanwhile
    stale.name = "新名字"

    customer_update(customer=stale, by=sales_user, fields=["name"])

    customer.refresh_from_db()
    assert customer.name == "新名字"
    assert customer.consultant == other_sales_user


# --- Races: real threads with their own connections, real row locks (PostgreSQL only) ---


def run_in_threads(functions):
    """Start every function at once in its own thread (own database connection); return the outcomes."""
    barrier = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def run(index, function):
        try:
            barrier.wait()
            outcomes[index] = function()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_users_claiming_the_same_customers_claim_each_exactly_once(make_user):
    assert connection.vendor == "postgresql"
    users = [make_user("sales", username=f"racer{n}") for n in range(6)]
    pool = ids(CustomerFactory.create_batch(10))

    outcomes = run_in_threads(
        [lambda user=user: customers_claim(user=user, customer_ids=pool) for user in users]
    )

    winners = [outcome for outcome in outcomes if isinstance(outcome, list)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, ValidationError)]
    assert len(winners) == 1
    assert len(losers) == len(users) - 1
    assert Customer.objects.filter(pk__in=pool, consultant__isnull=True).count() == 0
    assert Customer.objects.filter(pk__in=pool).values("consultant").distinct().count() == 1
    assert CustomerTransfer.objects.count() == len(pool)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_user_claiming_from_many_tabs_never_ends_above_the_cap(make_user, settings):
    settings.MAX_CUSTOMER_NUM = 5
    user = make_user("sales", username="many_tabs")
    CustomerFactory.create_batch(3, consultant=user)
    batches = [ids(CustomerFactory.create_batch(2)) for _tab in range(5)]

    outcomes = run_in_threads(
        [lambda batch=batch: customers_claim(user=user, customer_ids=batch) for batch in batches]
    )

    assert sum(isinstance(outcome, list) for outcome in outcomes) == 1
    assert Customer.objects.owned_by(user).count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_and_a_reassignment_at_once_never_take_the_owner_above_the_cap(make_user, settings):
    settings.MAX_CUSTOMER_NUM = 3
    owner = make_user("sales", username="near_cap")
    other = make_user("sales", username="giver")
    boss = make_user("boss", username="the_boss")
    CustomerFactory.create_batch(2, consultant=owner)
    [free] = CustomerFactory.create_batch(1)

    def claim():
        return customers_claim(user=owner, customer_ids=[free.pk])

    def reassign():
        given = CustomerFactory(consultant=other)
        given.consultant = owner
        return customer_update(customer=given, by=boss, fields=["consultant"])

    outcomes = run_in_threads([claim, reassign])

    assert sum(isinstance(outcome, ValidationError) for outcome in outcomes) == 1
    assert Customer.objects.owned_by(owner).count() == 3


# --- Who may own customers: the holders of crm.own_customers, on every path ---


def test_a_user_without_own_customers_can_neither_claim_nor_be_given_customers(
    ta_user, boss_user, sales_user
):
    free = CustomerFactory()
    with pytest.raises(ValidationError) as raised:
        customers_claim(user=ta_user, customer_ids=[free.pk])
    assert raised.value.code == "not_sales"

    with pytest.raises(ValidationError):
        customer_create(customer=CustomerFactory.build(consultant=ta_user), by=boss_user)

    given = CustomerFactory(consultant=sales_user)
    given.consultant = ta_user
    with pytest.raises(ValidationError) as raised:
        customer_update(customer=given, by=boss_user, fields=["consultant"])
    assert str(ta_user) in raised.value.messages[0]

    assert not Customer.objects.owned_by(ta_user).exists()
    assert Customer.objects.get(pk=given.pk).consultant == sales_user
    assert not CustomerTransfer.objects.exclude(reason=CustomerTransfer.Reason.CREATE).exists()


def test_the_ownership_history_has_one_writer():
    import re
    from pathlib import Path

    import crm

    root = Path(crm.__file__).parent
    writes = re.compile(
        r"CustomerTransfer\((?!models\.Model)|CustomerTransfer\.objects\.(create|bulk_create|get_or_create)"
    )
    writers = [
        str(path.relative_to(root)) for path in root.rglob("*.py") if writes.search(path.read_text("utf-8"))
    ]
    assert writers == ["services/customers.py"]


# --- Status: forward through the services, back only through the boss's correction ---


def test_a_new_customer_starts_not_signed_up_whatever_it_was_given(sales_user):
    customer = customer_create(
        customer=CustomerFactory.build(consultant=sales_user, status=Customer.Status.PAID_IN_FULL),
        by=sales_user,
    )
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.UNREGISTERED


def test_an_edit_never_writes_the_status(sales_user):
    customer = CustomerFactory(consultant=sales_user, status=Customer.Status.STUDYING)
    customer.status = Customer.Status.UNREGISTERED
    customer.name = "改名"

    customer_update(customer=customer, by=sales_user, fields=["status", "name"])

    saved = Customer.objects.get(pk=customer.pk)
    assert (saved.status, saved.name) == (Customer.Status.STUDYING, "改名")


def test_the_status_only_moves_forward(sales_user):
    customer = CustomerFactory(consultant=sales_user, status=Customer.Status.STUDYING)

    assert not customers_advance_status(customer=customer, status=Customer.Status.SIGNED)
    assert customers_advance_status(customer=customer, status=Customer.Status.PAID_IN_FULL)

    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.PAID_IN_FULL


def test_a_correction_moves_the_status_either_way_and_records_it(boss_user):
    paid = CustomerFactory(status=Customer.Status.PAID_IN_FULL)
    signed = CustomerFactory(status=Customer.Status.SIGNED)
    already = CustomerFactory(status=Customer.Status.STUDYING)

    changes = customers_correct_status(
        customer_ids=ids([paid, signed, already]),
        status=Customer.Status.STUDYING,
        reason=" 录入错误 ",
        by=boss_user,
    )

    assert {(c.customer_id, c.from_status, c.to_status) for c in changes} == {
        (paid.pk, Customer.Status.PAID_IN_FULL, Customer.Status.STUDYING),
        (signed.pk, Customer.Status.SIGNED, Customer.Status.STUDYING),
    }
    assert set(CustomerStatusChange.objects.values_list("reason", "by")) == {("录入错误", boss_user.pk)}
    assert set(Customer.objects.values_list("status", flat=True)) == {Customer.Status.STUDYING}


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [
        (Customer.Status.SIGNED, "  ", "no_reason"),
        ("graduated", "原因", "no_status"),
        (Customer.Status.SIGNED, "长" * 256, "long_reason"),
    ],
)
def test_a_correction_without_a_reason_or_a_real_status_changes_nothing(boss_user, status, reason, code):
    customer = CustomerFactory(status=Customer.Status.STUDYING)

    with pytest.raises(ValidationError) as raised:
        customers_correct_status(customer_ids=[customer.pk], status=status, reason=reason, by=boss_user)

    assert raised.value.code == code
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.STUDYING
    assert not CustomerStatusChange.objects.exists()


# --- reassignment (the boss hands customers out) ---


def test_reassign_moves_every_customer_and_records_each_move(sales_user, other_sales_user, boss_user):
    from crm.services.customers import customers_reassign

    private = CustomerFactory(consultant=other_sales_user)
    pooled = CustomerFactory(consultant=None)
    already = CustomerFactory(consultant=sales_user)

    moved = customers_reassign(by=boss_user, customer_ids=ids([private, pooled, already]), to=sales_user)

    assert sorted(ids(moved)) == sorted(ids([private, pooled]))
    assert set(Customer.objects.filter(consultant=sales_user)) == {private, pooled, already}
    history = CustomerTransfer.objects.filter(reason=CustomerTransfer.Reason.REASSIGN).order_by("customer_id")
    assert [(row.customer, row.from_consultant, row.to_consultant, row.by) for row in history] == [
        (private, other_sales_user, sales_user, boss_user),
        (pooled, None, sales_user, boss_user),
    ]


def test_reassign_past_the_cap_moves_nothing(sales_user, other_sales_user, boss_user, settings):
    from crm.services.customers import customers_reassign

    settings.MAX_CUSTOMER_NUM = 2
    CustomerFactory(consultant=sales_user)
    customers = CustomerFactory.create_batch(2, consultant=other_sales_user)

    with pytest.raises(ValidationError, match="2"):
        customers_reassign(by=boss_user, customer_ids=ids(customers), to=sales_user)

    assert Customer.objects.filter(consultant=other_sales_user).count() == 2
    assert not CustomerTransfer.objects.filter(reason=CustomerTransfer.Reason.REASSIGN).exists()


def test_reassign_to_someone_who_may_not_own_customers_moves_nothing(other_sales_user, boss_user, make_user):
    from crm.services.customers import customers_reassign

    customer = CustomerFactory(consultant=other_sales_user)

    with pytest.raises(ValidationError):
        customers_reassign(by=boss_user, customer_ids=[customer.pk], to=make_user("ta"))

    customer.refresh_from_db()
    assert customer.consultant == other_sales_user


def test_reassign_of_a_customer_deleted_meanwhile_moves_nothing(sales_user, other_sales_user, boss_user):
    from crm.services.customers import customers_reassign

    customer = CustomerFactory(consultant=other_sales_user)

    with pytest.raises(ValidationError):
        customers_reassign(by=boss_user, customer_ids=[customer.pk, 999999], to=sales_user)

    customer.refresh_from_db()
    assert customer.consultant == other_sales_user


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_reassignment_racing_the_owners_claim_never_passes_the_cap(
    sales_user, other_sales_user, boss_user, settings
):
    from crm.services.customers import customers_claim, customers_reassign

    settings.MAX_CUSTOMER_NUM = 2
    settings.CUSTOMER_DAILY_CLAIM_LIMIT = 0
    handed = CustomerFactory.create_batch(2, consultant=other_sales_user)
    pooled = CustomerFactory.create_batch(2, consultant=None)
    start = threading.Barrier(2)
    errors = []

    def run(call):
        try:
            start.wait(timeout=10)
            call()
        except ValidationError as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(
            target=run,
            args=(lambda: customers_reassign(by=boss_user, customer_ids=ids(handed), to=sales_user),),
        ),
        threading.Thread(
            target=run, args=(lambda: customers_claim(user=sales_user, customer_ids=ids(pooled)),)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(errors) == 1
    assert Customer.objects.filter(consultant=sales_user).count() == 2


# --- the customer tally (CustomerTally, kept by PostgreSQL's triggers) ---


def tallied(groups):
    from crm.services.customers import customers_tally_count

    return customers_tally_count(groups=groups)


def tally_agrees_with_the_customers(*users):
    """Every scope and filter a list counts from the tally gives the count of the customers."""
    from crm.models import CustomerTally

    for user in users:
        for method, args in (("pool_of", (user,)), ("owned_by", (user,)), ("visible_to", (user,))):
            customers = getattr(Customer.objects, method)(*args)
            groups = getattr(CustomerTally.objects, method)(*args)
            for status in [None, *Customer.Status.values]:
                for source in [None, "qq", "website"]:
                    lookups = {k: v for k, v in (("status", status), ("source", source)) if v}
                    assert tallied(groups.filter(**lookups)) == customers.filter(**lookups).count()


@pytest.mark.postgres
def test_the_tally_counts_each_group_exactly_through_every_kind_of_write(
    sales_user, other_sales_user, boss_user
):
    from crm.models import Campus

    campus = Campus.objects.create(name="校区T")
    sales_user.campus = campus
    sales_user.save(update_fields=["campus"])
    pool = CustomerFactory.create_batch(6, source="website") + CustomerFactory.create_batch(3, campus=campus)
    CustomerFactory.create_batch(2, consultant=other_sales_user)
    tally_agrees_with_the_customers(sales_user, other_sales_user, boss_user)

    customers_claim(user=sales_user, customer_ids=ids(pool[:4]))
    customers_release(user=sales_user, customer_ids=ids(pool[:1]), reason="no_interest")
    Customer.objects.filter(pk__in=ids(pool[4:6])).update(status=Customer.Status.SIGNED, source="qq")
    Customer.objects.filter(pk=pool[6].pk).update(name="只改名字")  # moves no customer between groups
    Customer.objects.filter(pk=pool[7].pk).delete()
    Customer.objects.bulk_create([Customer(qq="99887766", campus=campus, source="website")])
    tally_agrees_with_the_customers(sales_user, other_sales_user, boss_user)


@pytest.mark.postgres
def test_the_tally_folds_its_differences_into_one_row_per_group_and_still_counts(sales_user, monkeypatch):
    from crm import tallies
    from crm.models import CustomerTally

    pool = CustomerFactory.create_batch(5)
    for customer in pool:
        customers_claim(user=sales_user, customer_ids=[customer.pk])
    rows = CustomerTally.objects.count()
    with monkeypatch.context() as patch:
        patch.setattr(tallies, "TALLY_FOLD_ROWS", 3)
        assert tallied(CustomerTally.objects.owned_by(sales_user)) == 5

    assert CustomerTally.objects.count() < rows
    assert tallied(CustomerTally.objects.owned_by(sales_user)) == 5
    assert tallied(CustomerTally.objects.public()) == 0


@pytest.mark.postgres
def test_the_tally_counts_per_owner_each_owners_customers(sales_user, other_sales_user):
    from crm.models import CustomerTally
    from crm.services.customers import customers_tally_counts

    pool = CustomerFactory.create_batch(4)
    CustomerFactory.create_batch(2, consultant=other_sales_user)
    customers_claim(user=sales_user, customer_ids=ids(pool[:3]))
    customers_release(user=sales_user, customer_ids=ids(pool[:1]), reason="no_interest")

    owners = CustomerTally.objects.exclude(consultant=None)
    assert customers_tally_counts(groups=owners, by=("consultant",)) == {
        (sales_user.pk,): 2,
        (other_sales_user.pk,): 2,
    }
    assert customers_tally_counts(groups=CustomerTally.objects.all(), by=("consultant",))[(None,)] == 2


def test_the_tally_is_not_read_on_sqlite(sales_user):
    from crm.models import CustomerTally

    if connection.vendor != "sqlite":
        pytest.skip("the tally is PostgreSQL's")
    assert tallied(CustomerTally.objects.all()) is None
    from crm.services.customers import customers_tally_counts

    assert customers_tally_counts(groups=CustomerTally.objects.all(), by=("consultant",)) is None
