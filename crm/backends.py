"""The authentication backend: Django's ModelBackend, with a user's permissions read in one query."""

from django.contrib.auth import backends
from django.contrib.auth.models import Permission
from django.db.models import Q


class ModelBackend(backends.ModelBackend):
    """Every logged-in request asks for the user's permissions (the admin's menus, buttons and
    checks); Django 5.2 reads the direct ones and the group ones in two queries, here they are one."""

    def get_all_permissions(self, user_obj, obj=None):
        # Django 5.2's ModelBackend.get_all_permissions (pinned by tests/test_backends.py), with the
        # same per-request cache on the user object, which Django's docs tell tests to delete.
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            perms = Permission.objects.all()
            if not user_obj.is_superuser:
                perms = perms.filter(Q(user=user_obj) | Q(group__user=user_obj))
            names = perms.values_list("content_type__app_label", "codename").order_by().distinct()
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in names}
        return user_obj._perm_cache
