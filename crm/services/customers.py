"""Every change of a customer's owner: claiming from the public pool, releasing, creating, reassigning.

Each change of owner is written to ``CustomerTransfer`` in the same transaction as the change.
"""

import datetime
from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Customer, CustomerTransfer, UserProfile


def _names(customers: Iterable[Customer]) -> str:
    return ", ".join(str(customer) for customer in customers)


def _lock_owner(user) -> None:
    # One user claiming from several browser tabs at once: the claims serialize on the user's row,
    # so the count of their private customers cannot go stale before the claim commits.
    UserProfile.objects.select_for_update(no_key=True).filter(pk=user.pk).exists()


def customers_check_capacity(*, user, adding: int, by=None) -> None:
    """Raise ValidationError when ``adding`` more private customers would put ``user`` over the cap.

    ``by`` is who makes the change (the boss giving customers to a salesperson); the message then
    names the owner instead of speaking to them.
    """
    current = Customer.objects.owned_by(user).count()
    cap = settings.MAX_CUSTOMER_NUM
    if current + adding <= cap:
        return
    params = {"cap": cap, "current": current, "adding": adding, "owner": user}
    if by is None or by.pk == user.pk:
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


def _move(customers: list[Customer], *, to, by, reason) -> list[Customer]:
    """Give the (locked) customers to ``to`` (None: the pool) and write one history row each."""
    Customer.objects.filter(pk__in=[customer.pk for customer in customers]).update(consultant=to)
    CustomerTransfer.objects.bulk_create(
        CustomerTransfer(
            customer=customer,
            from_consultant_id=customer.consultant_id,
            to_consultant=to,
            by=by,
            reason=reason,
        )
        for customer in customers
    )
    for customer in customers:
        customer.consultant = to
    return customers


@transaction.atomic
def customers_claim(*, user, customer_ids: Iterable[int]) -> list[Customer]:
    """Move the customers from the public pool to ``user``: all of them, or none."""
    ids = sorted(set(customer_ids))
    _lock_owner(user)
    # Many users claiming the same customers: the row locks make the second claimer wait and then
    # read the committed owner, so each customer is claimed exactly once. The pk order of the locks
    # keeps two overlapping claims from deadlocking.
    customers = list(Customer.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))
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
    customers_check_capacity(user=user, adding=len(customers))
    return _move(customers, to=user, by=user, reason=CustomerTransfer.Reason.CLAIM)


@transaction.atomic
def customers_release(*, user, customer_ids: Iterable[int]) -> list[Customer]:
    """Put ``user``'s own customers back in the public pool: all of them, or none."""
    ids = sorted(set(customer_ids))
    customers = list(Customer.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))
    not_own = len(customers) != len(ids) or any(customer.consultant_id != user.pk for customer in customers)
    if not_own:
        raise ValidationError(
            _("Only your own customers can be released. Nothing was released."), code="not_own"
        )
    return _move(customers, to=None, by=user, reason=CustomerTransfer.Reason.RELEASE)


@transaction.atomic
def customer_create(*, customer: Customer, by) -> Customer:
    """Save a new customer; a customer created with an owner counts against that owner's cap."""
    if customer.consultant_id is not None:
        _lock_owner(customer.consultant)
        customers_check_capacity(user=customer.consultant, adding=1)
    customer.save()
    if customer.consultant_id is not None:
        CustomerTransfer.objects.create(
            customer=customer,
            to_consultant_id=customer.consultant_id,
            by=by,
            reason=CustomerTransfer.Reason.CREATE,
        )
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, by, fields: Iterable[str]) -> Customer:
    """Save the changed ``fields`` of an existing customer; a new consultant is recorded as a reassignment
    and counts against that consultant's cap (``MAX_CUSTOMER_NUM``).

    Only the changed fields are written, so an edit never undoes a claim or a release made meanwhile.
    """
    concrete = {field.name for field in Customer._meta.concrete_fields if not field.primary_key}
    fields = [name for name in fields if name in concrete]
    if "consultant" in fields:
        if customer.consultant_id is not None:
            # The new owner's row first, as in a claim: a reassignment and the owner's own claims
            # serialize, so together they never take the owner over the cap.
            _lock_owner(customer.consultant)
        locked = Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk)
        previous = locked.values_list("consultant_id", flat=True).get()
        if previous != customer.consultant_id:
            if customer.consultant_id is not None:
                customers_check_capacity(user=customer.consultant, adding=1, by=by)
            CustomerTransfer.objects.create(
                customer=customer,
                from_consultant_id=previous,
                to_consultant_id=customer.consultant_id,
                by=by,
                reason=CustomerTransfer.Reason.REASSIGN,
            )
    if fields:
        customer.save(update_fields=fields)
    return customer


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
                .select_for_update(no_key=True, skip_locked=True)
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
