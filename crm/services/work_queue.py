"""The home page's work queue (工作台): what each role must do today, as plain figures.

Selectors: each function runs ONE aggregate query (conditional aggregates over one model), whatever
the size of the tables, so that the admin's index stays within a fixed number of queries.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q, Window
from django.utils import timezone

from crm.models import CourseRecord, Customer, CustomerTransfer, Enrollment, PaymentRecord, UserProfile
from crm.querysets import CustomerQuerySet, PaymentRecordQuerySet
from crm.services.customers import customers_claimed_today_q, customers_recycling_soon_q, local_midnight

# Rejected payments shown to finance: those rejected on the last 7 local days, today included.
REJECTED_DAYS = 7
# A salesperson's first visit to the home page shows what changed for them in the last 7 days.
NOTICES_FIRST_DAYS = 7
NOTICES_SHOWN = 20


def sales_figures(user, *, today: datetime.date | None = None) -> dict[str, int]:
    """The user's private customers: due today, overdue, recycled soon, and how many in all."""
    today = today or timezone.localdate()
    soon = customers_recycling_soon_q(today=today)
    figures = {
        "today": Count("pk", filter=CustomerQuerySet.follow_up_today_q(today)),
        "overdue": Count("pk", filter=CustomerQuerySet.follow_up_overdue_q(today)),
        "owned": Count("pk"),
    }
    customers = Customer.objects.owned_by(user)
    if soon is not None:
        customers = customers.with_recycle_from()
        figures["recycling_soon"] = Count("pk", filter=soon)
    result = customers.aggregate(**figures)
    result.setdefault("recycling_soon", 0)
    result["cap"] = settings.MAX_CUSTOMER_NUM
    return result


def claimed_today(user, *, today: datetime.date | None = None) -> int:
    return CustomerTransfer.objects.filter(customers_claimed_today_q(user, today=today)).count()


def rejected_since(today: datetime.date | None = None) -> datetime.datetime:
    """The start of the rejected-payments window (its rejection time is the payment's confirm_date)."""
    today = today or timezone.localdate()
    return local_midnight(today - datetime.timedelta(days=REJECTED_DAYS - 1))


def finance_figures(user, *, today: datetime.date | None = None) -> dict[str, int]:
    """Payments waiting for confirmation (count and net amount) and those rejected lately."""
    unconfirmed = Q(status=PaymentRecord.Status.UNCONFIRMED)
    rejected = Q(status=PaymentRecord.Status.REJECTED, confirm_date__gte=rejected_since(today))
    return (
        PaymentRecord.objects.alive()
        .visible_to(user)
        .aggregate(
            pending=Count("pk", filter=unconfirmed),
            pending_net=PaymentRecordQuerySet.total_expressions()["unconfirmed_net"],
            rejected=Count("pk", filter=rejected),
        )
    )


# Enrollments whose contract the customer agreed to, waiting for a class teacher's approval.
AWAITING_APPROVAL = Q(contract_agreed=True, contract_approved=False)


def enrollments_awaiting_approval(user) -> int:
    return Enrollment.objects.alive().visible_to(user).filter(AWAITING_APPROVAL).count()


def lessons_today(
    user, *, today: datetime.date | None = None, limit: int | None = None
) -> list[CourseRecord]:
    """The lessons dated today that the user's course-record list shows (those of the classes they
    teach; every class for the boss), at most ``limit`` of them."""
    today = today or timezone.localdate()
    lessons = (
        CourseRecord.objects.visible_to(user)
        .filter(date=today)
        .select_related("re_class__campus")
        .order_by("re_class__course", "re_class__semester", "day_num", "pk")
    )
    return list(lessons if limit is None else lessons[:limit])


def team_overdue(*, today: datetime.date | None = None) -> list[dict]:
    """Each salesperson's overdue private customers (those with any), most overdue first."""
    return list(
        Customer.objects.follow_up_overdue(today)
        .filter(consultant__isnull=False)
        .values("consultant", "consultant__name", "consultant__username")
        .annotate(overdue=Count("pk"))
        .order_by("-overdue", "consultant__username")
    )


@dataclass
class Notice:
    """Something that happened to one of the user's customers, without their doing it."""

    kind: str  # "recycled", "released", "given", "taken", "confirmed" or "rejected"
    date: datetime.datetime
    customer: Customer
    transfer: CustomerTransfer | None = None
    payment: PaymentRecord | None = None


def notices_since(user) -> datetime.datetime:
    """The start of the user's notices: their last sight of them, or the last days on a first visit."""
    return user.notices_seen_at or timezone.now() - datetime.timedelta(days=NOTICES_FIRST_DAYS)


def notices_transfers_q(user) -> Q:
    """The ownership changes that are news to ``user``: their customers recycled away, and customers
    handed to them or taken from them by someone else (the boss reassigning, merging or releasing)."""
    Reason = CustomerTransfer.Reason
    recycled = Q(reason=Reason.RECYCLE, from_consultant=user)
    by_another = Q(reason__in=[Reason.REASSIGN, Reason.MERGE, Reason.RELEASE]) & ~Q(by=user)
    # A change from the user to the user (a merge keeping them as the owner) is no news.
    moved = (Q(to_consultant=user) | Q(from_consultant=user)) & ~(
        Q(to_consultant=user) & Q(from_consultant=user)
    )
    return recycled | (by_another & moved)


def notices(user, *, since: datetime.datetime, until: datetime.datetime, limit: int = NOTICES_SHOWN) -> dict:
    """What changed for ``user`` after ``since`` up to ``until``, newest first: at most ``limit``
    notices and the count of the others. Two queries whatever the history's size (the totals ride on
    the rows as a window)."""
    total = Window(Count("pk"))
    transfers = list(
        CustomerTransfer.objects.filter(notices_transfers_q(user), date__gt=since, date__lte=until)
        .select_related("customer", "by")
        .annotate(total=total)
        .order_by("-date", "-pk")[:limit]
    )
    payments = list(
        PaymentRecord.objects.alive()
        .filter(
            consultant=user,
            status__in=[PaymentRecord.Status.CONFIRMED, PaymentRecord.Status.REJECTED],
            confirm_date__gt=since,
            confirm_date__lte=until,
        )
        .select_related("customer")
        .annotate(total=total)
        .order_by("-confirm_date", "-pk")[:limit]
    )
    found = [
        Notice(kind=transfer_kind(row, user), date=row.date, customer=row.customer, transfer=row)
        for row in transfers
    ]
    found += [
        Notice(
            kind="confirmed" if row.status == PaymentRecord.Status.CONFIRMED else "rejected",
            date=row.confirm_date,
            customer=row.customer,
            payment=row,
        )
        for row in payments
    ]
    found.sort(key=lambda notice: notice.date, reverse=True)
    count = (transfers[0].total if transfers else 0) + (payments[0].total if payments else 0)
    shown = found[:limit]
    return {"notices": shown, "more": count - len(shown)}


def transfer_kind(transfer: CustomerTransfer, user) -> str:
    if transfer.reason == CustomerTransfer.Reason.RECYCLE:
        return "recycled"
    if transfer.to_consultant_id == user.pk:
        return "given"
    if transfer.reason == CustomerTransfer.Reason.RELEASE:
        return "released"
    return "taken"


def notices_mark_seen(user, *, at: datetime.datetime) -> None:
    """Remember that the user has seen their notices up to ``at`` (the next visit shows newer ones)."""
    UserProfile.objects.filter(pk=user.pk).update(notices_seen_at=at)
    user.notices_seen_at = at
