"""Follow-ups: written by the owner of the customer only, dated when they happened, with the next one
planned; they keep the customer's dates current."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import ConsultRecord, Customer
from crm.services.followups import CLOCK_SKEW, consult_records_save
from crm.services.recycle_bin import recycle_bin_move
from tests.factories import ConsultRecordFactory, CustomerFactory

pytestmark = pytest.mark.django_db

Stage = ConsultRecord.Stage


def days_ago(days):
    return timezone.now() - datetime.timedelta(days=days)


def in_days(days):
    return timezone.localdate() + datetime.timedelta(days=days)


def old_customer(**fields):
    return CustomerFactory(date=days_ago(60), **fields)


def follow_up(customer, **fields):
    values = {"note": "电话", "status": Stage.B, "date": days_ago(1), "next_date": in_days(7)}
    values.update(fields)
    return ConsultRecord(customer=customer, **values)


def test_saving_a_follow_up_sets_the_consultant_and_the_customers_dates(sales_user, other_sales_user):
    customer = old_customer(consultant=sales_user)
    record = follow_up(customer, date=days_ago(3), next_date=in_days(5))
    record.consultant = other_sales_user  # whatever was set, the writer is the consultant

    consult_records_save(record=record, user=sales_user)

    customer.refresh_from_db()
    assert record.consultant == sales_user
    assert customer.last_consult_date == timezone.localdate(days_ago(3))
    assert customer.next_date == in_days(5)


def test_a_back_dated_follow_up_does_not_move_the_customers_next_date(sales_user):
    customer = old_customer(consultant=sales_user)
    consult_records_save(record=follow_up(customer, date=days_ago(1), next_date=in_days(3)), user=sales_user)

    consult_records_save(record=follow_up(customer, date=days_ago(9), next_date=in_days(20)), user=sales_user)

    customer.refresh_from_db()
    assert customer.next_date == in_days(3)


def test_a_follow_up_about_someone_elses_customer_saves_nothing(sales_user, other_sales_user):
    customer = old_customer(consultant=other_sales_user)

    with pytest.raises(ValidationError):
        consult_records_save(record=follow_up(customer), user=sales_user)

    assert not ConsultRecord.objects.exists()


def test_a_follow_up_about_a_public_pool_customer_saves_nothing(sales_user):
    with pytest.raises(ValidationError):
        consult_records_save(record=follow_up(old_customer()), user=sales_user)


# Finding 4: a follow-up dated 9999-12-31 kept its customer from ever being recycled.
@pytest.mark.parametrize(
    "date",
    [
        timezone.make_aware(datetime.datetime(9999, 12, 31, 10, 0)),
        pytest.param(None, id="tomorrow"),
    ],
)
def test_a_follow_up_dated_in_the_future_is_refused(sales_user, date):
    customer = old_customer(consultant=sales_user)
    date = date or timezone.now() + datetime.timedelta(days=1)

    with pytest.raises(ValidationError) as error:
        consult_records_save(record=follow_up(customer, date=date), user=sales_user)

    assert error.value.message_dict == {"date": ["跟进日期不能晚于现在。"]}
    assert not ConsultRecord.objects.exists()
    customer.refresh_from_db()
    assert customer.last_consult_date is None


def test_a_few_minutes_of_clock_skew_are_allowed(sales_user):
    customer = old_customer(consultant=sales_user)
    date = timezone.now() + CLOCK_SKEW - datetime.timedelta(seconds=30)

    consult_records_save(record=follow_up(customer, date=date), user=sales_user)

    assert ConsultRecord.objects.count() == 1


def test_a_follow_up_dated_before_the_customer_was_created_is_refused(sales_user):
    customer = CustomerFactory(consultant=sales_user, date=days_ago(2))

    with pytest.raises(ValidationError) as error:
        consult_records_save(record=follow_up(customer, date=days_ago(3)), user=sales_user)

    assert list(error.value.message_dict) == ["date"]
    assert "早于客户的创建时间" in error.value.message_dict["date"][0]


def test_recycling_counts_from_what_was_really_done_not_from_a_future_dated_record(sales_user):
    # A record dated in the future before the rule existed no longer counts as the last follow-up.
    customer = old_customer(consultant=sales_user)
    ConsultRecordFactory(
        customer=customer, consultant=sales_user, date=timezone.make_aware(datetime.datetime(9999, 12, 31))
    )

    consult_records_save(record=follow_up(customer, date=days_ago(40)), user=sales_user)

    customer.refresh_from_db()
    assert customer.last_consult_date == timezone.localdate(days_ago(40))
    cutoff = timezone.localdate() - datetime.timedelta(days=30)
    assert Customer.objects.due_for_recycling(silence_cutoff=cutoff).filter(pk=customer.pk).exists()


# Issue 13: the next follow-up is planned.
def test_a_follow_up_without_a_next_date_is_refused(sales_user):
    customer = old_customer(consultant=sales_user)

    with pytest.raises(ValidationError) as error:
        consult_records_save(record=follow_up(customer, next_date=None), user=sales_user)

    assert list(error.value.message_dict) == ["next_date"]
    assert not ConsultRecord.objects.exists()


@pytest.mark.parametrize(
    ("stage", "status"),
    [(Stage.H, Customer.Status.UNREGISTERED), (Stage.D, Customer.Status.SIGNED)],
    ids=["invalid lead", "signed up"],
)
def test_an_invalid_lead_or_a_signed_up_customer_needs_no_next_date(sales_user, stage, status):
    customer = old_customer(consultant=sales_user, status=status, next_date=in_days(2))

    consult_records_save(record=follow_up(customer, status=stage, next_date=None), user=sales_user)

    customer.refresh_from_db()
    assert customer.next_date is None


def test_a_next_date_in_the_past_is_refused(sales_user):
    customer = old_customer(consultant=sales_user)

    with pytest.raises(ValidationError) as error:
        consult_records_save(record=follow_up(customer, next_date=in_days(-1)), user=sales_user)

    assert error.value.message_dict == {"next_date": ["下次跟进日期不能早于今天。"]}


def test_a_next_date_of_today_is_accepted(sales_user):
    customer = old_customer(consultant=sales_user)
    consult_records_save(record=follow_up(customer, next_date=in_days(0)), user=sales_user)
    customer.refresh_from_db()
    assert customer.next_date == in_days(0)


def test_the_recycle_bin_hides_the_follow_up_and_recomputes_the_last_date(sales_user):
    customer = old_customer(consultant=sales_user)
    older = ConsultRecordFactory(customer=customer, consultant=sales_user, date=days_ago(20))
    newer = follow_up(customer, date=days_ago(5))
    consult_records_save(record=newer, user=sales_user)

    assert recycle_bin_move(model=ConsultRecord, ids=[newer.pk], user=sales_user) == 1

    customer.refresh_from_db()
    assert customer.last_consult_date == timezone.localdate(days_ago(20))
    assert list(ConsultRecord.objects.alive()) == [older]
    assert ConsultRecord.objects.count() == 2


# --- the follow-up tally (ConsultRecordTally, kept by PostgreSQL's triggers) ---


def tally_agrees_with_the_follow_ups(*users):
    """Every scope and filter a follow-up list counts from the tally gives the count of the follow-ups."""
    from crm.models import ConsultRecordTally
    from crm.services.followups import consult_records_tally_count

    for user in users:
        for scope in ("all", "alive"):
            records = ConsultRecord.objects.visible_to(user)
            groups = ConsultRecordTally.objects.visible_to(user)
            if scope == "alive":
                records, groups = records.alive(), groups.alive()
            for stage in [None, *ConsultRecord.Stage.values]:
                lookups = {"status": stage} if stage else {}
                assert consult_records_tally_count(groups=groups.filter(**lookups)) == (
                    records.filter(**lookups).count()
                )


@pytest.mark.postgres
def test_the_follow_up_tally_counts_each_group_exactly_through_every_kind_of_write(
    sales_user, other_sales_user, boss_user
):
    mine = CustomerFactory(consultant=sales_user)
    records = [ConsultRecordFactory(customer=mine, consultant=sales_user, status=stage) for stage in "ABBC"]
    ConsultRecordFactory(customer=CustomerFactory(consultant=other_sales_user), consultant=other_sales_user)
    tally_agrees_with_the_follow_ups(sales_user, other_sales_user, boss_user)

    ConsultRecord.objects.filter(pk=records[0].pk).update(status="G")
    ConsultRecord.objects.filter(pk=records[1].pk).update(note="只改内容")  # moves nothing between groups
    recycle_bin_move(model=ConsultRecord, ids=[records[2].pk], user=boss_user)
    ConsultRecord.objects.filter(pk=records[3].pk).update(consultant=other_sales_user)
    ConsultRecord.objects.filter(consultant=other_sales_user, status="B").delete()
    ConsultRecord.objects.bulk_create(
        [ConsultRecord(customer=mine, consultant=sales_user, status="H", note="批量")]
    )
    tally_agrees_with_the_follow_ups(sales_user, other_sales_user, boss_user)


def test_the_follow_up_tally_is_not_read_on_sqlite(sales_user):
    from django.db import connection

    from crm.models import ConsultRecordTally
    from crm.services.followups import consult_records_tally_count

    if connection.vendor != "sqlite":
        pytest.skip("the tally is PostgreSQL's")
    ConsultRecordFactory(consultant=sales_user)
    assert consult_records_tally_count(groups=ConsultRecordTally.objects.all()) is None
