from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from multiselectfield import MultiSelectField

from crm.models.choices import ClassType, Course
from crm.querysets import ConsultRecordQuerySet, CustomerQuerySet, CustomerTransferQuerySet

qq_validator = RegexValidator(r"^[1-9][0-9]{4,11}$", _("A QQ number has 5 to 12 digits."))
mobile_validator = RegexValidator(r"^1[3-9][0-9]{9}$", _("Enter an 11-digit mainland mobile number."))


class Campus(models.Model):
    name = models.CharField(_("campus name"), max_length=64, unique=True)
    address = models.CharField(_("address"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("campus")
        verbose_name_plural = _("campuses")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    class Sex(models.TextChoices):
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    class Source(models.TextChoices):
        QQ = "qq", _("QQ group")
        REFERRAL = "referral", _("Internal referral")
        WEBSITE = "website", _("Official website")
        BAIDU_ADS = "baidu_ads", _("Baidu ads")
        OFFICE_DIRECT = "office_direct", _("Walk-in")
        WORD_OF_MOUTH = "WoM", _("Word of mouth")
        PUBLIC_CLASS = "public_class", _("Public class")
        OTHERS = "others", _("Others")

    class Status(models.TextChoices):
        SIGNED = "signed", _("Signed up")
        UNREGISTERED = "unregistered", _("Not signed up")
        STUDYING = "studying", _("Studying")
        PAID_IN_FULL = "paid_in_full", _("Tuition paid in full")

    # NULL rather than "" when absent (as phone and wechat), so that uniqueness applies only to real ids;
    # a customer has at least one of the three (Meta.constraints).
    qq = models.CharField(
        _("QQ"),
        max_length=12,
        unique=True,
        null=True,
        blank=True,
        validators=[qq_validator],
        error_messages={"unique": _("A customer with this QQ number already exists.")},
    )
    qq_name = models.CharField(_("QQ nickname"), max_length=64, blank=True)
    name = models.CharField(_("customer name"), max_length=32, blank=True)
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    # NULL rather than "" when absent, so that uniqueness applies only to real numbers.
    phone = models.CharField(
        _("phone"),
        max_length=11,
        unique=True,
        null=True,
        blank=True,
        validators=[mobile_validator],
        error_messages={"unique": _("A customer with this phone number already exists.")},
    )
    wechat = models.CharField(_("WeChat id"), max_length=64, null=True, blank=True)
    source = models.CharField(_("source"), max_length=32, choices=Source.choices, default=Source.QQ)
    introduce_from = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referrals",
        db_index=False,  # Meta.indexes: of the customers referred only
    )
    course = MultiSelectField(_("courses of interest"), choices=Course.choices, max_length=128, blank=True)
    class_type = models.CharField(
        _("class type"), max_length=16, choices=ClassType.choices, default=ClassType.FULLTIME
    )
    customer_note = models.TextField(_("customer note"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UNREGISTERED)
    network_consult_note = models.TextField(_("online consultation note"), blank=True)
    date = models.DateTimeField(_("created"), default=timezone.now)
    last_consult_date = models.DateField(_("last follow-up"), null=True, blank=True)
    next_date = models.DateField(_("next follow-up"), null=True, blank=True)
    network_consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("online consultant"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="network_consulted_customers",
        db_index=False,  # Meta.indexes: of the customers with one only
    )
    # NULL means the customer is in the public pool; otherwise it belongs to this salesperson.
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sales consultant"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customers",
        db_index=False,  # crm_customer_owner_status leads with it
    )
    class_list = models.ManyToManyField(
        "crm.ClassList", verbose_name=_("classes joined"), blank=True, related_name="customers"
    )
    # The campus whose pool the customer is in (None: every campus's); set by the form, the import and
    # the class the customer joins.
    campus = models.ForeignKey(
        Campus,
        verbose_name=_("campus"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customers",
    )
    # A locked private customer is never recycled (crm.lock_customer, CUSTOMER_LOCK_LIMIT per owner).
    locked = models.BooleanField(_("locked"), default=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customer",
    )

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("all customers")
        ordering = ["-date", "-id"]
        indexes = [
            # Also the index of the consultant's foreign key (its lookups and the SET NULL of a deleted user),
            # where set: the pool's customers (an import's new ones) are in the pool's own indexes.
            models.Index(
                fields=["consultant", "status"],
                name="crm_customer_owner_status",
                condition=models.Q(consultant__isnull=False),
            ),
            # The foreign keys that most customers leave empty (an import's new ones always) are indexed
            # where set: a lookup of a value (a referrer's referrals, a deleted row's SET NULL, the
            # foreign-key check) implies the column is not NULL, and an insert of an empty one writes nothing.
            models.Index(
                fields=["introduce_from"],
                name="crm_customer_referred",
                condition=models.Q(introduce_from__isnull=False),
            ),
            models.Index(
                fields=["network_consultant"],
                name="crm_customer_net_consultant",
                condition=models.Q(network_consultant__isnull=False),
            ),
            models.Index(fields=["last_consult_date"], name="crm_customer_last_consult"),
            # The 下次跟进 filter's dates (a day, before a day, a range): customers without one are not in it.
            models.Index(
                fields=["next_date"],
                name="crm_customer_next_date",
                condition=models.Q(next_date__isnull=False),
            ),
            # The lists' order (and the created date range) with the key: a page of any depth is read
            # from the index alone, with no sort of the rows its OFFSET skips.
            models.Index(fields=["date", "id"], name="crm_customer_date_id"),
            # The pool in the lists' order, the campus beside: a salesperson's pool (their campus and
            # none) at any depth, index-only.
            models.Index(
                fields=["-date", "-id"],
                include=["campus"],
                name="crm_customer_pool_date",
                condition=models.Q(consultant__isnull=True),
            ),
            # The pool's exact counts by its filters, as index-only scans (bench/customers_changelist.py).
            models.Index(
                fields=["source", "campus"],
                name="crm_customer_pool_source",
                condition=models.Q(consultant__isnull=True),
            ),
            models.Index(
                fields=["status", "campus"],
                name="crm_customer_pool_status",
                condition=models.Q(consultant__isnull=True),
            ),
            # The dashboard's salespeople (their customers created in the period, converted): each owner's
            # range of dates, index-only.
            models.Index(
                fields=["consultant", "date"],
                include=["status"],
                name="crm_customer_owner_date",
                condition=models.Q(consultant__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(qq__isnull=False)
                | models.Q(phone__isnull=False)
                | models.Q(wechat__isnull=False),
                name="crm_customer_has_a_contact",
                violation_error_message=_("Enter at least one of QQ, phone and WeChat id."),
            ),
            # Where set: most customers have no WeChat id (NULLs never conflict), and an import's
            # insert of one without it writes nothing here.
            models.UniqueConstraint(
                Lower("wechat"),
                name="crm_customer_unique_wechat",
                condition=models.Q(wechat__isnull=False),
                violation_error_message=_("A customer with this WeChat id already exists."),
            ),
        ]
        permissions = [
            ("claim_customer", _("Can claim customers from the public pool")),
            ("release_customer", _("Can release customers to the public pool")),
            ("view_all_customers", _("Can view all customers")),
            ("import_customer", _("Can import customers")),
            ("export_customer", _("Can export customers")),
            # Who may hold private customers: the only users offered as 销售 anywhere.
            ("own_customers", _("Can own customers")),
            ("view_dashboard", _("Can view the dashboard")),
            ("correct_customer_status", _("Can correct a customer's status")),
            ("lock_customer", _("Can lock own customers against recycling")),
        ]

    def __str__(self) -> str:
        # Shown in messages, histories and autocompletes to people who may not see the contacts whole.
        return f"{self.name or self.qq_name or '-'} ({self.masked_contact})"

    @property
    def masked_contact(self) -> str:
        from crm.contacts import mask_phone, mask_qq, mask_wechat

        if self.qq:
            return mask_qq(self.qq)
        if self.phone:
            return mask_phone(self.phone)
        return mask_wechat(self.wechat)


class CustomerTally(models.Model):
    """How many customers each (owner, campus, status, source) group holds, kept exact by PostgreSQL
    statement triggers on crm_customer (crm/tallies.py; first written by hand in migration 0014): a
    filtered list of a million customers counts its rows by summing a few hundred of these instead of
    scanning 900,000 index entries.

    The triggers only insert: each statement that adds, removes or moves customers between groups
    adds one row per group it changed, with the difference in ``n`` (so that concurrent claims never
    wait on one another's counter); ``customers_tally_counts`` (crm/services/customers.py) sums them
    and folds them back into one row per group once there are many. The owner and the campus are the
    customer's columns under the same names, so that the customer querysets' scopes (``pool_of``,
    ``owned_by``, ``visible_to``) select the same groups here. Empty (and unused) on other databases."""

    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    campus = models.ForeignKey(
        Campus, null=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    status = models.CharField(max_length=16)
    source = models.CharField(max_length=64)
    n = models.BigIntegerField()

    objects = CustomerQuerySet.as_manager()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.consultant_id} {self.campus_id} {self.status} {self.source}: {self.n}"


class PublicCustomer(Customer):
    """The public pool (公户): customers without a consultant."""

    class Meta:
        proxy = True
        verbose_name = _("public pool customer")
        verbose_name_plural = _("public pool")


class PrivateCustomer(Customer):
    """My customers (私户): the logged-in salesperson's own customers."""

    class Meta:
        proxy = True
        verbose_name = _("my customer")
        verbose_name_plural = _("my customers")


class CustomerTransfer(models.Model):
    """Every change of a customer's owner, for the ownership history."""

    class Reason(models.TextChoices):
        CLAIM = "claim", _("Claimed from the public pool")
        RELEASE = "release", _("Released to the public pool")
        REASSIGN = "reassign", _("Reassigned")
        RECYCLE = "recycle", _("Recycled automatically")
        IMPORT = "import", _("Imported")
        CREATE = "create", _("Created")
        MERGE = "merge", _("Merged")

    class ReleaseReason(models.TextChoices):
        """Why a customer went back to the pool: chosen by the salesperson, or the recycling rule."""

        NO_INTEREST = "no_interest", _("No interest")
        UNREACHABLE = "unreachable", _("Cannot be reached")
        WRONG_NUMBER = "wrong_number", _("Wrong number")
        DUPLICATE = "duplicate", _("Duplicate customer")
        OTHER = "other", _("Other")
        NO_FOLLOW_UP = "no_follow_up", _("Not followed up in time")
        NO_DEAL = "no_deal", _("No deal in time")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="transfers"
    )
    from_consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    to_consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    release_reason = models.CharField(
        _("why released"), max_length=16, choices=ReleaseReason.choices, blank=True
    )
    release_note = models.CharField(_("release note"), max_length=255, blank=True)
    date = models.DateTimeField(_("date"), default=timezone.now)

    objects = CustomerTransferQuerySet.as_manager()

    class Meta:
        verbose_name = _("ownership change")
        verbose_name_plural = _("ownership history")
        ordering = ["-date", "-id"]
        indexes = [
            # The daily claim count and the reclaim cool-down read a user's recent transfers.
            models.Index(fields=["to_consultant", "reason", "date"], name="crm_transfer_to_reason_date"),
            models.Index(fields=["from_consultant", "date"], name="crm_transfer_from_date"),
            # The list's order (and its date range) with the key: a deep page read from the index alone.
            models.Index(fields=["date", "id"], name="crm_transfer_date_id"),
        ]

    def __str__(self) -> str:
        # Shown above each row of the history on a customer's page and as the title of a history entry.
        pool = gettext("public pool")
        return gettext("%(customer)s: %(from)s → %(to)s") % {
            "customer": self.customer,
            "from": self.from_consultant or pool,
            "to": self.to_consultant or pool,
        }


class CustomerStatusChange(models.Model):
    """A correction of a customer's status by the boss (``customers_correct_status``), kept like the
    ownership history: the only way a status moves other than forward through enrollments and payments."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(_("from status"), max_length=16, choices=Customer.Status.choices)
    to_status = models.CharField(_("to status"), max_length=16, choices=Customer.Status.choices)
    reason = models.CharField(_("reason"), max_length=255)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    date = models.DateTimeField(_("date"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("status correction")
        verbose_name_plural = _("status corrections")
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return gettext("%(customer)s: %(from)s → %(to)s") % {
            "customer": self.customer,
            "from": self.get_from_status_display(),
            "to": self.get_to_status_display(),
        }


class ConsultRecord(models.Model):
    class Stage(models.TextChoices):
        A = "A", _("No plan to enrol soon")
        B = "B", _("Enrols within a month")
        C = "C", _("Enrols within two weeks")
        D = "D", _("Enrols within a week")
        E = "E", _("Deposit paid")
        F = "F", _("Attending class")
        G = "G", _("Paid in full")
        H = "H", _("Invalid")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="consult_records",
    )
    note = models.TextField(_("follow-up content"))
    status = models.CharField(_("follow-up stage"), max_length=8, choices=Stage.choices)
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("consultant"),
        on_delete=models.PROTECT,
        related_name="consult_records",
    )
    date = models.DateTimeField(_("follow-up date"), default=timezone.now)
    # The salesperson's plan, copied to the customer's next_date (the day's work queue) when saved.
    next_date = models.DateField(_("expected next follow-up date"), null=True, blank=True)
    delete_status = models.BooleanField(_("deleted"), default=False)

    objects = ConsultRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("follow-up record")
        verbose_name_plural = _("follow-up records")
        ordering = ["-date", "-id"]
        permissions = [
            ("view_deleted_consultrecord", _("Can view deleted follow-up records")),
            ("recycle_consultrecord", _("Can move follow-up records to the recycle bin")),
        ]
        indexes = [
            models.Index(fields=["customer", "date"], name="crm_consult_customer_date"),
            models.Index(fields=["consultant", "date"], name="crm_consult_owner_date"),
            # The list's order (and its date range) with the key: a deep page read from the index alone.
            models.Index(fields=["date", "id"], name="crm_consult_date_id"),
            # The dashboard's live days (follow-ups and customers followed per salesperson): an
            # index-only scan of those days' follow-ups.
            models.Index(
                fields=["date"],
                include=["consultant", "customer"],
                name="crm_consult_alive_date",
                condition=models.Q(delete_status=False),
            ),
            # The list filtered by stage counts its rows exactly (hundreds of thousands at a school's
            # size): an index-only scan, for the boss's list and the recycle bin's alive rows alike.
            models.Index(fields=["status"], include=["delete_status"], name="crm_consult_status"),
            # A salesperson's customer list counts each row's own live follow-ups (the page's rows
            # only): one index probe a row, where the customer's and the owner's indexes alone are
            # combined by a BitmapAnd over all the customer's follow-ups and all the owner's.
            models.Index(
                fields=["customer", "consultant"],
                name="crm_consult_alive_cust_owner",
                condition=models.Q(delete_status=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.get_status_display()}"


class ConsultRecordTally(models.Model):
    """How many follow-ups each (salesperson, stage, deleted) group holds, kept exact by PostgreSQL
    statement triggers on crm_consultrecord (crm/tallies.py): a follow-up list filtered by stage counts
    its rows by summing a few rows instead of 700,000 of 2,000,000. The columns are the follow-up's under
    the same names, so that ConsultRecordQuerySet's scopes (``alive``, ``visible_to``) select the same
    groups here. Empty (and unused) on other databases."""

    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    status = models.CharField(max_length=8)
    delete_status = models.BooleanField()
    n = models.BigIntegerField()

    objects = ConsultRecordQuerySet.as_manager()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.consultant_id} {self.status} {self.delete_status}: {self.n}"
