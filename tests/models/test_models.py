import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from crm import models
from tests.factories import (
    CampusFactory,
    ClassListFactory,
    ConsultRecordFactory,
    ContractTemplateFactory,
    CourseRecordFactory,
    CustomerFactory,
    DepartmentFactory,
    EnrollmentFactory,
    PaymentRecordFactory,
    StudyRecordFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def assert_violates_constraint(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_usernames_are_unique_without_regard_to_case():
    UserFactory(username="sales1")
    assert_violates_constraint(lambda: UserFactory(username="SALES1"))
    assert models.UserProfile.objects.filter(username__iexact="sales1").count() == 1


def test_a_username_taken_in_another_case_is_an_error_of_the_username_field():
    UserFactory(username="sales1")
    with pytest.raises(ValidationError) as caught:
        models.UserProfile(username="Sales1").validate_constraints()
    assert caught.value.message_dict == {"username": ["这个用户名已被占用（大小写字母视为相同）。"]}


def test_qq_is_unique():
    CustomerFactory(qq="123456")
    assert_violates_constraint(lambda: CustomerFactory(qq="123456"))


def test_phone_is_unique_when_present_and_several_customers_may_have_none():
    CustomerFactory(phone="13800000000")
    assert_violates_constraint(lambda: CustomerFactory(phone="13800000000"))
    CustomerFactory(phone=None)
    CustomerFactory(phone=None)
    assert models.Customer.objects.filter(phone__isnull=True).count() == 2


@pytest.mark.parametrize("qq", ["1234", "0123456", "12345678901234", "12a456"])
def test_qq_must_be_5_to_12_digits(qq):
    customer = CustomerFactory.build(qq=qq)
    with pytest.raises(ValidationError) as error:
        customer.full_clean(exclude=["class_list"])
    assert "qq" in error.value.message_dict


def test_phone_must_be_a_mainland_mobile_number():
    customer = CustomerFactory.build(phone="12345")
    with pytest.raises(ValidationError) as error:
        customer.full_clean()
    assert "phone" in error.value.message_dict


def test_class_is_unique_per_course_semester_and_campus():
    klass = ClassListFactory(semester=15)
    assert_violates_constraint(
        lambda: ClassListFactory(course=klass.course, semester=15, campus=klass.campus)
    )


def test_course_record_is_unique_per_class_and_lesson_number():
    record = CourseRecordFactory(day_num=3)
    assert_violates_constraint(
        lambda: CourseRecordFactory(re_class=record.re_class, day_num=3, teacher=record.teacher)
    )


def test_study_record_is_unique_per_course_record_and_student():
    record = StudyRecordFactory()
    assert_violates_constraint(
        lambda: StudyRecordFactory(course_record=record.course_record, student=record.student)
    )


def test_enrollment_is_unique_per_class_and_customer():
    enrollment = EnrollmentFactory()
    assert_violates_constraint(
        lambda: EnrollmentFactory(
            customer=enrollment.customer,
            enrolment_class=enrollment.enrolment_class,
            consultant=enrollment.consultant,
        )
    )


def test_a_customer_may_have_several_courses_of_interest():
    customer = CustomerFactory(course=[models.Course.LINUX, models.Course.PYTHON_FULLSTACK])
    customer.refresh_from_db()
    assert set(customer.course) == {"LinuxL", "PythonFullStack"}
    assert models.Customer.objects.filter(course__contains="LinuxL").get() == customer


def test_a_customer_without_consultant_is_in_the_public_pool():
    owner = UserFactory()
    public = CustomerFactory(consultant=None)
    private = CustomerFactory(consultant=owner)
    assert list(models.Customer.objects.public()) == [public]
    assert list(models.Customer.objects.owned_by(owner)) == [private]


def test_user_str_is_the_real_name_or_the_username():
    assert str(UserFactory(username="lisi", name="李四")) == "李四"
    assert str(UserFactory(username="wangwu", name="")) == "wangwu"


def test_class_str_names_course_semester_and_campus():
    klass = ClassListFactory(
        course=models.Course.PYTHON_FULLSTACK, semester=15, campus=CampusFactory(name="北京")
    )
    assert str(klass) == "Python高级全栈开发 15期 (北京)"


def test_the_names_of_many_classes_are_their_str_in_the_active_language_without_a_query(
    django_assert_num_queries,
):
    from django.utils import translation

    ClassListFactory.create_batch(3)
    ClassListFactory(course=models.Course.GO, semester=2, campus=CampusFactory(name="上海"))
    classes = list(models.ClassList.objects.select_related("campus").order_by("pk"))
    for language in ("zh-hans", "en"):
        with translation.override(language), django_assert_num_queries(0):
            names = models.ClassList.names_of(classes)
        with translation.override(language):
            assert names == [str(klass) for klass in classes]
    with translation.override("en"):
        assert models.ClassList.names_of(classes[-1:]) == ["Go development semester 2 (上海)"]


def test_str_of_every_model():
    customer = CustomerFactory(name="张三", qq="888888")
    record = CourseRecordFactory(day_num=2, re_class=ClassListFactory(semester=3))
    assert str(DepartmentFactory(name="销售部")) == "销售部"
    assert str(CampusFactory(name="上海")) == "上海"
    assert str(ContractTemplateFactory(name="脱产班协议")) == "脱产班协议"
    assert str(customer) == "张三 (8****8)"
    assert str(ConsultRecordFactory(customer=customer, status="B")) == "张三 (8****8) B 1个月内报名"
    assert str(record).endswith("3期 (" + record.re_class.campus.name + ") 第2节")
    assert str(StudyRecordFactory(course_record=record, student=customer)) == f"{record} {customer}"
    enrollment = EnrollmentFactory(customer=customer)
    assert str(enrollment) == f"{customer} {enrollment.enrolment_class}"
    assert str(PaymentRecordFactory(customer=customer, paid_fee=500, pay_type="deposit")) == (
        "张三 (8****8) 订金/报名费 500"
    )
    assert str(models.PublicCustomer.objects.get(pk=customer.pk)) == "张三 (8****8)"


def test_customer_str_falls_back_to_qq_name_and_shows_a_contact_masked():
    # str() is what histories, messages and autocompletes show, also to people who may not see the
    # contacts whole.
    assert str(CustomerFactory(name="", qq_name="小鱼", qq="55555")) == "小鱼 (5****5)"
    assert str(CustomerFactory(name="", qq_name="", qq="66666666")) == "- (66****66)"
    assert str(CustomerFactory(name="甲", qq=None, phone="13812345678")) == "甲 (138****5678)"
    assert str(CustomerFactory(name="乙", qq=None, phone=None, wechat="wx_abcdef")) == "乙 (wx****ef)"


def test_ownership_change_str_names_the_customer_and_both_owners():
    owner = UserFactory(name="李销售")
    customer = CustomerFactory(name="王五", qq="123456")
    claimed = models.CustomerTransfer(customer=customer, to_consultant=owner, reason="claim")
    released = models.CustomerTransfer(customer=customer, from_consultant=owner, reason="release")
    assert str(claimed) == "王五 (1****6)：公户 → 李销售"
    assert str(released) == "王五 (1****6)：李销售 → 公户"


# The indexes an import writes for every new customer (bench/README.md, issue 15): each one is here
# because a list, a search, a filter or a foreign key uses it; a new one is added deliberately.
CUSTOMER_INDEXES = {
    "crm_customer_pkey",
    "crm_customer_qq_key",
    "crm_customer_phone_key",
    "crm_customer_unique_wechat",
    "crm_customer_user_id_key",
    "crm_customer_campus_id_4fc6a4ce",
    "crm_customer_date_id",
    "crm_customer_last_consult",
    "crm_customer_next_date",
    "crm_customer_referred",
    "crm_customer_net_consultant",
    "crm_customer_owner_status",
    "crm_customer_owner_date",
    "crm_customer_pool_date",
    "crm_customer_pool_source",
    "crm_customer_pool_status",
    "crm_customer_name_upper_trgm",
    "crm_customer_qq_upper_trgm",
    "crm_customer_qq_name_upper_trgm",
    "crm_customer_phone_upper_trgm",
    "crm_customer_wechat_upper_trgm",
}


@pytest.mark.postgres
def test_the_customer_table_has_its_indexes_and_no_other():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'crm_customer'")
        assert {name for (name,) in cursor.fetchall()} == CUSTOMER_INDEXES


def customer_plan(queryset) -> str:
    from django.db import connection

    sql, params = queryset.order_by().only("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        # A small table is cheaper to scan: forbid it, to see which index the lookup can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row for (row,) in cursor.fetchall())


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        ({"consultant_id": 1}, "crm_customer_owner"),  # owner_status or owner_date
        ({"consultant_id__in": [1, 2]}, "crm_customer_owner"),  # a deleted user's SET NULL
        ({"introduce_from_id": 1}, "crm_customer_referred"),
        ({"introduce_from_id__in": [1, 2]}, "crm_customer_referred"),
        ({"network_consultant_id__in": [1, 2]}, "crm_customer_net_consultant"),
        ({"next_date__lt": "2026-12-02"}, "crm_customer_next_date"),
        ({"next_date__range": ("2026-12-02", "2026-12-08")}, "crm_customer_next_date"),
    ],
)
def test_a_foreign_key_and_the_follow_up_filter_find_customers_by_an_index_of_the_set_values(lookup, index):
    plan = customer_plan(models.Customer.objects.filter(**lookup))
    assert index in plan and "Seq Scan" not in plan, plan


@pytest.mark.postgres
def test_an_imports_lookup_of_wechat_ids_uses_the_unique_index_of_the_set_ones():
    # crm.resources.customers.existing_customers: lower(wechat) of the file's ids, NULLs left out.
    from django.db.models.functions import Lower

    ids = models.Customer.objects.annotate(wechat_key=Lower("wechat")).filter(wechat_key__in=["a", "b"])
    plan = customer_plan(ids)
    assert "crm_customer_unique_wechat" in plan and "Seq Scan" not in plan, plan


def test_two_customers_without_a_wechat_id_do_not_conflict_and_two_with_the_same_one_do():
    CustomerFactory(wechat=None)
    CustomerFactory(wechat=None)
    CustomerFactory(wechat="Sunny_2026")
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(wechat="sunny_2026")
