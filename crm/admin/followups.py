from django import forms
from django.contrib import admin
from django.http import QueryDict
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin.base import (
    CrmModelAdmin,
    DateRangeFilter,
    LockedCheckFormMixin,
    RecycleBinAdminMixin,
    RelatedSearchAdminMixin,
)
from crm.admin.paging import PerPageAdminMixin
from crm.admin.rows import cell_html, row_url
from crm.models import ConsultRecord, ConsultRecordTally, Customer
from crm.roles import VIEW_DELETED_CONSULTRECORD
from crm.services.followups import consult_records_check, consult_records_save, consult_records_tally_count


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


class ConsultRecordCheckMixin(LockedCheckFormMixin):
    """Every rule of a follow-up, checked under the customer's lock in the admin's save transaction
    (``consult_records_check``). The consultant is not a field: it is always the logged-in user."""

    # Set by the admin's get_form / get_formset: the logged-in user.
    user = None

    def clean(self):
        cleaned_data = super().clean()
        customer_id = self.instance.customer_id if self.instance.pk else None
        if customer_id is None:
            customer = cleaned_data.get("customer")
            customer_id = customer.pk if customer else self.instance.customer_id
        if customer_id is not None:
            self.run_locked_check(
                consult_records_check,
                customer_id=customer_id,
                user=self.user,
                date=cleaned_data.get("date"),
                stage=cleaned_data.get("status"),
                next_date=cleaned_data.get("next_date"),
            )
        return cleaned_data


class ConsultRecordForm(ConsultRecordCheckMixin, forms.ModelForm):
    class Meta:
        model = ConsultRecord
        fields = ["customer", "date", "status", "note", "next_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.initial.get("customer") and "note" in self.fields:
            # Opened from a customer's row: the customer is chosen, the note is what is left to write.
            self.fields["note"].widget.attrs["autofocus"] = True


class ConsultRecordInlineForm(ConsultRecordCheckMixin, forms.ModelForm):
    class Meta:
        model = ConsultRecord
        fields = ["date", "status", "note", "next_date"]


class ConsultRecordInline(admin.TabularInline):
    """Follow-ups on the 我的客户 change page: the user's own, added here; edited in their own list."""

    model = ConsultRecord
    form = ConsultRecordInlineForm
    fields = ["date", "status", "note", "next_date"]
    extra = 1
    can_delete = False
    ordering = ["-date"]

    def get_queryset(self, request):
        return super().get_queryset(request).alive().visible_to(request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.user = request.user
        return formset


def follow_up_add_link(customer: Customer) -> str:
    """ "写跟进" on a customer's row: the add-follow-up form with the customer chosen, cursor in the note."""
    url = row_url("admin:crm_consultrecord_add")
    return cell_html('<a href="{}?customer={}">{}</a>', url, customer.pk, gettext("Add a follow-up"))


# The list parameters a filtered follow-up list may count from the tally (ConsultRecordTally's columns).
TALLIED_FOLLOW_UP_FILTERS = dict.fromkeys(["status__exact", "delete_status__exact"])


@admin.register(ConsultRecord)
class ConsultRecordAdmin(RelatedSearchAdminMixin, RecycleBinAdminMixin, PerPageAdminMixin, CrmModelAdmin):
    form = ConsultRecordForm
    list_display = ["customer", "status", "short_note", "consultant", "date", "next_date"]
    list_filter = [CustomerFilter, "status", ("date", DateRangeFilter)]
    search_fields = ["customer__name", "customer__qq", "note"]
    list_select_related = ["customer", "consultant"]
    fields = ["customer", "date", "status", "note", "next_date"]
    actions = ["move_to_recycle_bin"]

    def scope_queryset(self, request, queryset):
        queryset = queryset.visible_to(request.user)
        if not request.user.has_perm(VIEW_DELETED_CONSULTRECORD):
            queryset = queryset.alive()
        return queryset

    def get_exact_count(self, request, changelist):
        # Filtered by stage (and the recycle bin's flag) only: the sum of the tally's groups in the
        # same scope, with the same filters (consult_records_tally_count).
        groups = self.tally_groups(
            request, changelist, ConsultRecordTally.objects.all(), TALLIED_FOLLOW_UP_FILTERS
        )
        return None if groups is None else consult_records_tally_count(groups=groups)

    def get_list_filter(self, request):
        if request.user.has_perm(VIEW_DELETED_CONSULTRECORD):
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
        # ?customer=<pk> (the customer's row) is Django's own initial data; "增加" on the list of one
        # customer's follow-ups starts a follow-up of that customer too.
        initial = super().get_changeform_initial_data(request)
        customer = QueryDict(request.GET.get("_changelist_filters", "")).get("customer", "")
        if "customer" not in initial and customer.isdigit():
            initial["customer"] = customer
        return initial

    def save_model(self, request, obj, form, change):
        consult_records_save(record=obj, user=request.user)

    @admin.display(description=_("follow-up content"))
    def short_note(self, obj):
        return Truncator(obj.note).chars(40)
