"""The admin's user list shows the accounts waiting for a role first."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(make_user, boss_user):
    make_user("sales", username="a_sales")
    make_user(None, username="z_registered")
    make_user(None, username="m_registered")
    make_user(None, username="a_superuser", is_superuser=True, is_staff=True)


def changelist_usernames(client, **params):
    response = client.get(reverse("admin:crm_userprofile_changelist"), params)
    assert response.status_code == 200
    return [user.username for user in response.context["cl"].result_list]


def test_accounts_waiting_for_a_role_come_first(boss_client, accounts):
    usernames = changelist_usernames(boss_client)
    assert usernames[:2] == ["m_registered", "z_registered"]
    assert set(usernames[2:]) == {"a_sales", "a_superuser", "boss_a"}


def test_the_role_filter_shows_only_the_waiting_accounts(boss_client, accounts):
    assert changelist_usernames(boss_client, role_status="waiting") == ["m_registered", "z_registered"]
    assert "m_registered" not in changelist_usernames(boss_client, role_status="assigned")


def test_the_list_says_which_accounts_wait_for_a_role(boss_client, accounts):
    html = boss_client.get(reverse("admin:crm_userprofile_changelist")).content.decode()
    assert "等待分配角色" in html and "销售" in html and "超级用户" in html


def test_user_choices_elsewhere_in_the_admin_still_work(boss_client, accounts):
    assert boss_client.get(reverse("admin:crm_customer_add")).status_code == 200


def test_the_boss_ticks_roles_in_chinese_and_sees_no_per_user_permissions(boss_client, make_user):
    registered = make_user(None, username="new_one")

    response = boss_client.get(reverse("admin:crm_userprofile_change", args=[registered.pk]))

    html = response.content.decode()
    form = response.context["adminform"].form
    assert "user_permissions" not in form.fields
    assert 'type="checkbox" name="groups"' in html and "销售" in html
    assert "selectfilter" not in html  # Django's two-box widget, English in Chinese (Django 5.2)


def test_a_superuser_still_sees_the_per_user_permissions(client_for, make_user):
    admin_user = make_user(None, username="root", is_superuser=True, is_staff=True)
    registered = make_user(None, username="new_one")
    response = client_for(admin_user).get(reverse("admin:crm_userprofile_change", args=[registered.pk]))
    assert "user_permissions" in response.context["adminform"].form.fields


def test_the_boss_gives_a_new_account_a_role(boss_client, make_user):
    from django.contrib.auth.models import Group

    registered = make_user(None, username="new_one")
    sales = Group.objects.get(name="销售")
    response = boss_client.get(reverse("admin:crm_userprofile_change", args=[registered.pk]))
    data = {
        key: value
        for key, value in response.context["adminform"].form.initial.items()
        if key in response.context["adminform"].form.fields and value is not None
    }
    data.update(
        {"username": "new_one", "groups": [sales.pk], "is_active": "on", "is_staff": "on"},
        date_joined_0="2026-11-27",
        date_joined_1="10:00:00",
    )
    data.pop("password", None)
    data.pop("last_login", None)

    response = boss_client.post(reverse("admin:crm_userprofile_change", args=[registered.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    registered.refresh_from_db()
    assert list(registered.groups.all()) == [sales] and registered.is_staff


def test_the_add_page_speaks_chinese(boss_client):
    html = boss_client.get(reverse("admin:crm_userprofile_add")).content.decode()
    assert "you’ll be able to edit more user options" not in html


def test_the_boss_cannot_make_anyone_a_superuser(boss_client, boss_user):
    url = reverse("admin:crm_userprofile_change", args=[boss_user.pk])
    form = boss_client.get(url).context["adminform"].form
    assert "is_superuser" not in form.fields
    data = {"username": boss_user.username, "is_active": "on", "is_staff": "on", "is_superuser": "on"}
    data.update(date_joined_0="2026-11-27", date_joined_1="10:00:00")
    response = boss_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    boss_user.refresh_from_db()
    assert not boss_user.is_superuser


def test_the_boss_cannot_change_a_superusers_account_or_password(boss_client, make_user):
    root = make_user(None, username="root", is_superuser=True, is_staff=True)
    root.set_password("Root-pass-2026")
    root.save()

    password_url = reverse("admin:auth_user_password_change", args=[root.pk])
    response = boss_client.post(
        password_url, {"password1": "Taken-over-2026", "password2": "Taken-over-2026"}
    )
    assert response.status_code == 403
    change = boss_client.post(
        reverse("admin:crm_userprofile_change", args=[root.pk]), {"username": "renamed", "is_active": ""}
    )
    assert change.status_code == 403
    root.refresh_from_db()
    assert root.check_password("Root-pass-2026") and root.username == "root" and root.is_active


def test_a_role_page_lists_its_permissions_in_chinese_one_per_line(boss_client):
    from django.contrib.auth.models import Group

    sales_role = Group.objects.get(name="销售")

    page = boss_client.get(reverse("admin:auth_group_change", args=[sales_role.pk])).content.decode()

    assert "缴费记录：可以查看缴费记录" in page
    assert "客户：可以从公户领取客户" in page
    assert "Can view" not in page and "名称" in page


def test_a_superuser_edits_a_roles_permissions_by_their_chinese_labels(client_for, make_user):
    from django.contrib.auth.models import Group

    superuser = make_user(None, username="root", is_superuser=True, is_staff=True)
    sales_role = Group.objects.get(name="销售")

    response = client_for(superuser).get(reverse("admin:auth_group_change", args=[sales_role.pk]))

    labels = [label for _value, label in response.context["adminform"].form.fields["permissions"].choices]
    assert "班级：可以查看班级" in labels
