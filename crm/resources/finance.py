"""Exports of enrollments and payments: Chinese headers, values people read, no internal ids."""

from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.fields import Field

from crm.contacts import mask_qq
from crm.formats import local_date, local_datetime
from crm.models import Campus, ClassList, Enrollment, PaymentRecord, UserProfile
from crm.querysets import CustomerQuerySet
from crm.resources.streaming import ChoiceLabels, NamesById


def label(model, field_name: str):
    """A column header that says what the list and the form say: the field's verbose name."""
    return model._meta.get_field(field_name).verbose_name


class CustomerRowResource(resources.Resource):
    """Columns shared by the rows of a customer in a class, rendered for people to read.

    Only the customer is joined: classes, campuses and staff are few, so their names are read once per
    export, each table in one query (joining them built 560k model instances for 100k payments). Labels
    are translated once per export, not once per cell.
    """

    #: prefix of the reference number that stands in for the internal id
    reference_prefix = ""
    #: columns the export reads (the customer's through its join)
    columns = ("customer__name", "customer__qq", "customer__qq_name", "enrolment_class", "consultant")

    reference = Field(column_name=_("Reference number"))
    customer_name = Field(column_name=_("Customer name"))
    customer_qq = Field(column_name=_("QQ"))
    enrolment_class = Field(column_name=_("Class"))
    consultant = Field(column_name=_("consultant"))

    def __init__(self, *, user=None, **kwargs):
        super().__init__(**kwargs)
        # Whose export it is: finance sees the money, not the contacts of customers that are not theirs.
        self.user = user
        self._cache = {}
        self.choice_label = ChoiceLabels(self._meta.model)
        classes = ClassList.objects.select_related("campus")
        self.class_name = NamesById(classes)
        self.class_campus_name = NamesById(classes, name=lambda klass: klass.campus.name)
        self.campus_name = NamesById(Campus.objects.all())
        # Consultants and confirmers are staff; the students' accounts are not read.
        self.person = NamesById(UserProfile.objects.only("username", "name"), bulk=Q(is_staff=True))

    @classmethod
    def get_display_name(cls):
        return str(cls._meta.model._meta.verbose_name_plural)

    def filter_export(self, queryset, **kwargs):
        return (
            queryset.select_related(None)
            .select_related("customer")
            .only(*self.columns)
            .annotate(
                contacts_visible=CustomerQuerySet.contacts_visible_expression(self.user, prefix="customer__")
            )
        )

    def _cached(self, kind, key, load):
        if key is None:
            return ""
        if (kind, key) not in self._cache:
            self._cache[kind, key] = load(key)
        return self._cache[kind, key]

    def yes_no(self, value: bool) -> str:
        return self._cached("yes/no", bool(value), lambda yes: gettext("Yes") if yes else gettext("No"))

    # Real dates, in local time without a zone: the writers store them as dates a spreadsheet can
    # sort and filter (crm.formats).
    local_date = staticmethod(local_date)
    local_datetime = staticmethod(local_datetime)

    def dehydrate_reference(self, obj) -> str:
        return f"{self.reference_prefix}{obj.pk:06d}"

    def dehydrate_customer_name(self, obj):
        return obj.customer.name or obj.customer.qq_name

    def dehydrate_customer_qq(self, obj):
        return obj.customer.qq if obj.contacts_visible else mask_qq(obj.customer.qq)

    def dehydrate_enrolment_class(self, obj):
        return self.class_name(obj.enrolment_class_id)

    def dehydrate_consultant(self, obj):
        return self.person(obj.consultant_id)


class EnrollmentResource(CustomerRowResource):
    reference_prefix = "BM"
    columns = CustomerRowResource.columns + (
        "school",
        "enrolled_date",
        "contract_agreed",
        "contract_approved",
        "why_us",
        "your_expectation",
        "memo",
    )

    school = Field(column_name=_("Campus"))
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

    def dehydrate_school(self, obj):
        return self.campus_name(obj.school_id)

    def dehydrate_enrolled_date(self, obj):
        return self.local_date(obj.enrolled_date)

    def dehydrate_contract_agreed(self, obj):
        return self.yes_no(obj.contract_agreed)

    def dehydrate_contract_approved(self, obj):
        return self.yes_no(obj.contract_approved)


class PaymentRecordResource(CustomerRowResource):
    reference_prefix = "JF"
    columns = CustomerRowResource.columns + (
        "pay_type",
        "paid_fee",
        "status",
        "date",
        "confirm_user",
        "confirm_date",
        "reject_reason",
        "note",
    )

    campus = Field(column_name=_("Campus"))
    pay_type = Field(column_name=label(PaymentRecord, "pay_type"))
    paid_fee = Field(column_name=label(PaymentRecord, "paid_fee"))
    net_amount = Field(column_name=_("Amount in totals"))
    status = Field(column_name=label(PaymentRecord, "status"))
    date = Field(column_name=label(PaymentRecord, "date"))
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

    def filter_export(self, queryset, **kwargs):
        return super().filter_export(queryset, **kwargs).with_net_amount()

    def dehydrate_campus(self, obj):
        return self.class_campus_name(obj.enrolment_class_id)

    def dehydrate_pay_type(self, obj):
        return self.choice_label("pay_type", obj.pay_type)

    def dehydrate_paid_fee(self, obj):
        return obj.paid_fee

    def dehydrate_net_amount(self, obj):
        return obj.net_amount

    def dehydrate_status(self, obj):
        return self.choice_label("status", obj.status)

    def dehydrate_date(self, obj):
        return self.local_datetime(obj.date)

    def dehydrate_confirm_user(self, obj):
        return self.person(obj.confirm_user_id)

    def dehydrate_confirm_date(self, obj):
        return self.local_datetime(obj.confirm_date)
