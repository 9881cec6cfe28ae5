"""A customer's page shows the customer: header, the follow-ups the viewer may see, enrollments and
payments, then the form with its rarely edited fields folded and the ownership history."""

import datetime
import html

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import PaymentRecord
from tests.factories import ConsultRecordFactory, CustomerFactory, EnrollmentFactory, PaymentRecordFactory

pytestmark = pytest.mark.django_db


def page(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def change_url(model: str, customer) -> str:
    return reverse(f"admin:crm_{model}_change", args=[customer.pk])


def test_the_header_names_the_customer_owner_follow_ups_and_days_until_recycling(
    sales_client, sales_user, settings
):
    settings.CUSTOMER_RECYCLE_DAYS = 15
    settings.CUSTOMER_DEAL_DAYS = 0
    today = timezone.localdate()
    customer = CustomerFactory(
        consultant=sales_user,
        name="页头客户",
        date=timezone.now() - datetime.timedelta(days=40),
        qq="22345689",
        phone="13912345678",
        last_consult_date=today - datetime.timedelta(days=5),
        next_date=today,
    )

    shown = page(sales_client.get(change_url("privatecustomer", customer)))
    header = shown[shown.index('id="crm-customer-header"') : shown.index('id="crm-timeline"')]

    assert "页头客户" in header and "13912345678" in header and "22345689" in header
    assert "销售甲" in header
    assert (today - datetime.timedelta(days=5)).isoformat() in header
    assert "今天" in header
    assert "10 天" in header


def test_the_header_masks_a_pool_customers_contacts(sales_client):
    customer = CustomerFactory(name="公户客户", qq="42345689", phone="13612345678")

    shown = page(sales_client.get(change_url("publiccustomer", customer)))

    assert "42****89" in shown and "136****5678" in shown
    assert "42345689" not in shown and "13612345678" not in shown


def test_a_salesperson_sees_their_own_follow_ups_newest_first_and_the_boss_all(
    client_for, sales_user, other_sales_user, boss_user
):
    customer = CustomerFactory(consultant=sales_user)
    now = timezone.now()
    ConsultRecordFactory(
        customer=customer, consultant=sales_user, note="旧的跟进", date=now - datetime.timedelta(days=3)
    )
    ConsultRecordFactory(
        customer=customer, consultant=sales_user, note="新的跟进", date=now - datetime.timedelta(days=1)
    )
    ConsultRecordFactory(
        customer=customer,
        consultant=other_sales_user,
        note="前任的跟进",
        date=now - datetime.timedelta(days=9),
    )
    ConsultRecordFactory(customer=customer, consultant=sales_user, note="已删除的跟进", delete_status=True)

    own = page(client_for(sales_user).get(change_url("privatecustomer", customer)))
    timeline = own[own.index('id="crm-timeline"') :]
    assert timeline.index("新的跟进") < timeline.index("旧的跟进")
    assert "前任的跟进" not in own and "已删除的跟进" not in timeline

    boss = page(client_for(boss_user).get(change_url("customer", customer)))
    assert "前任的跟进" in boss and "新的跟进" in boss


def test_the_timeline_opens_the_follow_up_form_with_the_customer_chosen_for_the_owner_only(
    client_for, sales_user, boss_user
):
    customer = CustomerFactory(consultant=sales_user)
    link = f"{reverse('admin:crm_consultrecord_add')}?customer={customer.pk}"

    assert link in page(client_for(sales_user).get(change_url("privatecustomer", customer)))
    assert link not in page(client_for(boss_user).get(change_url("customer", customer)))


def test_enrollments_and_payments_are_summarised_with_money_in_yuan(sales_client, sales_user, klass):
    customer = CustomerFactory(consultant=sales_user)
    EnrollmentFactory(customer=customer, enrolment_class=klass, consultant=sales_user)
    PaymentRecordFactory(customer=customer, enrolment_class=klass, consultant=sales_user, paid_fee=12345)
    # Recorded by somebody else: not in this salesperson's scope of payments.
    PaymentRecordFactory(customer=customer, enrolment_class=klass, paid_fee=777)

    shown = page(sales_client.get(change_url("privatecustomer", customer)))

    enrollments = shown[shown.index('id="crm-enrollments"') : shown.index('id="crm-payments"')]
    assert str(klass) in enrollments
    payments = shown[shown.index('id="crm-payments"') :]
    assert "¥12,345" in payments and "¥777" not in payments
    assert str(PaymentRecord.Status.UNCONFIRMED.label) in payments


def test_the_parts_come_in_order_and_rare_fields_are_folded(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user)
    EnrollmentFactory(customer=customer, consultant=sales_user)
    PaymentRecordFactory(customer=customer, consultant=sales_user)

    shown = page(sales_client.get(change_url("privatecustomer", customer)))

    order = ['id="crm-customer-header"', 'id="crm-timeline"', 'id="crm-enrollments"', 'id="crm-payments"']
    order += ['name="name"', "所有权变更记录" if "所有权变更记录" in shown else "ownership"]
    positions = [shown.index(marker) for marker in order[:5]]
    assert positions == sorted(positions)
    # Django 5.2 folds a "collapse" fieldset into <details>.
    folded = shown[shown.index("<details") :]
    assert 'name="qq_name"' in folded and 'name="birthday"' in folded


def test_another_salespersons_customer_has_no_page(sales_client, other_sales_user):
    customer = CustomerFactory(consultant=other_sales_user)

    assert sales_client.get(change_url("privatecustomer", customer)).status_code == 404


@pytest.mark.parametrize(("model", "who"), [("privatecustomer", "sales"), ("customer", "boss")])
def test_the_page_needs_the_same_queries_with_2_and_20_follow_ups(
    client_for, sales_user, boss_user, klass, model, who, django_assert_num_queries
):
    client = client_for(boss_user if who == "boss" else sales_user)

    def build(count):
        customer = CustomerFactory(consultant=sales_user)
        ConsultRecordFactory.create_batch(count, customer=customer, consultant=sales_user)
        for _ in range(count // 2):
            EnrollmentFactory(customer=customer, consultant=sales_user)
            PaymentRecordFactory(customer=customer, enrolment_class=klass, consultant=sales_user)
        return customer

    small, large = build(2), build(20)
    client.get(change_url(model, small))  # the session and the permissions cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as baseline:
        page(client.get(change_url(model, small)))
    with django_assert_num_queries(len(baseline.captured_queries)):
        shown = page(client.get(change_url(model, large)))
    assert shown.count('class="crm-note"') == 20
