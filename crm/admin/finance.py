from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin.base import CrmModelAdmin, DateRangeFilter, SaveErrorsAdminMixin
from crm.admin.exporting import StreamingExportMixin
from crm.models import ClassList, Customer, Enrollment, PaymentRecord
from crm.resources.finance import EnrollmentResource, PaymentRecordResource
from crm.services import finance as services


class OwnCustomerFormMixin:
    """Customer choices are the logged-in user's own customers; ``user`` is set by the admin."""

    user = None

    def run_check(self, check, **kwargs):
        try:
            check(user=self.user, **kwargs)
        except ValidationError as error:
            self.add_error(None, error)


class EnrollmentForm(OwnCustomerFormMixin, forms.ModelForm):
    class Meta:
        model = Enrollment
        fields = ["customer", *services.ENROLLMENT_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "school" in self.fields:
            self.fields["school"].required = False
            self.fields["school"].help_text = _("Leave empty for the campus of the class.")

    def clean(self):
        cleaned = super().clean()
        klass = cleaned.get("enrolment_class")
        customer = cleaned.get("customer") or (self.instance.customer if self.instance.pk else None)
        if klass and customer:
            self.run_check(
                services.enrollment_check,
                customer=customer,
                enrolment_class=klass,
                enrollment=self.instance if self.instance.pk else None,
            )
        if klass and "school" in self.fields and not cleaned.get("school"):
            cleaned["school"] = klass.campus
        return cleaned


class PaymentRecordForm(OwnCustomerFormMixin, forms.ModelForm):
    class Meta:
        model = PaymentRecord
        fields = ["customer", *services.EDITABLE_PAYMENT_FIELDS]

    def clean(self):
        cleaned = super().clean()
        customer = cleaned.get("customer") or (self.instance.customer if self.instance.pk else None)
        if customer and "paid_fee" in cleaned:
            self.run_check(
                services.payment_check,
                customer=customer,
                enrolment_class=cleaned.get("enrolment_class"),
                payment=self.instance if self.instance.pk else None,
            )
        return cleaned


class VisibleClassFilter(admin.RelatedFieldListFilter):
    """The class filter offers the classes the user sees, not every class of the school."""

    def field_choices(self, field, request, model_admin):
        visible = ClassList.objects.visible_to(request.user).values("pk")
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to={"pk__in": visible})


class RejectPaymentsForm(forms.Form):
    reason = forms.CharField(label=_("Reason for the rejection"), max_length=255)


class OwnCustomerAdminMixin:
    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "customer":
            # A forged POST of another salesperson's customer is "not one of the available choices".
            kwargs["queryset"] = Customer.objects.owned_by(request.user)
        elif db_field.name == "enrolment_class":
            kwargs["queryset"] = ClassList.objects.select_related("campus")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.consultant = request.user
        super().save_model(request, obj, form, change)


@admin.register(Enrollment)
class EnrollmentAdmin(SaveErrorsAdminMixin, OwnCustomerAdminMixin, StreamingExportMixin, CrmModelAdmin):
    list_display = [
        "customer",
        "enrolment_class",
        "school",
        "consultant",
        "contract_agreed",
        "contract_approved",
        "enrolled_on",
    ]
    list_filter = [
        "contract_approved",
        "contract_agreed",
        "school",
        ("enrolment_class", VisibleClassFilter),
        ("enrolled_date", DateRangeFilter),
    ]
    search_fields = ["customer__name", "customer__qq", "customer__qq_name"]
    list_select_related = ["customer", "enrolment_class__campus", "school", "consultant"]
    form = EnrollmentForm
    resource_classes = [EnrollmentResource]
    actions = ["approve_contracts"]
    change_list_template = "admin/crm/enrollment/change_list.html"

    def scope_queryset(self, request, queryset):
        return queryset.alive().visible_to(request.user)

    def get_fields(self, request, obj=None):
        fields = [
            "customer",
            "consultant",
            "enrolment_class",
            "school",
            "why_us",
            "your_expectation",
            "contract_agreed",
            "contract_approved",
            "enrolled_date",
            "memo",
        ]
        if obj is None:
            fields = [name for name in fields if name not in ("consultant", "contract_approved")]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["customer", "consultant", "contract_approved"]
        if obj.contract_approved:
            readonly += ["enrolment_class", "school"]
        return readonly

    def has_change_permission(self, request, obj=None):
        # An approved contract is settled: only those who approve contracts may still edit it.
        if obj is not None and obj.contract_approved and not self.has_approve_permission(request):
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            # A ValidationError (the same enrollment added meanwhile) shows the form again.
            services.enrollments_create(enrollment=obj, user=request.user)
            return
        try:
            services.enrollments_update(
                enrollment=obj,
                fields=form.changed_data,
                may_edit_approved=self.has_approve_permission(request),
            )
        except ValidationError as error:
            if getattr(error, "code", None) != "approved":
                raise  # the class taken meanwhile: the form is shown again with the error
            raise PermissionDenied(" ".join(error.messages)) from error

    def has_approve_permission(self, request):
        # Approving puts the customer into a class: it takes the right to change enrollments and classes
        # (class teachers, the boss), which sales do not have.
        user = request.user
        return user.has_perm("crm.change_enrollment") and user.has_perm("crm.change_classlist")

    @admin.display(
        description=Enrollment._meta.get_field("enrolled_date").verbose_name, ordering="enrolled_date"
    )
    def enrolled_on(self, obj):
        return date_format(timezone.localtime(obj.enrolled_date), "Y-m-d")

    @admin.action(permissions=["approve"], description=_("Approve the contracts of the selected enrollments"))
    def approve_contracts(self, request, queryset):
        result = services.enrollments_approve(enrollments=queryset, user=request.user)
        level = messages.SUCCESS if result["approved"] else messages.INFO
        self.message_user(
            request, gettext("Contracts approved: %(count)d.") % {"count": result["approved"]}, level
        )
        if result["skipped"]:
            self.message_user(
                request,
                gettext("Skipped, contract not agreed: %(count)d.") % {"count": result["skipped"]},
                messages.WARNING,
            )


@admin.register(PaymentRecord)
class PaymentRecordAdmin(OwnCustomerAdminMixin, StreamingExportMixin, CrmModelAdmin):
    list_display = [
        "customer",
        "enrolment_class",
        "pay_type",
        "paid_fee",
        "status",
        "consultant",
        "paid_on",
        "confirm_user",
    ]
    list_filter = ["status", "pay_type", ("enrolment_class", VisibleClassFilter), ("date", DateRangeFilter)]
    search_fields = ["customer__name", "customer__qq", "customer__qq_name"]
    list_select_related = ["customer", "enrolment_class__campus", "consultant", "confirm_user"]
    form = PaymentRecordForm
    resource_classes = [PaymentRecordResource]
    actions = ["confirm_payments", "reject_payments"]
    change_list_template = "admin/crm/paymentrecord/change_list.html"

    def scope_queryset(self, request, queryset):
        return queryset.alive().visible_to(request.user)

    def get_fields(self, request, obj=None):
        fields = ["customer", "enrolment_class", "pay_type", "paid_fee", "date", "note"]
        if obj is not None:
            fields += ["consultant", "status", "confirm_user", "confirm_date", "reject_reason"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["customer", "consultant", "status", "confirm_user", "confirm_date", "reject_reason"]

    def has_change_permission(self, request, obj=None):
        # Confirmed (or rejected) money is settled: nobody edits it any more, sales least of all.
        if obj is not None and obj.status != PaymentRecord.Status.UNCONFIRMED:
            return False
        return super().has_change_permission(request, obj)

    def has_confirm_permission(self, request):
        return request.user.has_perm("crm.confirm_paymentrecord")

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        try:
            services.payments_update(payment=obj, fields=form.changed_data)
        except ValidationError as error:
            raise PermissionDenied(" ".join(error.messages)) from error

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            # One aggregate over the changelist's filtered rows, whatever page is shown.
            context["payment_totals"] = context["cl"].queryset.totals()
        return response

    @admin.display(description=PaymentRecord._meta.get_field("date").verbose_name, ordering="date")
    def paid_on(self, obj):
        return date_format(timezone.localtime(obj.date), "Y-m-d H:i")

    @admin.action(permissions=["confirm"], description=_("Confirm the selected payments"))
    def confirm_payments(self, request, queryset):
        count = services.payments_confirm(payments=queryset, user=request.user)
        self.message_user(
            request,
            gettext("Payments confirmed: %(count)d.") % {"count": count},
            messages.SUCCESS if count else messages.INFO,
        )

    @admin.action(permissions=["confirm"], description=_("Reject the selected payments"))
    def reject_payments(self, request, queryset):
        form = RejectPaymentsForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            count = services.payments_reject(
                payments=queryset, user=request.user, reason=form.cleaned_data["reason"]
            )
            self.message_user(
                request,
                gettext("Payments rejected: %(count)d.") % {"count": count},
                messages.SUCCESS if count else messages.INFO,
            )
            return None
        # Ask for the reason on an intermediate page that posts the same action and selection back.
        pending = queryset.unconfirmed().select_related("customer", "enrolment_class__campus")
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Reject payments"),
            "opts": self.opts,
            "form": form,
            "payments": pending[:50],
            "count": pending.count(),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/crm/paymentrecord/reject_payments.html", context)
