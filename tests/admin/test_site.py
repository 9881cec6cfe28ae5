"""Every role reaches the admin pages its permissions allow, and only those, in Chinese."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from crm.models import UserProfile

pytestmark = pytest.mark.django_db

DEMO_STAFF = ["admin", "boss", "sales1", "class_teacher1", "lecturer1", "ta1", "finance1"]


def crm_model_admins():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()]


def admin_url(model, view: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


@pytest.mark.parametrize("username", DEMO_STAFF)
def test_each_staff_role_sees_exactly_the_pages_its_permissions_allow(demo, client, username):
    user = UserProfile.objects.get(username=username)
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 200

    request = RequestFactory().get("/admin/")
    request.user = user
    for model, model_admin in crm_model_admins():
        may_view = model_admin.has_view_or_change_permission(request)
        may_add = model_admin.has_add_permission(request)
        changelist = client.get(admin_url(model, "changelist"))
        assert changelist.status_code == (200 if may_view else 403), (model, changelist.status_code)
        add = client.get(admin_url(model, "add"))
        assert add.status_code == (200 if may_add else 403), (model, add.status_code)


def test_the_student_role_has_no_admin_access(demo, client):
    client.force_login(UserProfile.objects.get(username="student1"))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_sales_sees_the_public_pool_but_not_all_customers(demo, client):
    client.force_login(UserProfile.objects.get(username="sales1"))
    assert client.get(reverse("admin:crm_publiccustomer_changelist")).status_code == 200
    assert client.get(reverse("admin:crm_privatecustomer_changelist")).status_code == 200
    assert client.get(reverse("admin:crm_customer_changelist")).status_code == 403
    assert client.get(reverse("admin:crm_paymentrecord_changelist")).status_code == 200
    assert client.get(reverse("admin:crm_courserecord_changelist")).status_code == 403


def test_boss_sees_every_crm_list(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    for model, _model_admin in crm_model_admins():
        if model._meta.app_label == "crm":
            assert client.get(admin_url(model, "changelist")).status_code == 200, model


def test_the_admin_speaks_chinese_by_default(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for text in [
        "校园 CRM",
        "公户",
        "我的客户",
        "全部客户",
        "跟进记录",
        "报名表",
        "缴费记录",
        "课程记录",
        "学习记录",
    ]:
        assert text in page
    customers = client.get(reverse("admin:crm_customer_add"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for label in ["咨询课程", "客户备注", "手机", "来源"]:
        assert label in customers


def test_english_is_available(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "public pool" in page.lower()


def test_the_index_lists_models_in_the_order_of_the_work(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    page = client.get(reverse("admin:index")).content.decode()
    positions = [
        page.index(f'href="/admin/crm/{name}/"')
        for name in [
            "publiccustomer",
            "privatecustomer",
            "customer",
            "consultrecord",
            "enrollment",
            "classlist",
        ]
    ]
    assert positions == sorted(positions)


def test_the_header_greets_staff_by_real_name(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    assert "王校长" in client.get(reverse("admin:index")).content.decode()


def test_change_url_of_a_missing_row_answers_404_instead_of_redirecting(boss_client):
    response = boss_client.get("/admin/crm/customer/999999/change/")

    assert response.status_code == 404


def test_no_changelist_of_ours_counts_its_table_twice():
    counting_twice = [
        model.__name__
        for model, model_admin in crm_model_admins()
        if model._meta.app_label == "crm" and model_admin.show_full_result_count
    ]

    assert counting_twice == []


def test_strings_missing_from_djangos_chinese_are_translated_by_ours(boss_client):
    page = boss_client.get(reverse("admin:index")).content.decode()

    assert "Model name" not in page and "模型名称" in page
