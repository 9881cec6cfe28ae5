"""The recycle bin (回收站): follow-ups, enrollments and payments are never removed, only hidden.

Moving rows to the bin sets their ``delete_status``, which every list, total and figure already
leaves out (``alive()``), and writes one entry in each row's history. Confirmed money stays.
"""

from collections.abc import Iterable

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from crm.models import ConsultRecord, Enrollment, PaymentRecord
from crm.services.followups import consult_records_lock_customers, consult_records_refresh_customers

RECYCLABLE_MODELS = (ConsultRecord, Enrollment, PaymentRecord)


def recycle_bin_check(*, objects: Iterable[Model]) -> None:
    """Raise ValidationError when one of ``objects`` may not go to the recycle bin: a confirmed payment
    is the school's money and is never deleted."""
    confirmed = [
        obj
        for obj in objects
        if isinstance(obj, PaymentRecord) and obj.status == PaymentRecord.Status.CONFIRMED
    ]
    if confirmed:
        raise ValidationError(
            _("Confirmed payments cannot be deleted: %(payments)s. Nothing was moved to the recycle bin.")
            % {"payments": ", ".join(str(payment) for payment in confirmed)},
            code="confirmed",
        )


@transaction.atomic
def recycle_bin_move(*, model: type[Model], ids: Iterable[int], user) -> int:
    """Move the rows ``ids`` of ``model`` to the recycle bin, all of them or none; returns how many
    were moved (rows already in the bin are left alone)."""
    if model not in RECYCLABLE_MODELS:
        raise ValueError(f"{model.__name__} has no recycle bin")
    ids = sorted(set(ids))
    if model is ConsultRecord:
        # The customers first, in the order a follow-up's save takes its locks: the two never deadlock.
        consult_records_lock_customers(record_ids=ids)
    # Lock, then check the locked rows: a payment confirmed since the list was read stays. NO KEY:
    # the rows are only updated.
    rows = list(
        model.objects.select_for_update(no_key=True).filter(pk__in=ids, delete_status=False).order_by("pk")
    )
    recycle_bin_check(objects=rows)
    if not rows:
        return 0
    model.objects.filter(pk__in=[row.pk for row in rows]).update(delete_status=True)
    if model is ConsultRecord:
        consult_records_refresh_customers(customer_ids={row.customer_id for row in rows})
    LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=rows,
        action_flag=CHANGE,
        change_message=_("Moved to the recycle bin."),
    )
    return len(rows)
