from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models.choices import PaymentStatus, PayType
from crm.querysets import EnrollmentQuerySet, PaymentRecordQuerySet, PaymentTallyQuerySet


class Enrollment(models.Model):
    customer = models.ForeignKey(
        "crm.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="enrollments"
    )
    school = models.ForeignKey(
        "crm.Campus", verbose_name=_("campus"), on_delete=models.PROTECT, related_name="enrollments"
    )
    enrolment_class = models.ForeignKey(
        "crm.ClassList",
        verbose_name=_("class"),
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("consultant"),
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    why_us = models.TextField(_("why us"), blank=True)
    your_expectation = models.TextField(_("expectations"), blank=True)
    contract_agreed = models.BooleanField(_("contract agreed by the customer"), default=False)
    contract_approved = models.BooleanField(_("contract approved"), default=False)
    enrolled_date = models.DateTimeField(_("enrolled on"), default=timezone.now)
    memo = models.TextField(_("memo"), blank=True)
    delete_status = models.BooleanField(_("deleted"), default=False)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        ordering = ["-enrolled_date", "-id"]
        indexes = [
            # The list's order (and its date range) with the key: a deep page read from the index alone.
            models.Index(fields=["enrolled_date", "id"], name="crm_enrollment_date_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment_class", "customer"], name="crm_enrollment_unique_class_customer"
            ),
        ]
        permissions = [
            ("export_enrollment", _("Can export enrollments")),
            ("approve_enrollment", _("Can approve enrollments")),
            ("recycle_enrollment", _("Can move enrollments to the recycle bin")),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.enrolment_class}"


# The largest amount of one payment, in yuan: far above any tuition, and far below what 32-bit
# columns and 64-bit sums can hold.
MAX_PAID_FEE = 1_000_000


def validate_paid_fee(value: int) -> None:
    if value == 0 or abs(value) > MAX_PAID_FEE:
        raise ValidationError(
            _("An amount is not zero and at most ¥%(max)s either way.") % {"max": f"{MAX_PAID_FEE:,}"},
            code="paid_fee_range",
        )


class PaymentRecord(models.Model):
    # Declared in crm.models.choices so that the querysets' money expressions can use them.
    PayType = PayType
    Status = PaymentStatus

    customer = models.ForeignKey(
        "crm.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="payments"
    )
    enrolment_class = models.ForeignKey(
        "crm.ClassList",
        verbose_name=_("class"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("consultant"),
        on_delete=models.PROTECT,
        related_name="payments",
    )
    pay_type = models.CharField(
        _("payment type"), max_length=16, choices=PayType.choices, default=PayType.DEPOSIT
    )
    paid_fee = models.IntegerField(_("amount"), default=0, validators=[validate_paid_fee])
    note = models.TextField(_("note"), blank=True)
    date = models.DateTimeField(_("paid on"), default=timezone.now)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UNCONFIRMED)
    confirm_date = models.DateTimeField(_("confirmed on"), null=True, blank=True)
    confirm_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="confirmed_payments",
    )
    reject_reason = models.CharField(_("rejection reason"), max_length=255, blank=True)
    delete_status = models.BooleanField(_("deleted"), default=False)

    objects = PaymentRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment record")
        verbose_name_plural = _("payment records")
        ordering = ["-date", "-id"]
        indexes = [
            models.Index(fields=["status", "date"], name="crm_payment_status_date"),
            # The list's order (and its date range) with the key: a deep page read from the index alone.
            models.Index(fields=["date", "id"], name="crm_payment_date_id"),
        ]
        permissions = [
            ("export_paymentrecord", _("Can export payment records")),
            ("confirm_paymentrecord", _("Can confirm payment records")),
            ("recycle_paymentrecord", _("Can move payment records to the recycle bin")),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.get_pay_type_display()} {self.paid_fee}"


class PaymentTally(models.Model):
    """How many payments, and their net amount, each (recorder, status, type, deleted, outgoing) group
    holds, kept exact by PostgreSQL statement triggers on crm_paymentrecord (crm/tallies.py):
    the 缴费 list's totals and count over 100,000 payments sum a few hundred of these rows instead.

    The triggers only insert: each statement adds one row per group it changed, with the differences
    (so that concurrent confirmations never wait on one counter); ``payments_tally_totals`` sums them and
    folds them back into one row per group once there are many. The columns are the payment's under
    the same names, so that PaymentRecordQuerySet's scopes and filters (``alive``, ``visible_to``, the
    ``*_q`` of each total) select the same groups here. Empty (and unused) on other databases."""

    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    status = models.CharField(max_length=16)
    pay_type = models.CharField(max_length=16)
    delete_status = models.BooleanField()
    # Whether the group's payments are money out (PaymentRecordQuerySet.outgoing_q, row by row).
    outgoing = models.BooleanField()
    n = models.BigIntegerField()
    net = models.BigIntegerField()

    objects = PaymentTallyQuerySet.as_manager()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.consultant_id} {self.status} {self.pay_type}: {self.n}, {self.net}"
