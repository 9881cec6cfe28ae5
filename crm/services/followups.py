"""Follow-up records (跟进记录): written only by the owner of the customer, about that customer."""

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import ConsultRecord, Customer


def _refresh_customer_dates(customer: Customer, *, next_date: datetime.date | None = None) -> None:
    last = ConsultRecord.objects.alive().filter(customer=customer).aggregate(last=Max("date"))["last"]
    customer.last_consult_date = timezone.localdate(last) if last else None
    fields = ["last_consult_date"]
    if next_date is not None:
        customer.next_date = next_date
        fields.append("next_date")
    customer.save(update_fields=fields)


def consult_records_check_owner(*, customer: Customer | None, user) -> None:
    if customer is None or customer.consultant_id != user.pk:
        raise ValidationError(
            {"customer": _("You can only write follow-ups for your own customers.")}, code="not_own"
        )


@transaction.atomic
def consult_records_save(
    *, record: ConsultRecord, user, next_date: datetime.date | None = None
) -> ConsultRecord:
    """Save a follow-up by ``user`` about one of their own customers and update the customer's dates."""
    if record.pk is None:
        record.consultant = user
    # Lock the customer: a release made meanwhile must not leave a follow-up by someone who no longer
    # owns the customer, and two follow-ups saved at once must both count in last_consult_date.
    customer = Customer.objects.select_for_update(no_key=True).filter(pk=record.customer_id).first()
    consult_records_check_owner(customer=customer, user=user)
    record.save()
    _refresh_customer_dates(customer, next_date=next_date)
    return record


@transaction.atomic
def consult_records_soft_delete(*, records: Iterable[ConsultRecord]) -> int:
    """Hide follow-ups from the lists (delete_status); the rows stay for the school's records."""
    records = list(records)
    ids = [record.pk for record in records]
    customer_ids = set(ConsultRecord.objects.filter(pk__in=ids).values_list("customer_id", flat=True))
    count = ConsultRecord.objects.filter(pk__in=ids, delete_status=False).update(delete_status=True)
    for customer in (
        Customer.objects.select_for_update(no_key=True).filter(pk__in=customer_ids).order_by("pk")
    ):
        _refresh_customer_dates(customer)
    return count
