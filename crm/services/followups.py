"""Follow-up records (跟进记录): written only by the owner of the customer, about that customer, dated
when the talk really happened, with the date of the next one planned."""

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from crm import tallies
from crm.models import ConsultRecord, Customer

# A follow-up typed on a computer whose clock runs a little ahead is still "now".
CLOCK_SKEW = datetime.timedelta(minutes=5)


def _refresh_customer_dates(customer: Customer) -> None:
    # Only what was really done counts (a record dated in the future, left from before the date rule,
    # must not keep the customer from being recycled).
    last = (
        ConsultRecord.objects.alive()
        .filter(customer=customer, date__lte=timezone.now() + CLOCK_SKEW)
        .aggregate(last=Max("date"))["last"]
    )
    customer.last_consult_date = timezone.localdate(last) if last else None
    customer.save(update_fields=["last_consult_date"])


def consult_records_check_owner(*, customer: Customer | None, user) -> None:
    if customer is None or customer.consultant_id != user.pk:
        raise ValidationError(
            {"customer": _("You can only write follow-ups for your own customers.")}, code="not_own"
        )


def consult_records_check_date(
    *, customer: Customer, date: datetime.datetime | None, now: datetime.datetime | None = None
) -> None:
    """A follow-up is dated when it happened: not in the future, not before the customer existed."""
    if date is None:
        return
    now = now or timezone.now()
    if date > now + CLOCK_SKEW:
        raise ValidationError({"date": _("A follow-up cannot be dated in the future.")}, code="future")
    if date < customer.date:
        message = _("A follow-up cannot be dated before the customer was created (%(created)s).") % {
            "created": date_format(timezone.localtime(customer.date), "SHORT_DATETIME_FORMAT")
        }
        raise ValidationError({"date": message}, code="before_customer")


def consult_records_check_next_date(
    *, customer: Customer, stage: str | None, next_date: datetime.date | None, today=None
) -> None:
    """The next follow-up is planned, and not in the past, unless there is nothing more to follow up:
    the lead is invalid (stage H) or the customer has signed up."""
    if next_date is None:
        if stage == ConsultRecord.Stage.H or customer.status != Customer.Status.UNREGISTERED:
            return
        message = _("Plan the next follow-up (not needed for an invalid lead or a signed-up customer).")
        raise ValidationError({"next_date": message}, code="next_date_required")
    if next_date < (today or timezone.localdate()):
        raise ValidationError(
            {"next_date": _("The next follow-up cannot be in the past.")}, code="next_date_past"
        )


def consult_records_check(
    *,
    customer_id: int | None,
    user,
    date: datetime.datetime | None,
    stage: str | None,
    next_date: datetime.date | None,
) -> Customer:
    """Lock the customer and check every rule of a follow-up; returns the locked customer.

    The admin's form calls it in its clean, inside the transaction in which the admin then saves: the
    lock holds until the follow-up is committed, so a release from another tab waits for it, or,
    committed first, is seen here and shown as a form error.
    """
    # Lock: a release made meanwhile must not leave a follow-up by someone who no longer owns the
    # customer, and two follow-ups saved at once must both count in last_consult_date. NO KEY: the
    # customer row is only updated, so inserts referencing it (payments, enrollments) are not blocked.
    customer = Customer.objects.select_for_update(no_key=True).filter(pk=customer_id).first()
    consult_records_check_owner(customer=customer, user=user)
    consult_records_check_date(customer=customer, date=date)
    consult_records_check_next_date(customer=customer, stage=stage, next_date=next_date)
    return customer


@transaction.atomic
def consult_records_save(*, record: ConsultRecord, user) -> ConsultRecord:
    """Save a follow-up by ``user`` about one of their own customers and update the customer's dates:
    the last follow-up, and the next one when this is the customer's latest follow-up."""
    if record.pk is None:
        record.consultant = user
    customer = consult_records_check(
        customer_id=record.customer_id,
        user=user,
        date=record.date,
        stage=record.status,
        next_date=record.next_date,
    )
    record.save()
    _refresh_customer_dates(customer)
    latest = ConsultRecord.objects.alive().filter(customer=customer).order_by("-date", "-pk").first()
    if latest == record:
        customer.next_date = record.next_date
        customer.save(update_fields=["next_date"])
    return record


def consult_records_lock_customers(*, record_ids: Iterable[int]) -> None:
    """Lock (NO KEY) the customers of these follow-ups, in pk order."""
    customers = ConsultRecord.objects.filter(pk__in=record_ids).values("customer_id")
    list(Customer.objects.select_for_update(no_key=True).filter(pk__in=customers).order_by("pk").values("pk"))


def consult_records_refresh_customers(*, customer_ids: Iterable[int]) -> None:
    """Recompute the last follow-up date of these customers (follow-ups moved to the recycle bin)."""
    customers = Customer.objects.select_for_update(no_key=True).filter(pk__in=customer_ids).order_by("pk")
    for customer in customers:
        _refresh_customer_dates(customer)


def consult_records_tally_count(*, groups) -> int | None:
    """How many follow-ups the ``ConsultRecordTally`` rows ``groups`` (scoped and filtered like the
    follow-ups, with their queryset's own methods) hold, in one small query, on PostgreSQL, whose
    triggers keep the tally; None on another database, which counts the follow-ups."""
    return tallies.tally_count(tallies.FOLLOW_UPS, groups)
