from django.contrib import admin
from django.utils.translation import gettext_lazy as _

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

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        position = {name: index for index, name in enumerate(MODEL_ORDER)}
        for app in app_list:
            app["models"].sort(key=lambda model: position.get(model["object_name"].lower(), len(position)))
        return app_list
