import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db.models import F

from crm.models import ConsultRecord, Customer, DailyLeads, Enrollment, PaymentRecord, StudyRecord
from crm.services import dashboard as services
from crm.services.students import attendance_rate, average_score
from tests.factories import (
    ClassListFactory,
    ConsultRecordFactory,
    CourseRecordFactory,
    CustomerFactory,
    EnrollmentFactory,
    PaymentRecordFactory,
    StudyRecordFactory,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOVEMBER = services.Period(datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
Source = Customer.Source
Status = PaymentRecord.Status
PayType = PaymentRecord.PayType
Attendance = StudyRecord.Attendance
Score = StudyRecord.Score


def at(day: int, hour: int = 12, minute: int = 0, month: int = 11) -> datetime.datetime:
    """A moment of 2026 in the school's time zone."""
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def school(sales_user, other_sales_user, boss_user):
    """November 2026 at a small school, with rows just outside the month on both sides."""
    customers = {
        "signed": CustomerFactory(
            date=at(5), source=Source.QQ, consultant=sales_user, status=Customer.Status.SIGNED
        ),
        "new": CustomerFactory(date=at(10), source=Source.WEBSITE, consultant=sales_user),
        # 00:10 on 1 November in Shanghai is still 31 October in UTC: in the month.
        "first_minute": CustomerFactory(date=at(1, 0, 10), source=Source.WEBSITE),
        # 23:50 on 31 October in Shanghai: not in the month.
        "october": CustomerFactory(
            date=at(31, 23, 50, month=10), source=Source.QQ, consultant=other_sales_user
        ),
        "last_minute": CustomerFactory(
            date=at(30, 23, 59),
            source=Source.REFERRAL,
            consultant=other_sales_user,
            status=Customer.Status.STUDYING,
        ),
        "december": CustomerFactory(date=at(1, 0, 0, month=12), source=Source.REFERRAL),
    }
    signed, new = customers["signed"], customers["new"]
    ConsultRecordFactory(customer=signed, consultant=sales_user, date=at(6))
    ConsultRecordFactory(customer=signed, consultant=sales_user, date=at(7))
    ConsultRecordFactory(customer=new, consultant=sales_user, date=at(11))
    ConsultRecordFactory(customer=new, consultant=sales_user, date=at(12), delete_status=True)
    ConsultRecordFactory(customer=new, consultant=sales_user, date=at(20, month=10))
    ConsultRecordFactory(customer=customers["first_minute"], consultant=boss_user, date=at(2))

    klass = ClassListFactory(start_date=datetime.date(2026, 9, 1), graduate_date=datetime.date(2027, 2, 1))
    later = ClassListFactory(start_date=datetime.date(2026, 12, 15))
    ClassListFactory(start_date=datetime.date(2026, 3, 1), graduate_date=datetime.date(2026, 10, 31))

    EnrollmentFactory(customer=signed, enrolment_class=klass, consultant=sales_user, enrolled_date=at(8))
    EnrollmentFactory(
        customer=new,
        enrolment_class=klass,
        consultant=sales_user,
        enrolled_date=at(9),
        contract_approved=True,
    )
    EnrollmentFactory(
        customer=customers["october"],
        enrolment_class=klass,
        consultant=other_sales_user,
        enrolled_date=at(1, month=10),
    )

    def pay(seller, fee, status, when, pay_type=PayType.TUITION, enrolment_class=klass, **extra):
        PaymentRecordFactory(
            customer=signed,
            consultant=seller,
            paid_fee=fee,
            status=status,
            date=when,
            pay_type=pay_type,
            enrolment_class=enrolment_class,
            **extra,
        )

    pay(sales_user, 10000, Status.CONFIRMED, at(3))
    pay(sales_user, -2000, Status.CONFIRMED, at(20), PayType.REFUND)  # typed negative
    pay(sales_user, 1000, Status.CONFIRMED, at(21), PayType.DROPOUT)  # typed positive
    pay(sales_user, 500, Status.UNCONFIRMED, at(4), PayType.DEPOSIT, enrolment_class=later)
    pay(sales_user, 3000, Status.REJECTED, at(5))
    pay(sales_user, 7000, Status.CONFIRMED, at(6), delete_status=True)
    pay(sales_user, 9999, Status.CONFIRMED, at(31, 23, 30, month=10))
    pay(other_sales_user, 800, Status.CONFIRMED, at(30, 23, 0), PayType.DEPOSIT, enrolment_class=None)

    students = [signed, new, customers["last_minute"]]
    klass.customers.add(*students)
    lesson_1 = CourseRecordFactory(re_class=klass, day_num=1, date=datetime.date(2026, 11, 2))
    lesson_2 = CourseRecordFactory(re_class=klass, day_num=2, date=datetime.date(2026, 11, 30))
    october_lesson = CourseRecordFactory(re_class=klass, day_num=3, date=datetime.date(2026, 10, 31))
    records = [
        (lesson_1, students[0], Attendance.CHECKED, Score.A),
        (lesson_1, students[1], Attendance.LATE, Score.COPY),
        (lesson_1, students[2], Attendance.ABSENCE, Score.NOT_GRADED),
        (lesson_2, students[0], Attendance.LEAVE_EARLY, Score.FAIL),
        (lesson_2, students[1], Attendance.VACATE, Score.B),
        (lesson_2, students[2], Attendance.CHECKED, Score.NOT_GRADED),
    ]
    november = [
        StudyRecordFactory(course_record=lesson, student=student, attendance=attendance, score=score)
        for lesson, student, attendance, score in records
    ]
    StudyRecordFactory(
        course_record=october_lesson, student=signed, attendance=Attendance.ABSENCE, score=Score.A_PLUS
    )
    return {"customers": customers, "class": klass, "later": later, "study_records": november}


def test_presets_cover_the_week_the_month_the_last_month_and_the_year():
    wednesday = datetime.date(2026, 11, 25)
    assert services.period_preset("this_week", wednesday) == services.Period(
        datetime.date(2026, 11, 23), datetime.date(2026, 11, 29)
    )
    assert services.period_preset("this_month", wednesday) == NOVEMBER
    assert services.period_preset("last_month", wednesday) == services.Period(
        datetime.date(2026, 10, 1), datetime.date(2026, 10, 31)
    )
    assert services.period_preset("this_year", wednesday) == services.Period(
        datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)
    )


def test_last_month_in_january_is_december_of_the_year_before():
    assert services.period_preset("last_month", datetime.date(2027, 1, 15)) == services.Period(
        datetime.date(2026, 12, 1), datetime.date(2026, 12, 31)
    )
    assert services.period_preset("this_month", datetime.date(2028, 2, 10)).end == datetime.date(2028, 2, 29)


def test_the_period_runs_from_midnight_to_midnight_in_shanghai():
    start, end = NOVEMBER.bounds
    assert start == at(1, 0, 0)
    assert end == at(1, 0, 0, month=12)
    assert start.astimezone(datetime.UTC) == datetime.datetime(2026, 10, 31, 16, 0, tzinfo=datetime.UTC)


def test_new_leads_are_counted_by_source_on_local_days(school):
    counts = {row.source: row.count for row in services.leads_by_source(NOVEMBER)}
    assert counts[Source.QQ] == 1  # the one of 31 October 23:50 is not in November
    assert counts[Source.WEBSITE] == 2  # including 1 November 00:10
    assert counts[Source.REFERRAL] == 1  # 30 November 23:59 is in, 1 December 00:00 is not
    assert counts[Source.BAIDU_ADS] == 0
    assert set(counts) == set(Source.values)
    rows = services.leads_by_source(NOVEMBER)
    assert rows[0].source == Source.WEBSITE
    assert rows[0].share == 50


def test_each_salesperson_has_pool_follow_ups_enrollments_revenue_and_conversion(
    school, sales_user, other_sales_user, boss_user
):
    rows = {row.user_id: row for row in services.sales_performance(NOVEMBER)}
    seller = rows[sales_user.pk]
    assert (seller.owned, seller.cap) == (2, 150)
    assert (seller.follow_ups, seller.followed_customers) == (3, 2)  # deleted and October ones left out
    assert (seller.enrollments, seller.approved) == (2, 1)
    assert seller.confirmed_net == 10000 - 2000 - 1000
    assert (seller.income, seller.refunds) == (10000, -3000)
    assert seller.pending == 500
    assert (seller.leads, seller.converted, seller.conversion_rate) == (2, 1, 50)

    other = rows[other_sales_user.pk]
    assert (other.owned, other.follow_ups, other.enrollments) == (2, 0, 0)
    assert other.confirmed_net == 800
    assert (other.leads, other.converted) == (1, 1)
    assert other.in_sales_team

    # The boss followed up a customer: listed after the sales team, as not part of it.
    boss = rows[boss_user.pk]
    assert not boss.in_sales_team and boss.follow_ups == 1
    assert [row.user_id for row in services.sales_performance(NOVEMBER)][-1] == boss_user.pk


def test_a_salesperson_without_any_figure_is_still_listed(sales_user, other_sales_user):
    rows = services.sales_performance(NOVEMBER)
    assert {row.user_id for row in rows} == {sales_user.pk, other_sales_user.pk}
    assert all(row.owned == 0 and row.conversion_rate is None for row in rows)


def test_revenue_totals_subtract_refunds_and_drop_outs_and_skip_rejected_and_deleted(school):
    totals = services.revenue_totals(NOVEMBER)
    assert totals == {
        "count": 6,
        "confirmed_net": 7800,
        "confirmed_income": 10800,
        "confirmed_refunds": -3000,
        "unconfirmed_net": 500,
    }


def test_revenue_by_class_has_a_row_for_payments_without_a_class(school):
    rows = {row.class_id: row for row in services.revenue_by_class(NOVEMBER)}
    klass, later = school["class"], school["later"]
    assert rows[klass.pk].label == str(klass)
    assert (rows[klass.pk].confirmed_net, rows[klass.pk].refunds, rows[klass.pk].payments) == (7000, -3000, 4)
    assert (rows[later.pk].confirmed_net, rows[later.pk].pending) == (0, 500)
    assert rows[None].confirmed_net == 800
    assert list(rows)[-1] is None
    assert (
        sum(row.confirmed_net for row in rows.values()) == services.revenue_totals(NOVEMBER)["confirmed_net"]
    )


def test_classes_show_students_attendance_and_scores_of_the_period(school):
    rows = services.classes_overview(NOVEMBER)
    assert [row.class_id for row in rows] == [school["class"].pk]  # not starting later, not graduated
    row = rows[0]
    assert (row.students, row.studying, row.lessons, row.study_records) == (3, 1, 2, 6)
    assert row.attendance_rate == pytest.approx(100 * 4 / 6)
    assert row.average_score == pytest.approx((90 + 0 + 0 + 80) / 4)  # N/A out, COPY and FAIL as 0


def test_class_figures_follow_the_rules_of_the_students_page(school):
    records = school["study_records"]
    row = services.classes_overview(NOVEMBER)[0]
    assert row.attendance_rate == pytest.approx(100 * attendance_rate(records))
    assert row.average_score == pytest.approx(average_score(records))


def test_the_summary_adds_up_the_sections(school):
    board = services.dashboard(NOVEMBER)
    assert board.summary == {
        "new_leads": 4,
        "converted": 2,
        "conversion_rate": 50,
        "private": 4,
        "follow_ups": 4,
        "enrollments": 2,
        "approved": 1,
        "confirmed_net": board.totals["confirmed_net"],
        "unconfirmed_net": board.totals["unconfirmed_net"],
    }
    assert board.summary["follow_ups"] == sum(row.follow_ups for row in board.sales)
    assert board.summary["enrollments"] == sum(row.enrollments for row in board.sales)
    assert board.public_pool == 2


def _back_date(days: int) -> None:
    """Move every row the dashboard counts ``days`` back: closed days, which aggregation stores."""
    shift = datetime.timedelta(days=days)
    Customer.objects.update(date=F("date") - shift)
    ConsultRecord.objects.update(date=F("date") - shift)
    Enrollment.objects.update(enrolled_date=F("enrolled_date") - shift)
    PaymentRecord.objects.update(date=F("date") - shift)


@pytest.mark.parametrize("size", [2, 12])
@pytest.mark.parametrize("preset", ["this_month", "this_year", "last_30_days"])
@pytest.mark.parametrize("aggregated", [False, True])
def test_the_dashboard_takes_the_same_queries_whatever_the_data_size_the_period_and_the_days_stored(
    grow_school, store_days, django_assert_num_queries, size, preset, aggregated
):
    grow_school(size)
    if aggregated:
        _back_date(3)
        grow_school(size)  # and as many today, computed live beside the stored days
        store_days()
        assert DailyLeads.objects.exists()
    period = services.period_preset(preset)
    # The stored days of both periods 1; leads 2 (by source, by day), follow-ups 1, customers followed 1,
    # enrollments 2, payments 2 (each with the period before's in the same query); salespeople 3 (owned,
    # leads per owner, the users); classes' revenue 1, classes 2, pool 1.
    with django_assert_num_queries(16):
        board = services.dashboard(period)
    assert board == services.dashboard(period, stored=False)


def test_only_holders_of_the_view_dashboard_capability_may_view_the_dashboard(
    boss_user, sales_user, finance_user, make_user
):
    assert services.may_view_dashboard(boss_user)
    assert services.may_view_dashboard(make_user(None, username="root", is_superuser=True, is_staff=True))
    assert not services.may_view_dashboard(sales_user)
    assert not services.may_view_dashboard(finance_user)


def test_a_refund_typed_as_negative_tuition_is_a_refund_per_class_as_in_the_payment_list(school, sales_user):
    klass = school["class"]
    PaymentRecordFactory(
        customer=CustomerFactory(consultant=sales_user),
        consultant=sales_user,
        enrolment_class=klass,
        pay_type=PayType.TUITION,
        paid_fee=-500,
        status=Status.CONFIRMED,
        date=datetime.datetime(2026, 11, 10, 12, tzinfo=SHANGHAI),
    )

    row = {row.class_id: row for row in services.revenue_by_class(NOVEMBER)}[klass.pk]
    totals = services.payments_in(NOVEMBER).filter(enrolment_class=klass).totals()

    assert (row.income, row.refunds) == (10000, -3500)
    assert (row.income, row.refunds) == (totals["confirmed_income"], totals["confirmed_refunds"])


# The period before (环比), the funnel and the weekly trend


def test_the_dashboard_opens_on_the_last_30_days():
    today = datetime.date(2026, 11, 27)
    assert services.period_preset("last_30_days", today) == services.Period(
        datetime.date(2026, 10, 29), today
    )
    assert services.DEFAULT_PRESET == "last_30_days"


def test_the_period_before_has_the_same_length_and_ends_the_day_before():
    assert NOVEMBER.previous() == services.Period(datetime.date(2026, 10, 2), datetime.date(2026, 10, 31))
    assert services.Period(datetime.date(2026, 3, 1), datetime.date(2026, 3, 1)).previous().days == 1


@pytest.mark.parametrize(
    ("current", "previous", "change"),
    [(120, 100, 20.0), (80, 100, -20.0), (5, 0, None), (0, 0, None), (-50, -100, 50.0)],
)
def test_change_percent(current, previous, change):
    assert services.change_percent(current, previous) == change


def test_headline_figures_are_compared_with_the_period_before(school):
    board = services.dashboard(NOVEMBER)

    # October (2 to 31): the customer of 31 October 23:50, and the tuition of 31 October 23:30.
    assert board.previous["new_leads"] == 1
    assert board.previous["confirmed_net"] == 9999
    assert board.changes["new_leads"] == 300.0
    assert board.changes["confirmed_net"] == pytest.approx(100 * (7800 - 9999) / 9999)
    assert board.changes["approved"] is None  # nothing approved in October


def test_the_funnel_follows_the_periods_leads_stage_by_stage(school):
    stages = {stage.code: (stage.count, stage.share) for stage in services.funnel(NOVEMBER)}

    # 4 leads; 3 with a follow-up (not the last-minute one); 2 of them enrolled; 1 of those paid.
    assert stages == {"leads": (4, 100.0), "followed": (3, 75.0), "enrolled": (2, 50.0), "paid": (1, 25.0)}


def test_the_weekly_trend_lists_every_week_in_local_time(school):
    weeks = services.weekly_trend(NOVEMBER)

    mondays = [week.monday for week in weeks]
    assert mondays == [datetime.date(2026, 10, 26) + datetime.timedelta(weeks=index) for index in range(6)]
    assert [week.new_leads for week in weeks] == [1, 1, 1, 0, 0, 1]
    assert [week.enrollments for week in weeks] == [0, 1, 1, 0, 0, 0]
    # Confirmed and alive only, refunds and drop-outs subtracted: the totals' expression per week.
    assert [week.confirmed_net for week in weeks] == [0, 10000, 0, -3000, 0, 800]
    assert sum(week.confirmed_net for week in weeks) == services.revenue_totals(NOVEMBER)["confirmed_net"]


@pytest.mark.postgres
def test_the_pool_and_the_owned_customers_come_from_the_tally_and_the_all_live_board_counts_them(
    sales_user, other_sales_user
):
    from crm.models import CustomerTally

    CustomerFactory.create_batch(3)
    CustomerFactory.create_batch(2, consultant=sales_user)
    live = services.dashboard(NOVEMBER, stored=False)
    assert services.dashboard(NOVEMBER) == live
    owned = {row.user_id: row.owned for row in live.sales}
    assert (live.public_pool, owned[sales_user.pk], owned[other_sales_user.pk]) == (3, 2, 0)

    # A difference only the tally holds (as if a customer had been claimed): read by the board.
    group = CustomerTally.objects.filter(consultant=sales_user).first()
    CustomerTally.objects.create(consultant=other_sales_user, status=group.status, source=group.source, n=1)
    CustomerTally.objects.create(status=group.status, source=group.source, n=-1)

    board = services.dashboard(NOVEMBER)
    assert board.public_pool == 2
    assert {row.user_id: row.owned for row in board.sales}[other_sales_user.pk] == 1
    assert services.dashboard(NOVEMBER, stored=False) == live


def test_the_leads_of_a_salesperson_are_their_customers_created_in_the_period(school, sales_user):
    # Owned now and created in the period; the pool's are nobody's leads.
    CustomerFactory(date=at(15), consultant=sales_user, status=Customer.Status.PAID_IN_FULL)
    CustomerFactory(date=at(15))

    seller = {row.user_id: row for row in services.sales_performance(NOVEMBER)}[sales_user.pk]

    assert (seller.owned, seller.leads, seller.converted) == (3, 3, 2)
