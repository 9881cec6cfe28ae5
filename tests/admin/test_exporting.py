import datetime
import html
import re
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Job
from crm.resources.finance import PaymentRecordResource
from tests.factories import ClassListFactory, CustomerFactory, EnrollmentFactory, PaymentRecordFactory

pytestmark = pytest.mark.django_db

EXPORTS = ["crm_customer", "crm_enrollment", "crm_paymentrecord"]
# Each a filter the list cannot apply: no such filter, and a value its field refuses.
HOSTILE_QUERIES = [
    {"no_such_filter": "1"},
    {"consultant__id__exact": "abc"},
    {"e": "1", "no_such_filter": "1"},
]


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_an_export_with_filters_the_list_cannot_apply_goes_back_to_the_list_with_a_message(
    boss_client, export, query
):
    PaymentRecordFactory()
    url = reverse(f"admin:{export}_export")

    responses = [
        boss_client.get(url, query, follow=True),
        boss_client.post(f"{url}?no_such_filter=1", {"format": "0"}, follow=True),
    ]

    for response in responses:
        assert response.redirect_chain == [(reverse(f"admin:{export}_changelist"), 302)]
        assert [str(message) for message in response.context["messages"]] == [
            "导出地址中的筛选条件无效，未导出任何数据。请重新筛选列表后再导出。"
        ]
    assert not Job.objects.exists()


# --- what the export page says it will write ---

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int) -> datetime.datetime:
    return datetime.datetime(2026, 11, day, 10, 30, tzinfo=SHANGHAI)


def page_text(response) -> str:
    content = response.content.decode()
    scope = content[content.index('class="module crm-export-scope">') + 32 :]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", scope[: scope.index("</div>")])).split())


def test_the_export_page_says_how_many_rows_of_which_filters_and_search_it_writes(finance_client):
    klass = ClassListFactory()
    wanted = PaymentRecordFactory(
        customer=CustomerFactory(name="张三"), enrolment_class=klass, status="confirmed", date=at(10)
    )
    PaymentRecordFactory(
        customer=CustomerFactory(name="张四"), enrolment_class=klass, status="confirmed", date=at(12)
    )
    PaymentRecordFactory(customer=CustomerFactory(name="张三丰"), status="unconfirmed", date=at(10))
    PaymentRecordFactory(customer=CustomerFactory(name="李四"), status="confirmed", date=at(10))
    PaymentRecordFactory(customer=CustomerFactory(name="张五"), status="confirmed", date=at(25))
    query = {
        "date__range__gte": "2026-11-01",
        "date__range__lte": "2026-11-15",
        "status__exact": "confirmed",
        "enrolment_class__id__exact": str(klass.pk),
        "q": "张",
    }
    listed = finance_client.get(reverse("admin:crm_paymentrecord_changelist"), query).context["cl"]

    response = finance_client.get(reverse("admin:crm_paymentrecord_export"), query)

    assert listed.result_count == 2 and wanted in listed.result_list
    assert page_text(response) == (
        f"将导出列表中的 2 条记录。 筛选条件： 状态 已确认 · 班级 {klass} · "
        "交款日期 2026-11-01 – 2026-11-15 · 搜索 “张” 在列表中修改筛选条件"
    )
    scope = response.context["export_scope"]
    assert scope["list_url"] == f"{reverse('admin:crm_paymentrecord_changelist')}?{urlencode(query)}"


def test_the_export_page_of_an_unfiltered_list_says_so(finance_client):
    EnrollmentFactory.create_batch(2)

    response = finance_client.get(reverse("admin:crm_enrollment_export"))

    assert page_text(response) == "将导出列表中的 2 条记录。 整个列表，未筛选、未搜索。 在列表中修改筛选条件"


def test_the_export_page_says_beforehand_that_a_big_export_runs_as_a_background_job(boss_client, settings):
    settings.JOB_ROWS_THRESHOLD = 2
    CustomerFactory.create_batch(3)

    response = boss_client.get(reverse("admin:crm_customer_export"), {"consultant__isnull": "True"})

    assert page_text(response) == (
        "超过 2 条记录：将作为后台任务导出，完成后在「后台任务」页面下载文件。 "
        "筛选条件： 销售 未分配 在列表中修改筛选条件"
    )


def test_the_export_page_reads_the_list_and_counts_its_rows_in_a_fixed_number_of_queries(
    finance_client, django_assert_num_queries
):
    PaymentRecordFactory.create_batch(3)
    url = reverse("admin:crm_paymentrecord_export")
    finance_client.get(url)  # the session and the user's permissions are cached after the first page

    with django_assert_num_queries(5):
        finance_client.get(url, {"status__exact": "confirmed"})
    PaymentRecordFactory.create_batch(3)
    with django_assert_num_queries(5):
        finance_client.get(url, {"status__exact": "confirmed"})


def test_the_export_page_reads_in_english_too(finance_client):
    PaymentRecordFactory(date=at(10))

    response = finance_client.get(
        reverse("admin:crm_paymentrecord_export"),
        {"date__range__gte": "2026-11-01", "date__range__lte": "2026-11-30"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert page_text(response) == (
        "1 row of the list will be exported. Filtered by: paid on 2026-11-01 – 2026-11-30 "
        "Change the filters in the list"
    )


@pytest.mark.parametrize(
    ("dates", "shown"),
    [
        ({"date__range__gte": "2026-11-01"}, "筛选条件： 交款日期 2026-11-01 – …"),
        ({"date__range__lte": "2026-11-30"}, "筛选条件： 交款日期 … – 2026-11-30"),
        # Filtered on no date, as the list: a date the form refuses, one outside the years filtered on.
        ({"date__range__gte": "notadate"}, "整个列表，未筛选、未搜索。"),
        ({"date__range__gte": "0001-01-01", "date__range__lte": "2026-11-30"}, "整个列表，未筛选、未搜索。"),
    ],
)
def test_the_export_page_names_only_the_dates_the_list_is_filtered_on(finance_client, dates, shown):
    PaymentRecordFactory(date=at(10))

    text = page_text(finance_client.get(reverse("admin:crm_paymentrecord_export"), dates))

    assert text == f"将导出列表中的 1 条记录。 {shown} 在列表中修改筛选条件"


def payments_export_form() -> dict:
    fields = {f"paymentrecordresource_{name}": "on" for name in PaymentRecordResource().get_export_order()}
    return {"format": "0", "resource": "0", **fields}


@pytest.mark.parametrize(
    ("query", "subject"),
    [
        (
            "?status__exact=confirmed&date__range__gte=2026-11-01&date__range__lte=2026-11-30&q=张",
            "缴费记录（状态 已确认 · 交款日期 2026-11-01 – 2026-11-30 · 搜索 “张”）",
        ),
        ("", "缴费记录"),
    ],
)
def test_a_background_export_is_named_on_the_jobs_page_by_its_list_filters_and_search(
    finance_client, settings, django_capture_on_commit_callbacks, query, subject
):
    settings.JOB_ROWS_THRESHOLD = 1
    for day in (10, 12):
        PaymentRecordFactory(customer=CustomerFactory(name="张三"), status="confirmed", date=at(day))

    with django_capture_on_commit_callbacks(execute=True):
        response = finance_client.post(
            reverse("admin:crm_paymentrecord_export") + query, payments_export_form()
        )

    assert response.status_code == 302
    assert Job.objects.get().subject == subject


@pytest.mark.parametrize(
    ("dates", "name"),
    [
        (
            {"date__range__gte": "2026-11-01", "date__range__lte": "2026-11-30"},
            "缴费记录-2026-11-01至2026-11-30.csv",
        ),
        ({"date__range__gte": "2026-11-01"}, "缴费记录-2026-11-01起.csv"),
        ({"date__range__lte": "2026-11-30"}, "缴费记录-至2026-11-30.csv"),
        ({"status__exact": "confirmed"}, "缴费记录-{today}.csv"),
        ({"date__range__gte": "0001-01-01"}, "缴费记录-{today}.csv"),  # ignored: the whole list
    ],
)
def test_an_export_of_a_date_range_is_named_by_its_dates_and_any_other_by_the_day(
    finance_client, dates, name
):
    PaymentRecordFactory(status="confirmed", date=at(10))

    response = finance_client.post(
        f"{reverse('admin:crm_paymentrecord_export')}?{urlencode(dates)}",
        {**payments_export_form(), "format": "1"},
    )

    assert response.status_code == 200
    name = name.format(today=timezone.localdate().isoformat())
    assert f"filename*=utf-8''{quote(name)}" in response["Content-Disposition"]
