"""Enrollments and payments: every write that has a rule."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import tallies
from crm.models import ClassList, Customer, Enrollment, PaymentRecord, UserProfile
from crm.models.finance import validate_paid_fee
from crm.services.customers import customers_advance_status


def enrollment_check(
    *,
    user: UserProfile,
    customer: Customer,
    enrolment_class: ClassList,
    enrollment: Enrollment | None = None,
    may_edit_approved: bool = True,
) -> None:
    """Raise ValidationError unless ``user`` may enrol ``customer`` in ``enrolment_class``.

    A new enrollment is only for the user's own customer; no customer is enrolled twice in a class; an
    approved enrollment is edited only by those who approve contracts (``may_edit_approved``).

    The rows are locked (the admin's form calls it in its clean, inside the transaction in which the
    admin then saves): an identical enrollment, a release or an approval committed by someone else
    either waits for this save or is seen here. NO KEY: the rows are only updated. The enrollment
    before the customer, the order of an approval: the two never deadlock.
    """
    if enrollment is not None:
        _check_editable(enrollment, may_edit_approved=may_edit_approved)
    Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk).exists()
    if enrollment is None and not Customer.objects.owned_by(user).filter(pk=customer.pk).exists():
        raise ValidationError({"customer": _("You can only enrol your own customers.")}, code="not_owner")
    _check_not_enrolled(customer.pk, enrolment_class.pk, enrollment=enrollment)


def _check_editable(enrollment: Enrollment, *, may_edit_approved: bool) -> bool:
    """Lock ``enrollment``'s row and return whether its contract is approved; raise ValidationError
    when it is and the user may not edit approved contracts."""
    approved = (
        Enrollment.objects.select_for_update(no_key=True)
        .values_list("contract_approved", flat=True)
        .get(pk=enrollment.pk)
    )
    if approved and not may_edit_approved:
        raise ValidationError(
            _("This contract has been approved: it can no longer be edited."), code="approved"
        )
    return approved


def _check_not_enrolled(customer_id: int, class_id: int, *, enrollment: Enrollment | None = None) -> None:
    duplicates = Enrollment.objects.filter(customer_id=customer_id, enrolment_class_id=class_id)
    if enrollment is not None:
        duplicates = duplicates.exclude(pk=enrollment.pk)
    if duplicates.exists():
        raise ValidationError(
            {"enrolment_class": _("This customer is already enrolled in this class.")}, code="duplicate"
        )


@transaction.atomic
def enrollments_create(*, enrollment: Enrollment, user: UserProfile) -> Enrollment:
    """Save the new ``enrollment`` of ``user``'s customer, whose consultant ``user`` becomes.

    The customer's row is locked, then the rules are checked again: two identical enrollments sent
    at once both pass the form's check, and the second then gets a ValidationError instead of
    breaking the unique constraint.
    """
    customer = Customer.objects.select_for_update(no_key=True).get(pk=enrollment.customer_id)
    enrollment_check(user=user, customer=customer, enrolment_class=enrollment.enrolment_class)
    enrollment.consultant = user
    enrollment.save()
    return enrollment


# What an enrollment's edit form may change; approval, customer and consultant are never edited, and
# once approved the class and campus are settled too (the customer is in that class).
ENROLLMENT_FIELDS = [
    "enrolment_class",
    "school",
    "why_us",
    "your_expectation",
    "contract_agreed",
    "enrolled_date",
    "memo",
]
APPROVED_ENROLLMENT_FIELDS = ["why_us", "your_expectation", "contract_agreed", "enrolled_date", "memo"]


@transaction.atomic
def enrollments_update(*, enrollment: Enrollment, fields: list[str], may_edit_approved: bool) -> Enrollment:
    """Save the edited ``fields`` of ``enrollment``; an approved one only by those who approve contracts."""
    # Lock, then re-check: the contract may have been approved since the edit form was read, and
    # saving the stale form must neither edit it nor take the approval back.
    approved = _check_editable(enrollment, may_edit_approved=may_edit_approved)
    editable = APPROVED_ENROLLMENT_FIELDS if approved else ENROLLMENT_FIELDS
    fields = [name for name in fields if name in editable]
    if "enrolment_class" in fields:
        # Moved to another class: re-check under the customer's lock, as enrollments_create does,
        # that the customer has not been enrolled in it meanwhile.
        Customer.objects.select_for_update(no_key=True).filter(pk=enrollment.customer_id).exists()
        _check_not_enrolled(enrollment.customer_id, enrollment.enrolment_class_id, enrollment=enrollment)
    enrollment.save(update_fields=fields)
    return enrollment


@transaction.atomic
def enrollments_approve(*, enrollments: QuerySet, user: UserProfile) -> dict[str, int]:
    """Approve the contracts of ``enrollments``: the customer joins the class and is signed up.

    Already approved rows are left alone (approving twice changes nothing more); rows whose contract
    the customer has not agreed to are skipped. Returns the counts of approved and skipped rows.
    """
    # Lock the rows so that two approvers do not both count (and both process) the same enrollment.
    pending = list(
        Enrollment.objects.select_for_update()
        .filter(pk__in=enrollments.values("pk"), contract_approved=False)
        .order_by("pk")
    )
    approvable = [enrollment for enrollment in pending if enrollment.contract_agreed]
    customers = {
        customer.pk: customer
        for customer in Customer.objects.select_for_update(no_key=True)
        .filter(pk__in=[enrollment.customer_id for enrollment in approvable])
        .order_by("pk")
    }
    for enrollment in approvable:
        enrollment.contract_approved = True
        enrollment.save(update_fields=["contract_approved"])
        customer = customers[enrollment.customer_id]
        customer.class_list.add(enrollment.enrolment_class_id)
        customers_advance_status(customer=customer, status=Customer.Status.SIGNED)
    return {"approved": len(approvable), "skipped": len(pending) - len(approvable)}


def payment_check(
    *,
    user: UserProfile,
    customer: Customer,
    enrolment_class: ClassList | None,
    payment: PaymentRecord | None = None,
) -> None:
    """Raise ValidationError unless ``user`` may record this payment (or save this edit of ``payment``).

    A new payment is only of the user's own customer, a class paid for is one the customer enrolled in,
    and settled money (confirmed or rejected) is never edited. The rows are locked, as in
    ``enrollment_check`` (the payment before the customer, the order of a confirmation): a release or
    a confirmation committed meanwhile is seen here, or waits.
    """
    if payment is not None:
        _check_unsettled(payment)
    Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk).exists()
    if payment is None and not Customer.objects.owned_by(user).filter(pk=customer.pk).exists():
        raise ValidationError(
            {"customer": _("You can only record payments of your own customers.")}, code="not_owner"
        )
    if (
        enrolment_class is not None
        and not Enrollment.objects.filter(customer=customer, enrolment_class=enrolment_class).exists()
    ):
        raise ValidationError(
            {"enrolment_class": _("This customer has no enrollment in this class.")}, code="not_enrolled"
        )


def _check_unsettled(payment: PaymentRecord) -> None:
    # Lock, then re-check: finance may have confirmed the payment since the edit form was read, and
    # saving the stale form must neither change the amount nor put the status back to unconfirmed.
    current = PaymentRecord.objects.select_for_update(no_key=True).only("status").get(pk=payment.pk)
    if current.status != PaymentRecord.Status.UNCONFIRMED:
        raise ValidationError(
            _("This payment has been confirmed or rejected: it can no longer be edited."), code="settled"
        )


@transaction.atomic
def payments_create(*, payment: PaymentRecord, user: UserProfile) -> PaymentRecord:
    """Record a new, unconfirmed payment of ``user``'s own customer; ``user`` is its consultant."""
    payment_check(user=user, customer=payment.customer, enrolment_class=payment.enrolment_class)
    payment.consultant = user
    payment.status = PaymentRecord.Status.UNCONFIRMED
    payment.clean_fields(exclude=["customer", "consultant", "enrolment_class"])
    payment.save()
    return payment


# What an unconfirmed payment's edit form may change; status, who confirmed and when are the actions'.
EDITABLE_PAYMENT_FIELDS = ["enrolment_class", "pay_type", "paid_fee", "date", "note"]


@transaction.atomic
def payments_update(*, payment: PaymentRecord, fields: list[str]) -> PaymentRecord:
    """Save the edited ``fields`` of a payment that is still unconfirmed; settled money is never edited."""
    _check_unsettled(payment)
    if "paid_fee" in fields:
        # The form checks it too; a caller without a form must not store an amount that breaks totals.
        validate_paid_fee(payment.paid_fee)
    payment.save(update_fields=[name for name in fields if name in EDITABLE_PAYMENT_FIELDS])
    return payment


def _lock_unconfirmed(payments: QuerySet) -> list[PaymentRecord]:
    # Lock, then re-check the status on the locked rows: two finance users acting on the same rows
    # at once must not both confirm (or reject) them.
    return list(
        PaymentRecord.objects.select_for_update()
        .filter(pk__in=payments.values("pk"), status=PaymentRecord.Status.UNCONFIRMED)
        .order_by("pk")
    )


@transaction.atomic
def payments_confirm(*, payments: QuerySet, user: UserProfile) -> int:
    """Confirm the unconfirmed rows of ``payments``; returns how many were confirmed.

    The first confirmed tuition makes the customer a student (studying); once the confirmed payments
    of a class with a confirmed tuition (deposit and tuition, less refunds) reach its price, the
    customer has paid in full, whichever of them is confirmed last.
    """
    locked = _lock_unconfirmed(payments)
    PaymentRecord.objects.filter(pk__in=[payment.pk for payment in locked]).update(
        status=PaymentRecord.Status.CONFIRMED, confirm_user=user, confirm_date=timezone.now()
    )
    tuition_of = {
        (payment.customer_id, payment.enrolment_class_id)
        for payment in locked
        if payment.pay_type == PaymentRecord.PayType.TUITION
    }
    paid_for = {(payment.customer_id, payment.enrolment_class_id) for payment in locked}
    _update_customer_status(paid_for, tuition_of)
    return len(locked)


def _update_customer_status(
    customer_classes: set[tuple[int, int | None]], tuition_of: set[tuple[int, int | None]]
) -> None:
    if not customer_classes:
        return
    # Lock the customers: two confirmations of one customer's payments at once must both be
    # counted when deciding whether the class is paid in full.
    customers = {
        customer.pk: customer
        for customer in Customer.objects.select_for_update(no_key=True)
        .filter(pk__in={customer_id for customer_id, _class_id in customer_classes})
        .order_by("pk")
    }
    class_ids = {class_id for _customer_id, class_id in customer_classes}
    prices = dict(ClassList.objects.filter(pk__in=class_ids).values_list("pk", "price"))
    for customer_id, class_id in sorted(customer_classes, key=lambda pair: (pair[0], pair[1] or 0)):
        customer = customers[customer_id]
        if (customer_id, class_id) in tuition_of:
            customers_advance_status(customer=customer, status=Customer.Status.STUDYING)
        if class_id is None:
            continue
        confirmed = (
            PaymentRecord.objects.alive()
            .filter(customer_id=customer_id, enrolment_class_id=class_id)
            .confirmed()
        )
        if (customer_id, class_id) not in tuition_of and not confirmed.filter(
            pay_type=PaymentRecord.PayType.TUITION
        ).exists():
            continue  # no tuition of this class yet: a deposit alone does not make a student
        if confirmed.totals()["confirmed_net"] >= prices[class_id]:
            customers_advance_status(customer=customer, status=Customer.Status.PAID_IN_FULL)


@transaction.atomic
def payments_reject(*, payments: QuerySet, user: UserProfile, reason: str) -> int:
    """Reject the unconfirmed rows of ``payments`` with ``reason``; returns how many were rejected."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Give a reason for the rejection."), code="no_reason")
    locked = _lock_unconfirmed(payments)
    return PaymentRecord.objects.filter(pk__in=[payment.pk for payment in locked]).update(
        status=PaymentRecord.Status.REJECTED,
        confirm_user=user,
        confirm_date=timezone.now(),
        reject_reason=reason,
    )


def payments_tally_totals(*, groups) -> dict[str, int] | None:
    """The totals (``PaymentRecordQuerySet.totals``) of the payments in the ``PaymentTally`` rows ``groups``
    (scoped and filtered like the payments, with the payment querysets' own methods), in one small query,
    on PostgreSQL, whose triggers keep the tally; None on another database, which sums the payments."""
    rows = tallies.tally_sums(tallies.PAYMENTS, groups, **groups.total_expressions())
    return None if rows is None else rows[0]
