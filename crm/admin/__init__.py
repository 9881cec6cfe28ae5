"""Admin registrations, one module per area of the school's work."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from crm.admin import customers, finance, followups, imports, teaching, users  # noqa: F401

admin.site.site_header = _("Campus CRM")
admin.site.site_title = _("Campus CRM")
admin.site.index_title = _("School back office")
