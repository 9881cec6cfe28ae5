from django.contrib import admin

from crm.admin.base import CrmModelAdmin, ReadOnlyAdminMixin
from crm.models import CustomerImport


@admin.register(CustomerImport)
class CustomerImportAdmin(ReadOnlyAdminMixin, CrmModelAdmin):
    list_display = ["file_name", "user", "date", "new_count", "updated_count", "skipped_count", "error_count"]
    search_fields = ["file_name"]
    list_select_related = ["user"]
    exclude = ["created_ids", "filled_fields"]
