from django.contrib import admin

from crm.admin.base import CrmModelAdmin
from crm.models import ConsultRecord


@admin.register(ConsultRecord)
class ConsultRecordAdmin(CrmModelAdmin):
    list_display = ["customer", "status", "consultant", "date"]
    list_filter = ["status"]
    search_fields = ["customer__name", "customer__qq", "note"]
    list_select_related = ["customer", "consultant"]
    autocomplete_fields = ["customer"]

    def get_queryset(self, request):
        return super().get_queryset(request).alive().visible_to(request.user)
