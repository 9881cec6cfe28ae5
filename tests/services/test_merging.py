"""Merging duplicate customers: everything moves to the survivor, all or nothing."""

import pytest
from django.core.exceptions import ValidationError

from crm.models import ConsultRecord, Customer, CustomerTransfer, Enrollment, PaymentRecord, StudyRecord
from crm.services.merging import customers_merge
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


def replayed_owner(customer):
    """The owner that the ownership history gives: the last row's ``to``."""
    last = CustomerTransfer.objects.filter(customer=customer).order_by("date", "id").last()
    return last.to_consultant if last else None


def test_every_related_row_moves_to_the_survivor_and_the_others_are_removed(boss_user, sales_user):
    klass, other_class = ClassListFactory(), ClassListFactory()
    survivor = CustomerFactory(name="", qq="11111111", phone=None, consultant=sales_user)
    duplicate = CustomerFactory(
        name="李雷", qq=None, phone="13800000001", wechat="lilei", consultant=sales_user
    )
    duplicate.class_list.add(other_class)
    ConsultRecordFactory(customer=duplicate, consultant=sales_user)
    EnrollmentFactory(customer=duplicate, enrolment_class=other_class, consultant=sales_user)
    PaymentRecordFactory(customer=duplicate, enrolment_class=other_class, consultant=sales_user)
    StudyRecordFactory(student=duplicate, course_record=CourseRecordFactory(re_class=other_class))
    referred = CustomerFactory(introduce_from=duplicate)
    EnrollmentFactory(customer=survivor, enrolment_class=klass, consultant=sales_user)

    customers_merge(by=boss_user, survivor_id=survivor.pk, customer_ids=[survivor.pk, duplicate.pk])

    survivor.refresh_from_db()
    assert not Customer.objects.filter(pk=duplicate.pk).exists()
    assert (survivor.name, survivor.qq, survivor.phone, survivor.wechat) == (
        "李雷",
        "11111111",
        "13800000001",
        "lilei",
    )
    assert ConsultRecord.objects.filter(customer=survivor).count() == 1
    assert Enrollment.objects.filter(customer=survivor).count() == 2
    assert PaymentRecord.objects.filter(customer=survivor).count() == 1
    assert StudyRecord.objects.filter(student=survivor).count() == 1
    assert set(survivor.class_list.all()) == {other_class}
    assert Customer.objects.get(pk=referred.pk).introduce_from == survivor
    merge_row = CustomerTransfer.objects.get(reason=CustomerTransfer.Reason.MERGE)
    assert (merge_row.customer, merge_row.by) == (survivor, boss_user)
    assert replayed_owner(survivor) == sales_user


def test_customers_of_different_salespeople_need_the_owner_chosen(boss_user, sales_user, other_sales_user):
    mine, theirs = CustomerFactory(consultant=sales_user), CustomerFactory(consultant=other_sales_user)

    with pytest.raises(ValidationError) as error:
        customers_merge(by=boss_user, survivor_id=mine.pk, customer_ids=[mine.pk, theirs.pk])
    assert error.value.code == "owners"
    assert Customer.objects.count() == 2

    customers_merge(
        by=boss_user, survivor_id=mine.pk, customer_ids=[mine.pk, theirs.pk], owner_id=other_sales_user.pk
    )
    mine.refresh_from_db()
    assert mine.consultant == other_sales_user
    assert replayed_owner(mine) == other_sales_user


def test_a_duplicate_enrollment_in_the_same_class_keeps_the_survivors(boss_user, sales_user):
    klass = ClassListFactory()
    survivor, duplicate = CustomerFactory(consultant=sales_user), CustomerFactory(consultant=sales_user)
    kept = EnrollmentFactory(customer=survivor, enrolment_class=klass, consultant=sales_user)
    EnrollmentFactory(customer=duplicate, enrolment_class=klass, consultant=sales_user)

    customers_merge(by=boss_user, survivor_id=survivor.pk, customer_ids=[survivor.pk, duplicate.pk])

    assert list(Enrollment.objects.all()) == [kept]


def test_the_new_owners_cap_is_checked(boss_user, sales_user, other_sales_user, settings):
    settings.MAX_CUSTOMER_NUM = 1
    CustomerFactory(consultant=other_sales_user)
    mine, pool = CustomerFactory(consultant=sales_user), CustomerFactory()

    with pytest.raises(ValidationError) as error:
        customers_merge(
            by=boss_user, survivor_id=mine.pk, customer_ids=[mine.pk, pool.pk], owner_id=other_sales_user.pk
        )

    assert error.value.code == "cap"
    assert Customer.objects.count() == 3


def test_one_customer_alone_is_not_a_merge(boss_user):
    customer = CustomerFactory()
    with pytest.raises(ValidationError):
        customers_merge(by=boss_user, survivor_id=customer.pk, customer_ids=[customer.pk])
