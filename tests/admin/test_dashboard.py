import datetime
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Customer, PaymentRecord
from crm.services import dashboard as services

pytestmark = pytest.mark.django_db

URL = reverse("admin:dashboard")


def links_of(response) -> list[str]:
    return sorted(
        {html.unescape(href) for href in re.findall(r'href="(/admin/[^"]+)"', response.content.decode())}
    )


def test_the_boss_sees_the_dashboard_in_chinese(boss_client, grow_school):
    grow_school(3)
    response = boss_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    for label in [
        "经营看板",
        "本月",
        "新增客户",
        "转化率",
        "销售团队",
        "新增客户来源",
        "各班级收入",
        "班级",
        "已确认收入（净额）",
    ]:
        assert label in page
    assert "Sales team" not in page and "Business dashboard" not in page
    assert response.context["preset"] == "last_30_days"
    assert response.context["board"].period == services.period_preset("last_30_days")


def test_a_superuser_sees_the_dashboard(client, make_user):
    client.force_login(make_user(None, username="root", is_staff=True, is_superuser=True))
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize("role", ["sales", "finance", "class_teacher", "lecturer", "ta"])
def test_other_staff_are_refused(client, make_user, role):
    client.force_login(make_user(role, username=f"{role}_x"))
    assert client.get(URL).status_code == 403


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_the_admin_index_links_to_the_dashboard_for_the_boss_only(boss_client, client_for, sales_user):
    page = boss_client.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' in page and "打开经营看板" in page
    sales_page = client_for(sales_user).get(reverse("admin:index")).content.decode()
    assert URL not in sales_page


def test_a_preset_chooses_the_period(boss_client):
    response = boss_client.get(URL, {"preset": "last_month"})
    assert response.context["board"].period == services.period_preset("last_month")
    assert 'class="active">上月' in response.content.decode()


def test_a_date_range_chooses_the_period(boss_client):
    response = boss_client.get(URL, {"start": "2026-11-03", "end": "2026-11-09"})
    assert response.context["board"].period == services.Period(
        datetime.date(2026, 11, 3), datetime.date(2026, 11, 9)
    )
    assert "2026-11-03 至 2026-11-09" in response.content.decode()


def test_a_reversed_range_is_refused_and_the_default_period_shown(boss_client):
    response = boss_client.get(URL, {"start": "2026-11-09", "end": "2026-11-03"})
    assert response.status_code == 200
    assert "开始日期不能晚于结束日期。" in response.content.decode()
    assert response.context["board"].period == services.period_preset(services.DEFAULT_PRESET)


@pytest.mark.parametrize("size", [2, 10])
def test_the_page_takes_the_same_few_queries_whatever_the_data_size(
    boss_client, grow_school, django_assert_num_queries, size
):
    grow_school(size)
    # The dashboard's 16 (tests/services/test_dashboard.py); the session, the user and their permissions
    # (one query: crm.backends).
    with django_assert_num_queries(19):
        response = boss_client.get(URL)
    assert response.context["board"].summary["new_leads"] == size


def test_every_number_links_to_a_list_that_accepts_its_filters(boss_client, grow_school):
    grow_school(4)
    links = links_of(boss_client.get(URL))
    assert any("paymentrecord" in link and "total=confirmed" in link for link in links)
    for link in links:
        response = boss_client.get(link)
        # A filter the admin does not accept redirects to ?e=1.
        assert response.status_code == 200, link


def test_the_revenue_link_lists_the_confirmed_payments_of_the_period(boss_client, grow_school):
    grow_school(6)
    PaymentRecord.objects.filter(pk=PaymentRecord.objects.first().pk).update(
        date=timezone.now() - datetime.timedelta(days=400)
    )
    expected = PaymentRecord.objects.filter(
        services.period_preset("this_month").within("date"), status=PaymentRecord.Status.CONFIRMED
    ).count()
    response = boss_client.get(boss_client.get(URL).context["links"]["confirmed"])
    assert response.context["cl"].result_count == expected


def test_the_source_link_lists_the_new_customers_of_that_source(boss_client, grow_school):
    grow_school(10)
    leads = boss_client.get(URL).context["leads"]
    item = next(item for item in leads if item["row"].source == Customer.Source.QQ)
    response = boss_client.get(item["url"])
    assert response.context["cl"].result_count == item["row"].count == 2


def test_an_unknown_preset_shows_the_default_period_with_the_error_in_chinese(boss_client):
    response = boss_client.get(URL, {"preset": "forever"})
    assert response.status_code == 200
    assert "时间段：" in response.content.decode()
    assert response.context["board"].period == services.period_preset(services.DEFAULT_PRESET)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31", "9999-12-31"),
        ("0001-01-01", "0001-01-07"),
        ("1899-12-31", "1900-01-02"),
        ("2100-12-31", "2101-01-01"),
    ],
)
def test_a_date_outside_the_years_1900_to_2100_is_a_form_error_not_a_500(boss_client, start, end):
    response = boss_client.get(URL, {"start": start, "end": end})

    assert response.status_code == 200
    assert "请输入 1900 至 2100 年之间的日期。" in response.content.decode()
    assert response.context["board"].period == services.period_preset(services.DEFAULT_PRESET)


def test_the_last_days_of_the_range_are_accepted(boss_client):
    response = boss_client.get(URL, {"start": "2100-12-01", "end": "2100-12-31"})

    assert response.status_code == 200
    assert response.context["board"].period == services.Period(
        datetime.date(2100, 12, 1), datetime.date(2100, 12, 31)
    )


def test_the_dashboard_is_opened_by_the_view_dashboard_capability_not_by_seeing_every_customer(
    client, make_user
):
    from django.contrib.auth.models import Permission

    holder = make_user(None, username="analyst", is_staff=True)
    holder.user_permissions.add(
        Permission.objects.get(codename="view_dashboard", content_type__app_label="crm")
    )
    client.force_login(holder)
    assert client.get(URL).status_code == 200

    sees_all = make_user(None, username="auditor", is_staff=True)
    sees_all.user_permissions.add(
        Permission.objects.get(codename="view_all_customers", content_type__app_label="crm")
    )
    client.force_login(sees_all)
    assert client.get(URL).status_code == 403


def test_every_money_figure_links_to_a_list_whose_own_totals_equal_it(boss_client, sales_user):
    # Finding 2: the refunds figure counted a negative tuition, the list behind its link showed 0 rows.
    from tests.factories import ClassListFactory, CustomerFactory, PaymentRecordFactory

    klass = ClassListFactory()
    customer = CustomerFactory(consultant=sales_user)
    Status, PayType = PaymentRecord.Status, PaymentRecord.PayType
    for pay_type, fee, status in [
        (PayType.TUITION, 9000, Status.CONFIRMED),
        (PayType.TUITION, -500, Status.CONFIRMED),
        (PayType.REFUND, 700, Status.CONFIRMED),
        (PayType.DROPOUT, -300, Status.CONFIRMED),
        (PayType.DEPOSIT, 400, Status.UNCONFIRMED),
        (PayType.REFUND, 200, Status.UNCONFIRMED),
        (PayType.TUITION, 5000, Status.REJECTED),
    ]:
        PaymentRecordFactory(
            customer=customer,
            consultant=sales_user,
            enrolment_class=klass,
            pay_type=pay_type,
            paid_fee=fee,
            status=status,
        )

    page = boss_client.get(URL).context
    figures = {
        "confirmed": ("confirmed_net", 7500),
        "income": ("confirmed_income", 9000),
        "refunds": ("confirmed_refunds", -1500),
        "pending": ("unconfirmed_net", 200),
    }
    rows = {
        "links": page["links"],
        "sales": next(item for item in page["sales"] if item["row"].user_id == sales_user.pk)["links"],
        "class": page["classes_revenue"][0]["links"],
    }
    for name, (total, expected) in figures.items():
        assert page["board"].totals[total] == expected
        for where, links in rows.items():
            listed = boss_client.get(links[name]).context["payment_totals"]
            assert listed[total] == expected, (where, name)
            # The list holds exactly the rows of the figure: its other totals are those rows' only.
            assert listed["confirmed_net"] + listed["unconfirmed_net"] == expected, (where, name)
    refunds = boss_client.get(page["links"]["refunds"]).context["cl"].result_count
    assert refunds == 3


def test_an_unknown_total_lists_nothing(boss_client, sales_user):
    from tests.factories import PaymentRecordFactory

    PaymentRecordFactory(consultant=sales_user)
    response = boss_client.get(reverse("admin:crm_paymentrecord_changelist"), {"total": "everything"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_the_trend_is_drawn_server_side_without_a_script_and_the_funnel_shown(boss_client, grow_school):
    grow_school(3)

    response = boss_client.get(URL)

    page = response.content.decode()
    assert page.count('<svg viewBox="0 0 600 180" role="img"') == 3
    assert "<rect " in page and "<title>" in page
    assert "<script" not in page.split('id="content-main"')[1].split("</main>")[0]
    assert [chart["title"] for chart in response.context["charts"]] == [
        "新增客户",
        "报名",
        "已确认收入（净额）",
    ]
    assert "线索" in page and "已跟进" in page and "缴费" in page
    assert response.context["funnel"][0]["stage"].count == 3


def test_each_headline_figure_shows_its_change_against_the_30_days_before(boss_client, sales_user):
    from tests.factories import CustomerFactory

    today = timezone.now()
    CustomerFactory(consultant=sales_user, date=today)
    CustomerFactory(consultant=sales_user, date=today)
    CustomerFactory(consultant=sales_user, date=today - datetime.timedelta(days=40))

    response = boss_client.get(URL)

    assert response.context["changes"]["new_leads"] == {"value": 100.0, "direction": "up"}
    assert "+100.0%" in response.content.decode()
    assert response.context["previous_period"] == response.context["board"].period.previous()


def test_a_bar_of_the_trend_is_as_high_as_its_share_of_the_largest_week():
    from crm.admin.dashboard import trend_chart

    weeks = [
        services.WeekRow(monday=datetime.date(2026, 11, 2), confirmed_net=1000),
        services.WeekRow(monday=datetime.date(2026, 11, 9), confirmed_net=-500),
        services.WeekRow(monday=datetime.date(2026, 11, 16), confirmed_net=0),
    ]

    chart = trend_chart(weeks, "confirmed_net", "收入")

    up, down, flat = chart["bars"]
    assert float(up["height"]) == pytest.approx(2 * float(down["height"]), abs=0.2)
    assert down["negative"] and float(down["y"]) == float(chart["zero"])
    assert float(flat["height"]) == 0
    assert up["tick"] == "11月2日"
