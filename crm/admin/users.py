from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin.base import CrmModelAdmin, ValidSelectionAdminMixin
from crm.admin.paging import NearestPageAdminMixin
from crm.admin.rows import cell_html_join
from crm.models import Department, UserProfile


@admin.register(Department)
class DepartmentAdmin(CrmModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


def waiting_for_role() -> ExpressionWrapper:
    """True for an account waiting for a role (registered on the site: no group, not a superuser)."""
    in_a_group = UserProfile.groups.through.objects.filter(userprofile_id=OuterRef("pk"))
    return ExpressionWrapper(Q(~Exists(in_a_group), is_superuser=False), output_field=BooleanField())


class RoleStatusFilter(admin.SimpleListFilter):
    title = _("role")
    parameter_name = "role_status"

    def lookups(self, request, model_admin):
        return [("waiting", _("Waiting for a role")), ("assigned", _("Has a role"))]

    def queryset(self, request, queryset):
        if self.value() in ("waiting", "assigned"):
            return queryset.filter(waiting_for_role=self.value() == "waiting")
        return queryset


@admin.register(UserProfile)
class UserProfileAdmin(ValidSelectionAdminMixin, NearestPageAdminMixin, UserAdmin):
    list_display = ["username", "name", "mobile", "department", "roles", "is_staff", "is_active"]
    list_filter = [RoleStatusFilter, "is_staff", "is_active", "groups", "department"]
    search_fields = ["username", "name", "mobile", "email"]
    show_full_result_count = False
    list_select_related = ["department"]
    fieldsets = (
        *UserAdmin.fieldsets,
        (_("School"), {"fields": ("name", "mobile", "department", "memo")}),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        (_("School"), {"fields": ("name", "mobile", "department")}),
    )
    add_form_template = "admin/crm/userprofile/add_form.html"
    # Same layout as the other lists and forms (a narrower sidebar, tighter list cells).
    Media = CrmModelAdmin.Media

    # Roles are ticked in a short list of checkboxes: Django 5.2's two-box widget speaks English.
    filter_horizontal = ()

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or request.user.is_superuser:
            return fieldsets
        # A role is a group (crm/roles.py); permissions given to one account would bypass the roles,
        # and their names are stored in English. Only a superuser sees them.
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "user_permissions"]})
            for name, options in fieldsets
        ]

    def has_change_permission(self, request, obj=None):
        # A superuser's account (its password too) is changed by a superuser only.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # Only a superuser makes superusers: a boss gives roles, not unlimited access (to themselves
        # included).
        readonly = super().get_readonly_fields(request, obj)
        return readonly if request.user.is_superuser else [*readonly, "is_superuser"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["widget"] = forms.CheckboxSelectMultiple
        elif db_field.name == "user_permissions":
            kwargs["widget"] = forms.SelectMultiple(attrs={"size": 12})
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(waiting_for_role=waiting_for_role())
            .prefetch_related("groups")
        )

    def get_ordering(self, request):
        # An expression, not the annotation: the admin also orders other models' user choices with it.
        return [waiting_for_role().desc(), "username"]

    @admin.display(description=_("roles"))
    def roles(self, user):
        names = "、".join(group.name for group in user.groups.all())
        return names or (_("Superuser") if user.is_superuser else _("Waiting for a role"))


# Django stores permission names in English ("Can view class") when it creates them; people read
# them here in the site's language, built from the action and the model's translated name.
DEFAULT_PERMISSION_LABELS = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
}


def permission_label(permission: Permission) -> str:
    """A permission in the site's language: "班级：可以查看班级"; custom permissions by their own name."""
    model = permission.content_type.model_class()
    if model is None:
        return permission.name
    action, _separator, model_name = permission.codename.partition("_")
    if model_name == model._meta.model_name and action in DEFAULT_PERMISSION_LABELS:
        text = DEFAULT_PERMISSION_LABELS[action] % {"model": model._meta.verbose_name}
    else:
        text = gettext(permission.name)
    return f"{capfirst(model._meta.verbose_name)}：{text}"


class PermissionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, permission):
        return permission_label(permission)


admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(ValidSelectionAdminMixin, NearestPageAdminMixin, GroupAdmin):
    """Roles (crm/roles.py) with their permissions readable in Chinese, one per line."""

    Media = CrmModelAdmin.Media
    # Django 5.2's two-box widget speaks English on a Chinese screen.
    filter_horizontal = ()
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return ["name", "permissions"]
        return ["name", "permission_list"]

    def get_readonly_fields(self, request, obj=None):
        return [] if self.has_change_permission(request, obj) else ["name", "permission_list"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "permissions":
            kwargs["form_class"] = PermissionChoiceField
            kwargs["queryset"] = Permission.objects.select_related("content_type")
            kwargs["widget"] = forms.SelectMultiple(attrs={"size": 20})
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description=_("permissions"))
    def permission_list(self, group):
        labels = sorted(permission_label(p) for p in group.permissions.select_related("content_type"))
        return cell_html_join(mark_safe("<br>"), "{}", ((label,) for label in labels)) or "-"
