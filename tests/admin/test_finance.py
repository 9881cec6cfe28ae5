import csv
import datetime
import html
import io
import re
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import formats
from crm.admin.finance import PaymentRecordAdmin
from crm.models import Customer, Enrollment, PaymentRecord
from crm.resources.finance import EnrollmentResource, PaymentRecordResource
from crm.services import finance as finance_services
from tests.factories import (
    ClassListFactory,
    CustomerFactory,
    EnrollmentFactory,
    PaymentRecordFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
ENROLLMENTS = reverse("admin:crm_enrollment_changelist")
PAYMENTS = reverse("admin:crm_paymentrecord_changelist")
SETTLED = "该缴费记录已确认或已驳回，不能再修改。"


def enrollment_post(customer, klass, **extra):
    return {
        "customer": customer.pk,
        "enrolment_class": klass.pk,
        "school": "",
        "why_us": "朋友推荐",
        "your_expectation": "找到工作",
        "contract_agreed": "on",
        "enrolled_date_0": "2026-11-20",
        "enrolled_date_1": "10:00:00",
        "memo": "",
        **extra,
    }


def payment_post(klass, **fields):
    return {
        "enrolment_class": klass.pk,
        "pay_type": "deposit",
        "paid_fee": "500",
        "date_0": "2026-11-20",
        "date_1": "10:00:00",
        "note": "",
        **fields,
    }


def action(client, url, name, rows, **extra):
    return client.post(url, {"action": name, "_selected_action": [row.pk for row in rows], **extra})


def export_post(resource, file_format="0", **extra):
    fields = {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    return {"format": file_format, "resource": "0", **fields, **extra}


def offered_actions(response) -> set[str]:
    form = response.context["action_form"]
    return set(dict(form.fields["action"].choices)) if form else set()


def content(response) -> bytes:
    return b"".join(response.streaming_content)


def workbook_rows(response) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(content(response))).active
    return list(sheet.iter_rows(values_only=True))


def payment(customer, klass, **fields):
    fields.setdefault("consultant", customer.consultant)
    return PaymentRecordFactory(customer=customer, enrolment_class=klass, **fields)


def at(day: int) -> datetime.datetime:
    return datetime.datetime(2026, 11, day, 10, 30, tzinfo=SHANGHAI)


def local(day: int) -> datetime.datetime:
    """at(day) as an export writes it: local time without a zone."""
    return at(day).replace(tzinfo=None)


# Enrollments


def test_sales_enrol_their_own_customer_and_are_its_consultant(sales_client, sales_user, own_customer, klass):
    response = sales_client.post(reverse("admin:crm_enrollment_add"), enrollment_post(own_customer, klass))

    assert response.status_code == 302
    enrollment = Enrollment.objects.get()
    assert (enrollment.customer, enrollment.consultant, enrollment.school) == (
        own_customer,
        sales_user,
        klass.campus,
    )
    assert not enrollment.contract_approved


def test_the_customer_choices_are_the_salespersons_own(sales_client, own_customer, other_sales_user):
    other = CustomerFactory(consultant=other_sales_user)

    form = sales_client.get(reverse("admin:crm_enrollment_add")).context["adminform"].form

    assert list(form.fields["customer"].queryset) == [own_customer]
    assert other not in form.fields["customer"].queryset


def test_a_forged_post_of_another_salespersons_customer_is_a_form_error(
    sales_client, other_sales_user, klass
):
    other = CustomerFactory(consultant=other_sales_user)

    response = sales_client.post(reverse("admin:crm_enrollment_add"), enrollment_post(other, klass))

    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert not Enrollment.objects.exists()


def test_enrolling_a_customer_twice_in_a_class_is_a_form_error(sales_client, sales_user, own_customer, klass):
    EnrollmentFactory(customer=own_customer, enrolment_class=klass, consultant=sales_user)

    response = sales_client.post(reverse("admin:crm_enrollment_add"), enrollment_post(own_customer, klass))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["enrolment_class"] == ["该客户已报名此班级。"]
    assert Enrollment.objects.count() == 1


def test_each_role_sees_its_enrollments(client_for, sales_user, class_teacher_user, finance_user, klass):
    taught = ClassListFactory(teachers=[class_teacher_user])
    own = EnrollmentFactory(consultant=sales_user, enrolment_class=klass)
    of_taught_class = EnrollmentFactory(enrolment_class=taught)
    other = EnrollmentFactory()

    def listed(user):
        return set(client_for(user).get(ENROLLMENTS).context["cl"].queryset)

    assert listed(sales_user) == {own}
    assert listed(class_teacher_user) == {of_taught_class}
    assert listed(finance_user) == {own, of_taught_class, other}


def test_an_enrollment_outside_the_scope_answers_404(sales_client):
    other = EnrollmentFactory()

    assert sales_client.get(reverse("admin:crm_enrollment_change", args=[other.pk])).status_code == 404


def test_the_class_teacher_approves_contracts_with_the_action(
    class_teacher_client, class_teacher_user, own_customer, klass
):
    klass.teachers.add(class_teacher_user)
    enrollment = EnrollmentFactory(customer=own_customer, enrolment_class=klass)

    response = action(class_teacher_client, ENROLLMENTS, "approve_contracts", [enrollment])
    action(class_teacher_client, ENROLLMENTS, "approve_contracts", [enrollment])

    assert response.status_code == 302
    enrollment.refresh_from_db()
    own_customer.refresh_from_db()
    assert enrollment.contract_approved
    assert own_customer.status == Customer.Status.SIGNED
    assert list(own_customer.class_list.all()) == [klass]


def test_sales_cannot_approve_contracts(sales_client, sales_user, own_customer, klass):
    enrollment = EnrollmentFactory(customer=own_customer, enrolment_class=klass, consultant=sales_user)

    actions = offered_actions(sales_client.get(ENROLLMENTS))
    action(sales_client, ENROLLMENTS, "approve_contracts", [enrollment])

    assert "approve_contracts" not in actions
    enrollment.refresh_from_db()
    assert not enrollment.contract_approved


def test_an_approved_enrollment_is_read_only_for_sales(sales_client, sales_user, own_customer, klass):
    enrollment = EnrollmentFactory(
        customer=own_customer, enrolment_class=klass, consultant=sales_user, contract_approved=True
    )
    url = reverse("admin:crm_enrollment_change", args=[enrollment.pk])

    assert sales_client.get(url).status_code == 200
    response = sales_client.post(url, enrollment_post(own_customer, klass, memo="改"))

    # The form read before the approval comes back with the reason, not a 403 (finding 9).
    assert response.status_code == 200
    assert "该合同已审核，不能再修改。" in html.unescape(response.content.decode())
    enrollment.refresh_from_db()
    assert enrollment.memo != "改"


# Payments


def test_sales_record_a_payment_of_their_customer(sales_client, sales_user, own_customer, klass):
    EnrollmentFactory(customer=own_customer, enrolment_class=klass, consultant=sales_user)

    response = sales_client.post(
        reverse("admin:crm_paymentrecord_add"), payment_post(klass, customer=own_customer.pk)
    )

    assert response.status_code == 302
    recorded = PaymentRecord.objects.get()
    assert (recorded.consultant, recorded.status, recorded.paid_fee) == (sales_user, "unconfirmed", 500)


def test_finance_confirms_payments_with_the_action(finance_client, finance_user, own_customer, klass):
    tuition = payment(own_customer, klass, pay_type="tuition", paid_fee=10000)

    response = action(finance_client, PAYMENTS, "confirm_payments", [tuition])

    assert response.status_code == 302
    tuition.refresh_from_db()
    own_customer.refresh_from_db()
    assert (tuition.status, tuition.confirm_user) == ("confirmed", finance_user)
    assert own_customer.status == Customer.Status.PAID_IN_FULL


def test_sales_cannot_confirm_payments(sales_client, own_customer, klass):
    pending = payment(own_customer, klass)

    action(sales_client, PAYMENTS, "confirm_payments", [pending])

    pending.refresh_from_db()
    assert pending.status == "unconfirmed"


def test_rejection_asks_for_a_reason_then_rejects(finance_client, own_customer, klass):
    pending = payment(own_customer, klass)

    page = action(finance_client, PAYMENTS, "reject_payments", [pending])
    assert page.status_code == 200
    assert "reason" in page.context["form"].fields
    assert formats.yuan(pending.paid_fee) in page.content.decode()
    pending.refresh_from_db()
    assert pending.status == "unconfirmed"

    response = action(finance_client, PAYMENTS, "reject_payments", [pending], reason="金额不符")

    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.reject_reason) == ("rejected", "金额不符")


def test_rejecting_a_selection_with_nothing_pending_says_so_and_changes_nothing(
    finance_client, own_customer, klass
):
    confirmed = payment(own_customer, klass, status="confirmed", paid_fee=500)

    response = finance_client.post(
        PAYMENTS, {"action": "reject_payments", "_selected_action": [confirmed.pk]}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == ["所选缴费记录中没有待确认的。"]
    confirmed.refresh_from_db()
    assert confirmed.status == "confirmed"


def test_a_confirmed_payment_can_no_longer_be_edited_by_sales(sales_client, own_customer, klass):
    confirmed = payment(own_customer, klass, status="confirmed", paid_fee=500)
    url = reverse("admin:crm_paymentrecord_change", args=[confirmed.pk])

    assert sales_client.get(url).status_code == 200
    response = sales_client.post(url, {"enrolment_class": klass.pk, "pay_type": "tuition", "paid_fee": "9"})

    assert response.status_code == 200
    assert SETTLED in html.unescape(response.content.decode())
    confirmed.refresh_from_db()
    assert confirmed.paid_fee == 500


def test_sales_see_only_their_payments(sales_client, own_customer, klass):
    own = payment(own_customer, klass)
    PaymentRecordFactory()

    assert list(sales_client.get(PAYMENTS).context["cl"].queryset) == [own]


def test_the_list_shows_totals_of_the_filtered_rows(finance_client, own_customer, klass):
    payment(own_customer, klass, pay_type="tuition", paid_fee=8000, status="confirmed")
    payment(own_customer, klass, pay_type="refund", paid_fee=1000, status="confirmed")
    payment(own_customer, klass, pay_type="deposit", paid_fee=500)
    other = CustomerFactory(consultant=own_customer.consultant)
    payment(other, ClassListFactory(), pay_type="tuition", paid_fee=7, status="confirmed")

    response = finance_client.get(PAYMENTS, {"enrolment_class__id__exact": klass.pk})

    totals = response.context["payment_totals"]
    assert (totals["confirmed_net"], totals["confirmed_refunds"], totals["unconfirmed_net"]) == (
        7000,
        -1000,
        500,
    )
    assert "¥7,000" in response.content.decode()


def test_the_totals_cost_no_query_per_row(finance_client, own_customer, klass, django_assert_max_num_queries):
    for _ in range(5):
        payment(own_customer, klass, status="confirmed")
    finance_client.get(PAYMENTS)
    with django_assert_max_num_queries(12) as few:
        finance_client.get(PAYMENTS)
    for _ in range(30):
        payment(own_customer, klass, status="confirmed")

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = finance_client.get(PAYMENTS)

    assert response.context["payment_totals"]["count"] == 35


def tallied_money(own_customer, klass):
    """Payments of every kind the totals tell apart, on two classes and of two salespeople."""
    payment(own_customer, klass, pay_type="tuition", paid_fee=8000, status="confirmed")
    payment(own_customer, klass, pay_type="refund", paid_fee=1000, status="confirmed")
    payment(own_customer, klass, pay_type="deposit", paid_fee=-200, status="confirmed")
    payment(own_customer, klass, pay_type="deposit", paid_fee=500)
    payment(own_customer, klass, pay_type="tuition", paid_fee=300, status="rejected")
    payment(CustomerFactory(consultant=UserFactory(role="sales")), ClassListFactory(), paid_fee=7)


def payment_queries(client, params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PAYMENTS, params)
    assert response.status_code == 200
    read = [query["sql"] for query in queries]
    return response, read


@pytest.mark.postgres
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status__exact": "confirmed"},
        {"pay_type__exact": "refund"},
        {"total": "income"},
        {"total": "refunds", "status__exact": "confirmed"},
    ],
)
def test_the_payment_lists_totals_and_count_come_from_the_tally_and_equal_the_payments(
    finance_client, own_customer, klass, params
):
    tallied_money(own_customer, klass)
    response, read = payment_queries(finance_client, params)

    cl = response.context["cl"]
    assert response.context["payment_totals"] == cl.queryset.totals()
    assert cl.result_count == cl.queryset.count()
    assert len([sql for sql in read if '"crm_paymenttally"' in sql]) == 1
    assert not [sql for sql in read if "SUM(" in sql and '"crm_paymentrecord"' in sql]
    counts = [sql for sql in read if sql.startswith("SELECT COUNT(*)") and '"crm_paymentrecord"' in sql]
    # The list's count is the tally's too, the whole list's as well: no payment is counted.
    assert counts == []


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"q": "甲"}, 5),
        ({"date__range__gte": "2026-01-01"}, 6),
        ({"total": "bogus"}, 0),
        ({"enrolment_class__id__exact": "CLASS"}, 5),
    ],
)
def test_a_searched_or_date_filtered_payment_list_sums_its_payments(
    finance_client, own_customer, klass, params, count
):
    own_customer.name = "甲同学"
    own_customer.save(update_fields=["name"])
    tallied_money(own_customer, klass)
    params = {key: klass.pk if value == "CLASS" else value for key, value in params.items()}

    response, read = payment_queries(finance_client, params)

    cl = response.context["cl"]
    assert response.context["payment_totals"] == cl.queryset.totals()
    assert response.context["payment_totals"]["count"] == count
    assert not [sql for sql in read if '"crm_paymenttally"' in sql]


def test_a_salespersons_payment_totals_are_of_their_own_payments(client_for, sales_user, own_customer, klass):
    tallied_money(own_customer, klass)

    response = client_for(sales_user).get(PAYMENTS)

    totals = response.context["payment_totals"]
    assert totals == PaymentRecord.objects.filter(consultant=sales_user).totals()
    assert (totals["count"], totals["confirmed_income"], totals["confirmed_refunds"]) == (5, 8000, -1200)


# Export


def test_sales_cannot_export(sales_client, own_customer, klass):
    payment(own_customer, klass)

    assert sales_client.get(reverse("admin:crm_paymentrecord_export")).status_code == 403
    assert (
        sales_client.post(reverse("admin:crm_enrollment_export"), export_post(EnrollmentResource)).status_code
        == 403
    )
    assert "export_admin_action" not in offered_actions(sales_client.get(PAYMENTS))


def test_the_export_has_the_changelists_rows_with_chinese_headers_and_labels(
    finance_client, sales_user, klass
):
    zhang = CustomerFactory(consultant=sales_user, name="张三", qq="123456")
    li = CustomerFactory(consultant=sales_user, name="李四")
    payment(zhang, klass, pay_type="tuition", paid_fee=9000, status="confirmed", date=at(10))
    payment(zhang, klass, pay_type="refund", paid_fee=1000, date=at(12))
    payment(zhang, klass, pay_type="deposit", paid_fee=500, date=at(25))
    payment(li, klass, pay_type="tuition", paid_fee=4000, date=at(11))
    query = "?q=张三&date__range__gte=2026-11-01&date__range__lte=2026-11-20"

    response = finance_client.post(
        reverse("admin:crm_paymentrecord_export") + query, export_post(PaymentRecordResource)
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    header, *rows = workbook_rows(response)
    assert header[:10] == (
        "编号",
        "客户姓名",
        "QQ",
        "班级",
        "校区",
        "费用类型",
        "金额",
        "计入合计金额",
        "状态",
        "交款日期",
    )
    assert [row[1:10] for row in rows] == [
        # Finance sees the money, not the contacts: the QQ masked.
        ("张三", "1****6", str(klass), klass.campus.name, "退款", 1000, -1000, "未确认", local(12)),
        ("张三", "1****6", str(klass), klass.campus.name, "学费", 9000, 9000, "已确认", local(10)),
    ]
    assert rows[0][10] == "销售甲"
    assert all(row[0].startswith("JF") for row in rows)


def test_the_enrollment_export_reads_like_the_list(finance_client, sales_user, klass):
    customer = CustomerFactory(consultant=sales_user, name="王五", qq="888888")
    EnrollmentFactory(customer=customer, enrolment_class=klass, consultant=sales_user, enrolled_date=at(3))
    EnrollmentFactory(enrolment_class=klass, contract_approved=True)

    response = finance_client.post(
        reverse("admin:crm_enrollment_export") + "?contract_approved__exact=0",
        export_post(EnrollmentResource),
    )

    header, *rows = workbook_rows(response)
    assert header[:9] == (
        "编号",
        "客户姓名",
        "QQ",
        "班级",
        "校区",
        "销售",
        "报名日期",
        "客户已同意合同",
        "合同已审核",
    )
    assert [row[1:9] for row in rows] == [
        (
            "王五",
            "8****8",
            str(klass),
            klass.campus.name,
            "销售甲",
            datetime.datetime(2026, 11, 3),
            "是",
            "否",
        )
    ]


def test_exports_write_real_dates_in_local_time_not_text(finance_client, sales_user, klass):
    # Finding 13: dates were written as text, which Excel can neither sort nor filter as dates.
    customer = CustomerFactory(consultant=sales_user)
    EnrollmentFactory(customer=customer, enrolment_class=klass, consultant=sales_user, enrolled_date=at(3))
    payment(customer, klass, date=at(12))

    enrollments = openpyxl.load_workbook(
        io.BytesIO(
            content(
                finance_client.post(reverse("admin:crm_enrollment_export"), export_post(EnrollmentResource))
            )
        )
    ).active
    payments = openpyxl.load_workbook(
        io.BytesIO(
            content(
                finance_client.post(
                    reverse("admin:crm_paymentrecord_export"), export_post(PaymentRecordResource)
                )
            )
        )
    ).active

    enrolled_on, paid_on = enrollments["G2"], payments["J2"]
    assert (enrollments["G1"].value, payments["J1"].value) == ("报名日期", "交款日期")
    assert enrolled_on.is_date and enrolled_on.number_format == "yyyy-mm-dd"
    assert enrolled_on.value == datetime.datetime(2026, 11, 3)
    assert paid_on.is_date and paid_on.number_format == "yyyy-mm-dd hh:mm"
    assert paid_on.value == local(12)


def test_the_csv_export_writes_dates_as_the_list_shows_them(finance_client, sales_user, klass):
    payment(CustomerFactory(consultant=sales_user), klass, date=at(12))

    response = finance_client.post(
        reverse("admin:crm_paymentrecord_export"), export_post(PaymentRecordResource, file_format="1")
    )

    _header, row = list(csv.reader(io.StringIO(content(response).decode("utf-8").lstrip("\ufeff"))))
    assert row[9] == "2026-11-12 10:30"


FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_no_exported_cell_becomes_a_formula_in_xlsx(finance_client, sales_user, klass):
    for index, name in enumerate(FORMULAS):
        payment(CustomerFactory(consultant=sales_user, name=name), klass, note=name, date=at(index + 1))

    response = finance_client.post(
        reverse("admin:crm_paymentrecord_export"), export_post(PaymentRecordResource)
    )

    sheet = openpyxl.load_workbook(io.BytesIO(content(response))).active
    names = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert sorted(cell.value for cell in names) == sorted(FORMULAS)
    assert {cell.data_type for cell in names} == {"s"}
    assert all(cell.quotePrefix for cell in names)


def test_no_exported_cell_becomes_a_formula_in_csv(finance_client, sales_user, klass):
    for index, name in enumerate(FORMULAS):
        payment(CustomerFactory(consultant=sales_user, name=name), klass, date=at(index + 1))

    response = finance_client.post(
        reverse("admin:crm_paymentrecord_export"), export_post(PaymentRecordResource, file_format="1")
    )

    text = content(response).decode("utf-8")
    assert text.startswith("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert header[1] == "客户姓名"
    assert sorted(row[1] for row in rows) == sorted("'" + name for name in FORMULAS)
    assert sorted(row[7] for row in rows) == ["5000"] * len(FORMULAS)


def exported_rows(response, file_format: str) -> list:
    if file_format == "0":
        return workbook_rows(response)
    return list(csv.reader(io.StringIO(content(response).decode("utf-8").lstrip("\ufeff"))))


def payments_and_enrollments(count: int) -> None:
    """``count`` payments and enrollments, each of its own class, campus, salesperson and confirmer."""
    for _ in range(count):
        seller = UserFactory(role="sales")
        customer = CustomerFactory(consultant=seller)
        klass = ClassListFactory()
        payment(
            customer, klass, status="confirmed", confirm_user=UserFactory(role="finance"), confirm_date=at(2)
        )
        EnrollmentFactory(customer=customer, enrolment_class=klass, consultant=seller)


@pytest.mark.parametrize("file_format", ["0", "1"], ids=["xlsx", "csv"])
@pytest.mark.parametrize(
    ("url_name", "resource"),
    [
        ("admin:crm_paymentrecord_export", PaymentRecordResource),
        ("admin:crm_enrollment_export", EnrollmentResource),
    ],
    ids=["payments", "enrollments"],
)
def test_an_export_costs_the_same_queries_for_one_row_as_for_many(
    finance_client, url_name, resource, file_format, django_assert_num_queries
):
    url, data = reverse(url_name), export_post(resource, file_format)
    payments_and_enrollments(1)
    finance_client.post(url, data)  # the session and the first request's caches
    with CaptureQueriesContext(connection) as one_row:
        assert len(exported_rows(finance_client.post(url, data), file_format)) == 2

    payments_and_enrollments(7)

    # Whatever number of classes, campuses and staff the rows refer to.
    with django_assert_num_queries(len(one_row.captured_queries)):
        assert len(exported_rows(finance_client.post(url, data), file_format)) == 9


def test_the_export_action_exports_exactly_the_selected_rows(finance_client, own_customer, klass):
    chosen, other, also_chosen = (payment(own_customer, klass, date=at(day)) for day in (1, 2, 3))

    page = action(finance_client, PAYMENTS, "export_admin_action", [chosen, also_chosen])
    assert page.status_code == 200
    response = finance_client.post(
        reverse("admin:crm_paymentrecord_export"),
        export_post(PaymentRecordResource, export_items=[chosen.pk, also_chosen.pk]),
    )

    rows = workbook_rows(response)[1:]
    assert [row[0] for row in rows] == [f"JF{also_chosen.pk:06d}", f"JF{chosen.pk:06d}"]
    assert other.pk not in {int(row[0][2:]) for row in rows}


def test_selected_ids_are_checked_against_the_posted_ones_only(finance_user, own_customer, klass):
    kept = payment(own_customer, klass)
    deleted = payment(own_customer, klass, delete_status=True)
    payment(own_customer, klass)
    request = RequestFactory().post("/", {"export_items": [kept.pk, deleted.pk, "x"]})
    request.user = finance_user

    valid = admin.site._registry[PaymentRecord].get_valid_export_item_pks(request)

    assert list(valid) == [kept.pk]
    assert "IN" in str(valid.query)


def test_exporting_all_rows_selected_across_exports_the_filtered_changelist(
    finance_client, own_customer, klass
):
    pending = payment(own_customer, klass)

    response = finance_client.post(
        PAYMENTS + "?status__exact=unconfirmed",
        {"action": "export_admin_action", "_selected_action": [pending.pk], "select_across": "1"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:crm_paymentrecord_export") + "?status__exact=unconfirmed"


def test_the_export_button_keeps_the_enrollment_lists_search_and_date_range(
    finance_client, sales_user, klass
):
    wang = CustomerFactory(consultant=sales_user, name="王五", qq="888888")
    zhao = CustomerFactory(consultant=sales_user, name="赵六")
    EnrollmentFactory(customer=wang, enrolment_class=klass, enrolled_date=at(3))
    EnrollmentFactory(customer=wang, enrolment_class=ClassListFactory(), enrolled_date=at(25))
    EnrollmentFactory(customer=zhao, enrolment_class=klass, enrolled_date=at(4))
    query = {
        "q": "王五",
        "enrolled_date__range__gte": "2026-11-01",
        "enrolled_date__range__lte": "2026-11-20",
    }

    page = finance_client.get(ENROLLMENTS, query)
    [link] = re.findall(r'href="([^"]*/export/[^"]*)" class="export_link"', page.content.decode())
    response = finance_client.post(html.unescape(link), export_post(EnrollmentResource))

    assert len(page.context["cl"].result_list) == 1
    assert [row[1:4] for row in workbook_rows(response)[1:]] == [("王五", "8****8", str(klass))]


def test_sales_see_no_export_button_and_no_export_action(sales_client, own_customer, klass):
    payment(own_customer, klass)

    for url in (PAYMENTS, ENROLLMENTS):
        page = sales_client.get(url)
        assert "export_link" not in page.content.decode()
        assert "export_admin_action" not in offered_actions(page)


def test_a_forged_payment_of_another_salespersons_customer_is_a_form_error(
    sales_client, other_sales_user, klass
):
    other = CustomerFactory(consultant=other_sales_user)
    EnrollmentFactory(customer=other, enrolment_class=klass, consultant=other_sales_user)

    response = sales_client.post(
        reverse("admin:crm_paymentrecord_add"), payment_post(klass, customer=other.pk)
    )

    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert not PaymentRecord.objects.exists()


def test_finance_cannot_approve_contracts(finance_client, own_customer, klass):
    enrollment = EnrollmentFactory(customer=own_customer, enrolment_class=klass)

    assert "approve_contracts" not in offered_actions(finance_client.get(ENROLLMENTS))
    action(finance_client, ENROLLMENTS, "approve_contracts", [enrollment])

    enrollment.refresh_from_db()
    assert not enrollment.contract_approved


def test_a_rejected_payment_can_no_longer_be_edited_by_sales(sales_client, own_customer, klass):
    rejected = payment(own_customer, klass, status="rejected", paid_fee=500)

    response = sales_client.post(
        reverse("admin:crm_paymentrecord_change", args=[rejected.pk]),
        payment_post(klass, pay_type="tuition", paid_fee="9"),
    )

    assert response.status_code == 200
    assert SETTLED in html.unescape(response.content.decode())
    rejected.refresh_from_db()
    assert rejected.paid_fee == 500


def test_sales_cannot_approve_through_the_change_form(sales_client, sales_user, own_customer, klass):
    enrollment = EnrollmentFactory(customer=own_customer, enrolment_class=klass, consultant=sales_user)
    url = reverse("admin:crm_enrollment_change", args=[enrollment.pk])

    response = sales_client.post(url, enrollment_post(own_customer, klass, contract_approved="on"))

    assert response.status_code == 302
    enrollment.refresh_from_db()
    own_customer.refresh_from_db()
    assert enrollment.why_us == "朋友推荐"
    assert not enrollment.contract_approved
    assert own_customer.status == Customer.Status.UNREGISTERED
    assert not own_customer.class_list.exists()


def test_a_class_teacher_approves_only_enrollments_of_the_classes_they_teach(
    class_teacher_client, class_teacher_user, own_customer, klass
):
    klass.teachers.add(class_teacher_user)
    other_class = EnrollmentFactory(customer=own_customer)

    action(class_teacher_client, ENROLLMENTS, "approve_contracts", [other_class])

    other_class.refresh_from_db()
    assert not other_class.contract_approved


def test_sales_edit_an_unconfirmed_payment(sales_client, sales_user, own_customer, klass):
    EnrollmentFactory(customer=own_customer, enrolment_class=klass, consultant=sales_user)
    pending = payment(own_customer, klass, pay_type="deposit", paid_fee=500)
    url = reverse("admin:crm_paymentrecord_change", args=[pending.pk])

    response = sales_client.post(url, payment_post(klass, pay_type="tuition", paid_fee="800", note="改"))

    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.pay_type, pending.paid_fee, pending.note, pending.status) == (
        "tuition",
        800,
        "改",
        "unconfirmed",
    )


def test_the_class_teacher_edits_an_approved_enrollment_of_their_class(
    class_teacher_client, class_teacher_user, own_customer, klass
):
    klass.teachers.add(class_teacher_user)
    enrollment = EnrollmentFactory(customer=own_customer, enrolment_class=klass, contract_approved=True)
    url = reverse("admin:crm_enrollment_change", args=[enrollment.pk])

    response = class_teacher_client.post(url, enrollment_post(own_customer, klass, memo="已核对"))

    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert (enrollment.memo, enrollment.contract_approved) == ("已核对", True)


def test_the_class_filter_offers_only_the_classes_the_user_sees(
    client_for, class_teacher_user, finance_user, klass
):
    taught = ClassListFactory(teachers=[class_teacher_user])
    klass.teachers.add(class_teacher_user)
    other = ClassListFactory()

    def offered(user):
        specs = client_for(user).get(ENROLLMENTS).context["cl"].filter_specs
        [class_filter] = [spec for spec in specs if spec.field_path == "enrolment_class"]
        return {pk for pk, _name in class_filter.lookup_choices}

    assert offered(class_teacher_user) == {klass.pk, taught.pk}
    assert offered(finance_user) == {klass.pk, taught.pk, other.pk}


# Two identical enrollments at once: the second is a form error, never a 500


def test_an_enrollment_added_meanwhile_shows_the_form_again_and_saves_nothing(
    sales_client, sales_user, own_customer, klass, monkeypatch
):
    # The other request committed the same enrollment after this form was read: the form's locked
    # check (not only the model's unique constraint, skipped here) reports it.
    EnrollmentFactory(customer=own_customer, enrolment_class=klass, consultant=sales_user, memo="先到")
    monkeypatch.setattr(Enrollment, "validate_constraints", lambda enrollment, exclude=None: None)

    response = sales_client.post(reverse("admin:crm_enrollment_add"), enrollment_post(own_customer, klass))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == {"enrolment_class": ["该客户已报名此班级。"]}
    assert "该客户已报名此班级。" in html.unescape(response.content.decode())
    assert list(Enrollment.objects.values_list("memo", flat=True)) == ["先到"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_identical_enrollments_sent_at_once_save_one_and_show_the_other_an_error(
    sales_user, own_customer, klass, pause_before, post_in_thread
):
    first, second = Client(), Client()
    first.force_login(sales_user)
    second.force_login(sales_user)
    # The second request has read its form and is about to run its locked check.
    checked, go_on = pause_before(finance_services, "enrollment_check", "second")
    url = reverse("admin:crm_enrollment_add")

    thread, outcome = post_in_thread(second, url, enrollment_post(own_customer, klass, memo="后到"), "second")
    try:
        assert checked.wait(timeout=30)
        assert first.post(url, enrollment_post(own_customer, klass, memo="先到")).status_code == 302
    finally:
        go_on.set()
        thread.join(timeout=60)

    response = outcome["response"]
    assert response.status_code == 200
    assert "该客户已报名此班级。" in html.unescape(response.content.decode())
    assert list(Enrollment.objects.values_list("memo", flat=True)) == ["先到"]


def test_moving_an_enrollment_to_a_class_joined_meanwhile_shows_the_form_again(
    sales_client, sales_user, own_customer, klass, monkeypatch
):
    moved = EnrollmentFactory(customer=own_customer, consultant=sales_user, memo="原")
    original_class = moved.enrolment_class
    EnrollmentFactory(customer=own_customer, enrolment_class=klass, consultant=sales_user)
    monkeypatch.setattr(Enrollment, "validate_constraints", lambda enrollment, exclude=None: None)

    response = sales_client.post(
        reverse("admin:crm_enrollment_change", args=[moved.pk]),
        enrollment_post(own_customer, klass, memo="改"),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"enrolment_class": ["该客户已报名此班级。"]}
    moved.refresh_from_db()
    assert (moved.enrolment_class, moved.memo) == (original_class, "原")


def test_the_export_page_offers_xlsx_first_and_chosen(finance_client):
    response = finance_client.get(reverse("admin:crm_paymentrecord_export"))

    format_field = response.context["form"]["format"]
    assert [label for _value, label in format_field.field.choices] == ["xlsx", "csv"]
    assert format_field.value() == "0"


# Amounts (finding 3: an amount out of range broke the list and the dashboard for everyone)

AMOUNT_ERROR = "金额不能为 0，且正负都不能超过 ¥1,000,000。"


@pytest.mark.parametrize(
    ("pay_type", "amount"),
    [
        ("refund", "-2147483648"),
        ("tuition", "9223372036854775807"),
        ("tuition", "-9223372036854775808"),
        ("deposit", "1000001"),
        ("refund", "-1000001"),
        ("deposit", "0"),
    ],
)
def test_an_amount_out_of_range_is_a_translated_form_error(
    sales_client, own_customer, klass, pay_type, amount
):
    response = sales_client.post(
        reverse("admin:crm_paymentrecord_add"),
        payment_post(klass, customer=own_customer.pk, pay_type=pay_type, paid_fee=amount),
    )

    assert response.status_code == 200
    assert AMOUNT_ERROR in response.context["adminform"].form.errors["paid_fee"]
    assert not PaymentRecord.objects.exists()


def test_an_edit_to_an_amount_out_of_range_is_a_form_error_and_changes_nothing(
    sales_client, own_customer, klass
):
    pending = payment(own_customer, klass, paid_fee=500)

    response = sales_client.post(
        reverse("admin:crm_paymentrecord_change", args=[pending.pk]),
        payment_post(klass, paid_fee="-2147483648", pay_type="refund"),
    )

    assert response.status_code == 200
    assert AMOUNT_ERROR in response.context["adminform"].form.errors["paid_fee"]
    pending.refresh_from_db()
    assert pending.paid_fee == 500


@pytest.mark.parametrize("amount", ["1000000", "-1000000"])
def test_the_largest_amounts_either_way_are_accepted(sales_client, sales_user, own_customer, klass, amount):
    EnrollmentFactory(customer=own_customer, enrolment_class=klass, consultant=sales_user)
    response = sales_client.post(
        reverse("admin:crm_paymentrecord_add"),
        payment_post(klass, customer=own_customer.pk, pay_type="refund", paid_fee=amount),
    )

    assert response.status_code == 302
    assert PaymentRecord.objects.get().paid_fee == int(amount)


def test_lists_and_dashboard_stay_up_with_extreme_amounts(
    client_for, sales_user, finance_user, boss_user, klass
):
    # Rows at the bounds, and a 32-bit extreme stored before the bound existed: abs() of it
    # overflowed a 32-bit integer on PostgreSQL; sums are 64-bit.
    customer = CustomerFactory(consultant=sales_user)
    for _ in range(3):
        payment(customer, klass, pay_type="tuition", paid_fee=1_000_000, status="confirmed")
    legacy = payment(customer, klass, pay_type="refund", paid_fee=1, status="confirmed")
    PaymentRecord.objects.filter(pk=legacy.pk).update(paid_fee=-2147483648)

    for user in (sales_user, finance_user, boss_user):
        response = client_for(user).get(PAYMENTS)
        assert response.status_code == 200
        assert response.context["payment_totals"]["confirmed_net"] == 3_000_000 - 2147483648
    assert client_for(boss_user).get(reverse("admin:dashboard")).status_code == 200


# Display (money as ¥12,345, status as a badge, who decided only once decided)


def test_amounts_read_as_yuan_and_statuses_as_badges(finance_client, own_customer, klass):
    payment(own_customer, klass, pay_type="tuition", paid_fee=12345, status="confirmed")

    page = finance_client.get(PAYMENTS).content.decode()

    assert '<td class="field-amount">¥12,345</td>' in page
    assert 'class="crm-badge" style="background:#2e8b57">已确认</span>' in page


def test_who_confirmed_shows_only_for_confirmed_and_who_rejected_for_rejected(
    finance_client, finance_user, own_customer, klass
):
    confirmed = payment(own_customer, klass, status="confirmed", confirm_user=finance_user)
    rejected = payment(
        own_customer, klass, status="rejected", confirm_user=finance_user, reject_reason="重复"
    )
    pending = payment(own_customer, klass)

    def fields(row):
        page = finance_client.get(reverse("admin:crm_paymentrecord_change", args=[row.pk]))
        return {name for _title, options in page.context["adminform"].fieldsets for name in options["fields"]}

    assert {"confirm_user", "confirm_date"} <= fields(confirmed)
    assert not {"rejected_by", "reject_reason"} & fields(confirmed)
    assert {"rejected_by", "rejected_on", "reject_reason"} <= fields(rejected)
    assert "confirm_user" not in fields(rejected)
    assert not {"confirm_user", "rejected_by"} & fields(pending)
    rows = finance_client.get(PAYMENTS).context["cl"].result_list
    decided = {row.pk: PaymentRecordAdmin.decided_by(None, row) for row in rows}
    assert decided == {
        confirmed.pk: str(finance_user),
        rejected.pk: f"{finance_user} <small>(驳回)</small>",
        pending.pk: None,
    }
    # Shown as every empty cell of the admin is, as in the decision column beside it.
    assert f'<td class="field-decided_by">{admin.site.empty_value_display}</td>' in html.unescape(
        finance_client.get(PAYMENTS).content.decode()
    )


# --- 确认收款 / 驳回 buttons on each unconfirmed payment ---


def confirm_url(payment) -> str:
    return reverse("admin:crm_paymentrecord_confirm", args=[payment.pk])


def reject_url(payment) -> str:
    return reverse("admin:crm_paymentrecord_reject", args=[payment.pk])


def test_finance_sees_the_decision_buttons_on_unconfirmed_payments_only(finance_client, own_customer, klass):
    pending = payment(own_customer, klass)
    settled = payment(own_customer, klass, status="confirmed")

    shown = html.unescape(finance_client.get(PAYMENTS).content.decode())

    assert f'formaction="{confirm_url(pending)}"' in shown and f'formaction="{reject_url(pending)}"' in shown
    assert confirm_url(settled) not in shown
    assert shown.index('id="changelist-form"') < shown.index('<form id="crm-row-actions" method="post"')


def test_sales_get_no_decision_buttons_and_cannot_post_them(sales_client, own_customer, klass):
    pending = payment(own_customer, klass)

    assert confirm_url(pending) not in sales_client.get(PAYMENTS).content.decode()
    assert sales_client.post(confirm_url(pending)).status_code == 403
    pending.refresh_from_db()
    assert pending.status == "unconfirmed"


def test_the_confirm_button_confirms_through_the_service_with_its_message(
    finance_client, finance_user, own_customer, klass
):
    pending = payment(own_customer, klass)

    response = finance_client.post(confirm_url(pending), follow=True)

    pending.refresh_from_db()
    assert (pending.status, pending.confirm_user) == ("confirmed", finance_user)
    assert response.redirect_chain[-1][0] == PAYMENTS
    assert "已确认缴费：1 笔。" in html.unescape(response.content.decode())


def test_the_decision_buttons_refuse_get_and_a_deleted_payment_is_404(finance_client, own_customer, klass):
    pending = payment(own_customer, klass)
    deleted = payment(own_customer, klass, delete_status=True)

    assert finance_client.get(confirm_url(pending)).status_code == 405
    assert finance_client.get(reject_url(pending)).status_code == 405
    assert finance_client.post(confirm_url(deleted)).status_code == 404
    assert finance_client.post(reject_url(deleted), {"reason": "x"}).status_code == 404
    pending.refresh_from_db()
    deleted.refresh_from_db()
    assert pending.status == deleted.status == "unconfirmed"


def test_the_reject_button_asks_the_reason_then_rejects(finance_client, own_customer, klass):
    pending = payment(own_customer, klass)

    asked = finance_client.post(reject_url(pending))

    assert asked.status_code == 200 and "reason" in asked.context["form"].fields
    pending.refresh_from_db()
    assert pending.status == "unconfirmed"

    response = finance_client.post(reject_url(pending), {"reason": "金额不符"})

    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.reject_reason) == ("rejected", "金额不符")


@pytest.mark.parametrize(
    ("role", "owner", "masked"),
    [("finance", False, True), ("finance", True, False), ("boss", False, False)],
    ids=["finance", "owner", "boss"],
)
def test_the_payment_and_enrollment_exports_mask_the_qq_for_whoever_may_not_see_it_whole(
    make_user, client_for, sales_user, klass, role, owner, masked
):
    # Finance sees the money, not the contacts: the one rule of crm.contacts, as in the lists (the
    # owner and whoever sees every customer see the QQ whole).
    user = make_user(role)
    customer = CustomerFactory(consultant=user if owner else sales_user, qq="12345689", name="张同学")
    payment(customer, klass)
    EnrollmentFactory(customer=customer, enrolment_class=klass, consultant=sales_user)
    client = client_for(user)

    payments = workbook_rows(
        client.post(reverse("admin:crm_paymentrecord_export"), export_post(PaymentRecordResource))
    )
    enrollments = workbook_rows(
        client.post(reverse("admin:crm_enrollment_export"), export_post(EnrollmentResource))
    )

    expected = "12****89" if masked else "12345689"
    assert (payments[0][2], payments[1][2]) == ("QQ", expected)
    assert (enrollments[0][2], enrollments[1][2]) == ("QQ", expected)


def test_an_export_made_outside_a_request_masks_every_qq(sales_user, klass):
    customer = CustomerFactory(consultant=sales_user, qq="12345689")
    payment(customer, klass)
    resource = PaymentRecordResource()

    row = resource.filter_export(PaymentRecord.objects.all()).get()

    assert resource.dehydrate_customer_qq(row) == "12****89"
