from django.contrib import admin

from crm.admin.base import CrmModelAdmin, ReadOnlyAdminMixin
from crm.admin.imports import CustomerImportAdminMixin
from crm.models import Campus, Customer, CustomerTransfer, PrivateCustomer, PublicCustomer


@admin.register(Campus)
class CampusAdmin(CrmModelAdmin):
    list_display = ["name", "address"]
    search_fields = ["name", "address"]


class CustomerAdminBase(CrmModelAdmin):
    list_display = ["name", "qq", "phone", "sex", "source", "status", "consultant", "date"]
    list_filter = ["source", "status", "class_type"]
    search_fields = ["name", "qq", "qq_name", "phone"]
    list_select_related = ["consultant"]
    autocomplete_fields = ["introduce_from"]
    raw_id_fields = ["user"]
    filter_horizontal = ["class_list"]


@admin.register(Customer)
class CustomerAdmin(CustomerImportAdminMixin, CustomerAdminBase):
    pass


@admin.register(PublicCustomer)
class PublicCustomerAdmin(CustomerAdminBase):
    def get_queryset(self, request):
        return super().get_queryset(request).public()


@admin.register(PrivateCustomer)
class PrivateCustomerAdmin(CustomerAdminBase):
    def get_queryset(self, request):
        return super().get_queryset(request).owned_by(request.user)


@admin.register(CustomerTransfer)
class CustomerTransferAdmin(ReadOnlyAdminMixin, CrmModelAdmin):
    list_display = ["customer", "from_consultant", "to_consultant", "by", "reason", "date"]
    list_filter = ["reason"]
    search_fields = ["customer__name", "customer__qq"]
    list_select_related = ["customer", "from_consultant", "to_consultant", "by"]
