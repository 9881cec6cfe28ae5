from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from crm.admin.base import CrmModelAdmin
from crm.models import Department, UserProfile


@admin.register(Department)
class DepartmentAdmin(CrmModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(UserProfile)
class UserProfileAdmin(UserAdmin):
    list_display = ["username", "name", "mobile", "department", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_active", "groups", "department"]
    search_fields = ["username", "name", "mobile", "email"]
    list_select_related = ["department"]
    fieldsets = (
        *UserAdmin.fieldsets,
        (_("School"), {"fields": ("name", "mobile", "department", "memo")}),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        (_("School"), {"fields": ("name", "mobile", "department")}),
    )
