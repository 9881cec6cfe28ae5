from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CustomerImport(models.Model):
    """One import of a customer list, kept so that it can be reviewed and reverted."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="customer_imports",
    )
    date = models.DateTimeField(_("imported on"), default=timezone.now, db_index=True)
    file_name = models.CharField(_("file name"), max_length=255)
    new_count = models.PositiveIntegerField(_("new"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    # What the import did, so that it can be undone: ids it created, fields it filled per id.
    created_ids = models.JSONField(_("created customers"), default=list, blank=True)
    filled_fields = models.JSONField(_("filled fields"), default=dict, blank=True)
    reverted_on = models.DateTimeField(_("reverted on"), null=True, blank=True)
    reverted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reverted by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revert_report = models.TextField(_("revert report"), blank=True)

    class Meta:
        verbose_name = _("customer import")
        verbose_name_plural = _("customer imports")
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({timezone.localtime(self.date):%Y-%m-%d %H:%M})"
