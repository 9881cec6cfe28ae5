from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from crm import formats
from crm.admin.base import (
    CrmModelAdmin,
    DateRangeFilter,
    LockedCheckFormMixin,
    RecycleBinAdminMixin,
    RelatedSearchAdminMixin,
    badge,
)
from crm.admin.confirmation import action_confirmation
from crm.admin.exporting import StreamingExportMixin
from crm.admin.filters import SelectListFilterMixin
from crm.admin.rows import as_row_action, cell_html, row_button, row_url
from crm.models import ClassList, Customer, Enrollment, PaymentRecord, PaymentTally
from crm.models.choices import choice_label
from crm.querysets import PaymentRecordQuerySet
from crm.resources.finance import EnrollmentResource, PaymentRecordResource
from crm.roles import APPROVE_ENROLLMENT
from crm.services import finance as services


class OwnCustomerFormMixin(LockedCheckFormMixin):
    """Customer choices are the logged-in user's own customers; ``user`` is set by the admin.

    The service's check locks the rows and runs in the admin's save transaction (LockedCheckFormMixin):
    a change committed since the form was read is a form error, never a 500 or a 403."""

    user = None

    def run_check(self, check, **kwargs):
        self.run_locked_check(check, user=self.user, **kwargs)


class EnrollmentForm(OwnCustomerFormMixin, forms.ModelForm):
    # Set by EnrollmentAdmin.get_form: whether the user may still edit an approved contract.
    may_edit_approved = True

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
        saved = self.instance if self.instance.pk else None
        # Read-only once approved: the check then runs on the enrollment's own class.
        klass = cleaned.get("enrolment_class") or (saved.enrolment_class if saved else None)
        customer = cleaned.get("customer") or (saved.customer if saved else None)
        if klass and customer:
            self.run_check(
                services.enrollment_check,
                customer=customer,
                enrolment_class=klass,
                enrollment=self.instance if self.instance.pk else None,
                may_edit_approved=self.may_edit_approved,
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


class VisibleClassFilter(SelectListFilterMixin, admin.RelatedFieldListFilter):
    """The class filter offers the classes the user sees, not every class of the school."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.empty_value_display = gettext("No class")

    def field_choices(self, field, request, model_admin):
        # A class is named with its campus: read with it, not one query per class offered.
        ordering = self.field_admin_ordering(field, request, model_admin) or ClassList._meta.ordering
        return ClassList.objects.visible_to(request.user).order_by(*ordering).named()


class PaymentTotalFilter(admin.SimpleListFilter):
    """``?total=income|refunds|pending|confirmed``: exactly the rows of that total, with the same Q
    (PaymentRecordQuerySet), so that a dashboard figure and the list behind its link agree."""

    title = _("counted in")
    parameter_name = "total"

    def lookups(self, request, model_admin):
        return [
            ("confirmed", _("Confirmed total")),
            ("income", _("Confirmed income")),
            ("refunds", _("Confirmed refunds")),
            ("pending", _("Awaiting confirmation")),
        ]

    def queryset(self, request, queryset):
        if self.value() in PaymentRecordQuerySet.TOTALS:
            return queryset.filter(queryset.total_q(self.value()))
        # An unknown value selects nothing rather than silently showing every row.
        return queryset.none() if self.value() else queryset


# The list parameters whose payments the tally's groups select (PaymentTally's columns, and the totals').
def _payments_of_total(groups, name):
    # An unknown total selects nothing (PaymentTotalFilter): counted as such, from the payments.
    return groups.filter(groups.total_q(name)) if name in PaymentRecordQuerySet.TOTALS else None


TALLIED_PAYMENT_FILTERS = {
    **dict.fromkeys(["status__exact", "pay_type__exact"]),
    PaymentTotalFilter.parameter_name: _payments_of_total,
}

# The badge colours of a payment's status: waiting, settled, refused.
PAYMENT_STATUS_COLOURS = {
    PaymentRecord.Status.UNCONFIRMED: "#d98b00",
    PaymentRecord.Status.CONFIRMED: "#2e8b57",
    PaymentRecord.Status.REJECTED: "#c0392b",
}


def describe_payment(payment: PaymentRecord) -> str:
    """A payment's line on a confirmation page: who, which class, what, how much."""
    return " · ".join(
        [
            str(payment.customer),
            str(payment.enrolment_class or "-"),
            payment.get_pay_type_display(),
            formats.yuan(payment.paid_fee),
        ]
    )


class RejectPaymentsForm(forms.Form):
    reason = forms.CharField(label=_("Reason for the rejection"), max_length=255)


class OwnCustomerAdminMixin:
    def get_export_resource_kwargs(self, request, **kwargs):
        # The export masks the contacts of the customers the user may not see whole (crm.contacts).
        return {**super().get_export_resource_kwargs(request, **kwargs), "user": request.user}

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


@admin.register(Enrollment)
class EnrollmentAdmin(
    RelatedSearchAdminMixin, RecycleBinAdminMixin, OwnCustomerAdminMixin, StreamingExportMixin, CrmModelAdmin
):
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
    actions = ["approve_contracts", "move_to_recycle_bin"]
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
        # An approved contract is settled: only those who approve contracts may still edit it. A POST
        # of a form read before the approval is not refused here with a 403: the form's locked check
        # gives the form back saying so.
        settled = obj is not None and obj.contract_approved and not self.has_approve_permission(request)
        if settled and request.method != "POST":
            return False
        return super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.may_edit_approved = self.has_approve_permission(request)
        return form

    def save_model(self, request, obj, form, change):
        # The form's clean has checked the rules under the rows' locks, which are still held.
        if not change:
            services.enrollments_create(enrollment=obj, user=request.user)
            return
        services.enrollments_update(
            enrollment=obj,
            fields=form.changed_data,
            may_edit_approved=self.has_approve_permission(request),
        )

    def has_approve_permission(self, request):
        # Approving puts the customer into a class (class teachers, the boss): a capability of its own.
        return request.user.has_perm(APPROVE_ENROLLMENT)

    @admin.display(
        description=Enrollment._meta.get_field("enrolled_date").verbose_name, ordering="enrolled_date"
    )
    def enrolled_on(self, obj):
        return formats.format_date(obj.enrolled_date)

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
class PaymentRecordAdmin(
    RelatedSearchAdminMixin, RecycleBinAdminMixin, OwnCustomerAdminMixin, StreamingExportMixin, CrmModelAdmin
):
    list_display = [
        "customer",
        "enrolment_class",
        "pay_type",
        "amount",
        "status_badge",
        "consultant",
        "paid_on",
        "decided_by",
    ]
    list_filter = [
        "status",
        "pay_type",
        PaymentTotalFilter,
        ("enrolment_class", VisibleClassFilter),
        ("date", DateRangeFilter),
    ]
    search_fields = ["customer__name", "customer__qq", "customer__qq_name"]
    list_select_related = ["customer", "enrolment_class__campus", "consultant", "confirm_user"]
    form = PaymentRecordForm
    resource_classes = [PaymentRecordResource]
    actions = ["confirm_payments", "reject_payments", "move_to_recycle_bin"]
    change_list_template = "admin/crm/paymentrecord/change_list.html"

    def scope_queryset(self, request, queryset):
        return queryset.alive().visible_to(request.user)

    def tallied_totals(self, request, changelist) -> dict[str, int] | None:
        """The list's totals from the tally (PaymentTally), when its filters are all on the tally's
        columns and nothing is searched; None: they are summed over the payments. Read once per list:
        the list's count is their ``count``."""
        if "tallied_totals" not in changelist.__dict__:
            changelist.tallied_totals = self._tallied_totals(request, changelist)
        return changelist.tallied_totals

    def _tallied_totals(self, request, changelist):
        groups = self.tally_groups(request, changelist, PaymentTally.objects.all(), TALLIED_PAYMENT_FILTERS)
        return None if groups is None else services.payments_tally_totals(groups=groups)

    def get_exact_count(self, request, changelist):
        totals = self.tallied_totals(request, changelist)
        return None if totals is None else totals["count"]

    def get_fields(self, request, obj=None):
        fields = ["customer", "enrolment_class", "pay_type", "paid_fee", "date", "note"]
        if obj is not None:
            fields += ["consultant", "status_badge"]
            # 确认人 only for a confirmed payment, 驳回人 and the reason only for a rejected one.
            if obj.status == PaymentRecord.Status.CONFIRMED:
                fields += ["confirm_user", "confirm_date"]
            elif obj.status == PaymentRecord.Status.REJECTED:
                fields += ["rejected_by", "rejected_on", "reject_reason"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "customer",
            "consultant",
            "status_badge",
            "confirm_user",
            "confirm_date",
            "rejected_by",
            "rejected_on",
            "reject_reason",
        ]

    def has_change_permission(self, request, obj=None):
        # Confirmed (or rejected) money is settled: nobody edits it any more, sales least of all. A
        # POST of a form read before the confirmation is not refused here with a 403: the form's
        # locked check gives the form back saying so.
        if obj is not None and obj.status != PaymentRecord.Status.UNCONFIRMED and request.method != "POST":
            return False
        return super().has_change_permission(request, obj)

    def has_confirm_permission(self, request):
        return request.user.has_perm("crm.confirm_paymentrecord")

    def get_urls(self):
        rows = [
            path(
                "<path:object_id>/confirm/",
                self.admin_site.admin_view(require_POST(self.confirm_row_view)),
                name="crm_paymentrecord_confirm",
            ),
            path(
                "<path:object_id>/reject/",
                self.admin_site.admin_view(require_POST(self.reject_row_view)),
                name="crm_paymentrecord_reject",
            ),
        ]
        return [*rows, *super().get_urls()]

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return [*columns, "decision_buttons"] if self.has_confirm_permission(request) else columns

    def row_payment(self, request, object_id):
        """The payment of a row button, among those the user sees (404 otherwise)."""
        if not self.has_confirm_permission(request):
            raise PermissionDenied
        return self.get_object(request, unquote(object_id))

    def confirm_row_view(self, request, object_id):
        """确认收款 on a row: the bulk confirmation of that one payment."""
        payment = self.row_payment(request, object_id)
        self.confirm_payments(request, self.get_queryset(request).filter(pk=payment.pk))
        return redirect("admin:crm_paymentrecord_changelist")

    def reject_row_view(self, request, object_id):
        """驳回 on a row: the bulk rejection of that one payment, through the page asking the reason."""
        payment = self.row_payment(request, object_id)
        as_row_action(request, payment.pk, "reject_payments")
        response = self.reject_payments(request, self.get_queryset(request).filter(pk=payment.pk))
        return response or redirect("admin:crm_paymentrecord_changelist")

    def save_model(self, request, obj, form, change):
        # The form's clean has checked the rules under the rows' locks, which are still held.
        if not change:
            services.payments_create(payment=obj, user=request.user)
            return
        services.payments_update(payment=obj, fields=form.changed_data)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            # One aggregate over the changelist's filtered rows (or their tally), whatever page is shown.
            changelist = context["cl"]
            totals = self.tallied_totals(request, changelist)
            context["payment_totals"] = changelist.queryset.totals() if totals is None else totals
        return response

    @admin.display(description=PaymentRecord._meta.get_field("paid_fee").verbose_name, ordering="paid_fee")
    def amount(self, obj):
        return formats.yuan(obj.paid_fee)

    @admin.display(description=PaymentRecord._meta.get_field("status").verbose_name, ordering="status")
    def status_badge(self, obj):
        return badge(choice_label(obj, "status"), PAYMENT_STATUS_COLOURS[obj.status])

    @admin.display(description=PaymentRecord._meta.get_field("date").verbose_name, ordering="date")
    def paid_on(self, obj):
        return formats.format_datetime(obj.date)

    @admin.display(description=_("Decided by"))
    def decided_by(self, obj):
        # Who confirmed a confirmed payment, who rejected a rejected one; nobody yet for the others.
        if obj.status == PaymentRecord.Status.CONFIRMED and obj.confirm_user:
            return str(obj.confirm_user)
        if obj.status == PaymentRecord.Status.REJECTED and obj.confirm_user:
            return cell_html("{} <small>({})</small>", obj.confirm_user, gettext("rejected"))
        return None  # the admin's empty value, as in the columns beside it

    @admin.display(description=_("Decision"))
    def decision_buttons(self, obj):
        if obj.status != PaymentRecord.Status.UNCONFIRMED:
            return ""
        confirm = row_button(
            row_url("admin:crm_paymentrecord_confirm", obj.pk), pgettext("payment decision", "Confirm")
        )
        reject = row_button(row_url("admin:crm_paymentrecord_reject", obj.pk), gettext("Reject"), danger=True)
        return cell_html('<span class="crm-nowrap">{} {}</span>', confirm, reject)

    @admin.display(description=_("rejected by"))
    def rejected_by(self, obj):
        return obj.confirm_user

    @admin.display(description=_("rejected on"))
    def rejected_on(self, obj):
        return formats.format_datetime(obj.confirm_date) or None

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
        pending = queryset.unconfirmed().select_related("customer", "enrolment_class__campus").order_by("pk")
        count = pending.count()
        if not count:
            self.message_user(
                request, gettext("None of the selected payments is awaiting confirmation."), messages.INFO
            )
            return None
        # Ask for the reason on the confirmation page, which posts the same action and selection back.
        return action_confirmation(
            self,
            request,
            pending,
            action="reject_payments",
            title=gettext("Reject payments"),
            question=gettext("Unconfirmed payments that will be rejected: %(count)s.") % {"count": count},
            submit_label=gettext("Reject"),
            form=form,
            describe=describe_payment,
        )
