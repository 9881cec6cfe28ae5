import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from crm import tallies
from crm.models import Customer, Enrollment, PaymentRecord
from crm.services import finance as services
from tests.factories import CustomerFactory, EnrollmentFactory, PaymentRecordFactory
from tests.services.test_customers import run_in_threads

pytestmark = pytest.mark.django_db

Status = Customer.Status
PayType = PaymentRecord.PayType


def payment(customer, klass, pay_type=PayType.TUITION, paid_fee=5000, **fields):
    return PaymentRecordFactory(
        customer=customer,
        enrolment_class=klass,
        consultant=customer.consultant,
        pay_type=pay_type,
        paid_fee=paid_fee,
        **fields,
    )


def confirm(*payments, user):
    pks = [item.pk for item in payments]
    return services.payments_confirm(payments=PaymentRecord.objects.filter(pk__in=pks), user=user)


# Enrollments


def test_enrolling_another_salespersons_customer_is_refused(sales_user, other_sales_user, klass):
    customer = CustomerFactory(consultant=other_sales_user)

    with pytest.raises(ValidationError) as error:
        services.enrollment_check(user=sales_user, customer=customer, enrolment_class=klass)

    assert "customer" in error.value.message_dict


def test_enrolling_a_public_pool_customer_is_refused(sales_user, klass):
    with pytest.raises(ValidationError):
        services.enrollment_check(user=sales_user, customer=CustomerFactory(), enrolment_class=klass)


def test_enrolling_a_customer_twice_in_a_class_is_refused(sales_user, own_customer, klass):
    EnrollmentFactory(customer=own_customer, enrolment_class=klass, consultant=sales_user)

    with pytest.raises(ValidationError) as error:
        services.enrollment_check(user=sales_user, customer=own_customer, enrolment_class=klass)

    assert "enrolment_class" in error.value.message_dict


def test_an_own_customer_may_be_enrolled(sales_user, own_customer, klass):
    services.enrollment_check(user=sales_user, customer=own_customer, enrolment_class=klass)


def test_approval_joins_the_class_and_signs_the_customer_up(class_teacher_user, own_customer, klass):
    enrollment = EnrollmentFactory(customer=own_customer, enrolment_class=klass)

    result = services.enrollments_approve(
        enrollments=Enrollment.objects.filter(pk=enrollment.pk), user=class_teacher_user
    )

    enrollment.refresh_from_db()
    own_customer.refresh_from_db()
    assert result == {"approved": 1, "skipped": 0}
    assert enrollment.contract_approved
    assert list(own_customer.class_list.all()) == [klass]
    assert own_customer.status == Status.SIGNED


def test_approving_twice_changes_nothing_more(class_teacher_user, own_customer, klass):
    enrollment = EnrollmentFactory(customer=own_customer, enrolment_class=klass)
    enrollments = Enrollment.objects.filter(pk=enrollment.pk)
    services.enrollments_approve(enrollments=enrollments, user=class_teacher_user)
    Customer.objects.filter(pk=own_customer.pk).update(status=Status.STUDYING)

    result = services.enrollments_approve(enrollments=enrollments, user=class_teacher_user)

    own_customer.refresh_from_db()
    assert result == {"approved": 0, "skipped": 0}
    assert own_customer.status == Status.STUDYING
    assert own_customer.class_list.count() == 1


def test_a_contract_the_customer_has_not_agreed_to_is_not_approved(class_teacher_user, own_customer, klass):
    enrollment = EnrollmentFactory(customer=own_customer, enrolment_class=klass, contract_agreed=False)

    result = services.enrollments_approve(
        enrollments=Enrollment.objects.filter(pk=enrollment.pk), user=class_teacher_user
    )

    enrollment.refresh_from_db()
    assert result == {"approved": 0, "skipped": 1}
    assert not enrollment.contract_approved
    assert not own_customer.class_list.exists()


def test_editing_an_enrollment_approved_since_the_form_was_read_is_refused(
    class_teacher_user, own_customer, klass
):
    stale = EnrollmentFactory(customer=own_customer, enrolment_class=klass)
    services.enrollments_approve(enrollments=Enrollment.objects.all(), user=class_teacher_user)
    stale.memo = "改"

    with pytest.raises(ValidationError):
        services.enrollments_update(enrollment=stale, fields=["memo"], may_edit_approved=False)

    stale.refresh_from_db()
    assert (stale.memo, stale.contract_approved) == ("", True)


def test_an_approver_edits_an_approved_enrollment_but_not_its_class(class_teacher_user, own_customer, klass):
    enrollment = EnrollmentFactory(customer=own_customer, enrolment_class=klass, contract_approved=True)
    other = EnrollmentFactory().enrolment_class
    enrollment.memo, enrollment.enrolment_class, enrollment.contract_approved = "改", other, False

    services.enrollments_update(
        enrollment=enrollment, fields=["memo", "enrolment_class", "contract_approved"], may_edit_approved=True
    )

    enrollment.refresh_from_db()
    assert (enrollment.memo, enrollment.enrolment_class, enrollment.contract_approved) == ("改", klass, True)


# Payments


def test_a_payment_for_a_class_the_customer_is_not_enrolled_in_is_refused(sales_user, own_customer, klass):
    with pytest.raises(ValidationError) as error:
        services.payment_check(user=sales_user, customer=own_customer, enrolment_class=klass)

    assert "enrolment_class" in error.value.message_dict


def test_a_payment_of_another_salespersons_customer_is_refused(sales_user, other_sales_user, klass):
    with pytest.raises(ValidationError):
        services.payment_check(
            user=sales_user, customer=CustomerFactory(consultant=other_sales_user), enrolment_class=None
        )


def test_confirmation_records_who_and_when_and_skips_settled_rows(finance_user, own_customer, klass):
    pending = payment(own_customer, klass, PayType.DEPOSIT, 500)
    rejected = payment(own_customer, klass, PayType.DEPOSIT, 800, status=PaymentRecord.Status.REJECTED)

    count = confirm(pending, rejected, user=finance_user)

    pending.refresh_from_db()
    rejected.refresh_from_db()
    assert count == 1
    assert pending.status == PaymentRecord.Status.CONFIRMED
    assert pending.confirm_user == finance_user
    assert pending.confirm_date is not None
    assert rejected.status == PaymentRecord.Status.REJECTED
    assert confirm(pending, user=finance_user) == 0


def test_the_first_confirmed_tuition_makes_the_customer_a_student(finance_user, own_customer, klass):
    own_customer.status = Status.SIGNED
    own_customer.save()
    deposit = payment(own_customer, klass, PayType.DEPOSIT, 500)
    confirm(deposit, user=finance_user)
    own_customer.refresh_from_db()
    assert own_customer.status == Status.SIGNED

    confirm(payment(own_customer, klass, PayType.TUITION, 4000), user=finance_user)

    own_customer.refresh_from_db()
    assert own_customer.status == Status.STUDYING


@pytest.mark.parametrize(
    ("earlier", "last"),
    [
        ([(PayType.DEPOSIT, 500), (PayType.TUITION, 5000)], (PayType.TUITION, 4500)),
        # A deposit confirmed after the tuition completes the price too.
        ([(PayType.TUITION, 9500)], (PayType.DEPOSIT, 500)),
    ],
)
def test_payments_reaching_the_class_price_mean_paid_in_full(
    finance_user, own_customer, klass, earlier, last
):
    for pay_type, fee in earlier:
        confirm(payment(own_customer, klass, pay_type, fee), user=finance_user)
    own_customer.refresh_from_db()
    assert own_customer.status == Status.STUDYING

    confirm(payment(own_customer, klass, *last), user=finance_user)

    own_customer.refresh_from_db()
    assert own_customer.status == Status.PAID_IN_FULL


def test_deposits_alone_make_nobody_a_student_nor_paid_in_full(finance_user, own_customer, klass):
    confirm(payment(own_customer, klass, PayType.DEPOSIT, 10000), user=finance_user)

    own_customer.refresh_from_db()
    assert own_customer.status == Status.UNREGISTERED


@pytest.mark.parametrize("refund_fee", [-2000, 2000])
def test_a_refund_keeps_the_class_from_being_paid_in_full(finance_user, own_customer, klass, refund_fee):
    confirm(payment(own_customer, klass, PayType.REFUND, refund_fee), user=finance_user)

    confirm(payment(own_customer, klass, PayType.TUITION, 10000), user=finance_user)

    own_customer.refresh_from_db()
    assert own_customer.status == Status.STUDYING


def test_unconfirmed_payments_do_not_count_towards_the_price(finance_user, own_customer, klass):
    payment(own_customer, klass, PayType.TUITION, 9000)

    confirm(payment(own_customer, klass, PayType.TUITION, 1000), user=finance_user)

    own_customer.refresh_from_db()
    assert own_customer.status == Status.STUDYING


def test_confirmation_never_moves_a_customer_back(finance_user, own_customer, klass):
    own_customer.status = Status.PAID_IN_FULL
    own_customer.save()

    confirm(payment(own_customer, klass, PayType.TUITION, 100), user=finance_user)

    own_customer.refresh_from_db()
    assert own_customer.status == Status.PAID_IN_FULL


def test_rejection_needs_a_reason(finance_user, own_customer, klass):
    pending = payment(own_customer, klass)

    with pytest.raises(ValidationError):
        services.payments_reject(payments=PaymentRecord.objects.all(), user=finance_user, reason="  ")

    pending.refresh_from_db()
    assert pending.status == PaymentRecord.Status.UNCONFIRMED


def test_rejection_records_the_reason_and_leaves_confirmed_rows_alone(finance_user, own_customer, klass):
    pending = payment(own_customer, klass)
    confirmed = payment(own_customer, klass, status=PaymentRecord.Status.CONFIRMED)

    count = services.payments_reject(
        payments=PaymentRecord.objects.all(), user=finance_user, reason="金额不符"
    )

    pending.refresh_from_db()
    confirmed.refresh_from_db()
    assert count == 1
    assert (pending.status, pending.reject_reason, pending.confirm_user) == (
        PaymentRecord.Status.REJECTED,
        "金额不符",
        finance_user,
    )
    assert confirmed.status == PaymentRecord.Status.CONFIRMED


# Totals


def test_totals_subtract_refunds_whatever_their_sign(own_customer, klass):
    # A refund is typed as a refund (positive or negative) or as a negative amount of another type.
    confirmed = {"status": PaymentRecord.Status.CONFIRMED}
    payment(own_customer, klass, PayType.DEPOSIT, 500, **confirmed)
    payment(own_customer, klass, PayType.TUITION, 9500, **confirmed)
    payment(own_customer, klass, PayType.REFUND, -1000, **confirmed)
    payment(own_customer, klass, PayType.REFUND, 2000, **confirmed)
    payment(own_customer, klass, PayType.TUITION, -500, **confirmed)
    payment(own_customer, klass, PayType.TUITION, 3000)
    payment(own_customer, klass, PayType.TUITION, 7000, status=PaymentRecord.Status.REJECTED)

    totals = PaymentRecord.objects.totals()

    assert totals == {
        "count": 7,
        "confirmed_net": 6500,
        "confirmed_income": 10000,
        "confirmed_refunds": -3500,
        "unconfirmed_net": 3000,
    }


def test_totals_of_no_rows_are_zero(db):
    assert PaymentRecord.objects.totals()["confirmed_net"] == 0


def test_net_amount_of_a_row_agrees_with_the_totals(own_customer, klass):
    refund = payment(own_customer, klass, PayType.REFUND, 2000)
    tuition = payment(own_customer, klass, PayType.TUITION, 2000)
    net = dict(PaymentRecord.objects.with_net_amount().values_list("pk", "net_amount"))
    assert net == {refund.pk: -2000, tuition.pk: 2000}


# Races


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_finance_users_confirming_the_same_payments_confirm_each_once(make_user, klass):
    sales = make_user("sales", username="race_sales")
    customer = CustomerFactory(consultant=sales)
    EnrollmentFactory(customer=customer, enrolment_class=klass, consultant=sales)
    payments = [payment(customer, klass, PayType.TUITION, 5000) for _ in range(2)]
    users = [make_user("finance", username=f"race_finance{index}") for index in range(2)]
    counts = []
    barrier = threading.Barrier(2)

    def run(user):
        try:
            barrier.wait()
            counts.append(confirm(*payments, user=user))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    customer.refresh_from_db()
    assert sorted(counts) == [0, 2]
    assert customer.status == Status.PAID_IN_FULL


def test_editing_a_payment_confirmed_since_the_form_was_read_changes_nothing(
    finance_user, own_customer, klass
):
    stale = payment(own_customer, klass, PayType.TUITION, 5000)
    confirm(stale, user=finance_user)
    stale.paid_fee = 9

    with pytest.raises(ValidationError):
        services.payments_update(payment=stale, fields=["paid_fee"])

    stale.refresh_from_db()
    assert (stale.paid_fee, stale.status) == (5000, PaymentRecord.Status.CONFIRMED)


def test_an_unconfirmed_payment_saves_only_its_editable_fields(finance_user, own_customer, klass):
    pending = payment(own_customer, klass, PayType.TUITION, 5000)
    PaymentRecord.objects.filter(pk=pending.pk).update(reject_reason="kept")
    pending.paid_fee, pending.status = 6000, PaymentRecord.Status.CONFIRMED

    services.payments_update(payment=pending, fields=["paid_fee", "status"])

    pending.refresh_from_db()
    assert (pending.paid_fee, pending.status, pending.reject_reason) == (6000, "unconfirmed", "kept")


# Enrollments created or moved while another one is saved


def enrollment_of(customer, klass, **fields):
    return Enrollment(
        customer=customer,
        enrolment_class=klass,
        school=klass.campus,
        why_us="朋友推荐",
        your_expectation="找到工作",
        **fields,
    )


def test_creating_an_enrollment_makes_the_user_its_consultant(sales_user, own_customer, klass):
    enrollment = services.enrollments_create(enrollment=enrollment_of(own_customer, klass), user=sales_user)

    assert Enrollment.objects.get() == enrollment
    assert enrollment.consultant == sales_user


def test_creating_an_enrollment_that_exists_already_raises_and_saves_nothing(sales_user, own_customer, klass):
    EnrollmentFactory(customer=own_customer, enrolment_class=klass, memo="先到")

    with pytest.raises(ValidationError) as raised:
        services.enrollments_create(
            enrollment=enrollment_of(own_customer, klass, memo="后到"), user=sales_user
        )

    assert raised.value.message_dict == {"enrolment_class": ["该客户已报名此班级。"]}
    assert list(Enrollment.objects.values_list("memo", flat=True)) == ["先到"]


def test_creating_an_enrollment_of_someone_elses_customer_raises(other_sales_user, own_customer, klass):
    with pytest.raises(ValidationError):
        services.enrollments_create(enrollment=enrollment_of(own_customer, klass), user=other_sales_user)

    assert not Enrollment.objects.exists()


def test_moving_an_enrollment_to_a_class_the_customer_joined_meanwhile_raises(own_customer, klass):
    moved = EnrollmentFactory(customer=own_customer, memo="原")
    EnrollmentFactory(customer=own_customer, enrolment_class=klass)
    original_class = moved.enrolment_class
    moved.enrolment_class, moved.memo = klass, "改"

    with pytest.raises(ValidationError):
        services.enrollments_update(
            enrollment=moved, fields=["enrolment_class", "memo"], may_edit_approved=False
        )

    moved.refresh_from_db()
    assert (moved.enrolment_class, moved.memo) == (original_class, "原")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_identical_enrollments_at_once_save_exactly_one(sales_user, own_customer, klass):
    def create():
        return services.enrollments_create(enrollment=enrollment_of(own_customer, klass), user=sales_user)

    outcomes = run_in_threads([create] * 4)

    assert sum(isinstance(outcome, Enrollment) for outcome in outcomes) == 1
    assert sum(isinstance(outcome, ValidationError) for outcome in outcomes) == 3
    assert Enrollment.objects.count() == 1


@pytest.mark.parametrize("amount", [0, -2147483648, 9223372036854775807, 1_000_001])
def test_an_update_to_an_amount_out_of_range_is_refused_and_changes_nothing(own_customer, klass, amount):
    pending = payment(own_customer, klass, paid_fee=500)
    pending.paid_fee = amount

    with pytest.raises(ValidationError, match="1,000,000"):
        services.payments_update(payment=pending, fields=["paid_fee"])

    pending.refresh_from_db()
    assert pending.paid_fee == 500


# Payment creation goes through the service (one save strategy: every write with a rule).


def test_payments_create_records_an_unconfirmed_payment_of_the_users_customer(
    sales_user, other_sales_user, own_customer, klass
):
    EnrollmentFactory(customer=own_customer, enrolment_class=klass)
    new = PaymentRecord(
        customer=own_customer,
        enrolment_class=klass,
        pay_type=PayType.TUITION,
        paid_fee=800,
        consultant=other_sales_user,
        status=PaymentRecord.Status.CONFIRMED,
    )

    services.payments_create(payment=new, user=sales_user)

    new.refresh_from_db()
    assert (new.consultant, new.status, new.paid_fee) == (sales_user, PaymentRecord.Status.UNCONFIRMED, 800)


@pytest.mark.parametrize("paid_fee", [0, 1_000_001, -2_147_483_648])
def test_payments_create_refuses_an_amount_out_of_bounds(sales_user, own_customer, paid_fee):
    new = PaymentRecord(customer=own_customer, pay_type=PayType.REFUND, paid_fee=paid_fee)

    with pytest.raises(ValidationError) as error:
        services.payments_create(payment=new, user=sales_user)

    assert list(error.value.message_dict) == ["paid_fee"]
    assert not PaymentRecord.objects.exists()


def test_payments_create_refuses_a_customer_released_meanwhile(sales_user, own_customer):
    own_customer.consultant = None
    own_customer.save(update_fields=["consultant"])

    with pytest.raises(ValidationError):
        services.payments_create(payment=PaymentRecord(customer=own_customer, paid_fee=500), user=sales_user)

    assert not PaymentRecord.objects.exists()


# --- the payment tally (PaymentTally, kept by PostgreSQL's triggers) ---


def tally_agrees_with_the_payments(*users):
    """Every scope, filter and total the payment list reads from the tally gives the payments' totals."""
    from crm.models import PaymentTally
    from crm.querysets import PaymentRecordQuerySet

    for user in users:
        payments = PaymentRecord.objects.alive().visible_to(user)
        groups = PaymentTally.objects.alive().visible_to(user)
        for total in [None, *PaymentRecordQuerySet.TOTALS]:
            for lookups in [{}, {"pay_type": PayType.REFUND}, {"status": PaymentRecord.Status.REJECTED}]:
                rows = payments.filter(payments.total_q(total)) if total else payments
                tallied = groups.filter(groups.total_q(total)) if total else groups
                expected = rows.filter(**lookups).totals()
                assert services.payments_tally_totals(groups=tallied.filter(**lookups)) == expected


@pytest.mark.postgres
def test_the_payment_tally_sums_each_group_exactly_through_every_kind_of_write(
    sales_user, other_sales_user, finance_user, klass
):
    mine = CustomerFactory(consultant=sales_user)
    theirs = CustomerFactory(consultant=other_sales_user)
    paid = [payment(mine, klass, paid_fee=fee) for fee in (5000, 3000, 1200)]
    refund = payment(mine, klass, pay_type=PayType.REFUND, paid_fee=800)
    typed_negative = payment(theirs, klass, pay_type=PayType.DEPOSIT, paid_fee=-300)
    payment(theirs, None, paid_fee=2000)
    tally_agrees_with_the_payments(sales_user, other_sales_user, finance_user)

    confirm(paid[0], refund, typed_negative, user=finance_user)
    services.payments_reject(
        payments=PaymentRecord.objects.filter(pk=paid[1].pk), user=finance_user, reason="x"
    )
    PaymentRecord.objects.filter(pk=paid[2].pk).update(paid_fee=-1200)  # its sign moves it to money out
    PaymentRecord.objects.filter(pk=paid[0].pk).update(note="只改备注")  # moves nothing between groups
    PaymentRecord.objects.filter(pk=refund.pk).update(delete_status=True)  # into the recycle bin
    PaymentRecord.objects.filter(pk=typed_negative.pk).delete()
    PaymentRecord.objects.bulk_create(
        [PaymentRecord(customer=theirs, consultant=other_sales_user, pay_type=PayType.DROPOUT, paid_fee=-700)]
    )
    tally_agrees_with_the_payments(sales_user, other_sales_user, finance_user)


@pytest.mark.postgres
def test_the_payment_tally_folds_its_differences_into_one_row_per_group_and_still_sums(
    sales_user, finance_user, klass, monkeypatch
):
    from crm.models import PaymentTally

    customer = CustomerFactory(consultant=sales_user)
    for _ in range(4):
        confirm(payment(customer, klass, paid_fee=1000), user=finance_user)
    rows = PaymentTally.objects.count()
    with monkeypatch.context() as patch:
        patch.setattr(tallies, "TALLY_FOLD_ROWS", 3)
        assert services.payments_tally_totals(groups=PaymentTally.objects.all())["confirmed_net"] == 4000

    assert PaymentTally.objects.count() == 1 < rows
    assert services.payments_tally_totals(groups=PaymentTally.objects.all()) == PaymentRecord.objects.totals()


def test_the_payment_tally_is_not_read_on_sqlite(sales_user, klass):
    from crm.models import PaymentTally

    if connection.vendor != "sqlite":
        pytest.skip("the tally is PostgreSQL's")
    payment(CustomerFactory(consultant=sales_user), klass)
    assert services.payments_tally_totals(groups=PaymentTally.objects.all()) is None
