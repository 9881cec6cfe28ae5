"""Follow-up records in the admin: own customers only, the writer is the consultant, soft delete."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from crm.models import ConsultRecord
from tests.factories import ConsultRecordFactory, CustomerFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:crm_consultrecord_changelist"
ADD = "admin:crm_consultrecord_add"


def rows(response):
    return list(response.context["cl"].result_list)


def follow_up_form(customer, **fields):
    data = {
        "customer": customer.pk,
        "date_0": "2026-11-20",
        "date_1": "09:30:00",
        "status": "B",
        "note": "电话沟通，下周来访",
        "next_date": "2026-11-27",
    }
    data.update(fields)
    return data


def test_a_salesperson_sees_only_their_own_follow_ups(sales_client, sales_user, other_sales_user):
    mine = ConsultRecordFactory(consultant=sales_user)
    ConsultRecordFactory(consultant=other_sales_user)
    ConsultRecordFactory(consultant=sales_user, delete_status=True)
    assert rows(sales_client.get(reverse(CHANGELIST))) == [mine]


def test_the_boss_sees_every_follow_up(boss_client, sales_user, other_sales_user):
    records = [ConsultRecordFactory(consultant=sales_user), ConsultRecordFactory(consultant=other_sales_user)]
    assert set(rows(boss_client.get(reverse(CHANGELIST)))) == set(records)


@pytest.mark.parametrize("view", ["change", "history"])
def test_another_users_follow_up_answers_404(sales_client, other_sales_user, view):
    theirs = ConsultRecordFactory(consultant=other_sales_user)
    response = sales_client.get(reverse(f"admin:crm_consultrecord_{view}", args=[theirs.pk]))
    assert response.status_code == 404


def test_the_customer_link_filters_the_list_to_that_customer(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user, name="赵六")
    wanted = ConsultRecordFactory.create_batch(2, customer=customer, consultant=sales_user)
    ConsultRecordFactory(consultant=sales_user)
    response = sales_client.get(reverse(CHANGELIST), {"customer": customer.pk})
    assert set(rows(response)) == set(wanted)
    assert "赵六" in response.content.decode()


def test_adding_a_follow_up_makes_the_user_the_consultant_and_updates_the_customer(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user)
    response = sales_client.post(reverse(ADD), follow_up_form(customer))
    assert response.status_code == 302, response.context["adminform"].form.errors
    record = ConsultRecord.objects.get()
    assert record.consultant == sales_user
    customer.refresh_from_db()
    assert str(customer.last_consult_date) == "2026-11-20"
    assert str(customer.next_date) == "2026-11-27"


def test_the_consultant_is_not_a_form_field_and_customers_are_only_mine(
    sales_client, sales_user, other_sales_user
):
    mine = CustomerFactory(consultant=sales_user)
    CustomerFactory(consultant=other_sales_user)
    CustomerFactory()
    form = sales_client.get(reverse(ADD)).context["adminform"].form
    assert "consultant" not in form.fields
    assert list(form.fields["customer"].queryset) == [mine]


@pytest.mark.parametrize("owner", ["other", "pool"])
def test_a_forged_post_of_another_customer_is_a_form_error(sales_client, other_sales_user, owner):
    customer = CustomerFactory(consultant=other_sales_user if owner == "other" else None)
    response = sales_client.post(reverse(ADD), follow_up_form(customer, consultant=other_sales_user.pk))
    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert not ConsultRecord.objects.exists()


def test_editing_keeps_the_customer_and_the_consultant(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user)
    record = ConsultRecordFactory(customer=customer, consultant=sales_user)
    other = CustomerFactory(consultant=sales_user)
    data = follow_up_form(other, note="改过的内容")
    response = sales_client.post(reverse("admin:crm_consultrecord_change", args=[record.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    record.refresh_from_db()
    assert (record.customer, record.consultant, record.note) == (customer, sales_user, "改过的内容")


def test_editing_a_follow_up_of_a_released_customer_is_refused(sales_client, sales_user):
    customer = CustomerFactory()
    record = ConsultRecordFactory(customer=customer, consultant=sales_user)
    response = sales_client.post(
        reverse("admin:crm_consultrecord_change", args=[record.pk]), follow_up_form(customer, note="x")
    )
    assert response.status_code == 200
    record.refresh_from_db()
    assert record.note != "x"


def test_a_salesperson_deletes_by_hiding(sales_client, sales_user):
    record = ConsultRecordFactory(consultant=sales_user)
    response = sales_client.post(
        reverse(CHANGELIST), {"action": "soft_delete", ACTION_CHECKBOX_NAME: [record.pk], "index": 0}
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.delete_status is True
    assert rows(sales_client.get(reverse(CHANGELIST))) == []


def test_a_salesperson_cannot_delete_rows_for_real(sales_client, sales_user):
    record = ConsultRecordFactory(consultant=sales_user)
    response = sales_client.post(
        reverse(CHANGELIST), {"action": "delete_selected", ACTION_CHECKBOX_NAME: [record.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert ConsultRecord.objects.filter(pk=record.pk).exists()
    assert sales_client.get(reverse("admin:crm_consultrecord_delete", args=[record.pk])).status_code == 403


def test_the_boss_deletes_for_real(boss_client, sales_user):
    record = ConsultRecordFactory(consultant=sales_user)
    boss_client.post(
        reverse(CHANGELIST), {"action": "delete_selected", ACTION_CHECKBOX_NAME: [record.pk], "post": "yes"}
    )
    assert not ConsultRecord.objects.filter(pk=record.pk).exists()


def test_the_stage_and_date_filters(sales_client, sales_user):
    wanted = ConsultRecordFactory(consultant=sales_user, status="D")
    ConsultRecordFactory(consultant=sales_user, status="A")
    assert rows(sales_client.get(reverse(CHANGELIST), {"status__exact": "D"})) == [wanted]
    day = wanted.date.astimezone().date().isoformat()
    response = sales_client.get(reverse(CHANGELIST), {"date__range__gte": day, "date__range__lte": day})
    assert wanted in rows(response)


@pytest.mark.parametrize("count", [10, 100])
def test_the_follow_up_list_needs_the_same_queries_at_10_and_100_rows(
    sales_client, sales_user, count, django_assert_max_num_queries
):
    ConsultRecordFactory.create_batch(count, consultant=sales_user)
    with django_assert_max_num_queries(7):
        response = sales_client.get(reverse(CHANGELIST), {"per_page": 100})
    assert len(rows(response)) == count


def test_adding_from_one_customers_follow_ups_starts_with_that_customer(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user)
    response = sales_client.get(reverse(ADD), {"_changelist_filters": f"customer={customer.pk}"})
    assert response.context["adminform"].form.initial["customer"] == str(customer.pk)
