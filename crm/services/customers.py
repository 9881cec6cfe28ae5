"""Every change of a customer's owner (claiming from the public pool, releasing, creating, reassigning,
importing) and of a customer's status (forward through enrollments and payments, or the boss's correction).

Each change of owner is written to ``CustomerTransfer`` in the same transaction as the change, by
``customer_transfers_record``; each correction of a status to ``CustomerStatusChange``.
"""

import datetime
from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Customer, CustomerStatusChange, CustomerTransfer, UserProfile

# A customer's status only moves forward along the school's funnel, except by the boss's correction.
STATUS_ORDER = [
    Customer.Status.UNREGISTERED,
    Customer.Status.SIGNED,
    Customer.Status.STUDYING,
    Customer.Status.PAID_IN_FULL,
]


def _names(customers: Iterable[Customer]) -> str:
    return ", ".join(str(customer) for customer in customers)


def _lock_owner(user) -> None:
    # One user claiming from several browser tabs at once, or a claim against an import or the boss's
    # reassignment: they serialize on the owner's row, so the count of the owner's private customers
    # cannot go stale before the change commits. NO KEY: follow-ups and payments that reference the
    # user are not blocked meanwhile.
    UserProfile.objects.select_for_update(no_key=True).filter(pk=user.pk).exists()


def customers_owner_error(user) -> ValidationError:
    """The error of giving customers to ``user``, who does not hold crm.own_customers."""
    return ValidationError(
        _("%(user)s cannot own customers: only the sales staff can. Nothing was changed.") % {"user": user},
        code="not_sales",
    )


def customers_check_owner(*, user) -> None:
    """Raise ValidationError unless ``user`` may hold private customers (``sales_staff()``)."""
    if not UserProfile.objects.sales_staff().filter(pk=user.pk).exists():
        raise customers_owner_error(user)


def customers_check_capacity(*, user, adding: int, by=None) -> None:
    """Raise ValidationError when ``adding`` more private customers would put ``user`` over the cap.

    ``by`` is who makes the change; unless it is the owner (a claim), the message names the owner
    instead of speaking to them (the boss reassigning, an import run from the command line). The owner's
    row is locked (as by a claim), so the count holds until the caller's transaction commits: the
    customer form calls it in its clean, inside the admin's save transaction.
    """
    _lock_owner(user)
    current = Customer.objects.owned_by(user).count()
    cap = settings.MAX_CUSTOMER_NUM
    if current + adding <= cap:
        return
    params = {"cap": cap, "current": current, "adding": adding, "owner": user}
    if by is not None and by.pk == user.pk:
        message = _(
            "You may own at most %(cap)d customers: you own %(current)d, and %(adding)d more "
            "would exceed the cap. Nothing was changed."
        )
    else:
        message = _(
            "%(owner)s may own at most %(cap)d customers: they own %(current)d, and %(adding)d more "
            "would exceed the cap. Nothing was changed."
        )
    raise ValidationError(message % params, code="cap")


def _make_room(user, *, adding: int, by=None) -> None:
    """The checks of every path that gives customers to ``user`` (claim, creation, reassignment, import),
    on the owner's locked row; the lock is held until the caller's transaction commits."""
    customers_check_owner(user=user)
    _lock_owner(user)
    customers_check_capacity(user=user, adding=adding, by=by)


def customer_transfers_record(
    *,
    changes: Iterable[tuple[Customer, int | None]],
    to,
    by,
    reason: str,
    date: datetime.datetime | None = None,
) -> list[CustomerTransfer]:
    """Write the ownership history: one row per (customer, id of its previous consultant) moved to
    ``to`` (None: the pool). The only writer of ``CustomerTransfer``."""
    date = date or timezone.now()
    return CustomerTransfer.objects.bulk_create(
        [
            CustomerTransfer(
                customer=customer,
                from_consultant_id=previous,
                to_consultant=to,
                by=by,
                reason=reason,
                date=date,
            )
            for customer, previous in changes
        ],
        batch_size=1000,
    )


def _move(customers: list[Customer], *, to, by, reason) -> list[Customer]:
    """Give the (locked) customers to ``to`` (None: the pool) and write one history row each."""
    ids = [customer.pk for customer in customers]
    # SQLite caps the parameters of one statement; a large import moves thousands of customers.
    for start in range(0, len(ids), 900):
        Customer.objects.filter(pk__in=ids[start : start + 900]).update(consultant=to)
    customer_transfers_record(
        changes=[(customer, customer.consultant_id) for customer in customers], to=to, by=by, reason=reason
    )
    for customer in customers:
        customer.consultant = to
    return customers


@transaction.atomic
def customers_claim(*, user, customer_ids: Iterable[int]) -> list[Customer]:
    """Move the customers from the public pool to ``user``: all of them, or none."""
    ids = sorted(set(customer_ids))
    _make_room(user, adding=len(ids), by=user)
    # Many users claiming the same customers: the row locks make the second claimer wait and then
    # read the committed owner, so each customer is claimed exactly once. The pk order of the locks
    # keeps two overlapping claims from deadlocking.
    customers = list(Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    if len(customers) != len(ids):
        raise ValidationError(
            _("Some selected customers no longer exist. Nothing was claimed."), code="missing"
        )
    taken = [customer for customer in customers if customer.consultant_id is not None]
    if taken:
        raise ValidationError(
            _("These customers were already taken: %(names)s. Nothing was claimed.")
            % {"names": _names(taken)},
            code="taken",
        )
    return _move(customers, to=user, by=user, reason=CustomerTransfer.Reason.CLAIM)


@transaction.atomic
def customers_release(*, user, customer_ids: Iterable[int]) -> list[Customer]:
    """Put ``user``'s own customers back in the public pool: all of them, or none."""
    ids = sorted(set(customer_ids))
    customers = list(Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    not_own = len(customers) != len(ids) or any(customer.consultant_id != user.pk for customer in customers)
    if not_own:
        raise ValidationError(
            _("Only your own customers can be released. Nothing was released."), code="not_own"
        )
    return _move(customers, to=None, by=user, reason=CustomerTransfer.Reason.RELEASE)


@transaction.atomic
def customer_create(*, customer: Customer, by) -> Customer:
    """Save a new customer, not signed up (the status moves only through ``customers_advance_status``
    and ``customers_correct_status``); one created with an owner counts against that owner's cap."""
    customer.status = Customer.Status.UNREGISTERED
    if customer.consultant_id is not None:
        _make_room(customer.consultant, adding=1, by=by)
    customer.save()
    if customer.consultant_id is not None:
        customer_transfers_record(
            changes=[(customer, None)], to=customer.consultant, by=by, reason=CustomerTransfer.Reason.CREATE
        )
    return customer


# Written only by their own services: the owner by the claim, release, reassignment and import, the
# status by the enrollments, payments and the boss's correction.
SERVICE_OWNED_FIELDS = {"status"}


@transaction.atomic
def customer_update(*, customer: Customer, by, fields: Iterable[str]) -> Customer:
    """Save the changed ``fields`` of an existing customer (never its status); a new consultant is
    recorded as a reassignment and counts against that consultant's cap (``MAX_CUSTOMER_NUM``).

    Only the changed fields are written, so an edit never undoes a claim or a release made meanwhile.
    """
    concrete = {field.name for field in Customer._meta.concrete_fields if not field.primary_key}
    fields = [name for name in fields if name in concrete and name not in SERVICE_OWNED_FIELDS]
    if "consultant" in fields:
        if customer.consultant_id is not None:
            # The new owner's row first, as in a claim: a reassignment and the owner's own claims
            # serialize, so together they never take the owner over the cap.
            _lock_owner(customer.consultant)
        locked = Customer.objects.select_for_update().filter(pk=customer.pk)
        previous = locked.values_list("consultant_id", flat=True).get()
        if previous != customer.consultant_id:
            if customer.consultant_id is not None:
                _make_room(customer.consultant, adding=1, by=by)
            customer_transfers_record(
                changes=[(customer, previous)],
                to=customer.consultant,
                by=by,
                reason=CustomerTransfer.Reason.REASSIGN,
            )
    if fields:
        customer.save(update_fields=fields)
    return customer


@transaction.atomic
def customers_import_assign(*, owner, customers: list[Customer], by, dry_run: bool = False) -> list[Customer]:
    """Give the new customers of an import (in the pool, not yet committed) to ``owner``, with the
    checks of a claim under the owner's lock. A dry run checks and writes nothing."""
    _make_room(owner, adding=len(customers), by=by)
    if dry_run:
        return customers
    return _move(customers, to=owner, by=by, reason=CustomerTransfer.Reason.IMPORT)


# --- status ---


def customers_advance_status(*, customer: Customer, status: str) -> bool:
    """Move the (locked) customer's status forward to ``status``; never backwards. The one rule of
    the funnel, applied by the enrollment approval and the payment confirmation."""
    if STATUS_ORDER.index(status) <= STATUS_ORDER.index(customer.status):
        return False
    customer.status = status
    customer.save(update_fields=["status"])
    return True


@transaction.atomic
def customers_correct_status(
    *, customer_ids: Iterable[int], status: str, reason: str, by
) -> list[CustomerStatusChange]:
    """Set the status of the customers to ``status``, either way, recording who, when, from, to and
    why. Customers already at that status are left alone; returns the corrections written."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Give a reason for the correction."), code="no_reason")
    limit = CustomerStatusChange._meta.get_field("reason").max_length
    if len(reason) > limit:
        raise ValidationError(
            _("The reason may have at most %(limit)d characters.") % {"limit": limit}, code="long_reason"
        )
    if status not in Customer.Status.values:
        raise ValidationError(_("Choose a status."), code="no_status")
    # A confirmation or an approval moving the status at the same moment: it waits for the
    # correction (or the correction for it), so the recorded "from" is the status really replaced.
    customers = (
        Customer.objects.select_for_update(no_key=True).filter(pk__in=set(customer_ids)).order_by("pk")
    )
    now = timezone.now()
    changes = [
        CustomerStatusChange(
            customer=customer, from_status=customer.status, to_status=status, reason=reason, by=by, date=now
        )
        for customer in customers
        if customer.status != status
    ]
    Customer.objects.filter(pk__in=[change.customer_id for change in changes]).update(status=status)
    return CustomerStatusChange.objects.bulk_create(changes)


# --- recycle ---
RECYCLE_BATCH_SIZE = 500
# 我的客户 warns about a customer this many days before it is recycled.
RECYCLE_WARNING_DAYS = 3


def customers_recycle_cutoff(*, days: int, today: datetime.date | None = None) -> datetime.date:
    """The latest ``recycle_from`` date that is recycled today: silent for ``days`` days or more."""
    return (today or timezone.localdate()) - datetime.timedelta(days=days)


def customers_recycle_days_left(
    recycle_from: datetime.date | None, *, days: int | None = None, today: datetime.date | None = None
) -> int | None:
    """Days until a customer annotated by ``with_recycle_from()`` is recycled (0 or less: at the next
    run); None when it never will be (signed up, enrolled, in the pool, or recycling off)."""
    days = settings.CUSTOMER_RECYCLE_DAYS if days is None else days
    if recycle_from is None or days <= 0:
        return None
    return days - ((today or timezone.localdate()) - recycle_from).days


def customers_recycling_soon_cutoff(*, today: datetime.date | None = None) -> datetime.date | None:
    """The latest ``recycle_from`` of the customers recycled within RECYCLE_WARNING_DAYS days;
    None when recycling is off."""
    days = settings.CUSTOMER_RECYCLE_DAYS
    if days <= 0:
        return None
    return customers_recycle_cutoff(days=days - RECYCLE_WARNING_DAYS, today=today)


def customers_recycle(
    *,
    days: int | None = None,
    today: datetime.date | None = None,
    dry_run: bool = False,
    batch_size: int = RECYCLE_BATCH_SIZE,
) -> Counter:
    """Put back in the public pool the private customers whose owner has not followed them up for
    ``days`` days (``settings.CUSTOMER_RECYCLE_DAYS``; 0 disables) and who have not signed up.

    Returns how many customers each former owner lost (user id -> count); a dry run changes nothing
    and returns what would be recycled. Running it twice recycles nothing the second time.
    """
    days = settings.CUSTOMER_RECYCLE_DAYS if days is None else days
    recycled: Counter = Counter()
    if days <= 0:
        return recycled
    due = Customer.objects.due_for_recycling(cutoff=customers_recycle_cutoff(days=days, today=today))
    if dry_run:
        recycled.update(due.values_list("consultant_id", flat=True))
        return recycled
    last_pk = 0
    while True:
        with transaction.atomic():
            # A salesperson saving a follow-up (or releasing, or the boss reassigning) holds the
            # customer's row: skip it rather than make them wait; the next run looks at it again.
            # Batches in pk order, each its own short transaction, so our locks are held briefly.
            locked = list(
                due.filter(pk__gt=last_pk)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not locked:
                break
            # Re-check on the locked rows with a fresh snapshot: a follow-up, a reassignment or an
            # enrollment committed while the candidates were read keeps the customer.
            customers = list(due.filter(pk__in=locked).only("pk", "consultant_id").order_by("pk"))
            recycled.update(customer.consultant_id for customer in customers)
            _move(customers, to=None, by=None, reason=CustomerTransfer.Reason.RECYCLE)
        if len(locked) < batch_size:
            break
        last_pk = locked[-1]
    return recycled
