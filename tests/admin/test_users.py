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
