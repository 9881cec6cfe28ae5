"""The dashboard's daily figures: each closed local day's sums, so that a year reads a few thousand rows.

Written only by ``crm.services.daily_figures`` (``manage.py aggregate_dashboard``); read by the dashboard,
which computes every day not aggregated (today, days changed since) from the base tables. Database
triggers (migration 0011) note every change of a base row that falls on an aggregated day in
``DashboardDirtyDay``, whatever wrote it, so that the dashboard stops trusting that day at once.
"""

from django.db import models


class DashboardDay(models.Model):
    """A local day whose figures are in the Daily* tables."""

    day = models.DateField(primary_key=True)
    # The day's bounds as instants: the triggers find the day of a changed row without a time zone.
    start_at = models.DateTimeField(unique=True)
    end_at = models.DateTimeField()
    computed_at = models.DateTimeField()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return str(self.day)


class DashboardDirtyDay(models.Model):
    """An aggregated day one of whose base rows changed after it was aggregated (one row per change)."""

    day = models.DateField(db_index=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return str(self.day)


class DailyLeads(models.Model):
    """Customers created on the day, per source and status now, with how far they went (the funnel)."""

    day = models.DateField()
    source = models.CharField(max_length=32)
    status = models.CharField(max_length=16)
    leads = models.PositiveIntegerField()
    followed = models.PositiveIntegerField()
    enrolled = models.PositiveIntegerField()
    paid = models.PositiveIntegerField()

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["day"], name="crm_dailyleads_day")]

    def __str__(self) -> str:
        return str(self.day)


class DailyFollowUps(models.Model):
    """Follow-ups (not deleted) dated on the day, per salesperson who wrote them."""

    day = models.DateField()
    consultant = models.BigIntegerField()  # a user's id; no foreign key: a figure, not a relation
    follow_ups = models.PositiveIntegerField()

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["day"], name="crm_dailyfollowups_day")]

    def __str__(self) -> str:
        return str(self.day)


class DailyFollowedCustomers(models.Model):
    """The customers a salesperson followed up on the day (follow-ups not deleted), by the day of that
    salesperson's last follow-up of the customer before it (None: the first one ever).

    Unlike a distinct count per day, these add up exactly over any period: a customer followed on
    several days of a period is counted once, on the first of them, which is the one whose previous
    follow-up day lies before the period. The triggers therefore also mark the day of a pair's next
    follow-up when one of its follow-ups changes."""

    day = models.DateField()
    consultant = models.BigIntegerField()
    previous_day = models.DateField(null=True)
    customers = models.PositiveIntegerField()

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["day"], name="crm_dailyfollowed_day")]

    def __str__(self) -> str:
        return str(self.day)


class DailyEnrollments(models.Model):
    """Enrollments (not deleted) dated on the day, per salesperson, and how many of them are approved."""

    day = models.DateField()
    consultant = models.BigIntegerField()
    enrollments = models.PositiveIntegerField()
    approved = models.PositiveIntegerField()

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["day"], name="crm_dailyenrollments_day")]

    def __str__(self) -> str:
        return str(self.day)


class DailyPayments(models.Model):
    """Payments (not deleted) paid on the day, per salesperson and class: PaymentRecordQuerySet.totals()."""

    day = models.DateField()
    consultant = models.BigIntegerField()
    enrolment_class = models.BigIntegerField(null=True)
    payments = models.PositiveIntegerField()
    confirmed_net = models.BigIntegerField()
    income = models.BigIntegerField()
    refunds = models.BigIntegerField()
    pending = models.BigIntegerField()

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["day"], name="crm_dailypayments_day")]

    def __str__(self) -> str:
        return str(self.day)
