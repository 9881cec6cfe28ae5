"""Read vocabulary of the models: who sees which rows. Never writes."""

from collections import namedtuple

from django.contrib.auth.models import UserManager
from django.db import models

from crm.models.choices import PaymentStatus, PayType


class CustomerQuerySet(models.QuerySet):
    def public(self):
        return self.filter(consultant__isnull=True)

    def owned_by(self, user):
        return self.filter(consultant=user)

    def of_campus_of(self, user):
        """The customers of the user's campus or of none; every customer for a user without a campus
        or who sees all customers. A salesperson's pool is this part of the public pool."""
        if getattr(user, "campus_id", None) is None or user.has_perm("crm.view_all_customers"):
            return self
        return self.filter(models.Q(campus__isnull=True) | models.Q(campus_id=user.campus_id))

    def with_contacts_visible_to(self, user):
        """Annotate ``contacts_visible``: whether ``user`` sees the customer's QQ, phone and WeChat id
        whole — the owner and whoever sees all customers; everyone else sees them masked."""
        return self.annotate(contacts_visible=self.contacts_visible_expression(user))

    @staticmethod
    def contacts_visible_expression(user, prefix: str = ""):
        """The condition of ``with_contacts_visible_to`` as an expression; ``prefix`` reaches the
        customer from another model (``"customer__"``: the exports of enrollments and payments)."""
        if user is None or user.has_perm("crm.view_all_customers"):
            # No user (a resource made outside a request) sees nothing whole.
            return models.Value(user is not None, output_field=models.BooleanField())
        return models.ExpressionWrapper(
            models.Q(**{f"{prefix}consultant_id": user.pk}), output_field=models.BooleanField()
        )

    def pool_of(self, user):
        """The public pool as ``user`` sees, searches and claims it."""
        return self.public().of_campus_of(user)

    def visible_to(self, user):
        if user.has_perm("crm.view_all_customers"):
            return self
        return self.owned_by(user)

    # --- students of a class ---
    # The one definition of "the students of a class": the customers who joined it and are studying.
    # Every page, count and write that means the students of a class goes through these.
    @staticmethod
    def students_q(prefix: str = "") -> models.Q:
        """Studying customers; ``prefix`` reaches them from another model (``"customer__"``).

        Paying the rest of the tuition moves a student from 学习中 to 学费已交齐 (the status only moves
        forward): they are still in class, so both statuses are studying."""
        from crm.models import Customer

        studying = [Customer.Status.STUDYING, Customer.Status.PAID_IN_FULL]
        return models.Q(**{f"{prefix}status__in": studying})

    def students(self):
        return self.filter(self.students_q())

    def students_of(self, classes):
        """The students of a class, or of any of several (a queryset or a list of classes or ids)."""
        if isinstance(classes, models.Model | int):
            return self.students().filter(class_list=classes)
        return self.students().filter(class_list__in=classes).distinct()

    # --- recycle ---
    def with_recycle_from(self):
        """Annotate the two dates the recycling rules count from, both local dates: ``recycle_from``,
        from which the owner's silence counts (the latest of the claim — the latest transfer to the
        current owner —, the last follow-up and the creation), and ``owned_from``, from which the
        deal window counts (the latest of the claim and the creation). Both NULL when the customer
        can never be recycled: in the pool, signed up or beyond, enrolled in a class, or locked."""
        from django.db.models.functions import Coalesce, Greatest, TruncDate

        from crm.models import Customer, CustomerTransfer, Enrollment

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
        claimed_on = Coalesce(models.Subquery(claimed, output_field=models.DateField()), created)
        since = Greatest(created, Coalesce("last_consult_date", created), claimed_on)
        enrolled = Enrollment.objects.alive().filter(customer=models.OuterRef("pk"))
        recyclable = models.Q(
            consultant__isnull=False, status=Customer.Status.UNREGISTERED, locked=False
        ) & ~models.Exists(enrolled)
        return self.annotate(
            recycle_from=models.Case(models.When(recyclable, then=since), output_field=models.DateField()),
            owned_from=models.Case(
                models.When(recyclable, then=Greatest(created, claimed_on)), output_field=models.DateField()
            ),
        )

    @staticmethod
    def recycle_due_q(*, silence_cutoff, deal_cutoff) -> models.Q:
        """Customers annotated by ``with_recycle_from()`` that a rule recycles at its cutoff (a local
        date; None: the rule is off)."""
        due = models.Q(pk__in=[])
        if silence_cutoff is not None:
            due |= models.Q(recycle_from__lte=silence_cutoff)
        if deal_cutoff is not None:
            due |= models.Q(owned_from__lte=deal_cutoff)
        return due

    def due_for_recycling(self, *, silence_cutoff, deal_cutoff=None):
        """Private customers that the no-follow-up rule (silent since ``silence_cutoff`` or longer) or
        the no-deal rule (owned since ``deal_cutoff`` or longer) puts back in the pool."""
        return self.with_recycle_from().filter(
            self.recycle_due_q(silence_cutoff=silence_cutoff, deal_cutoff=deal_cutoff)
        )

    # --- follow-up ---
    # "When must the owner call again" (``next_date``), one definition for the 下次跟进 filter, the
    # home page's counts and their links. ``today`` is a local date (default: today in TIME_ZONE).
    FOLLOW_UP_WEEK_DAYS = 7

    @staticmethod
    def _today(today=None):
        from django.utils import timezone

        return today or timezone.localdate()

    @classmethod
    def follow_up_today_q(cls, today=None) -> models.Q:
        return models.Q(next_date=cls._today(today))

    @classmethod
    def follow_up_overdue_q(cls, today=None) -> models.Q:
        return models.Q(next_date__lt=cls._today(today))

    @classmethod
    def follow_up_week_q(cls, today=None) -> models.Q:
        """Due within the next 7 days, today included (today .. today + 6)."""
        import datetime

        today = cls._today(today)
        last = today + datetime.timedelta(days=cls.FOLLOW_UP_WEEK_DAYS - 1)
        return models.Q(next_date__gte=today, next_date__lte=last)

    def follow_up_today(self, today=None):
        return self.filter(self.follow_up_today_q(today))

    def follow_up_overdue(self, today=None):
        return self.filter(self.follow_up_overdue_q(today))

    def follow_up_week(self, today=None):
        return self.filter(self.follow_up_week_q(today))


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
        from crm.models import Customer

        # The keys of each part with its own index, united: an OR of them, one across the join to the
        # customer, scans and joins the whole history (2.7 s at 100,000 changes).
        parts = [
            models.Q(customer__in=Customer.objects.owned_by(user)),
            models.Q(from_consultant=user),
            models.Q(to_consultant=user),
            models.Q(by=user),
        ]
        keys = [self.model._default_manager.filter(part).order_by().values("pk") for part in parts]
        return self.filter(pk__in=keys[0].union(*keys[1:]))


class EnrollmentQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(delete_status=False)

    def visible_to(self, user):
        # Whoever sees every class sees every enrollment (finance, the boss); others see their own
        # enrollments and those of the classes they teach.
        from crm.roles import VIEW_ALL_CLASSES

        if user.has_perm(VIEW_ALL_CLASSES):
            return self
        return self.filter(
            models.Q(consultant=user) | models.Q(enrolment_class__in=user.classes.values("pk"))
        )


class PaymentRecordQuerySet(models.QuerySet):
    """Money: the one definition of a payment's net amount and of every total (income, refunds,
    pending). Each total has a ``*_q()`` companion selecting exactly its rows, so that a figure, the
    list behind its link (``?total=``, see ``TOTALS``) and that list's own totals always agree."""

    # Money going out of the school; subtracted from totals whatever the sign it was typed with.
    OUTGOING_TYPES = (PayType.REFUND, PayType.DROPOUT)
    # The list parameter ``total`` -> the rows of that total (PaymentTotalFilter in the admin).
    TOTALS = ("confirmed", "income", "refunds", "pending")

    def alive(self):
        return self.filter(delete_status=False)

    def visible_to(self, user):
        # The school-wide view of money is that of every class (finance, the boss); sales see the
        # payments they recorded.
        from crm.roles import VIEW_ALL_CLASSES

        if user.has_perm(VIEW_ALL_CLASSES):
            return self
        return self.filter(consultant=user)

    # --- money ---
    @staticmethod
    def confirmed_q() -> models.Q:
        return models.Q(status=PaymentStatus.CONFIRMED)

    @staticmethod
    def pending_q() -> models.Q:
        """Awaiting finance's decision: the rows of the pending total."""
        return models.Q(status=PaymentStatus.UNCONFIRMED)

    @classmethod
    def outgoing_q(cls) -> models.Q:
        """Money out: a refund or drop-out of any sign, or a negative amount of any type."""
        return models.Q(pay_type__in=cls.OUTGOING_TYPES) | models.Q(paid_fee__lt=0)

    @classmethod
    def income_q(cls) -> models.Q:
        return cls.confirmed_q() & ~cls.outgoing_q()

    @classmethod
    def refunds_q(cls) -> models.Q:
        return cls.confirmed_q() & cls.outgoing_q()

    @classmethod
    def total_q(cls, name: str) -> models.Q:
        """The rows of the total ``name`` (one of TOTALS)."""
        return {
            "confirmed": cls.confirmed_q,
            "income": cls.income_q,
            "refunds": cls.refunds_q,
            "pending": cls.pending_q,
        }[name]()

    def confirmed(self):
        return self.filter(self.confirmed_q())

    def unconfirmed(self):
        return self.filter(self.pending_q())

    @classmethod
    def net_amount(cls) -> models.Case:
        """The amount as it counts in totals: refunds and drop-outs negative, whatever their sign.

        In 64 bits before ``Abs``: ``abs(-2147483648)`` overflows a 32-bit integer on PostgreSQL.
        """
        from django.db.models.functions import Abs, Cast

        amount = Cast("paid_fee", output_field=models.BigIntegerField())
        return models.Case(
            models.When(pay_type__in=cls.OUTGOING_TYPES, then=-Abs(amount)),
            default=amount,
            output_field=models.BigIntegerField(),
        )

    def with_net_amount(self):
        """Annotate each row's ``net_amount`` (exports, the student's page): no second definition."""
        return self.annotate(net_amount=self.net_amount())

    @classmethod
    def row_count(cls) -> models.Aggregate:
        return models.Count("pk")

    @classmethod
    def total_expressions(cls) -> dict[str, models.Aggregate]:
        """The totals as aggregates, for ``aggregate()`` over rows or ``annotate()`` per group."""
        net = cls.net_amount()

        def total(rows: models.Q) -> models.Sum:
            # 64-bit sums on both databases, whatever each backend's default for a sum of integers.
            return models.Sum(net, filter=rows, default=0, output_field=models.BigIntegerField())

        return {
            "count": cls.row_count(),
            "confirmed_net": total(cls.confirmed_q()),
            "confirmed_income": total(cls.income_q()),
            "confirmed_refunds": total(cls.refunds_q()),
            "unconfirmed_net": total(cls.pending_q()),
        }

    def totals(self) -> dict[str, int]:
        """Totals of these rows in one query: confirmed net, its income and refunds, and pending."""
        return self.aggregate(**self.total_expressions())


class PaymentTallyQuerySet(PaymentRecordQuerySet):
    """The payments' scopes, filters and totals over PaymentTally's groups: the same methods, each
    group counting as its ``n`` payments of net amount ``net``, all of them outgoing or none."""

    @classmethod
    def outgoing_q(cls) -> models.Q:
        return models.Q(outgoing=True)

    @classmethod
    def net_amount(cls) -> models.F:
        return models.F("net")

    @classmethod
    def row_count(cls) -> models.Aggregate:
        return models.Sum("n", default=0)


# --- teaching ---
# Who sees classes, course records and study records. A class's staff are its ``teachers`` (its
# lecturers, its class teacher and its TAs). Whoever holds crm.view_all_classes (finance, the boss)
# sees every class; the lessons and study records of every class are those of every student, so
# they are for whoever sees every customer (the boss). Sales enroll customers into a class through
# the enrollment form's class choices, not by seeing the class.
SEES_EVERY_RECORD = "crm.view_all_customers"


# A class as ClassList.names_of names it: its course code, semester and campus's name.
ClassName = namedtuple("ClassName", ["pk", "course", "semester", "campus"])


class ClassListQuerySet(models.QuerySet):
    def named(self) -> list[tuple[int, str]]:
        """(key, name) of each class, named as ``str()`` names it (ClassList.names_of), read as four
        columns: the class filters of the lists offer every class of the school on each page, and the
        school's 200 classes and their campuses were 400 model instances."""
        classes = [ClassName(*row) for row in self.values_list("pk", "course", "semester", "campus__name")]
        return list(zip([klass.pk for klass in classes], self.model.names_of(classes), strict=True))

    def taught_by(self, user):
        return self.filter(teachers=user)

    def managed_by(self, user):
        """The classes whose students, course records and study records the user works with."""
        if user.has_perm(SEES_EVERY_RECORD):
            return self
        return self.taught_by(user)

    def visible_to(self, user):
        from crm.roles import VIEW_ALL_CLASSES

        if user.has_perm(VIEW_ALL_CLASSES):
            return self
        return self.taught_by(user)


class CourseRecordQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user.has_perm(SEES_EVERY_RECORD):
            return self
        return self.filter(re_class__teachers=user)


class StudyRecordQuerySet(models.QuerySet):
    @staticmethod
    def sees_every_record(user) -> bool:
        return user.has_perm(SEES_EVERY_RECORD)

    def visible_to(self, user):
        if self.sees_every_record(user):
            return self
        return self.filter(course_record__re_class__teachers=user)

    def homework_readable_by(self, user):
        """The one definition of whose homework file a user may read: the student's own records and
        every record the user sees in the admin (the class's teachers, the boss)."""
        if not user.is_authenticated:
            return self.none()
        # Built as one OR (not a union) so that the caller can still filter and slice the result.
        staff = self.visible_to(user).values("pk")
        return self.filter(models.Q(student__user=user) | models.Q(pk__in=staff))


class StudyRecordTallyQuerySet(models.QuerySet):
    """StudyRecordTally's groups, per attendance of every record of the school."""

    def visible_to(self, user):
        """The groups of the records ``user`` sees (StudyRecordQuerySet.visible_to): all of them, or
        None for a teacher, whose records (their classes') the tally does not tell apart: counted."""
        return self if StudyRecordQuerySet.sees_every_record(user) else None


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
