from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin.base import CrmModelAdmin, DateRangeFilter, ReadOnlyAdminMixin, SaveErrorsAdminMixin, badge
from crm.admin.imports import CustomerImportAdminMixin
from crm.admin.paging import PerPageAdminMixin
from crm.admin.recycling import RecycleWarningMixin
from crm.models import (
    Campus,
    ClassList,
    ConsultRecord,
    Course,
    Customer,
    CustomerTransfer,
    PrivateCustomer,
    PublicCustomer,
    UserProfile,
)
from crm.services.customers import (
    customer_create,
    customer_update,
    customers_check_capacity,
    customers_claim,
    customers_release,
)
from crm.services.followups import consult_records_save

PERSON_FIELDS = ["qq", "qq_name", "name", "sex", "birthday", "phone"]
CONSULTATION_FIELDS = [
    "source",
    "introduce_from",
    "course",
    "class_type",
    "status",
    "customer_note",
    "network_consultant",
    "network_consult_note",
]
LINE_BREAK = mark_safe("<br>")  # a constant: nothing of the user's goes through it
STATUS_COLOURS = {
    Customer.Status.UNREGISTERED: "#8a8a8a",
    Customer.Status.SIGNED: "#2f6fb3",
    Customer.Status.STUDYING: "#2e8b57",
    Customer.Status.PAID_IN_FULL: "#b8860b",
}


def staff_users():
    """User choices of the customer forms: the school's active staff, a short list (never the students)."""
    return UserProfile.objects.filter(is_staff=True, is_active=True).order_by("username")


def selected_ids(request, queryset) -> list[int]:
    """The ids the user ticked, including rows no longer in the list (taken meanwhile), so the
    service can say which ones were taken instead of silently dropping them."""
    if request.POST.get("select_across") == "1":
        return list(queryset.values_list("pk", flat=True))
    return [int(value) for value in request.POST.getlist(ACTION_CHECKBOX_NAME) if value.isdigit()]


@admin.register(Campus)
class CampusAdmin(CrmModelAdmin):
    list_display = ["name", "address"]
    search_fields = ["name", "address"]


class CourseFilter(admin.SimpleListFilter):
    """Courses are stored comma-separated ("Go,LinuxL"): match one code as a whole item."""

    title = _("courses of interest")
    parameter_name = "course"

    def lookups(self, request, model_admin):
        return Course.choices

    def queryset(self, request, queryset):
        code = self.value()
        if code not in Course.values:
            return queryset
        return queryset.filter(
            Q(course=code)
            | Q(course__startswith=f"{code},")
            | Q(course__endswith=f",{code}")
            | Q(course__contains=f",{code},")
        )


class CustomerForm(forms.ModelForm):
    """The one form of adding and editing a customer; QQ and phone are checked by the model's validators,
    and a duplicate is reported by the model's generic message, which never names the owner."""

    # Set by CustomerAdminBase.get_form: who will own a customer added with this form (None: the pool),
    # and who fills in the form.
    new_owner = None
    acting_user = None

    class Meta:
        model = Customer
        fields = [*PERSON_FIELDS, *CONSULTATION_FIELDS, "next_date", "class_list", "consultant", "user"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("introduce_from")
        current = self.instance.introduce_from_id
        # The current referrer stays a valid choice even when it is outside the user's own customers.
        if field is not None and current and hasattr(field, "queryset"):
            field.queryset = field.queryset | Customer.objects.filter(pk=current)

    def clean(self):
        cleaned_data = super().clean()
        owner = cleaned_data.get("consultant") if "consultant" in self.fields else self.new_owner
        # A new customer with an owner, or an existing one given to another consultant (the boss on
        # 全部客户), counts against that owner's cap.
        gains_owner = self.instance.pk is None or "consultant" in self.changed_data
        if gains_owner and owner is not None:
            try:
                customers_check_capacity(user=owner, adding=1, by=self.acting_user)
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned_data


class CustomerTransferInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CustomerTransfer
    fields = ["date", "reason", "from_consultant", "to_consultant", "by"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("ownership history")

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("customer", "from_consultant", "to_consultant", "by")
        )


class CustomerAdminBase(SaveErrorsAdminMixin, PerPageAdminMixin, CrmModelAdmin):
    """What the three customer lists share: the columns, the search, the filters and the form."""

    form = CustomerForm
    list_display = [
        "name",
        "qq",
        "phone",
        "sex",
        "source",
        "status_badge",
        "courses",
        "classes_joined",
        "last_follow_up",
        "follow_ups_link",
        "created",
    ]
    list_display_links = ["name", "qq"]
    list_filter = [
        "source",
        "status",
        CourseFilter,
        ("date", DateRangeFilter),
        ("last_consult_date", DateRangeFilter),
    ]
    search_fields = ["name", "qq", "qq_name", "phone"]
    search_help_text = _("Search by name, QQ, QQ nickname or phone.")
    list_select_related = ["consultant"]
    readonly_fields = ["date", "last_consult_date"]
    raw_id_fields = ["user"]
    ownership_fields: tuple[str, ...] = ()
    inlines = [CustomerTransferInline]

    def get_queryset(self, request):
        follow_ups = (
            ConsultRecord.objects.alive()
            .visible_to(request.user)
            .filter(customer=OuterRef("pk"))
            .order_by()
            .values("customer")
            .annotate(count=Count("pk"))
            .values("count")
        )
        # A correlated subquery, not a JOIN + GROUP BY: it runs for the rows of the page only, and the
        # admin's COUNT(*) of the list leaves it out.
        return (
            super()
            .get_queryset(request)
            .annotate(follow_up_count=Coalesce(Subquery(follow_ups, output_field=IntegerField()), Value(0)))
            .prefetch_related(
                Prefetch("class_list", queryset=ClassList.objects.select_related("campus").order_by("pk"))
            )
        )

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": PERSON_FIELDS}),
            (_("Consultation"), {"fields": CONSULTATION_FIELDS}),
            (_("Follow-up"), {"fields": ["next_date", "last_consult_date", "date"]}),
            (_("Classes"), {"fields": ["class_list"]}),
        ]
        if self.ownership_fields:
            fieldsets.append((_("Ownership"), {"fields": list(self.ownership_fields)}))
        return fieldsets

    def get_autocomplete_fields(self, request):
        # The referrer is searched among the customers the user may see; without access to the
        # all-customers list a short scoped list (their own customers) replaces the search.
        if request.user.has_perm("crm.view_customer"):
            return ["introduce_from"]
        return []

    def get_inline_instances(self, request, obj=None):
        # The histories belong to an existing customer; the add page has none.
        return super().get_inline_instances(request, obj) if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("consultant", "network_consultant"):
            kwargs["queryset"] = staff_users()
        elif db_field.name not in self.get_autocomplete_fields(request) and db_field.name == "introduce_from":
            kwargs["queryset"] = Customer.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "class_list":
            # A plain list box: the classes are few, and Django's two-box widget speaks English in 5.2.
            kwargs["queryset"] = ClassList.objects.select_related("campus")
            kwargs["widget"] = forms.SelectMultiple(attrs={"size": 8})
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.new_owner = self.new_customer_owner(request)
        form.acting_user = request.user
        return form

    def new_customer_owner(self, request):
        """Who owns a customer added from this list; None keeps it in the public pool."""
        return None

    def save_model(self, request, obj, form, change):
        # The services re-check the cap under a lock; their ValidationError shows the form again.
        if change:
            customer_update(customer=obj, by=request.user, fields=form.changed_data)
        else:
            if "consultant" not in form.fields:
                obj.consultant = self.new_customer_owner(request)
            customer_create(customer=obj, by=request.user)

    def change_owners(self, request, queryset, service, success_message) -> None:
        """Run a claim or release service on the ticked customers and report the outcome."""
        try:
            changed = service(user=request.user, customer_ids=selected_ids(request, queryset))
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        self.message_user(request, success_message % {"count": len(changed)}, messages.SUCCESS)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), STATUS_COLOURS.get(obj.status, "#8a8a8a"))

    @admin.display(description=_("courses of interest"))
    def courses(self, obj):
        labels = [(Course(code).label,) for code in obj.course if code in Course.values]
        return format_html_join(LINE_BREAK, '<span class="crm-nowrap">{}</span>', labels) or "-"

    @admin.display(description=_("classes joined"))
    def classes_joined(self, obj):
        names = [(str(class_list),) for class_list in obj.class_list.all()]
        return format_html_join(LINE_BREAK, "{}", names) or "-"

    @admin.display(description=_("last follow-up"), ordering="last_consult_date")
    def last_follow_up(self, obj):
        if obj.last_consult_date is None:
            return "-"
        days = (timezone.localdate() - obj.last_consult_date).days
        return format_html("{}<br><small>{}</small>", obj.last_consult_date.isoformat(), days_ago(days))

    @admin.display(description=_("created"), ordering="date")
    def created(self, obj):
        return timezone.localdate(obj.date).isoformat()

    @admin.display(description=_("follow-up records"))
    def follow_ups_link(self, obj):
        url = reverse("admin:crm_consultrecord_changelist")
        label = gettext("Follow-ups (%(count)d)") % {"count": obj.follow_up_count}
        return format_html('<a href="{}?customer={}">{}</a>', url, obj.pk, label)


def days_ago(days: int) -> str:
    if days <= 0:
        return gettext("today")
    if days == 1:
        return gettext("yesterday")
    return gettext("%(days)d days ago") % {"days": days}


@admin.register(Customer)
class CustomerAdmin(CustomerImportAdminMixin, CustomerAdminBase):
    """全部客户: every customer, for users with crm.view_all_customers."""

    list_display = [*CustomerAdminBase.list_display[:6], "consultant", *CustomerAdminBase.list_display[6:]]
    ownership_fields = ("consultant", "user")

    def scope_queryset(self, request, queryset):
        return queryset.visible_to(request.user)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("crm.view_all_customers") and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("crm.view_all_customers") and super().has_change_permission(request, obj)


@admin.register(PublicCustomer)
class PublicCustomerAdmin(CustomerAdminBase):
    """公户: customers without a consultant; a salesperson claims them from here."""

    actions = ["claim_customers"]

    def scope_queryset(self, request, queryset):
        return queryset.public()

    def has_claim_permission(self, request):
        return request.user.has_perm("crm.claim_customer")

    @admin.action(permissions=["claim"], description=_("Claim the selected customers"))
    def claim_customers(self, request, queryset):
        self.change_owners(
            request,
            queryset,
            customers_claim,
            _("%(count)d customers claimed; they are now in My customers."),
        )


@admin.register(PrivateCustomer)
class PrivateCustomerAdmin(RecycleWarningMixin, CustomerAdminBase):
    """我的客户: the logged-in salesperson's own customers, with their follow-ups inline."""

    actions = ["release_customers"]

    def scope_queryset(self, request, queryset):
        return queryset.owned_by(request.user)

    def get_inlines(self, request, obj):
        return [ConsultRecordInline, CustomerTransferInline]

    def new_customer_owner(self, request):
        return request.user

    def has_release_permission(self, request):
        return request.user.has_perm("crm.release_customer")

    def save_formset(self, request, form, formset, change):
        if formset.model is not ConsultRecord:
            return super().save_formset(request, form, formset, change)
        for record in formset.save(commit=False):
            consult_records_save(record=record, user=request.user)

    @admin.action(permissions=["release"], description=_("Release the selected customers to the public pool"))
    def release_customers(self, request, queryset):
        self.change_owners(
            request, queryset, customers_release, _("%(count)d customers released to the public pool.")
        )


class ConsultRecordInline(admin.TabularInline):
    """Follow-ups on the 我的客户 change page: the user's own, added here; edited in their own list."""

    model = ConsultRecord
    fields = ["date", "status", "note"]
    extra = 1
    can_delete = False
    ordering = ["-date"]

    def get_queryset(self, request):
        return super().get_queryset(request).alive().visible_to(request.user)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CustomerTransfer)
class CustomerTransferAdmin(ReadOnlyAdminMixin, CrmModelAdmin):
    list_display = ["customer", "from_consultant", "to_consultant", "by", "reason", "date"]
    list_filter = ["reason", ("date", DateRangeFilter)]
    search_fields = ["customer__name", "customer__qq"]
    list_select_related = ["customer", "from_consultant", "to_consultant", "by"]

    def scope_queryset(self, request, queryset):
        return queryset.visible_to(request.user)
