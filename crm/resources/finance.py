"""Exports of enrollments and payments: Chinese headers, values people read, no internal ids."""

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.fields import Field

from crm.models import Campus, ClassList, Enrollment, PaymentRecord, UserProfile


def label(model, field_name: str):
    """A column header that says what the list and the form say: the field's verbose name."""
    return model._meta.get_field(field_name).verbose_name


class ReadableResource(resources.Resource):
    """Shared readable renderings, computed once per export rather than once per cell.

    Only the customer is joined: classes, campuses and staff are few, so their names are looked up
    once each by id and cached (joining them built 560k model instances for 100k payments).
    """

    #: prefix of the reference number that stands in for the internal id
    reference_prefix = ""
    #: columns the export reads (the customer's through its join)
    columns = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cache = {}
        self._yes_no = None

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related(None).select_related("customer").only(*self.columns)

    def _cached(self, kind: str, pk, load) -> str:
        if pk is None:
            return ""
        key = (kind, pk)
        if key not in self._cache:
            self._cache[key] = load(pk)
        return self._cache[key]

    def dehydrate_reference(self, obj) -> str:
        return f"{self.reference_prefix}{obj.pk:06d}"

    def class_name(self, class_id) -> str:
        return self._cached("class", class_id, lambda pk: str(_class(pk)))

    def class_campus_name(self, class_id) -> str:
        return self._cached("class campus", class_id, lambda pk: _class(pk).campus.name)

    def campus_name(self, campus_id) -> str:
        return self._cached("campus", campus_id, lambda pk: Campus.objects.get(pk=pk).name)

    def person(self, user_id) -> str:
        return self._cached("user", user_id, lambda pk: str(UserProfile.objects.get(pk=pk)))

    def yes_no(self, value: bool) -> str:
        if self._yes_no is None:
            self._yes_no = (gettext("No"), gettext("Yes"))
        return self._yes_no[bool(value)]

    @staticmethod
    def local_date(value) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d") if value else ""

    @staticmethod
    def local_datetime(value) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    @staticmethod
    def customer_name(customer) -> str:
        return customer.name or customer.qq_name


def _class(pk) -> ClassList:
    return ClassList.objects.select_related("campus").get(pk=pk)


def _labels(choices) -> dict[str, str]:
    return {code: str(label) for code, label in choices}


class EnrollmentResource(ReadableResource):
    reference_prefix = "BM"
    columns = (
        "customer__name",
        "customer__qq",
        "customer__qq_name",
        "enrolment_class",
        "school",
        "consultant",
        "enrolled_date",
        "contract_agreed",
        "contract_approved",
        "why_us",
        "your_expectation",
        "memo",
    )

    reference = Field(column_name=_("Reference number"))
    customer_name = Field(column_name=_("Customer name"))
    customer_qq = Field(column_name=_("QQ"))
    enrolment_class = Field(column_name=_("Class"))
    school = Field(column_name=_("Campus"))
    consultant = Field(column_name=label(Enrollment, "consultant"))
    enrolled_date = Field(column_name=label(Enrollment, "enrolled_date"))
    contract_agreed = Field(column_name=label(Enrollment, "contract_agreed"))
    contract_approved = Field(column_name=label(Enrollment, "contract_approved"))
    why_us = Field(attribute="why_us", column_name=label(Enrollment, "why_us"))
    your_expectation = Field(attribute="your_expectation", column_name=label(Enrollment, "your_expectation"))
    memo = Field(attribute="memo", column_name=label(Enrollment, "memo"))

    class Meta:
        model = Enrollment
        export_order = (
            "reference",
            "customer_name",
            "customer_qq",
            "enrolment_class",
            "school",
            "consultant",
            "enrolled_date",
            "contract_agreed",
            "contract_approved",
            "why_us",
            "your_expectation",
            "memo",
        )

    @classmethod
    def get_display_name(cls):
        return gettext("Enrollments")

    def dehydrate_customer_name(self, obj):
        return self.customer_name(obj.customer)

    def dehydrate_customer_qq(self, obj):
        return obj.customer.qq

    def dehydrate_enrolment_class(self, obj):
        return self.class_name(obj.enrolment_class_id)

    def dehydrate_school(self, obj):
        return self.campus_name(obj.school_id)

    def dehydrate_consultant(self, obj):
        return self.person(obj.consultant_id)

    def dehydrate_enrolled_date(self, obj):
        return self.local_date(obj.enrolled_date)

    def dehydrate_contract_agreed(self, obj):
        return self.yes_no(obj.contract_agreed)

    def dehydrate_contract_approved(self, obj):
        return self.yes_no(obj.contract_approved)


class PaymentRecordResource(ReadableResource):
    reference_prefix = "JF"
    columns = (
        "customer__name",
        "customer__qq",
        "customer__qq_name",
        "enrolment_class",
        "pay_type",
        "paid_fee",
        "status",
        "date",
        "consultant",
        "confirm_user",
        "confirm_date",
        "reject_reason",
        "note",
    )

    reference = Field(column_name=_("Reference number"))
    customer_name = Field(column_name=_("Customer name"))
    customer_qq = Field(column_name=_("QQ"))
    enrolment_class = Field(column_name=_("Class"))
    campus = Field(column_name=_("Campus"))
    pay_type = Field(column_name=label(PaymentRecord, "pay_type"))
    paid_fee = Field(column_name=label(PaymentRecord, "paid_fee"))
    net_amount = Field(column_name=_("Amount in totals"))
    status = Field(column_name=label(PaymentRecord, "status"))
    date = Field(column_name=label(PaymentRecord, "date"))
    consultant = Field(column_name=label(PaymentRecord, "consultant"))
    confirm_user = Field(column_name=label(PaymentRecord, "confirm_user"))
    confirm_date = Field(column_name=label(PaymentRecord, "confirm_date"))
    reject_reason = Field(attribute="reject_reason", column_name=label(PaymentRecord, "reject_reason"))
    note = Field(attribute="note", column_name=label(PaymentRecord, "note"))

    class Meta:
        model = PaymentRecord
        export_order = (
            "reference",
            "customer_name",
            "customer_qq",
            "enrolment_class",
            "campus",
            "pay_type",
            "paid_fee",
            "net_amount",
            "status",
            "date",
            "consultant",
            "confirm_user",
            "confirm_date",
            "reject_reason",
            "note",
        )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pay_types = None
        self._statuses = None

    @classmethod
    def get_display_name(cls):
        return gettext("Payment records")

    def dehydrate_customer_name(self, obj):
        return self.customer_name(obj.customer)

    def dehydrate_customer_qq(self, obj):
        return obj.customer.qq

    def dehydrate_enrolment_class(self, obj):
        return self.class_name(obj.enrolment_class_id)

    def dehydrate_campus(self, obj):
        return self.class_campus_name(obj.enrolment_class_id)

    def dehydrate_pay_type(self, obj):
        if self._pay_types is None:
            self._pay_types = _labels(PaymentRecord.PayType.choices)
        return self._pay_types.get(obj.pay_type, obj.pay_type)

    def dehydrate_paid_fee(self, obj):
        return obj.paid_fee

    def dehydrate_net_amount(self, obj):
        return obj.net_amount

    def dehydrate_status(self, obj):
        if self._statuses is None:
            self._statuses = _labels(PaymentRecord.Status.choices)
        return self._statuses.get(obj.status, obj.status)

    def dehydrate_date(self, obj):
        return self.local_datetime(obj.date)

    def dehydrate_consultant(self, obj):
        return self.person(obj.consultant_id)

    def dehydrate_confirm_user(self, obj):
        return self.person(obj.confirm_user_id)

    def dehydrate_confirm_date(self, obj):
        return self.local_datetime(obj.confirm_date)
