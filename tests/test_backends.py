"""The authentication backend: the permissions of Django's ModelBackend, in one query."""

import inspect

import pytest
from django.contrib.auth import backends as django_backends
from django.contrib.auth.models import Permission

from crm.backends import ModelBackend
from crm.models import UserProfile

pytestmark = pytest.mark.django_db


def fresh(user):
    return UserProfile.objects.get(pk=user.pk)


@pytest.mark.parametrize("role", ["sales", "boss", "finance", None])
def test_a_users_permissions_are_django_modelbackends_in_one_query(
    make_user, role, django_assert_num_queries
):
    user = make_user(role, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_campus"))
    expected = django_backends.ModelBackend().get_all_permissions(fresh(user))
    user = fresh(user)

    with django_assert_num_queries(1):
        perms = ModelBackend().get_all_permissions(user)
        assert user.has_perm("crm.view_campus")

    assert perms == expected
    assert "crm.view_campus" in perms


def test_a_superuser_has_every_permission_and_an_inactive_user_none(make_user):
    superuser = make_user(None, is_superuser=True)
    inactive = make_user("boss", is_active=False)

    assert ModelBackend().get_all_permissions(
        fresh(superuser)
    ) == django_backends.ModelBackend().get_all_permissions(fresh(superuser))
    assert ModelBackend().get_all_permissions(fresh(inactive)) == set()


def test_the_permission_cache_is_django_52s():
    # Pins Django 5.2's ModelBackend.get_all_permissions: the per-request cache our override fills.
    source = inspect.getsource(django_backends.ModelBackend.get_all_permissions)
    assert 'if not hasattr(user_obj, "_perm_cache"):' in source
    assert "user_obj._perm_cache = super().get_all_permissions(user_obj)" in source
