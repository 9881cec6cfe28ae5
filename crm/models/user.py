from django.contrib.auth.models import AbstractUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models.functions import Lower
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


USERNAME_TAKEN = "username_taken"
USERNAME_TAKEN_MESSAGE = _("This username is already taken (capital and small letters count as the same).")


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
        constraints = [
            # "SALES1" beside "sales1" is a second account that staff would take for the first: the
            # database refuses it on every path (registration, the admin, commands, two requests at once).
            models.UniqueConstraint(
                Lower("username"),
                name="crm_userprofile_username_case_insensitive",
                violation_error_code=USERNAME_TAKEN,
                violation_error_message=USERNAME_TAKEN_MESSAGE,
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.username

    def validate_constraints(self, exclude=None):
        # Django 5.2 reports a unique constraint over an expression to no field; this one is the
        # username's, so that forms show it beside the username (tests/models/test_models.py pins it).
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            for item in general:
                key = "username" if getattr(item, "code", None) == USERNAME_TAKEN else NON_FIELD_ERRORS
                errors.setdefault(key, []).append(item)
            raise ValidationError(errors) from error

    def get_short_name(self) -> str:
        return self.name or self.username
