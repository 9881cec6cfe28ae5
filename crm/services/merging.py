"""Merging duplicate customers (the boss's 合并客户): one survivor keeps everything the others had."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import (
    ConsultRecord,
    Customer,
    CustomerStatusChange,
    CustomerTransfer,
    Enrollment,
    PaymentRecord,
    StudyRecord,
    UserProfile,
)
from crm.services.customers import STATUS_ORDER, _make_room, customer_transfers_record

# Fields of the survivor filled from a merged customer where the survivor has none.
FILLED_FIELDS = [
    "qq",
    "qq_name",
    "name",
    "sex",
    "birthday",
    "phone",
    "wechat",
    "introduce_from",
    "network_consultant",
    "campus",
    "user",
    "customer_note",
    "network_consult_note",
    "next_date",
]
# Each contact and the login account belong to one customer: the merged one gives it up first.
UNIQUE_FIELDS = ["qq", "phone", "wechat", "user"]


def _status_rank(status: str) -> int:
    return STATUS_ORDER.index(status)


@transaction.atomic
def customers_merge(
    *, by, survivor_id: int, customer_ids: Iterable[int], owner_id: int | None = None
) -> Customer:
    """Merge the customers into the survivor: follow-ups, enrollments, payments, study records, classes,
    status corrections and ownership history move to it, its empty fields are filled from the others,
    the others are removed, and one history row per merged customer records it — all or nothing.

    Customers of different salespeople are merged only when ``owner_id`` says who keeps the survivor
    (None: the pool is not a choice then); the new owner's cap is checked under the owner lock."""
    ids = sorted(set(customer_ids) | {survivor_id})
    if len(ids) < 2:
        raise ValidationError(_("Select at least two customers to merge."), code="too_few")
    # The same rows a claim or a release locks, in the same pk order: no two of them interleave.
    customers = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(customers) != len(ids):
        raise ValidationError(
            _("Some selected customers no longer exist. Nothing was merged."), code="missing"
        )
    survivor = customers[survivor_id]
    merged = [customer for pk, customer in customers.items() if pk != survivor_id]
    owners = {customer.consultant_id for customer in customers.values()} - {None}
    if owner_id is None:
        if len(owners) > 1:
            raise ValidationError(
                _("These customers belong to different salespeople: choose who keeps the merged customer."),
                code="owners",
            )
        owner_id = next(iter(owners), None)
    owner = None
    if owner_id is not None:
        owner = UserProfile.objects.filter(pk=owner_id).first()
        if owner is None:
            raise ValidationError(_("Choose a salesperson who may own customers."), code="owner")
        # The merged customers the owner already had leave their count; the survivor may join it.
        gained = (survivor.consultant_id != owner.pk) - sum(c.consultant_id == owner.pk for c in merged)
        _make_room(owner, adding=max(gained, 0), by=by)

    merged_ids = [customer.pk for customer in merged]
    ConsultRecord.objects.filter(customer_id__in=merged_ids).update(customer=survivor)
    PaymentRecord.objects.filter(customer_id__in=merged_ids).update(customer=survivor)
    CustomerStatusChange.objects.filter(customer_id__in=merged_ids).update(customer=survivor)
    CustomerTransfer.objects.filter(customer_id__in=merged_ids).update(customer=survivor)
    # One enrollment per class and one study record per lesson: the survivor's own is kept.
    enrolled = set(Enrollment.objects.filter(customer=survivor).values_list("enrolment_class_id", flat=True))
    for enrollment in Enrollment.objects.filter(customer_id__in=merged_ids).order_by("pk"):
        if enrollment.enrolment_class_id in enrolled:
            continue
        enrolled.add(enrollment.enrolment_class_id)
        Enrollment.objects.filter(pk=enrollment.pk).update(customer=survivor)
    studied = set(StudyRecord.objects.filter(student=survivor).values_list("course_record_id", flat=True))
    for record in StudyRecord.objects.filter(student_id__in=merged_ids).order_by("pk"):
        if record.course_record_id in studied:
            continue
        studied.add(record.course_record_id)
        StudyRecord.objects.filter(pk=record.pk).update(student=survivor)
    survivor.class_list.add(*{klass for customer in merged for klass in customer.class_list.all()})
    Customer.objects.filter(introduce_from_id__in=merged_ids).update(introduce_from=survivor)

    fills = {}
    for field in FILLED_FIELDS:
        attname = Customer._meta.get_field(field).attname
        if getattr(survivor, attname):
            continue
        offered = [getattr(customer, attname) for customer in merged if getattr(customer, attname)]
        # A referrer among the merged customers would make the survivor its own referrer.
        offered = [value for value in offered if not (field == "introduce_from" and value in ids)]
        if offered:
            fills[attname] = offered[0]
    status = max([survivor.status, *(customer.status for customer in merged)], key=_status_rank)
    last_consult = max((c.last_consult_date for c in customers.values() if c.last_consult_date), default=None)
    course = sorted({code for customer in customers.values() for code in customer.course})

    previous_owner = survivor.consultant_id
    for customer in merged:
        customer_transfers_record(
            changes=[(survivor, customer.consultant_id)],
            to=owner,
            by=by,
            reason=CustomerTransfer.Reason.MERGE,
            release_note=_("Merged from %(customer)s") % {"customer": customer},
        )
    if previous_owner != owner_id:
        customer_transfers_record(
            changes=[(survivor, previous_owner)], to=owner, by=by, reason=CustomerTransfer.Reason.REASSIGN
        )
    # The merged customers give up their contacts and login account before the survivor takes them.
    Customer.objects.filter(pk__in=merged_ids).update(user=None)
    Customer.objects.filter(pk__in=merged_ids).delete()

    for field, value in fills.items():
        setattr(
            survivor,
            f"{field}_id" if field in ("introduce_from", "network_consultant", "campus", "user") else field,
            value,
        )
    survivor.status = status
    survivor.last_consult_date = last_consult
    survivor.course = course
    survivor.consultant_id = owner_id
    survivor.save()
    return survivor
