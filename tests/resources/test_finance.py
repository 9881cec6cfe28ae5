import datetime
from zoneinfo import ZoneInfo

import pytest

from crm.models import Enrollment, PaymentRecord
from crm.resources.finance import EnrollmentResource, PaymentRecordResource
from crm.resources.streaming import iter_rows
from tests.factories import (
    ClassListFactory,
    CustomerFactory,
    EnrollmentFactory,
    PaymentRecordFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def export(resource_class, queryset, user=None):
    resource = resource_class(user=user)
    fields = resource.get_export_fields()
    return resource.get_export_headers(), list(iter_rows(resource, fields, queryset))


def test_payment_rows_read_like_the_list(django_assert_max_num_queries):
    klass = ClassListFactory(price=10000)
    sales = UserFactory(name="李销售", is_staff=True)
    finance = UserFactory(name="王财务", is_staff=True)
    customer = CustomerFactory(name="", qq_name="小明", qq="556677", consultant=sales)
    when = datetime.datetime(2026, 11, 27, 23, 30, tzinfo=datetime.UTC)
    for _ in range(3):
        PaymentRecordFactory(
            customer=customer,
            enrolment_class=klass,
            consultant=sales,
            pay_type="refund",
            paid_fee=300,
            status="confirmed",
            confirm_user=finance,
            confirm_date=when,
            date=when,
            note="退一部分",
        )

    # The rows, the classes (twice: names, campuses), the staff; and the user's permissions (2, once):
    # whether they see every customer's contacts.
    with django_assert_max_num_queries(6):
        # As the customer's salesperson, who sees the QQ whole.
        headers, rows = export(PaymentRecordResource, PaymentRecord.objects.all(), user=sales)

    assert headers[0] == "编号"
    local = datetime.datetime(2026, 11, 28, 7, 30)
    assert rows[0][1:] == [
        "小明",
        "556677",
        str(klass),
        klass.campus.name,
        "退款",
        300,
        -300,
        "已确认",
        local,
        "李销售",
        "王财务",
        local,
        "",
        "退一部分",
    ]


def test_enrollment_rows_say_yes_and_no():
    EnrollmentFactory(
        contract_agreed=True,
        contract_approved=False,
        enrolled_date=datetime.datetime(2026, 3, 1, 1, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
    )

    headers, rows = export(EnrollmentResource, Enrollment.objects.all())

    assert headers[6:9] == ["报名日期", "客户已同意合同", "合同已审核"]
    assert rows[0][6:9] == [datetime.date(2026, 3, 1), "是", "否"]
