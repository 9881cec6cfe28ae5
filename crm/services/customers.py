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
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import tallies
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


def _lock_owner(user, *, sales_staff: bool = False) -> bool:
    """Lock the owner's row; with ``sales_staff``, only if the user may own customers (one query for
    the check and the lock). Returns whether a row was locked."""
    # One user claiming from several browser tabs at once, or a claim against an import or the boss's
    # reassignment: they serialize on the owner's row, so the count of the owner's private customers
    # cannot go stale before the change commits. NO KEY: follow-ups and payments that reference the
    # user are not blocked meanwhile.
    owners = UserProfile.objects.sales_staff() if sales_staff else UserProfile.objects.all()
    return owners.select_for_update(no_key=True).filter(pk=user.pk).exists()


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
    _check_cap(user=user, current=Customer.objects.owned_by(user).count(), adding=adding, by=by)


def _check_cap(*, user, current: int, adding: int, by) -> None:
    """The cap itself, on a count of the owner's customers read under the owner's lock."""
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
    if not _lock_owner(user, sales_staff=True):
        raise customers_owner_error(user)
    _check_cap(user=user, current=Customer.objects.owned_by(user).count(), adding=adding, by=by)


def customer_transfers_record(
    *,
    changes: Iterable[tuple[Customer, int | None]],
    to,
    by,
    reason: str,
    date: datetime.datetime | None = None,
    release_reason: str = "",
    release_note: str = "",
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
                release_reason=release_reason,
                release_note=release_note,
            )
            for customer, previous in changes
        ],
        batch_size=1000,
    )


def _move(
    customers: list[Customer], *, to, by, reason, release_reason: str = "", release_note: str = ""
) -> list[Customer]:
    """Give the (locked) customers to ``to`` (None: the pool) and write one history row each.

    A lock belongs to an owner: a customer that changes hands is unlocked."""
    ids = [customer.pk for customer in customers]
    # SQLite caps the parameters of one statement; a large import moves thousands of customers.
    for start in range(0, len(ids), 900):
        Customer.objects.filter(pk__in=ids[start : start + 900]).update(consultant=to, locked=False)
    customer_transfers_record(
        changes=[(customer, customer.consultant_id) for customer in customers],
        to=to,
        by=by,
        reason=reason,
        release_reason=release_reason,
        release_note=release_note,
    )
    for customer in customers:
        customer.consultant = to
        customer.locked = False
    return customers


def local_midnight(today: datetime.date | None = None) -> datetime.datetime:
    """The start of the local day, as an aware datetime (the day the school's clock shows)."""
    day = today or timezone.localdate()
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def customers_claimed_today_q(user, *, today: datetime.date | None = None) -> Q:
    """Claims ``user`` made from the pool since local midnight, in the ownership history: releasing a
    customer does not give a claim back, and customers handed out by the boss are not claims. The
    daily limit, the quota line and the home page count this."""
    return Q(reason=CustomerTransfer.Reason.CLAIM, to_consultant=user, date__gte=local_midnight(today))


def customers_claimed_today(*, user, today: datetime.date | None = None) -> int:
    return CustomerTransfer.objects.filter(customers_claimed_today_q(user, today=today)).count()


def _check_daily_limit(*, claimed: int, adding: int) -> None:
    limit = settings.CUSTOMER_DAILY_CLAIM_LIMIT
    if limit > 0 and claimed + adding > limit:
        raise ValidationError(
            _(
                "You may claim at most %(limit)d customers a day: you have claimed %(claimed)d today, and "
                "%(adding)d more would exceed the limit. Nothing was claimed."
            )
            % {"limit": limit, "claimed": claimed, "adding": adding},
            code="daily_limit",
        )


def _left_recently(user):
    """The releases and recyclings away from ``user`` within the cool-down (CUSTOMER_RECLAIM_COOLDOWN_DAYS,
    more than 0); a customer's last one says from which date ``user`` may claim it back."""
    days = settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS
    since = local_midnight(timezone.localdate() - datetime.timedelta(days=days - 1))
    return CustomerTransfer.objects.filter(
        from_consultant=user,
        reason__in=[CustomerTransfer.Reason.RELEASE, CustomerTransfer.Reason.RECYCLE],
        date__gte=since,
    )


def _reclaimable_on(left: datetime.datetime) -> datetime.date:
    return timezone.localdate(left) + datetime.timedelta(days=settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS)


def customers_reclaimable_from(*, user, customer_ids: Iterable[int]) -> dict[int, datetime.date]:
    """For each customer that ``user`` released, or that was recycled away from them, within the
    cool-down (CUSTOMER_RECLAIM_COOLDOWN_DAYS): the local date from which they may claim it back."""
    if settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS <= 0:
        return {}
    left = _left_recently(user).filter(customer_id__in=list(customer_ids)).values_list("customer_id", "date")
    reclaimable: dict[int, datetime.date] = {}
    for customer_id, date in left:
        day = _reclaimable_on(date)
        reclaimable[customer_id] = max(day, reclaimable.get(customer_id, day))
    return reclaimable


def _check_cooldown(*, customers: list[Customer], reclaimable: dict[int, datetime.date]) -> None:
    if not reclaimable:
        return
    blocked = [customer for customer in customers if customer.pk in reclaimable]
    raise ValidationError(
        _(
            "You let these customers go recently and can claim them back from the date shown: "
            "%(list)s. Nothing was claimed."
        )
        % {
            "list": ", ".join(
                _("%(customer)s (from %(date)s)")
                % {"customer": customer, "date": reclaimable[customer.pk].isoformat()}
                for customer in blocked
            )
        },
        code="cooldown",
    )


def _count_of(queryset):
    """The number of rows of ``queryset`` as an expression: a subquery of the row it annotates."""
    counted = queryset.order_by().values(key=Value(1)).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _claim_candidates(user, ids: list[int]) -> list[Customer]:
    """The customers ``user`` asks to claim, locked, each annotated with the figures the rules check:
    ``owned_now`` (the owner's customers), ``claimed_today`` (daily limit on) and ``left_at`` (the
    last time it left ``user``, cool-down on). One query, whatever the number of customers."""
    figures = {"owned_now": _count_of(Customer.objects.owned_by(user))}
    if settings.CUSTOMER_DAILY_CLAIM_LIMIT > 0:
        claims = CustomerTransfer.objects.filter(customers_claimed_today_q(user))
        figures["claimed_today"] = _count_of(claims)
    if settings.CUSTOMER_RECLAIM_COOLDOWN_DAYS > 0:
        last = _left_recently(user).filter(customer=OuterRef("pk")).order_by("-date").values("date")[:1]
        figures["left_at"] = Subquery(last)
    # Many users claiming the same customers: the row locks make the second claimer wait and then
    # read the committed owner, so each customer is claimed exactly once. The pk order of the locks
    # keeps two overlapping claims from deadlocking. The owner's figures are counted in this statement,
    # after the owner's lock was granted: every earlier change of the owner's customers is committed.
    # Another campus's customers do not exist for the user: a forged id claims nothing.
    candidates = Customer.objects.of_campus_of(user).filter(pk__in=ids).annotate(**figures)
    return list(candidates.select_for_update(no_key=True).order_by("pk"))


@transaction.atomic
def customers_claim(*, user, customer_ids: Iterable[int]) -> list[Customer]:
    """Move the customers from the public pool to ``user``: all of them, or none, within the cap
    (MAX_CUSTOMER_NUM), the daily claim limit and the reclaim cool-down.

    A constant number of queries, whatever the number of customers: the owner's locked row, the locked
    customers with the owner's figures, the update and the history."""
    ids = sorted(set(customer_ids))
    # The cap and the daily limit are counts of the user's rows: every claim of the user waits on the
    # owner's row for the previous one to commit, so neither count can go stale before the claim commits.
    if not _lock_owner(user, sales_staff=True):
        raise customers_owner_error(user)
    if not ids:
        return []
    customers = _claim_candidates(user, ids)
    # Every selected customer gone (or of another campus): the cap is still reported first.
    owned = customers[0].owned_now if customers else Customer.objects.owned_by(user).count()
    _check_cap(user=user, current=owned, adding=len(ids), by=user)
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
    reclaimable = {
        customer.pk: _reclaimable_on(customer.left_at)
        for customer in customers
        if getattr(customer, "left_at", None) is not None
    }
    _check_cooldown(customers=customers, reclaimable=reclaimable)
    _check_daily_limit(claimed=getattr(customers[0], "claimed_today", 0), adding=len(customers))
    return _move(customers, to=user, by=user, reason=CustomerTransfer.Reason.CLAIM)


# Release reasons a salesperson chooses; the others are the recycling rules'.
CHOSEN_RELEASE_REASONS = [
    CustomerTransfer.ReleaseReason.NO_INTEREST,
    CustomerTransfer.ReleaseReason.UNREACHABLE,
    CustomerTransfer.ReleaseReason.WRONG_NUMBER,
    CustomerTransfer.ReleaseReason.DUPLICATE,
    CustomerTransfer.ReleaseReason.OTHER,
]


@transaction.atomic
def customers_release(*, user, customer_ids: Iterable[int], reason: str, note: str = "") -> list[Customer]:
    """Put ``user``'s own customers back in the public pool, with the reason: all of them, or none."""
    note = note.strip()
    if reason not in CHOSEN_RELEASE_REASONS:
        raise ValidationError(_("Choose why the customers go back to the pool."), code="reason")
    if reason == CustomerTransfer.ReleaseReason.OTHER and not note:
        raise ValidationError(_("Say why in the note when the reason is “Other”."), code="note")
    ids = sorted(set(customer_ids))
    customers = list(Customer.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))
    not_own = len(customers) != len(ids) or any(customer.consultant_id != user.pk for customer in customers)
    if not_own:
        raise ValidationError(
            _("Only your own customers can be released. Nothing was released."), code="not_own"
        )
    return _move(
        customers,
        to=None,
        by=user,
        reason=CustomerTransfer.Reason.RELEASE,
        release_reason=reason,
        release_note=note[:255],
    )


def customers_locked_count(*, user) -> int:
    return Customer.objects.owned_by(user).filter(locked=True).count()


@transaction.atomic
def customers_lock(*, user, customer_ids: Iterable[int]) -> list[Customer]:
    """Lock ``user``'s own customers against recycling, within CUSTOMER_LOCK_LIMIT: all or none."""
    ids = sorted(set(customer_ids))
    # Locks from several tabs at once serialize on the owner's row, as claims do, so the limit holds.
    _lock_owner(user)
    customers = list(Customer.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))
    if len(customers) != len(ids) or any(customer.consultant_id != user.pk for customer in customers):
        raise ValidationError(_("Only your own customers can be locked. Nothing was locked."), code="not_own")
    adding = [customer for customer in customers if not customer.locked]
    limit = settings.CUSTOMER_LOCK_LIMIT
    locked = customers_locked_count(user=user)
    if limit > 0 and locked + len(adding) > limit:
        raise ValidationError(
            _(
                "You may lock at most %(limit)d customers: you have locked %(locked)d, and %(adding)d more "
                "would exceed the limit. Nothing was locked."
            )
            % {"limit": limit, "locked": locked, "adding": len(adding)},
            code="lock_limit",
        )
    if limit <= 0:
        raise ValidationError(_("Locking customers is turned off."), code="lock_off")
    Customer.objects.filter(pk__in=[customer.pk for customer in adding]).update(locked=True)
    return adding


@transaction.atomic
def customers_unlock(*, user, customer_ids: Iterable[int]) -> list[Customer]:
    """Unlock ``user``'s own customers: all or none."""
    ids = sorted(set(customer_ids))
    customers = list(Customer.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))
    if len(customers) != len(ids) or any(customer.consultant_id != user.pk for customer in customers):
        raise ValidationError(
            _("Only your own customers can be unlocked. Nothing was unlocked."), code="not_own"
        )
    unlocking = [customer for customer in customers if customer.locked]
    Customer.objects.filter(pk__in=[customer.pk for customer in unlocking]).update(locked=False)
    return unlocking


def customers_quota(*, user) -> dict[str, int]:
    """The user's figures against the pool's limits, for "私户 37/150 · 今日已领 3/30 · 锁定 2/10", in
    one query; the counts are those the limits are checked against."""
    claims = CustomerTransfer.objects.filter(customers_claimed_today_q(OuterRef("pk")))
    owned = Customer.objects.filter(consultant=OuterRef("pk"))
    figures = (
        UserProfile.objects.filter(pk=user.pk)
        .annotate(
            owned=_count_of(owned),
            locked=_count_of(owned.filter(Q(locked=True))),
            claimed_today=_count_of(claims),
        )
        .values("owned", "locked", "claimed_today")
        .get()
    )
    return {
        **figures,
        "cap": settings.MAX_CUSTOMER_NUM,
        "daily_limit": settings.CUSTOMER_DAILY_CLAIM_LIMIT,
        "lock_limit": settings.CUSTOMER_LOCK_LIMIT,
    }


def customers_tally_count(*, groups) -> int | None:
    """How many customers the ``CustomerTally`` rows ``groups`` (scoped and filtered like the customers,
    with the customer querysets' own methods) hold: an exact count in one small query, on PostgreSQL,
    whose triggers keep the tally; None on another database, which counts the customers instead."""
    return tallies.tally_count(tallies.CUSTOMERS, groups)


def customers_tally_counts(*, groups, by: tuple[str, ...]) -> dict[tuple, int] | None:
    """``customers_tally_count`` per value of the tally's columns ``by`` (e.g. ``("consultant",)``):
    {values: count}, the groups without customers left out; None on another database than PostgreSQL."""
    return tallies.tally_counts(tallies.CUSTOMERS, groups, by=by)


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
        locked = Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk)
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
def customers_reassign(*, by, customer_ids: Iterable[int], to) -> list[Customer]:
    """The boss hands customers (private or in the pool) to the salesperson ``to``: every one of them
    or none, within ``to``'s cap, each move written to the ownership history. Returns the customers
    moved (those already owned by ``to`` stay as they are)."""
    ids = sorted(set(customer_ids))
    # The new owner's row first, as in a claim: the owner's own claims and this reassignment
    # serialize on it, so together they never pass the cap.
    customers_check_owner(user=to)
    _lock_owner(to)
    # A claim, a release or a recycling run on the same customers waits for the reassignment (or it for
    # them): each customer is read with its committed owner, and moved from it exactly once.
    customers = list(Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    if len(customers) != len(ids):
        raise ValidationError(
            _("Some selected customers no longer exist. Nothing was reassigned."), code="missing"
        )
    moving = [customer for customer in customers if customer.consultant_id != to.pk]
    _make_room(to, adding=len(moving), by=by)
    return _move(moving, to=to, by=by, reason=CustomerTransfer.Reason.REASSIGN)


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


# --- duplicate check (查重) ---
class DuplicateState:
    NONE = "none"
    POOL = "pool"
    OTHER_CAMPUS = "other_campus"
    OWN = "own"
    TAKEN = "taken"


def customers_find_by_contact(contact: str):
    """The customers whose QQ, phone or WeChat id is ``contact`` (in any of the ways it may be typed)."""
    from django.db.models import Q

    from crm.contacts import canonical_phone, canonical_qq, canonical_wechat

    match = Q(pk__in=[])
    if qq := canonical_qq(contact):
        match |= Q(qq=qq)
    if phone := canonical_phone(contact):
        match |= Q(phone=phone)
    if wechat := canonical_wechat(contact):
        match |= Q(wechat__iexact=wechat)
    return Customer.objects.filter(match)


def customers_duplicate_state(*, user, contact: str, exclude_pk: int | None = None) -> tuple[str, int | None]:
    """What a salesperson may learn of a contact before entering it: whether a customer has it, and
    in which state — never who owns it or any detail. The second value is the days left of another
    salesperson's protection (until recycling), when there is one."""
    found = customers_find_by_contact(contact).exclude(pk=exclude_pk)
    customer = found.with_recycle_from().order_by("pk").first()
    if customer is None:
        return DuplicateState.NONE, None
    if customer.consultant_id is None:
        in_pool = Customer.objects.pool_of(user).filter(pk=customer.pk).exists()
        return (DuplicateState.POOL if in_pool else DuplicateState.OTHER_CAMPUS), None
    if customer.consultant_id == user.pk:
        return DuplicateState.OWN, None
    days = customers_recycle_days_left(customer.recycle_from, customer.owned_from)
    return DuplicateState.TAKEN, (max(days, 0) if days is not None else None)


def customers_duplicate_message(state: str, days: int | None) -> str:
    messages = {
        DuplicateState.NONE: _("No customer has it."),
        DuplicateState.POOL: _("In the public pool: you may claim it."),
        DuplicateState.OTHER_CAMPUS: _("In another campus's public pool."),
        DuplicateState.OWN: _("It is your customer."),
    }
    if state in messages:
        return messages[state]
    if days is None:
        return _("Another salesperson is following it up.")
    return _("Another salesperson is following it up (protected for %(days)d more days).") % {"days": days}


# --- recycle ---
RECYCLE_BATCH_SIZE = 500
# 我的客户 warns about a customer this many days before it is recycled.
RECYCLE_WARNING_DAYS = 3


def customers_recycle_cutoff(*, days: int, today: datetime.date | None = None) -> datetime.date:
    """The latest ``recycle_from`` date that is recycled today: silent for ``days`` days or more."""
    return (today or timezone.localdate()) - datetime.timedelta(days=days)


def customers_recycle_days_left(
    recycle_from: datetime.date | None,
    owned_from: datetime.date | None = None,
    *,
    days: int | None = None,
    deal_days: int | None = None,
    today: datetime.date | None = None,
) -> int | None:
    """Days until a customer annotated by ``with_recycle_from()`` is recycled (0 or less: at the next
    run) by whichever rule comes first — no follow-up for ``days`` days, or no deal ``deal_days`` days
    after the claim; None when it never will be (signed up, enrolled, locked, in the pool, rules off)."""
    days = settings.CUSTOMER_RECYCLE_DAYS if days is None else days
    deal_days = settings.CUSTOMER_DEAL_DAYS if deal_days is None else deal_days
    today = today or timezone.localdate()
    left = []
    if recycle_from is not None and days > 0:
        left.append(days - (today - recycle_from).days)
    if owned_from is not None and deal_days > 0:
        left.append(deal_days - (today - owned_from).days)
    return min(left) if left else None


def customers_recycle_cutoffs(
    *,
    ahead: int = 0,
    days: int | None = None,
    deal_days: int | None = None,
    today: datetime.date | None = None,
) -> tuple[datetime.date | None, datetime.date | None]:
    """The latest ``recycle_from`` and ``owned_from`` recycled within ``ahead`` days (0: at today's run)
    by the no-follow-up and the no-deal rule; None for a rule that is off."""
    days = settings.CUSTOMER_RECYCLE_DAYS if days is None else days
    deal_days = settings.CUSTOMER_DEAL_DAYS if deal_days is None else deal_days
    silence = customers_recycle_cutoff(days=days - ahead, today=today) if days > 0 else None
    deal = customers_recycle_cutoff(days=deal_days - ahead, today=today) if deal_days > 0 else None
    return silence, deal


def customers_recycling_soon_q(*, today: datetime.date | None = None):
    """The customers (annotated by ``with_recycle_from()``) recycled within RECYCLE_WARNING_DAYS days, as
    a Q for lists and counts; None when both recycling rules are off."""
    silence, deal = customers_recycle_cutoffs(ahead=RECYCLE_WARNING_DAYS, today=today)
    if silence is None and deal is None:
        return None
    return Customer.objects.recycle_due_q(silence_cutoff=silence, deal_cutoff=deal)


def customers_recycle(
    *,
    days: int | None = None,
    deal_days: int | None = None,
    today: datetime.date | None = None,
    dry_run: bool = False,
    batch_size: int = RECYCLE_BATCH_SIZE,
) -> Counter:
    """Put back in the public pool the private customers who have not signed up, are not enrolled nor
    locked, and whose owner has not followed them up for ``days`` days (CUSTOMER_RECYCLE_DAYS) or has
    not made a deal ``deal_days`` days after the claim (CUSTOMER_DEAL_DAYS); 0 turns a rule off.

    Returns how many customers each former owner lost (user id -> count); a dry run changes nothing
    and returns what would be recycled. Running it twice recycles nothing the second time.
    """
    silence, deal = customers_recycle_cutoffs(days=days, deal_days=deal_days, today=today)
    recycled: Counter = Counter()
    if silence is None and deal is None:
        return recycled
    due = Customer.objects.due_for_recycling(silence_cutoff=silence, deal_cutoff=deal)
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
            # Re-check on the locked rows with a fresh snapshot: a follow-up, a reassignment, a lock or
            # an enrollment committed while the candidates were read keeps the customer.
            customers = list(due.filter(pk__in=locked).only("pk", "consultant_id").order_by("pk"))
            recycled.update(customer.consultant_id for customer in customers)
            silent = [c for c in customers if silence is not None and c.recycle_from <= silence]
            no_deal = [c for c in customers if c not in silent]
            for group, why in (
                (silent, CustomerTransfer.ReleaseReason.NO_FOLLOW_UP),
                (no_deal, CustomerTransfer.ReleaseReason.NO_DEAL),
            ):
                if group:
                    _move(group, to=None, by=None, reason=CustomerTransfer.Reason.RECYCLE, release_reason=why)
        if len(locked) < batch_size:
            break
        last_pk = locked[-1]
    return recycled
