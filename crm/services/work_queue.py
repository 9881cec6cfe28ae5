"""The home page's work queue (工作台): what each role must do today, as plain figures.

Selectors: each function runs ONE aggregate query (conditional aggregates over one model), whatever
the size of the tables, so that the admin's index stays within a fixed number of queries.
"""

import datetime

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from crm.models import CourseRecord, Customer, CustomerTransfer, Enrollment, PaymentRecord
from crm.querysets import CustomerQuerySet, PaymentRecordQuerySet
from crm.services.customers import customers_claimed_today_q, customers_recycling_soon_q, local_midnight

# Rejected payments shown to finance: those rejected on the last 7 local days, today included.
REJECTED_DAYS = 7


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
