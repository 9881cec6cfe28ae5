from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _

from crm.admin.dashboard import dashboard_view
from crm.forms import AdminLoginForm
from crm.services.dashboard import may_view_dashboard

# The admin index lists the models in the order of the school's work, not alphabetically.
MODEL_ORDER = [
    "publiccustomer",
    "privatecustomer",
    "customer",
    "consultrecord",
    "customertransfer",
    "enrollment",
    "paymentrecord",
    "classlist",
    "courserecord",
    "studyrecord",
    "campus",
    "contracttemplate",
    "customerimport",
    "department",
    "userprofile",
]


class CrmAdminSite(admin.AdminSite):
    site_header = _("Campus CRM")
    site_title = _("Campus CRM")
    index_title = _("School back office")
    # Adds the dashboard's box above the models for those who may open it.
    index_template = "admin/crm/index.html"
    # An overlong username is a form error, not a 500 (see the form).
    login_form = AdminLoginForm

    def get_urls(self):
        dashboard = path("dashboard/", self.admin_view(dashboard_view), {"site": self}, name="dashboard")
        return [dashboard, *super().get_urls()]

    def index(self, request, extra_context=None):
        extra_context = {"show_dashboard": may_view_dashboard(request.user), **(extra_context or {})}
        return super().index(request, extra_context)

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        position = {name: index for index, name in enumerate(MODEL_ORDER)}
        for app in app_list:
            app["models"].sort(key=lambda model: position.get(model["object_name"].lower(), len(position)))
        return app_list
