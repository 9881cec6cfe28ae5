"""Read vocabulary of the models: who sees which rows. Never writes."""

from django.contrib.auth.models import UserManager
from django.db import models


class CustomerQuerySet(models.QuerySet):
    def public(self):
        return self.filter(consultant__isnull=True)

    def owned_by(self, user):
        return self.filter(consultant=user)

    def visible_to(self, user):
        if user.has_perm("crm.view_all_customers"):
            return self
        return self.owned_by(user)

    def students(self):
        return self.filter(status="studying")

    # --- recycle ---
    def with_recycle_from(self):
        """Annotate ``recycle_from``: the local date from which the owner's silence counts, i.e. the
        latest of the claim (the latest transfer to the current owner), the last follow-up and the
        creation. NULL when the customer can never be recycled: in the pool, signed up or beyond, or
        enrolled in a class."""
        from django.db.models.functions import Coalesce, Greatest, TruncDate

        from crm.models import CustomerTransfer, Enrollment

        claimed = (
            CustomerTransfer.objects.filter(
                customer=models.OuterRef("pk"), to_consultant=models.OuterRef("consultant")
            )
            .order_by("-date")
            .annotate(day=TruncDate("date"))
            .values("day")[:1]
        )
        created = TruncDate("date")
        # Greatest is NULL on SQLite as soon as one argument is: each falls back to the creation date.
        since = Greatest(
            created,
            Coalesce("last_consult_date", created),
            Coalesce(models.Subquery(claimed, output_field=models.DateField()), created),
        )
        enrolled = Enrollment.objects.alive().filter(customer=models.OuterRef("pk"))
        recyclable = models.Q(consultant__isnull=False, status="unregistered") & ~models.Exists(enrolled)
        return self.annotate(
            recycle_from=models.Case(models.When(recyclable, then=since), output_field=models.DateField())
        )

    def due_for_recycling(self, *, cutoff):
        """Private customers whose owner has been silent since ``cutoff`` (a local date) or longer."""
        return self.with_recycle_from().filter(recycle_from__lte=cutoff)


class ConsultRecordQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(delete_status=False)

    def visible_to(self, user):
        if user.has_perm("crm.view_all_customers"):
            return self
        return self.filter(consultant=user)


class CustomerTransferQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The history of the user's own customers and every change the user took part in."""
        if user.has_perm("crm.view_all_customers"):
            return self
        return self.filter(
            models.Q(customer__consultant=user)
            | models.Q(from_consultant=user)
            | models.Q(to_consultant=user)
            | models.Q(by=user)
        )


class EnrollmentQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(delete_status=False)

    def visible_to(self, user):
        # Exporting enrollments is the school-wide view (finance, boss); others see their own
        # enrollments and those of the classes they teach.
        if user.has_perm("crm.view_all_customers") or user.has_perm("crm.export_enrollment"):
            return self
        return self.filter(
            models.Q(consultant=user) | models.Q(enrolment_class__in=user.classes.values("pk"))
        )


class PaymentRecordQuerySet(models.QuerySet):
    # Money going out of the school; subtracted from totals whatever the sign it was typed with.
    OUTGOING_TYPES = ("refund", "dropout")

    def alive(self):
        return self.filter(delete_status=False)

    def visible_to(self, user):
        if (
            user.has_perm("crm.view_all_customers")
            or user.has_perm("crm.confirm_paymentrecord")
            or user.has_perm("crm.export_paymentrecord")
        ):
            return self
        return self.filter(consultant=user)

    def confirmed(self):
        return self.filter(status="confirmed")

    def unconfirmed(self):
        return self.filter(status="unconfirmed")

    @classmethod
    def net_amount(cls):
        """The amount as it counts in totals: refunds and drop-outs negative, whatever their sign."""
        from django.db.models.functions import Abs

        return models.Case(
            models.When(pay_type__in=cls.OUTGOING_TYPES, then=-Abs("paid_fee")),
            default=models.F("paid_fee"),
            output_field=models.IntegerField(),
        )

    @classmethod
    def total_expressions(cls) -> dict[str, models.Aggregate]:
        """The totals as aggregates, for ``aggregate()`` over rows or ``annotate()`` per group."""
        net = cls.net_amount()
        confirmed = models.Q(status="confirmed")
        # Money out is a refund or drop-out of any sign, or a negative amount of any type.
        outgoing = models.Q(pay_type__in=cls.OUTGOING_TYPES) | models.Q(paid_fee__lt=0)
        return {
            "count": models.Count("pk"),
            "confirmed_net": models.Sum(net, filter=confirmed, default=0),
            "confirmed_income": models.Sum(net, filter=confirmed & ~outgoing, default=0),
            "confirmed_refunds": models.Sum(net, filter=confirmed & outgoing, default=0),
            "unconfirmed_net": models.Sum(net, filter=models.Q(status="unconfirmed"), default=0),
        }

    def totals(self) -> dict[str, int]:
        """Totals of these rows in one query: confirmed net, its income and refunds, and pending."""
        return self.aggregate(**self.total_expressions())


# --- teaching ---
# Who sees classes, course records and study records. A class's staff are its ``teachers`` (its
# lecturers, its class teacher and its TAs). The boss sees everything. Sales enroll customers
# into any class and finance takes payments for any class, so whoever handles enrollments or
# payments sees every class too (their role gives them only the view permission on classes).
SEES_EVERY_RECORD = "crm.view_all_customers"
SEES_EVERY_CLASS = (SEES_EVERY_RECORD, "crm.add_enrollment", "crm.view_paymentrecord")


class ClassListQuerySet(models.QuerySet):
    def taught_by(self, user):
        return self.filter(teachers=user)

    def managed_by(self, user):
        """The classes whose students, course records and study records the user works with."""
        if user.has_perm(SEES_EVERY_RECORD):
            return self
        return self.taught_by(user)

    def visible_to(self, user):
        if any(user.has_perm(perm) for perm in SEES_EVERY_CLASS):
            return self
        return self.taught_by(user)


class CourseRecordQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user.has_perm(SEES_EVERY_RECORD):
            return self
        return self.filter(re_class__teachers=user)


class StudyRecordQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user.has_perm(SEES_EVERY_RECORD):
            return self
        return self.filter(course_record__re_class__teachers=user)


# --- users ---
class UserQuerySet(models.QuerySet):
    def holding(self, perm: str):
        """Active users granted ``perm`` (``"app_label.codename"``) through a role or directly; a
        superuser only if granted it too, so that "who may own customers" lists real salespeople."""
        from django.contrib.auth.backends import ModelBackend

        granted = ModelBackend().with_perm(perm, is_active=True, include_superusers=False)
        return self.filter(pk__in=granted.values("pk"))

    def sales_staff(self):
        """Who may hold private customers: the only users offered as 销售 anywhere."""
        from crm.roles import OWN_CUSTOMERS

        return self.holding(OWN_CUSTOMERS)

    def teaching_staff(self):
        """Who may be a class's or a lesson's teacher."""
        from crm.roles import TEACH_CLASS

        return self.holding(TEACH_CLASS)


class CrmUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


# --- jobs ---
class JobQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A background job is seen by who started it and by whoever sees every job (the boss)."""
        from crm.roles import VIEW_ALL_JOBS

        if user.has_perm(VIEW_ALL_JOBS):
            return self
        return self.filter(user=user)

    def unfinished(self):
        from crm.models.jobs import Job

        return self.filter(state__in=Job.UNFINISHED)
