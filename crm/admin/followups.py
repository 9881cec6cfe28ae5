from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin.base import CrmModelAdmin, DateRangeFilter
from crm.admin.paging import PerPageAdminMixin
from crm.models import ConsultRecord, Customer
from crm.services.followups import (
    consult_records_check_owner,
    consult_records_save,
    consult_records_soft_delete,
)


class CustomerFilter(admin.SimpleListFilter):
    """The follow-ups of one customer (the "跟进记录 (N)" link of the customer lists).

    It lists only the customer being filtered on, never the whole customer table.
    """

    title = _("customer")
    parameter_name = "customer"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value or not value.isdigit():
            return []
        customer = Customer.objects.filter(
            pk=value, consult_records__in=model_admin.get_queryset(request)
        ).first()
        return [(value, str(customer))] if customer else []

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(customer_id=value)
        return queryset


class ConsultRecordForm(forms.ModelForm):
    """The consultant is not a field: it is always the logged-in user (set by the service)."""

    next_date = forms.DateField(label=_("next follow-up"), required=False, widget=AdminDateWidget)
    # Set by ConsultRecordAdmin.get_form: the logged-in user.
    user = None

    class Meta:
        model = ConsultRecord
        fields = ["customer", "date", "status", "note"]

    def clean(self):
        cleaned_data = super().clean()
        if self.instance.pk is not None:
            try:
                consult_records_check_owner(customer=self.instance.customer, user=self.user)
            except ValidationError as error:
                self.add_error(None, error.messages)
        return cleaned_data


@admin.register(ConsultRecord)
class ConsultRecordAdmin(PerPageAdminMixin, CrmModelAdmin):
    form = ConsultRecordForm
    list_display = ["customer", "status", "short_note", "consultant", "date"]
    list_filter = [CustomerFilter, "status", ("date", DateRangeFilter)]
    search_fields = ["customer__name", "customer__qq", "note"]
    list_select_related = ["customer", "consultant"]
    fields = ["customer", "date", "status", "note", "next_date"]
    actions = ["soft_delete"]

    def scope_queryset(self, request, queryset):
        queryset = queryset.visible_to(request.user)
        # Deleted follow-ups are hidden; only those who may remove rows for real still see them.
        if not request.user.has_perm("crm.delete_consultrecord"):
            queryset = queryset.alive()
        return queryset

    def get_list_filter(self, request):
        if request.user.has_perm("crm.delete_consultrecord"):
            return [*self.list_filter, "delete_status"]
        return self.list_filter

    def get_readonly_fields(self, request, obj=None):
        # A follow-up never moves to another customer.
        return ["customer"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "customer":
            # Only the user's own customers: a forged id of another customer is an invalid choice.
            kwargs["queryset"] = Customer.objects.owned_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user
        return form

    def get_changeform_initial_data(self, request):
        # "增加" on the list of one customer's follow-ups starts a follow-up of that customer.
        initial = super().get_changeform_initial_data(request)
        customer = QueryDict(request.GET.get("_changelist_filters", "")).get("customer", "")
        if "customer" not in initial and customer.isdigit():
            initial["customer"] = customer
        return initial

    def save_model(self, request, obj, form, change):
        consult_records_save(record=obj, user=request.user, next_date=form.cleaned_data.get("next_date"))

    @admin.display(description=_("follow-up content"))
    def short_note(self, obj):
        return Truncator(obj.note).chars(40)

    @admin.action(permissions=["change"], description=_("Delete the selected follow-ups"))
    def soft_delete(self, request, queryset):
        count = consult_records_soft_delete(records=queryset)
        self.message_user(
            request, gettext("%(count)d follow-ups deleted.") % {"count": count}, messages.SUCCESS
        )
