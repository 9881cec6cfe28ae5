from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.querysets import CrmUserManager


class Department(models.Model):
    name = models.CharField(_("name"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserProfile(AbstractUser):
    name = models.CharField(_("real name"), max_length=32, blank=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
    )
    memo = models.TextField(_("memo"), blank=True)
    # A salesperson with a campus sees and claims the pool customers of that campus or of none.
    campus = models.ForeignKey(
        "crm.Campus",
        verbose_name=_("campus"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="staff",
    )
    # When the home page last showed the user their notices (what changed for them since): set by
    # the home page; None until the first visit, which shows the last days.
    notices_seen_at = models.DateTimeField(_("notices seen at"), null=True, blank=True, editable=False)

    objects = CrmUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.name or self.username

    def get_short_name(self) -> str:
        return self.name or self.username
