from django.contrib import admin

from crm.admin.base import CrmModelAdmin
from crm.models import Enrollment, PaymentRecord


@admin.register(Enrollment)
class EnrollmentAdmin(CrmModelAdmin):
    list_display = [
        "customer",
        "enrolment_class",
        "school",
        "consultant",
        "contract_agreed",
        "contract_approved",
        "enrolled_date",
    ]
    list_filter = ["contract_agreed", "contract_approved", "school"]
    search_fields = ["customer__name", "customer__qq"]
    list_select_related = ["customer", "enrolment_class__campus", "school", "consultant"]
    raw_id_fields = ["customer"]


@admin.register(PaymentRecord)
class PaymentRecordAdmin(CrmModelAdmin):
    list_display = ["customer", "enrolment_class", "pay_type", "paid_fee", "status", "consultant", "date"]
    list_filter = ["pay_type", "status"]
    search_fields = ["customer__name", "customer__qq"]
    list_select_related = ["customer", "enrolment_class__campus", "consultant"]
    raw_id_fields = ["customer", "confirm_user"]
