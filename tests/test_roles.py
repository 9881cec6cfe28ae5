import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from crm.roles import ROLES, sync_roles


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.code)
def test_each_role_has_exactly_its_declared_permissions_after_migrate(role):
    group = Group.objects.get(name=role.group_name)
    granted = {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }
    assert granted == set(role.permissions)


@pytest.mark.django_db
def test_sync_restores_a_permission_removed_by_hand():
    group = Group.objects.get(name=ROLES[0].group_name)
    group.permissions.clear()
    sync_roles()
    assert group.permissions.count() == len(ROLES[0].permissions)


@pytest.mark.django_db
def test_changing_the_role_declaration_needs_no_migration():
    call_command("makemigrations", "crm", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_access_is_granted_by_permission_not_by_group_name(make_user):
    user = make_user("sales")
    assert user.has_perm("crm.claim_customer")
    assert not user.has_perm("crm.view_all_customers")
    assert make_user("boss").has_perm("crm.view_all_customers")
