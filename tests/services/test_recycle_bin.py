"""The recycle bin: follow-ups, enrollments and payments are hidden, never removed; confirmed money stays."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError

from crm.models import Customer, Enrollment, PaymentRecord
from crm.services.recycle_bin import recycle_bin_move
from tests.factories import EnrollmentFactory, PaymentRecordFactory

pytestmark = pytest.mark.django_db


# Finding 8: delete_status on enrollments and payments was filtered everywhere but never set.
@pytest.mark.parametrize("factory", [EnrollmentFactory, PaymentRecordFactory], ids=["enrollment", "payment"])
def test_moving_to_the_recycle_bin_sets_delete_status_and_writes_the_history(boss_user, factory):
    row = factory()

    assert recycle_bin_move(model=type(row), ids=[row.pk], user=boss_user) == 1

    row.refresh_from_db()
    assert row.delete_status is True
    assert not type(row).objects.alive().exists()
    entry = LogEntry.objects.get(object_id=str(row.pk))
    assert (entry.user, entry.action_flag, entry.get_change_message()) == (
        boss_user,
        CHANGE,
        "已移入回收站。",
    )


def test_rows_already_in_the_bin_are_left_alone(boss_user):
    row = PaymentRecordFactory(delete_status=True)
    assert recycle_bin_move(model=PaymentRecord, ids=[row.pk], user=boss_user) == 0
    assert not LogEntry.objects.exists()


def test_a_confirmed_payment_is_never_deleted_and_nothing_else_of_the_batch_is(boss_user):
    pending = PaymentRecordFactory(status=PaymentRecord.Status.UNCONFIRMED)
    confirmed = PaymentRecordFactory(status=PaymentRecord.Status.CONFIRMED)

    with pytest.raises(ValidationError) as error:
        recycle_bin_move(model=PaymentRecord, ids=[pending.pk, confirmed.pk], user=boss_user)

    assert "已确认的缴费记录不能删除" in error.value.messages[0]
    assert PaymentRecord.objects.alive().count() == 2
    assert not LogEntry.objects.exists()


def test_a_rejected_payment_may_go_to_the_bin(boss_user):
    rejected = PaymentRecordFactory(status=PaymentRecord.Status.REJECTED)
    assert recycle_bin_move(model=PaymentRecord, ids=[rejected.pk], user=boss_user) == 1


def test_only_models_with_a_recycle_bin(boss_user):
    with pytest.raises(ValueError):
        recycle_bin_move(model=Customer, ids=[1], user=boss_user)


def test_an_enrollment_in_the_bin_no_longer_keeps_its_customer_from_recycling(boss_user, sales_user):
    enrollment = EnrollmentFactory(customer__consultant=sales_user)
    recycle_bin_move(model=Enrollment, ids=[enrollment.pk], user=boss_user)
    annotated = Customer.objects.with_recycle_from().get(pk=enrollment.customer_id)
    assert annotated.recycle_from is not None
