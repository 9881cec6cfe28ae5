"""The home page's figures, each against a morning with known answers (the ``work_day`` fixture)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.services import work_queue

pytestmark = pytest.mark.django_db


def test_a_salespersons_figures(work_day, sales_user):
    figures = work_queue.sales_figures(sales_user)

    assert figures == {"today": 2, "overdue": 2, "recycling_soon": 1, "owned": 9, "cap": 40}


def test_the_sales_figures_are_one_query(work_day, sales_user):
    with CaptureQueriesContext(connection) as queries:
        work_queue.sales_figures(sales_user)

    assert len(queries) == 1


def test_nothing_is_recycled_soon_when_recycling_is_off(work_day, sales_user, settings):
    settings.CUSTOMER_RECYCLE_DAYS = 0

    assert work_queue.sales_figures(sales_user)["recycling_soon"] == 0


def test_claims_count_since_local_midnight_and_only_the_users_own(work_day, sales_user, other_sales_user):
    assert work_queue.claimed_today(sales_user) == 2
    assert work_queue.claimed_today(other_sales_user) == 1


def test_finance_figures_count_and_sum_the_payments_to_confirm_and_the_recent_rejections(
    work_day, finance_user
):
    assert work_queue.finance_figures(finance_user) == {"pending": 3, "pending_net": 6000, "rejected": 2}


def test_the_finance_figures_are_one_query(work_day, finance_user):
    finance_user.has_perm("crm.view_paymentrecord")  # the user's permissions, loaded once per request
    with CaptureQueriesContext(connection) as queries:
        work_queue.finance_figures(finance_user)

    assert len(queries) == 1


def test_enrollments_awaiting_approval_are_those_the_user_may_see(work_day, class_teacher_user, boss_user):
    assert work_queue.enrollments_awaiting_approval(class_teacher_user) == 2
    assert work_queue.enrollments_awaiting_approval(boss_user) == 3


def test_the_lessons_of_today_are_those_of_the_users_classes(
    work_day, class_teacher_user, ta_user, boss_user
):
    assert work_queue.lessons_today(class_teacher_user) == work_day["lessons"]
    assert work_queue.lessons_today(ta_user) == work_day["lessons"]
    assert len(work_queue.lessons_today(boss_user)) == 3
    assert work_queue.lessons_today(boss_user, limit=1) == work_queue.lessons_today(boss_user)[:1]


def test_the_team_overdue_per_salesperson(work_day, sales_user, other_sales_user):
    rows = work_queue.team_overdue()

    assert [(row["consultant"], row["overdue"]) for row in rows] == [
        (sales_user.pk, 2),
        (other_sales_user.pk, 1),
    ]


def test_notices_are_bounded_newest_first_with_the_count_of_the_others(
    sales_user, boss_user, django_assert_num_queries
):
    import datetime

    from django.utils import timezone

    from crm.models import CustomerTransfer, PaymentRecord
    from tests.factories import CustomerFactory, PaymentRecordFactory

    now = timezone.now()
    for index in range(15):
        customer = CustomerFactory(consultant=sales_user)
        CustomerTransfer.objects.create(
            customer=customer,
            to_consultant=sales_user,
            by=boss_user,
            reason=CustomerTransfer.Reason.REASSIGN,
            date=now - datetime.timedelta(minutes=2 * index),
        )
        PaymentRecordFactory(
            customer=customer,
            consultant=sales_user,
            status=PaymentRecord.Status.CONFIRMED,
            confirm_date=now - datetime.timedelta(minutes=2 * index + 1),
        )

    with django_assert_num_queries(2):
        found = work_queue.notices(sales_user, since=now - datetime.timedelta(days=1), until=now, limit=20)
        kinds = [notice.kind for notice in found["notices"]]

    assert kinds == ["given", "confirmed"] * 10
    assert found["more"] == 10
    assert work_queue.notices(sales_user, since=now, until=now) == {"notices": [], "more": 0}


def test_the_first_visit_shows_the_last_7_days_then_what_came_after(sales_user):
    import datetime

    from django.utils import timezone

    since = work_queue.notices_since(sales_user)
    assert abs(timezone.now() - datetime.timedelta(days=7) - since) < datetime.timedelta(minutes=1)

    seen = timezone.now()
    work_queue.notices_mark_seen(sales_user, at=seen)
    sales_user.refresh_from_db()
    assert work_queue.notices_since(sales_user) == seen


def test_a_recycling_run_is_a_notice_with_its_reason_and_the_users_own_release_is_not(sales_user, settings):
    import datetime

    from django.utils import timezone

    from crm.models import CustomerTransfer
    from crm.services.customers import customers_recycle, customers_release
    from tests.factories import CustomerFactory

    settings.CUSTOMER_DEAL_DAYS = 0
    today = timezone.localdate()
    long_ago = timezone.now() - datetime.timedelta(days=60)
    silent = CustomerFactory(
        consultant=sales_user, date=long_ago, last_consult_date=today - datetime.timedelta(days=20)
    )
    released = CustomerFactory(consultant=sales_user)
    since = timezone.now() - datetime.timedelta(minutes=1)

    customers_recycle(days=15, today=today)
    customers_release(
        user=sales_user, customer_ids=[released.pk], reason=CustomerTransfer.ReleaseReason.NO_INTEREST
    )
    found = work_queue.notices(sales_user, since=since, until=timezone.now())

    assert [(notice.kind, notice.customer) for notice in found["notices"]] == [("recycled", silent)]
    assert found["notices"][0].transfer.release_reason == CustomerTransfer.ReleaseReason.NO_FOLLOW_UP
