from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.functional import SimpleLazyObject, cached_property
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from crm import formats
from crm.admin.base import CrmModelAdmin, DateRangeFilter, ReadOnlyAdminMixin, RelatedSearchAdminMixin, badge
from crm.admin.confirmation import action_confirmation, is_confirmed
from crm.admin.exporting import StreamingExportMixin
from crm.admin.filters import FollowUpFilter, follow_up_badge
from crm.admin.finance import PAYMENT_STATUS_COLOURS
from crm.admin.followups import ConsultRecordInline, follow_up_add_link
from crm.admin.imports import CustomerImportAdminMixin
from crm.admin.paging import PerPageAdminMixin
from crm.admin.recycling import RecycleWarningMixin
from crm.admin.rows import as_row_action, cell_html, cell_html_join, row_button, row_url
from crm.contacts import MASKS, canonical_phone, canonical_qq, canonical_wechat
from crm.models import (
    Campus,
    ClassList,
    ConsultRecord,
    Course,
    Customer,
    CustomerStatusChange,
    CustomerTally,
    CustomerTransfer,
    Enrollment,
    PaymentRecord,
    PrivateCustomer,
    PublicCustomer,
    UserProfile,
)
from crm.models.choices import choice_label, choice_labels
from crm.resources.customers import CustomerExportResource
from crm.roles import OWN_CUSTOMERS
from crm.services.customers import (
    CHOSEN_RELEASE_REASONS,
    DuplicateState,
    customer_create,
    customer_update,
    customers_check_capacity,
    customers_claim,
    customers_correct_status,
    customers_duplicate_message,
    customers_duplicate_state,
    customers_lock,
    customers_quota,
    customers_reassign,
    customers_recycle_days_left,
    customers_release,
    customers_tally_count,
    customers_unlock,
)
from crm.services.followups import consult_records_save
from crm.services.merging import customers_merge

PERSON_FIELDS = ["qq", "qq_name", "name", "sex", "birthday", "phone", "wechat"]
# What a user who may not see a customer's contacts whole sees instead of each field (masked, read-only).
MASKED_FIELDS = {"qq": "qq_number", "phone": "phone_number", "wechat": "wechat_id"}
CONSULTATION_FIELDS = [
    "campus",
    "source",
    "introduce_from",
    "course",
    "class_type",
    "status",
    "customer_note",
    "network_consultant",
    "network_consult_note",
]
# The list parameters a filtered customer list may count from the tally (CustomerTally's columns).
TALLIED_FILTERS = dict.fromkeys(["status__exact", "source__exact", "consultant__id__exact"])
LINE_BREAK = mark_safe("<br>")  # a constant: nothing of the user's goes through it
STATUS_COLOURS = {
    Customer.Status.UNREGISTERED: "#8a8a8a",
    Customer.Status.SIGNED: "#2f6fb3",
    Customer.Status.STUDYING: "#2e8b57",
    Customer.Status.PAID_IN_FULL: "#b8860b",
}


def staff_users():
    """The online consultants offered: the school's active staff, a short list (never the students)."""
    return UserProfile.objects.filter(is_staff=True, is_active=True).order_by("username")


def referrers_visible_to(user):
    """The customers a user may see named as a referrer: those of their lists (own or all) and the pool."""
    return Customer.objects.visible_to(user) | Customer.objects.public()


def selected_ids(request, queryset) -> list[int]:
    """The ids the user ticked, including rows no longer in the list (taken meanwhile), so the
    service can say which ones were taken instead of silently dropping them."""
    if request.POST.get("select_across") == "1":
        return list(queryset.values_list("pk", flat=True))
    return [int(value) for value in request.POST.getlist(ACTION_CHECKBOX_NAME) if value.isdigit()]


class ReleaseForm(forms.Form):
    """Why the customers go back to the pool (the rules are ``customers_release``'s)."""

    reason = forms.ChoiceField(
        label=_("Why"),
        choices=[(reason.value, reason.label) for reason in CHOSEN_RELEASE_REASONS],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Note"), max_length=255, required=False)


class QuotaChangeListMixin:
    """ "私户 37/150 · 今日已领 3/30 · 锁定 2/10" above the pool and the private list, for the user."""

    change_list_template = "admin/crm/customer_quota_change_list.html"

    def changelist_view(self, request, extra_context=None):
        # Lazy: an action's POST redirects without showing it (bench/claims.py).
        quota = SimpleLazyObject(lambda: customers_quota(user=request.user))
        extra_context = {"quota": quota, **(extra_context or {})}
        return super().changelist_view(request, extra_context)


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


class SalesFilter(admin.RelatedFieldListFilter):
    """销售 on 全部客户: the customers of one salesperson (``consultant__id__exact``, the parameter the
    dashboard's links use) or 未分配 (``consultant__isnull``: the pool). Only the sales staff are offered."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = gettext("salesperson")
        self.empty_value_display = gettext("Unassigned")

    def field_choices(self, field, request, model_admin):
        return [(user.pk, str(user)) for user in UserProfile.objects.sales_staff().order_by("username")]


class ReassignForm(forms.Form):
    consultant = forms.ModelChoiceField(
        label=_("new salesperson"),
        queryset=UserProfile.objects.none(),
        error_messages={"required": _("Choose the salesperson who takes the customers.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only users who may own customers (crm.own_customers): a forged id of anyone else is refused.
        self.fields["consultant"].queryset = UserProfile.objects.sales_staff().order_by("username")


DUPLICATE_MESSAGES = {
    "qq": _("A customer with this QQ number already exists."),
    "phone": _("A customer with this phone number already exists."),
    "wechat": _("A customer with this WeChat id already exists."),
}


class CustomerForm(forms.ModelForm):
    """The one form of adding and editing a customer; QQ and phone are checked by the model's validators,
    and a duplicate is reported by the model's generic message, which never names the owner."""

    # Set by CustomerAdminBase.get_form: who will own a customer added with this form (None: the pool),
    # and who fills in the form.
    new_owner = None
    acting_user = None

    class Meta:
        model = Customer
        # Never the status nor the classes joined: only the enrollment and payment services and the
        # boss's correction write them.
        fields = [
            *PERSON_FIELDS,
            *(name for name in CONSULTATION_FIELDS if name != "status"),
            "next_date",
            "consultant",
            "user",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._accept_any_typed_length()
        field = self.fields.get("introduce_from")
        current = self.instance.introduce_from_id
        # A current referrer from the pool stays a valid choice; one the user may not see never gets
        # here (CustomerAdminBase shows it as another salesperson's customer, read-only).
        if field is not None and current and hasattr(field, "queryset"):
            field.queryset = field.queryset | Customer.objects.public().filter(pk=current)
        field = self.fields.get("consultant")
        if field is not None:
            # Only the sales staff are offered; a current owner who no longer is stays until reassigned.
            current = UserProfile.objects.filter(pk=self.instance.consultant_id)
            field.queryset = (UserProfile.objects.sales_staff() | current).order_by("username")

    # The contacts are stored in their canonical form, whatever way they were typed (crm.contacts): the
    # length the model allows is checked on that form, not on what was typed.
    def _accept_any_typed_length(self):
        from django.core.validators import MaxLengthValidator

        for name in ("qq", "phone"):
            field = self.fields.get(name)
            if field is not None and hasattr(field, "max_length"):
                field.max_length = 32
                field.widget.attrs["maxlength"] = "32"
                field.validators = [v for v in field.validators if not isinstance(v, MaxLengthValidator)]

    def clean_qq(self):
        return canonical_qq(self.cleaned_data.get("qq"))

    def clean_phone(self):
        return canonical_phone(self.cleaned_data.get("phone"))

    def clean_wechat(self):
        return canonical_wechat(self.cleaned_data.get("wechat"))

    def clean(self):
        cleaned_data = super().clean()
        # A duplicate is refused with what 查重 would say of it: its state, never its owner.
        for field, message in DUPLICATE_MESSAGES.items():
            value = cleaned_data.get(field)
            if not value or field not in self.fields or self.acting_user is None:
                continue
            state, days = customers_duplicate_state(
                user=self.acting_user, contact=value, exclude_pk=self.instance.pk
            )
            if state != DuplicateState.NONE:
                self.add_error(field, f"{message} {customers_duplicate_message(state, days)}")
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
    fields = ["date", "reason", "from_consultant", "to_consultant", "by", "release_reason", "release_note"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("ownership history")

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("customer", "from_consultant", "to_consultant", "by")
        )


class CustomerStatusChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CustomerStatusChange
    fields = ["date", "from_status", "to_status", "reason", "by"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("status corrections")

    def has_view_permission(self, request, obj=None):
        # Part of the customer's page, which is already scoped to the customers the user may see.
        return True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "by")


class NewFollowUpInline(ConsultRecordInline):
    """A follow-up added on 我的客户's page; those already written are the page's timeline."""

    verbose_name_plural = _("Add a follow-up")

    def get_queryset(self, request):
        return super().get_queryset(request).none()


class CorrectStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("new status"), choices=Customer.Status.choices)
    reason = forms.CharField(
        label=_("reason for the correction"),
        max_length=CustomerStatusChange._meta.get_field("reason").max_length,
        error_messages={"required": _("Give a reason for the correction.")},
    )


# Fields seldom edited after the first call: folded on the customer's page (fieldset "collapse").
RARE_FIELDS = ["qq_name", "sex", "birthday", "class_type", "network_consultant", "network_consult_note"]


class CustomerPage:
    """What a customer's change page shows before its form (admin/crm/customer/page.html): the header,
    the follow-ups the viewer may see, the enrollments and payments. Each part is one query, read when
    the template asks for it: the page's query count does not grow with the customer's history."""

    def __init__(self, model_admin, request, object_id):
        self.model_admin = model_admin
        self.request = request
        self.object_id = object_id

    @cached_property
    def customer(self):
        queryset = self.model_admin.get_queryset(self.request).prefetch_related(None)
        try:
            return queryset.with_recycle_from().select_related("consultant").filter(pk=self.object_id).first()
        except (ValueError, ValidationError):
            return None

    @property
    def user(self):
        return self.request.user

    def contact(self, field: str) -> str:
        return self.model_admin.shown_contact(self.customer, field)

    @property
    def phone(self):
        return self.contact("phone")

    @property
    def qq(self):
        return self.contact("qq")

    @property
    def wechat(self):
        return self.contact("wechat")

    @property
    def status(self):
        return self.model_admin.status_badge(self.customer)

    @property
    def owner(self):
        return self.customer.consultant or gettext("public pool")

    @property
    def last_follow_up(self):
        return formats.format_date(self.customer.last_consult_date) or "-"

    @property
    def next_follow_up(self):
        return follow_up_badge(self.customer.next_date)

    # The 下次跟进 of the lists (the filter's title), shorter than the field's own label.
    next_follow_up_label = FollowUpFilter.title

    @property
    def recycle_days_left(self):
        days = customers_recycle_days_left(self.customer.recycle_from, self.customer.owned_from)
        if days is None:
            return None
        return max(days, 0)

    @property
    def add_follow_up(self):
        # The follow-up form offers only the user's own customers.
        if self.customer.consultant_id != self.user.pk:
            return ""
        return follow_up_add_link(self.customer)

    @cached_property
    def follow_ups(self):
        return list(
            ConsultRecord.objects.alive()
            .visible_to(self.user)
            .filter(customer_id=self.customer.pk)
            .select_related("consultant")
            .order_by("-date", "-pk")
        )

    @cached_property
    def enrollments(self):
        return list(
            Enrollment.objects.alive()
            .visible_to(self.user)
            .filter(customer_id=self.customer.pk)
            .select_related("enrolment_class__campus", "school")
            .order_by("-enrolled_date", "-pk")
        )

    @cached_property
    def payments(self):
        rows = list(
            PaymentRecord.objects.alive()
            .visible_to(self.user)
            .filter(customer_id=self.customer.pk)
            .select_related("enrolment_class__campus")
            .order_by("-date", "-pk")
        )
        for row in rows:
            row.amount = formats.yuan(row.paid_fee)
            row.status_badge = badge(choice_label(row, "status"), PAYMENT_STATUS_COLOURS[row.status])
        return rows


class CustomerAdminBase(PerPageAdminMixin, CrmModelAdmin):
    """What the three customer lists share: the columns, the search, the filters and the form."""

    form = CustomerForm
    list_display = [
        "name",
        "qq_number",
        "phone_number",
        "sex",
        "source",
        "status_badge",
        "courses",
        "classes_joined",
        "last_follow_up",
        "follow_ups_link",
        "created",
    ]
    list_display_links = ["name", "qq_number"]
    list_filter = [
        "source",
        "status",
        CourseFilter,
        ("date", DateRangeFilter),
        ("last_consult_date", DateRangeFilter),
    ]
    search_fields = ["name", "qq", "qq_name", "phone", "wechat"]
    search_help_text = _(
        "Search by name, QQ, QQ nickname, phone or WeChat id (at least four digits of a number)."
    )
    list_select_related = ["consultant"]
    # The status and the classes joined are written only by their services (enrollment approval,
    # payment confirmation, the boss's correction): shown, never posted.
    readonly_fields = ["status", "class_list", "date", "last_consult_date", "hidden_referrer"]
    raw_id_fields = ["user"]
    ownership_fields: tuple[str, ...] = ()
    inlines = [CustomerTransferInline, CustomerStatusChangeInline]
    # The pool lists customers that are not the user's: their contacts are masked, and searched by four
    # digits or more.
    lists_others_customers = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .with_contacts_visible_to(request.user)
            .prefetch_related(
                Prefetch("class_list", queryset=ClassList.objects.select_related("campus").order_by("pk"))
            )
        )

    def get_page_queryset(self, request, queryset):
        follow_ups = (
            ConsultRecord.objects.alive()
            .visible_to(request.user)
            .filter(customer=OuterRef("pk"))
            .order_by()
            .values("customer")
            .annotate(count=Count("pk"))
            .values("count")
        )
        # A correlated subquery on the page's rows only (NearestPageAdminMixin.get_page_queryset).
        return (
            super()
            .get_page_queryset(request, queryset)
            .annotate(follow_up_count=Coalesce(Subquery(follow_ups, output_field=IntegerField()), Value(0)))
        )

    def get_exact_count(self, request, changelist):
        # Filtered on the tally's columns only (no search, no other filter): the sum of the tally's
        # groups in the same scope, with the same filters (customers_tally_count).
        groups = self.tally_groups(request, changelist, CustomerTally.objects.all(), TALLIED_FILTERS)
        return None if groups is None else customers_tally_count(groups=groups)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        page = CustomerPage(self, request, unquote(object_id))
        return super().change_view(
            request, object_id, form_url, {"customer_page": page, **(extra_context or {})}
        )

    def get_fieldsets(self, request, obj=None):
        person = PERSON_FIELDS
        if obj is not None and not obj.contacts_visible:
            person = [MASKED_FIELDS.get(name, name) for name in PERSON_FIELDS]
        consultation = list(CONSULTATION_FIELDS)
        if self.referrer_is_hidden(request, obj):
            # Not a form field: the referrer is kept as it is on save, and never named.
            consultation[consultation.index("introduce_from")] = "hidden_referrer"
        rare = [name for name in [*person, *consultation] if name in RARE_FIELDS]
        fieldsets = [
            (None, {"fields": [name for name in person if name not in RARE_FIELDS]}),
            (_("Consultation"), {"fields": [name for name in consultation if name not in RARE_FIELDS]}),
            (_("Follow-up"), {"fields": ["next_date", "last_consult_date", "date"]}),
            (_("More details"), {"fields": rare, "classes": ["collapse"]}),
            (_("Classes"), {"fields": ["class_list"], "classes": ["collapse"]}),
        ]
        if self.ownership_fields:
            fieldsets.append((_("Ownership"), {"fields": list(self.ownership_fields)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and not obj.contacts_visible:
            return [*readonly, *MASKED_FIELDS.values()]
        return readonly

    def get_search_results(self, request, queryset, search_term):
        # A contact is found by a complete number or a fragment of four digits or more: shorter
        # fragments would let someone read a masked number digit by digit. Typed punctuation and
        # a +86 prefix are ignored, as when the numbers were stored.
        digits = canonical_phone(search_term) or ""
        if digits.isdigit():
            masked = self.lists_others_customers and not request.user.has_perm("crm.view_all_customers")
            if masked and len(digits) < 4:
                return queryset.none(), False
            search_term = digits
        return super().get_search_results(request, queryset, search_term)

    def referrer_is_hidden(self, request, obj) -> bool:
        """Whether ``obj``'s referrer is someone else's private customer, which the user may not see."""
        if obj is None or obj.introduce_from_id is None:
            return False
        # Asked by several hooks of one page: answered once per request and customer.
        answers = request.__dict__.setdefault("crm_hidden_referrers", {})
        if obj.pk not in answers:
            visible = referrers_visible_to(request.user).filter(pk=obj.introduce_from_id).exists()
            answers[obj.pk] = not visible
        return answers[obj.pk]

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
        if db_field.name == "consultant":
            kwargs["queryset"] = UserProfile.objects.sales_staff().order_by("username")
        elif db_field.name == "network_consultant":
            kwargs["queryset"] = staff_users()
        elif db_field.name not in self.get_autocomplete_fields(request) and db_field.name == "introduce_from":
            kwargs["queryset"] = Customer.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.new_owner = self.new_customer_owner(request)
        form.acting_user = request.user
        return form

    def new_customer_owner(self, request):
        """Who owns a customer added from this list; None keeps it in the public pool."""
        return None

    def save_model(self, request, obj, form, change):
        # The form's clean has checked the cap under the owner's lock, still held (customers_check_capacity).
        if change:
            customer_update(customer=obj, by=request.user, fields=form.changed_data)
        else:
            if "consultant" not in form.fields:
                obj.consultant = self.new_customer_owner(request)
            customer_create(customer=obj, by=request.user)

    def change_owners(self, request, queryset, service, success_message, ids=None) -> None:
        """Run a claim or release service on the ticked customers (or ``ids``) and report the outcome."""
        try:
            ids = selected_ids(request, queryset) if ids is None else ids
            changed = service(user=request.user, customer_ids=ids)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        self.message_user(request, success_message % {"count": len(changed)}, messages.SUCCESS)

    def shown_contact(self, obj, field: str) -> str:
        value = getattr(obj, field)
        if getattr(obj, "contacts_visible", False):
            return value or "-"
        return MASKS[field](value) or "-"

    @admin.display(description=_("QQ"), ordering="qq")
    def qq_number(self, obj):
        return self.shown_contact(obj, "qq")

    @admin.display(description=_("phone"), ordering="phone")
    def phone_number(self, obj):
        return self.shown_contact(obj, "phone")

    @admin.display(description=_("WeChat id"))
    def wechat_id(self, obj):
        return self.shown_contact(obj, "wechat")

    @admin.display(description=_("referred by"))
    def hidden_referrer(self, obj):
        return gettext("Another salesperson's customer")

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return badge(choice_label(obj, "status"), STATUS_COLOURS.get(obj.status, "#8a8a8a"))

    @admin.display(description=_("courses of interest"))
    def courses(self, obj):
        course_labels = choice_labels(Course)
        labels = [(course_labels[code],) for code in obj.course if code in course_labels]
        return cell_html_join(LINE_BREAK, '<span class="crm-nowrap">{}</span>', labels) or "-"

    @admin.display(description=_("classes joined"))
    def classes_joined(self, obj):
        names = [(str(class_list),) for class_list in obj.class_list.all()]
        return cell_html_join(LINE_BREAK, "{}", names) or "-"

    @admin.display(description=_("last follow-up"), ordering="last_consult_date")
    def last_follow_up(self, obj):
        if obj.last_consult_date is None:
            return "-"
        days = (timezone.localdate() - obj.last_consult_date).days
        return cell_html("{}<br><small>{}</small>", obj.last_consult_date.isoformat(), days_ago(days))

    @admin.display(description=_("created"), ordering="date")
    def created(self, obj):
        return timezone.localdate(obj.date).isoformat()

    @admin.display(description=_("follow-up records"))
    def follow_ups_link(self, obj):
        url = row_url("admin:crm_consultrecord_changelist")
        label = gettext("Follow-ups (%(count)d)") % {"count": obj.follow_up_count}
        return cell_html('<a href="{}?customer={}">{}</a>', url, obj.pk, label)


def days_ago(days: int) -> str:
    if days <= 0:
        return gettext("today")
    if days == 1:
        return gettext("yesterday")
    return gettext("%(days)d days ago") % {"days": days}


class MergeCustomersForm(forms.Form):
    """Which of the selected customers is kept, and (when they had different owners) who owns it."""

    survivor = forms.ChoiceField(label=_("Keep"), widget=forms.RadioSelect)
    consultant = forms.ModelChoiceField(
        label=_("sales consultant"),
        queryset=UserProfile.objects.none(),
        required=False,
        help_text=_(
            "Needed when the customers belong to different salespeople; empty: the owner they share."
        ),
    )

    def __init__(self, *args, customers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["survivor"].choices = [
            (customer.pk, f"{customer} · {customer.consultant or gettext('public pool')}")
            for customer in customers
        ]
        self.fields["consultant"].queryset = UserProfile.objects.sales_staff().order_by("username")


class DuplicateCheckForm(forms.Form):
    contact = forms.CharField(
        label=_("QQ, phone or WeChat id"), max_length=64, widget=forms.TextInput(attrs={"autofocus": True})
    )


@admin.register(Customer)
class CustomerAdmin(CustomerImportAdminMixin, StreamingExportMixin, CustomerAdminBase):
    """全部客户: every customer, for users with crm.view_all_customers; exported (crm.export_customer)
    exactly as filtered, through the streaming writer of the other exports."""

    # Both buttons, 导入 and 导出, above the list.
    import_export_change_list_template = "admin/import_export/change_list_import_export.html"

    def get_urls(self):
        check = path(
            "duplicate-check/",
            self.admin_site.admin_view(self.duplicate_check_view),
            name="crm_customer_duplicate_check",
        )
        return [check, *super().get_urls()]

    def duplicate_check_view(self, request):
        """查重: whether a contact is known and in which state, for whoever enters customers."""
        if not (request.user.has_perm(OWN_CUSTOMERS) or request.user.has_perm("crm.view_all_customers")):
            raise PermissionDenied
        form = DuplicateCheckForm(request.GET if "contact" in request.GET else None)
        answer = None
        if form.is_valid():
            state, days = customers_duplicate_state(user=request.user, contact=form.cleaned_data["contact"])
            answer = {"state": state, "message": customers_duplicate_message(state, days)}
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Duplicate check"),
            "opts": self.opts,
            "form": form,
            "answer": answer,
        }
        return TemplateResponse(request, "admin/crm/customer/duplicate_check.html", context)

    list_display = [*CustomerAdminBase.list_display[:6], "consultant", *CustomerAdminBase.list_display[6:]]
    # The boss's links from the home page (a salesperson's overdue customers) use the same filter.
    list_filter = [FollowUpFilter, ("consultant", SalesFilter), *CustomerAdminBase.list_filter]
    ownership_fields = ("consultant", "user")
    actions = ["reassign_customers", "correct_status", "merge_customers"]

    def get_export_resource_classes(self, request):
        # The import keeps its own resource (CustomerResource): the export has the list's columns.
        return [CustomerExportResource]

    def scope_queryset(self, request, queryset):
        return queryset.visible_to(request.user)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("crm.view_all_customers") and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("crm.view_all_customers") and super().has_change_permission(request, obj)

    def has_correct_status_permission(self, request):
        return request.user.has_perm("crm.correct_customer_status")

    def has_reassign_permission(self, request):
        # Handing customers out is the boss's: whoever sees every customer and may change them.
        return request.user.has_perm("crm.view_all_customers") and request.user.has_perm(
            "crm.change_customer"
        )

    @admin.action(permissions=["reassign"], description=_("Reassign the selected customers to a salesperson"))
    def reassign_customers(self, request, queryset):
        form = ReassignForm(request.POST if is_confirmed(request) else None)
        if form.is_valid():
            to = form.cleaned_data["consultant"]
            try:
                moved = customers_reassign(
                    by=request.user, customer_ids=queryset.values_list("pk", flat=True), to=to
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                message = gettext("%(count)d customers reassigned to %(user)s.") % {
                    "count": len(moved),
                    "user": to,
                }
                self.message_user(request, message, messages.SUCCESS if moved else messages.INFO)
                return None
        return action_confirmation(
            self,
            request,
            queryset.select_related("consultant").order_by("pk"),
            action="reassign_customers",
            title=gettext("Reassign customers"),
            question=gettext(
                "These customers go to the salesperson you choose, all of them or none (within their cap); "
                "each move is recorded in the ownership history:"
            ),
            submit_label=gettext("Reassign"),
            form=form,
        )

    @admin.action(permissions=["correct_status"], description=_("Correct the status of the selected"))
    def correct_status(self, request, queryset):
        form = CorrectStatusForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_valid():
            try:
                changes = customers_correct_status(
                    customer_ids=queryset.values_list("pk", flat=True),
                    status=form.cleaned_data["status"],
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    gettext("Statuses corrected: %(count)d.") % {"count": len(changes)},
                    messages.SUCCESS if changes else messages.INFO,
                )
                return None
        return action_confirmation(
            self,
            request,
            queryset.order_by("pk"),
            action="correct_status",
            title=gettext("Correct the status"),
            question=gettext("The status of these customers will be corrected, and the correction recorded:"),
            submit_label=gettext("Correct the status"),
            form=form,
        )

    @admin.action(permissions=["delete"], description=_("Merge the selected duplicates"))
    def merge_customers(self, request, queryset):
        customers = list(queryset.select_related("consultant").order_by("pk"))
        form = MergeCustomersForm(request.POST if is_confirmed(request) else None, customers=customers)
        if form.is_valid():
            owner = form.cleaned_data["consultant"]
            try:
                survivor = customers_merge(
                    by=request.user,
                    survivor_id=int(form.cleaned_data["survivor"]),
                    customer_ids=[customer.pk for customer in customers],
                    owner_id=owner.pk if owner else None,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                message = gettext("%(count)d customers merged into %(survivor)s.") % {
                    "count": len(customers) - 1,
                    "survivor": survivor,
                }
                self.message_user(request, message, messages.SUCCESS)
                return None
        return action_confirmation(
            self,
            request,
            queryset.order_by("pk"),
            action="merge_customers",
            title=gettext("Merge duplicate customers"),
            question=gettext(
                "These customers become one: the customer you keep gets the follow-ups, enrollments, "
                "payments, study records, classes and history of the others, which are removed."
            ),
            submit_label=gettext("Merge"),
            form=form,
        )


@admin.register(PublicCustomer)
class PublicCustomerAdmin(QuotaChangeListMixin, CustomerAdminBase):
    """公户: customers without a consultant; a salesperson claims them from here."""

    actions = ["claim_customers"]
    actions_on_ticked_rows = ("claim_customers",)
    lists_others_customers = True

    def get_urls(self):
        claim = path(
            "<path:object_id>/claim/",
            self.admin_site.admin_view(require_POST(self.claim_row_view)),
            name="crm_publiccustomer_claim",
        )
        return [claim, *super().get_urls()]

    def claim_row_view(self, request, object_id):
        """领取 on a row: the bulk claim of that one customer (a pool customer the user may see)."""
        if not self.has_claim_permission(request):
            raise PermissionDenied
        customer = self.get_object(request, unquote(object_id))
        self.change_owners(
            request,
            None,
            customers_claim,
            _("%(count)d customers claimed; they are now in My customers."),
            ids=[customer.pk],
        )
        return redirect("admin:crm_publiccustomer_changelist")

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return [*columns, "claim_button"] if self.has_claim_permission(request) else columns

    def scope_queryset(self, request, queryset):
        return queryset.pool_of(request.user)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        # What the previous salesperson learnt, for the next one.
        return [(_("Back in the pool"), {"fields": ["last_release"]}), *fieldsets]

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "last_release"] if obj is not None else readonly

    @admin.display(description=_("why released"))
    def last_release(self, obj):
        transfer = obj.transfers.filter(to_consultant__isnull=True).order_by("-date", "-id").first()
        if transfer is None:
            return "-"
        why = transfer.get_release_reason_display() or transfer.get_reason_display()
        when = timezone.localdate(transfer.date).isoformat()
        if transfer.release_note:
            return cell_html("{} · {}<br>{}", when, why, transfer.release_note)
        return cell_html("{} · {}", when, why)

    def has_claim_permission(self, request):
        return request.user.has_perm("crm.claim_customer")

    @admin.display(description=_("Claim"))
    def claim_button(self, obj):
        return row_button(row_url("admin:crm_publiccustomer_claim", obj.pk), gettext("Claim"))

    @admin.action(permissions=["claim"], description=_("Claim the selected customers"))
    def claim_customers(self, request, queryset):
        self.change_owners(
            request,
            queryset,
            customers_claim,
            _("%(count)d customers claimed; they are now in My customers."),
        )


@admin.register(PrivateCustomer)
class PrivateCustomerAdmin(QuotaChangeListMixin, RecycleWarningMixin, CustomerAdminBase):
    """我的客户: the logged-in salesperson's own customers, with their follow-ups inline."""

    list_display = [
        column
        for name in CustomerAdminBase.list_display
        for column in ((name, "next_follow_up") if name == "last_follow_up" else (name,))
    ]
    list_filter = [FollowUpFilter, *CustomerAdminBase.list_filter]
    # The calls due first: overdue, then today, then later ones; customers without a date last.
    ordering = [F("next_date").asc(nulls_last=True), "-date"]
    actions = ["release_customers", "lock_customers", "unlock_customers"]

    def scope_queryset(self, request, queryset):
        return queryset.owned_by(request.user)

    def get_urls(self):
        release = path(
            "<path:object_id>/release/",
            self.admin_site.admin_view(require_POST(self.release_row_view)),
            name="crm_privatecustomer_release",
        )
        return [release, *super().get_urls()]

    def release_row_view(self, request, object_id):
        """释放 on a row: the bulk release of that one customer, through the same page asking why
        (which posts back here with post=yes)."""
        if not self.has_release_permission(request):
            raise PermissionDenied
        customer = self.get_object(request, unquote(object_id))
        as_row_action(request, customer.pk, "release_customers")
        response = self.release_customers(request, self.get_queryset(request).filter(pk=customer.pk))
        return response or redirect("admin:crm_privatecustomer_changelist")

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return [*columns, "release_button"] if self.has_release_permission(request) else columns

    @admin.display(description=_("Release"))
    def release_button(self, obj):
        url = row_url("admin:crm_privatecustomer_release", obj.pk)
        return row_button(url, gettext("Release"), danger=True)

    def get_inlines(self, request, obj):
        return [NewFollowUpInline, CustomerTransferInline, CustomerStatusChangeInline]

    def new_customer_owner(self, request):
        return request.user

    def has_release_permission(self, request):
        return request.user.has_perm("crm.release_customer")

    def has_lock_permission(self, request):
        return request.user.has_perm("crm.lock_customer")

    def save_formset(self, request, form, formset, change):
        if formset.model is not ConsultRecord:
            return super().save_formset(request, form, formset, change)
        for record in formset.save(commit=False):
            consult_records_save(record=record, user=request.user)

    @admin.display(description=_("follow-up records"))
    def follow_ups_link(self, obj):
        return cell_html("{}<br>{}", super().follow_ups_link(obj), follow_up_add_link(obj))

    @admin.display(description=FollowUpFilter.title, ordering=F("next_date").asc(nulls_last=True))
    def next_follow_up(self, obj):
        return follow_up_badge(obj.next_date)

    @admin.action(permissions=["release"], description=_("Release the selected customers to the public pool"))
    def release_customers(self, request, queryset):
        form = ReleaseForm(request.POST if is_confirmed(request) else None)
        if form.is_valid():
            try:
                released = customers_release(
                    user=request.user,
                    customer_ids=selected_ids(request, queryset),
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                message = gettext("%(count)d customers released to the public pool.") % {
                    "count": len(released)
                }
                self.message_user(request, message, messages.SUCCESS)
                return None
        return action_confirmation(
            self,
            request,
            queryset,
            action="release_customers",
            title=gettext("Release customers to the public pool"),
            question=gettext(
                "These customers go back to the public pool, where any salesperson may claim them:"
            ),
            submit_label=gettext("Release"),
            form=form,
        )

    @admin.action(permissions=["lock"], description=_("Lock the selected customers against recycling"))
    def lock_customers(self, request, queryset):
        self.change_owners(request, queryset, customers_lock, _("%(count)d customers locked."))

    @admin.action(permissions=["lock"], description=_("Unlock the selected customers"))
    def unlock_customers(self, request, queryset):
        self.change_owners(request, queryset, customers_unlock, _("%(count)d customers unlocked."))

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        shown = super().status_badge(obj)
        if obj.locked:
            return cell_html('{} <span class="crm-lock" title="{}">🔒</span>', shown, gettext("Locked"))
        return shown


@admin.register(CustomerTransfer)
class CustomerTransferAdmin(RelatedSearchAdminMixin, ReadOnlyAdminMixin, CrmModelAdmin):
    list_display = ["customer", "from_consultant", "to_consultant", "by", "reason", "release_reason", "date"]
    list_filter = ["reason", "release_reason", ("date", DateRangeFilter)]
    search_fields = ["customer__name", "customer__qq"]
    list_select_related = ["customer", "from_consultant", "to_consultant", "by"]

    def scope_queryset(self, request, queryset):
        return queryset.visible_to(request.user)
