"""The frequent actions as row buttons, and the boss managing the team's customers: the 销售 filter,
reassigning, and the export of the filtered list."""

import datetime
import html
import io

import openpyxl
import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Customer, CustomerTransfer
from tests.factories import CampusFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

PUBLIC = "admin:crm_publiccustomer_changelist"
PRIVATE = "admin:crm_privatecustomer_changelist"
ALL = "admin:crm_customer_changelist"


def page(response) -> str:
    return html.unescape(response.content.decode())


def claim_url(customer) -> str:
    return reverse("admin:crm_publiccustomer_claim", args=[customer.pk])


def release_url(customer) -> str:
    return reverse("admin:crm_privatecustomer_release", args=[customer.pk])


# --- 领取 on a row of 公户 ---


def test_each_pool_row_has_a_claim_button_posting_through_the_row_form(sales_client):
    customer = CustomerFactory()

    shown = page(sales_client.get(reverse(PUBLIC)))

    assert f'form="crm-row-actions" formaction="{claim_url(customer)}"' in shown
    # The form the buttons submit comes after the changelist's own form: forms cannot nest.
    assert shown.index('id="changelist-form"') < shown.index('<form id="crm-row-actions" method="post"')
    assert shown.count('<form id="crm-row-actions"') == 1


def test_the_claim_button_claims_with_the_bulk_actions_message_and_history(sales_client, sales_user):
    customer = CustomerFactory()

    response = sales_client.post(claim_url(customer), follow=True)

    customer.refresh_from_db()
    assert customer.consultant == sales_user
    assert CustomerTransfer.objects.get(customer=customer).reason == CustomerTransfer.Reason.CLAIM
    assert response.redirect_chain[-1][0] == reverse(PUBLIC)
    assert "已领取 1 个客户" in page(response)


def test_the_claim_button_refuses_get(sales_client):
    customer = CustomerFactory()

    assert sales_client.get(claim_url(customer)).status_code == 405
    customer.refresh_from_db()
    assert customer.consultant is None


def test_the_claim_button_of_a_customer_outside_the_pool_is_404(sales_client, sales_user, other_sales_user):
    taken = CustomerFactory(consultant=other_sales_user)
    other_campus = CustomerFactory(campus=CampusFactory())
    sales_user.campus = CampusFactory()
    sales_user.save(update_fields=["campus"])

    assert sales_client.post(claim_url(taken)).status_code == 404
    assert sales_client.post(claim_url(other_campus)).status_code == 404
    assert sales_client.post("/admin/crm/publiccustomer/abc/claim/").status_code == 404
    taken.refresh_from_db()
    assert taken.consultant == other_sales_user


def test_the_claim_button_at_the_cap_claims_nothing_and_says_why(sales_client, sales_user, settings):
    settings.MAX_CUSTOMER_NUM = 1
    CustomerFactory(consultant=sales_user)
    customer = CustomerFactory()

    response = sales_client.post(claim_url(customer), follow=True)

    customer.refresh_from_db()
    assert customer.consultant is None
    assert "每人最多拥有 1 个客户" in page(response)


def test_the_claim_button_is_not_for_those_who_cannot_claim(client_for, finance_user):
    customer = CustomerFactory()
    client = client_for(finance_user)

    assert client.post(claim_url(customer)).status_code in (403, 404)
    customer.refresh_from_db()
    assert customer.consultant is None


# --- 释放 on a row of 我的客户 ---


def test_the_release_button_asks_why_on_the_confirmation_page_then_releases(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user, name="要释放的")
    assert release_url(customer) in page(sales_client.get(reverse(PRIVATE)))

    asked = sales_client.post(release_url(customer))

    assert asked.status_code == 200
    shown = page(asked)
    assert "要释放的" in shown and 'name="post" value="yes"' in shown and 'name="reason"' in shown
    assert f'name="{ACTION_CHECKBOX_NAME}" value="{customer.pk}"' in shown
    customer.refresh_from_db()
    assert customer.consultant == sales_user

    done = sales_client.post(
        release_url(customer),
        {"post": "yes", "reason": CustomerTransfer.ReleaseReason.NO_INTEREST, "note": ""},
        follow=True,
    )

    customer.refresh_from_db()
    assert customer.consultant is None
    transfer = CustomerTransfer.objects.get(customer=customer)
    assert transfer.release_reason == CustomerTransfer.ReleaseReason.NO_INTEREST
    assert done.redirect_chain[-1][0] == reverse(PRIVATE)


def test_the_release_button_without_a_reason_releases_nothing(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user)

    response = sales_client.post(release_url(customer), {"post": "yes"})

    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.consultant == sales_user


def test_the_release_button_refuses_get_and_another_salespersons_customer_is_404(
    sales_client, sales_user, other_sales_user
):
    own = CustomerFactory(consultant=sales_user)
    other = CustomerFactory(consultant=other_sales_user)
    reason = {"post": "yes", "reason": CustomerTransfer.ReleaseReason.NO_INTEREST}

    assert sales_client.get(release_url(own)).status_code == 405
    assert sales_client.post(release_url(other), reason).status_code == 404
    other.refresh_from_db()
    own.refresh_from_db()
    assert other.consultant == other_sales_user and own.consultant == sales_user


# --- 销售 filter and clear all filters on 全部客户 ---


def test_the_sales_filter_offers_only_sales_staff_and_unassigned(
    boss_client, sales_user, other_sales_user, make_user
):
    teacher = make_user("lecturer", username="lecturer_q", name="讲师丙")
    mine = CustomerFactory(consultant=sales_user)
    pooled = CustomerFactory(consultant=None)
    CustomerFactory(consultant=other_sales_user)

    response = boss_client.get(reverse(ALL), {"consultant__id__exact": sales_user.pk})
    shown = page(response)

    assert list(response.context["cl"].result_list) == [mine]
    sidebar = shown[shown.index('id="changelist-filter"') :]
    assert "销售甲" in sidebar and "销售乙" in sidebar and "讲师丙" not in sidebar
    assert "未分配" in sidebar
    assert "清除所有筛选" in sidebar
    assert str(teacher) not in sidebar

    unassigned = boss_client.get(reverse(ALL), {"consultant__isnull": "True"})
    assert list(unassigned.context["cl"].result_list) == [pooled]


# --- reassign ---


def reassign(client, customers, consultant=None, **extra):
    data = {"action": "reassign_customers", ACTION_CHECKBOX_NAME: [c.pk for c in customers], **extra}
    if consultant is not None:
        data.update({"post": "yes", "consultant": consultant.pk})
    return client.post(reverse(ALL), data)


def test_reassign_asks_for_a_salesperson_among_the_sales_staff_only(boss_client, sales_user, make_user):
    make_user("ta", username="ta_q", name="助教丙")
    customer = CustomerFactory(consultant=None, name="待分配")

    asked = reassign(boss_client, [customer])

    assert asked.status_code == 200
    shown = page(asked)
    assert "待分配" in shown and 'name="post" value="yes"' in shown
    from crm.models import UserProfile

    choices = set(asked.context["form"].fields["consultant"].queryset)
    assert choices == set(UserProfile.objects.sales_staff()) and sales_user in choices
    assert not any(user.username == "ta_q" for user in choices)
    customer.refresh_from_db()
    assert customer.consultant is None


def test_reassign_moves_the_customers_and_writes_the_history(
    boss_client, boss_user, sales_user, other_sales_user
):
    customers = CustomerFactory.create_batch(2, consultant=other_sales_user)

    response = reassign(boss_client, customers, sales_user)

    assert response.status_code == 302
    assert set(Customer.objects.filter(consultant=sales_user)) == set(customers)
    history = CustomerTransfer.objects.filter(reason=CustomerTransfer.Reason.REASSIGN)
    assert {(row.customer_id, row.from_consultant, row.to_consultant, row.by) for row in history} == {
        (customer.pk, other_sales_user, sales_user, boss_user) for customer in customers
    }


def test_reassign_past_the_cap_moves_none_and_says_so_on_the_page(
    boss_client, sales_user, other_sales_user, settings
):
    settings.MAX_CUSTOMER_NUM = 1
    customers = CustomerFactory.create_batch(2, consultant=other_sales_user)

    response = reassign(boss_client, customers, sales_user)

    assert response.status_code == 200
    assert "1" in page(response) and response.context["form"].non_field_errors()
    assert not Customer.objects.filter(consultant=sales_user).exists()
    assert not CustomerTransfer.objects.exists()


def test_reassign_to_a_forged_non_sales_user_moves_nothing(boss_client, other_sales_user, make_user):
    ta = make_user("ta", username="ta_r")
    customer = CustomerFactory(consultant=other_sales_user)

    response = reassign(boss_client, [customer], ta)

    assert response.status_code == 200 and response.context["form"].errors
    customer.refresh_from_db()
    assert customer.consultant == other_sales_user


def test_reassign_is_not_offered_to_sales(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user)

    response = sales_client.post(
        reverse(PRIVATE), {"action": "reassign_customers", ACTION_CHECKBOX_NAME: [customer.pk]}
    )

    assert response.status_code in (200, 302)
    customer.refresh_from_db()
    assert customer.consultant == sales_user


# --- export ---


def export_post() -> dict:
    from crm.resources.customers import CustomerExportResource

    order = CustomerExportResource().get_export_order()
    return {"format": "0", "resource": "0", **{f"customerexportresource_{name}": "on" for name in order}}


def exported(response) -> list[list]:
    assert response.status_code == 200, response.content[:300]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_export_is_exactly_the_filtered_list_with_real_dates(boss_client, sales_user, other_sales_user):
    for number in range(3):
        CustomerFactory(
            consultant=sales_user, name=f"甲的客户{number}", next_date=datetime.date(2026, 12, 1 + number)
        )
    CustomerFactory(consultant=other_sales_user, name="乙的客户")
    query = {"consultant__id__exact": sales_user.pk, "q": "甲的客户"}
    listed = boss_client.get(reverse(ALL), query).context["cl"].queryset

    response = boss_client.post(
        f"{reverse('admin:crm_customer_export')}?consultant__id__exact={sales_user.pk}&q=甲的客户",
        export_post(),
    )

    table = exported(response)
    header, body = table[0], table[1:]
    names = [row[header.index(str(Customer._meta.get_field("name").verbose_name))] for row in body]
    assert sorted(names) == sorted(customer.name for customer in listed)
    assert len(names) == 3
    column = header.index(str(Customer._meta.get_field("next_date").verbose_name))
    assert sorted(row[column] for row in body) == [
        datetime.datetime(2026, 12, day) for day in (1, 2, 3)
    ]  # real dates (openpyxl reads a date cell back as a datetime), not text


def test_the_export_masks_contacts_for_whoever_may_not_see_them(client_for, make_user, boss_user):
    from django.contrib.auth.models import Permission

    exporter = make_user("sales", username="sales_exporter")
    exporter.user_permissions.add(
        Permission.objects.get(codename="export_customer"), Permission.objects.get(codename="view_customer")
    )
    CustomerFactory(consultant=boss_user, qq="62345689", phone="13712345678")

    from crm.admin.customers import CustomerAdmin
    from crm.resources.customers import CustomerExportResource

    queryset = Customer.objects.with_contacts_visible_to(exporter)
    resource = CustomerExportResource()
    fields = resource.get_export_fields()
    from crm.resources.streaming import iter_rows

    rows = list(iter_rows(resource, fields, queryset))
    headers = [str(field.column_name) for field in fields]
    assert rows[0][headers.index("手机")] == "137****5678"
    assert rows[0][headers.index("QQ")] == "62****89"
    assert CustomerAdmin  # the admin annotates contacts_visible the same way (get_queryset)


def customers_of_their_own(count: int) -> None:
    """``count`` customers, each with a salesperson and a campus of its own."""
    for _ in range(count):
        CustomerFactory(consultant=UserFactory(role="sales"), campus=CampusFactory())


@pytest.mark.parametrize("file_format", ["0", "1"], ids=["xlsx", "csv"])
def test_the_export_costs_the_same_queries_for_one_customer_as_for_many(
    boss_client, file_format, django_assert_num_queries
):
    url, data = reverse("admin:crm_customer_export"), {**export_post(), "format": file_format}

    def rows() -> int:
        response = boss_client.post(url, data)
        return (
            len(b"".join(response.streaming_content).splitlines())
            if file_format == "1"
            else len(exported(response))
        )

    customers_of_their_own(1)
    rows()  # the session and the first request's caches
    with CaptureQueriesContext(connection) as one_row:
        assert rows() == 2

    customers_of_their_own(7)

    # Whatever number of salespeople and campuses the rows refer to.
    with django_assert_num_queries(len(one_row.captured_queries)):
        assert rows() == 9


def test_the_export_needs_the_export_permission(sales_client):
    assert sales_client.get(reverse("admin:crm_customer_export")).status_code == 403


def test_a_large_customer_export_runs_as_a_job_with_the_lists_rows(
    boss_client, boss_user, sales_user, settings, django_capture_on_commit_callbacks
):
    from crm.models import Job

    settings.JOB_ROWS_THRESHOLD = 1
    CustomerFactory.create_batch(2, consultant=sales_user, name="甲的客户")
    CustomerFactory(consultant=None, name="公户客户")

    with django_capture_on_commit_callbacks(execute=True):
        response = boss_client.post(
            f"{reverse('admin:crm_customer_export')}?consultant__id__exact={sales_user.pk}", export_post()
        )

    assert response.status_code == 302 and response.url == reverse("admin:crm_job_changelist")
    job = Job.objects.get()
    assert (job.user, job.kind, job.state, job.rows_done) == (boss_user, Job.Kind.EXPORT, Job.State.DONE, 2)


def test_the_boss_sees_the_export_button_and_page(boss_client):
    listed = page(boss_client.get(reverse(ALL)))
    assert reverse("admin:crm_customer_export") in listed and reverse("admin:crm_customer_import") in listed

    form = boss_client.get(reverse("admin:crm_customer_export"))

    assert form.status_code == 200
    assert "customerexportresource_phone" in form.content.decode()
