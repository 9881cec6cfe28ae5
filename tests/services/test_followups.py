"""Follow-ups: written by the owner of the customer only; they keep the customer's dates current."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import ConsultRecord
from crm.services.followups import consult_records_save, consult_records_soft_delete
from tests.factories import ConsultRecordFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def at(year, month, day):
    return timezone.make_aware(datetime.datetime(year, month, day, 10, 0))


def test_saving_a_follow_up_sets_the_consultant_and_the_customers_dates(sales_user, other_sales_user):
    customer = CustomerFactory(consultant=sales_user)
    record = ConsultRecord(customer=customer, note="电话", status="B", date=at(2026, 11, 20))
    record.consultant = other_sales_user  # whatever was set, the writer is the consultant

    consult_records_save(record=record, user=sales_user, next_date=datetime.date(2026, 12, 1))

    customer.refresh_from_db()
    assert record.consultant == sales_user
    assert customer.last_consult_date == datetime.date(2026, 11, 20)
    assert customer.next_date == datetime.date(2026, 12, 1)


def test_a_follow_up_about_someone_elses_customer_saves_nothing(sales_user, other_sales_user):
    customer = CustomerFactory(consultant=other_sales_user)

    with pytest.raises(ValidationError):
        consult_records_save(record=ConsultRecord(customer=customer, note="x", status="A"), user=sales_user)

    assert not ConsultRecord.objects.exists()


def test_a_follow_up_about_a_public_pool_customer_saves_nothing(sales_user):
    with pytest.raises(ValidationError):
        consult_records_save(
            record=ConsultRecord(customer=CustomerFactory(), note="x", status="A"), user=sales_user
        )


def test_soft_delete_hides_the_follow_up_and_recomputes_the_last_date(sales_user):
    customer = CustomerFactory(consultant=sales_user)
    older = ConsultRecordFactory(customer=customer, consultant=sales_user, date=at(2026, 11, 1))
    newer = ConsultRecordFactory(customer=customer, consultant=sales_user, date=at(2026, 11, 15))
    consult_records_save(record=newer, user=sales_user)

    assert consult_records_soft_delete(records=[newer]) == 1

    customer.refresh_from_db()
    assert customer.last_consult_date == datetime.date(2026, 11, 1)
    assert list(ConsultRecord.objects.alive()) == [older]
    assert ConsultRecord.objects.count() == 2
