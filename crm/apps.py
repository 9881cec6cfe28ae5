from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    default = True
    name = "crm"
    verbose_name = _("Campus CRM")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.admin import customers, finance, followups, imports, jobs, logins, teaching, users  # noqa: F401
        from crm.roles import sync_roles
        from crm.tallies import install_tallies
        from crm.triggers import install_triggers

        post_migrate.connect(sync_roles, sender=self, dispatch_uid="crm.sync_roles")
        post_migrate.connect(install_triggers, sender=self, dispatch_uid="crm.install_triggers")
        post_migrate.connect(install_tallies, sender=self, dispatch_uid="crm.install_tallies")


class CrmAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "crm.admin.site.CrmAdminSite"
