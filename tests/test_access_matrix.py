# ruff: noqa: E501  (the matrix is a table: one line per URL)
"""The access matrix: for every URL the URLconf resolves, every admin action and every autocomplete
field, what each role gets, and which rows each list shows it.

The test walks the URLconf (``get_resolver()``) and the admin's registry, so a URL, an action or an
autocomplete field that ``MATRIX`` does not list fails it, with the row to add (filled with what the
URL answered today: check it is what should be answered before pasting it).

Adding a URL: add one line to ``MATRIX`` under its URL name (or its route, for a URL without a name),
one cell per role in the order of ``ROLES``. A cell is the status code a GET answers (``302`` is the
redirect to a login page), and for a changelist the rows it shows in brackets, by their ``World``
label: ``"200[mine,public]"``. An action's cell is ``y`` when the role is offered the action, ``-``
when it sees the list without it, else the status of the list. If the URL has a parameter the walker
does not know, teach ``url_kwargs`` which object of the ``World`` to use.
"""

import os
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from crm.models import Customer, CustomerImport, CustomerTransfer, Job, PaymentRecord
from tests.factories import (
    CampusFactory,
    ClassListFactory,
    ConsultRecordFactory,
    ContractTemplateFactory,
    CourseRecordFactory,
    CustomerFactory,
    DepartmentFactory,
    EnrollmentFactory,
    PaymentRecordFactory,
    StudyRecordFactory,
    UserFactory,
)

ROLES = (
    "anonymous",
    "sales",
    "class_teacher",
    "lecturer",
    "ta",
    "finance",
    "boss",
    "student",
    "no_role",
    "superuser",
)

# fmt: off
# Columns:   anonymous  sales  class_teacher  lecturer  ta  finance  boss  student  no_role  superuser
MATRIX: dict[str, tuple[str, ...]] = {
    "admin:dashboard": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:area": ("302", "200", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin:index": ("302", "200", "200", "200", "200", "200", "200", "302", "302", "200"),
    "admin:login": ("200", "302>", "302>", "302>", "302>", "302>", "302>", "200", "200", "302>"),
    "admin:logout": ("302>", "405", "405", "405", "405", "405", "405", "302>", "302>", "405"),
    "admin:password_change": ("302", "200", "200", "200", "200", "200", "200", "302", "302", "200"),
    "admin:password_change_done": ("302", "200", "200", "200", "200", "200", "200", "302", "302", "200"),
    "admin:autocomplete": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "403"),
    "admin:jsi18n": ("302", "200", "200", "200", "200", "200", "200", "302", "302", "200"),
    "admin:view_on_site": ("302", "404", "404", "404", "404", "404", "404", "302", "302", "404"),
    "admin:crm_job_download": ("302", "403", "403", "403", "403", "200", "200", "302", "302", "200"),
    "admin:crm_job_changelist": ("302", "403", "403", "403", "403", "200[job]", "200[job]", "302", "302", "200[job]"),
    "admin:crm_job_add": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "403"),
    "admin:crm_job_history": ("302", "404", "404", "404", "404", "200", "200", "302", "302", "200"),
    "admin:crm_job_delete": ("302", "404", "404", "404", "404", "403", "403", "302", "302", "403"),
    "admin:crm_job_change": ("302", "404", "404", "404", "404", "200", "200", "302", "302", "200"),
    "admin/crm/job/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_enrollment_export": ("302", "403", "403", "403", "403", "200", "200", "302", "302", "200"),
    "admin:crm_enrollment_changelist": ("302", "200[enrollment]", "200[enrollment]", "403", "403", "200[enrollment,other_enrollment]", "200[enrollment,other_enrollment]", "302", "302", "200[enrollment,other_enrollment]"),
    "admin:crm_enrollment_add": ("302", "200", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_enrollment_history": ("302", "200", "200", "403", "403", "200", "200", "302", "302", "200"),
    "admin:crm_enrollment_delete": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin:crm_enrollment_change": ("302", "200", "200", "403", "403", "200", "200", "302", "302", "200"),
    "admin/crm/enrollment/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_paymentrecord_confirm": ("302", "405", "405", "405", "405", "405", "405", "302", "302", "405"),
    "admin:crm_paymentrecord_reject": ("302", "405", "405", "405", "405", "405", "405", "302", "302", "405"),
    "admin:crm_paymentrecord_export": ("302", "403", "403", "403", "403", "200", "200", "302", "302", "200"),
    "admin:crm_paymentrecord_changelist": ("302", "200[payment]", "403", "403", "403", "200[other_payment,payment]", "200[other_payment,payment]", "302", "302", "200[other_payment,payment]"),
    "admin:crm_paymentrecord_add": ("302", "200", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_paymentrecord_history": ("302", "200", "404", "404", "404", "200", "200", "302", "302", "200"),
    "admin:crm_paymentrecord_delete": ("302", "403", "404", "404", "404", "403", "403", "302", "302", "200"),
    "admin:crm_paymentrecord_change": ("302", "200", "404", "404", "404", "200", "200", "302", "302", "200"),
    "admin/crm/paymentrecord/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_consultrecord_changelist": ("302", "200[my_followup]", "403", "403", "403", "403", "200[my_followup,other_followup]", "302", "302", "200[my_followup,other_followup]"),
    "admin:crm_consultrecord_add": ("302", "200", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_consultrecord_history": ("302", "200", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin:crm_consultrecord_delete": ("302", "403", "404", "404", "404", "404", "403", "302", "302", "200"),
    "admin:crm_consultrecord_change": ("302", "200", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin/crm/consultrecord/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_customerimport_changelist": ("302", "403", "403", "403", "403", "403", "200[import]", "302", "302", "200[import]"),
    "admin:crm_customerimport_add": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "403"),
    "admin:crm_customerimport_history": ("302", "404", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin:crm_customerimport_delete": ("302", "404", "404", "404", "404", "404", "403", "302", "302", "403"),
    "admin:crm_customerimport_change": ("302", "404", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin/crm/customerimport/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_campus_changelist": ("302", "200[campus]", "200[campus]", "403", "403", "200[campus]", "200[campus]", "302", "302", "200[campus]"),
    "admin:crm_campus_add": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_campus_history": ("302", "200", "200", "403", "403", "200", "200", "302", "302", "200"),
    "admin:crm_campus_delete": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_campus_change": ("302", "200", "200", "403", "403", "200", "200", "302", "302", "200"),
    "admin/crm/campus/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_customer_duplicate_check": ("302", "200", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_customer_import_rejected": ("302", "403", "403", "403", "403", "403", "404", "302", "302", "404"),
    "admin:crm_customer_import_template": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_customer_process_import": ("302", "405", "405", "405", "405", "405", "405", "302", "302", "405"),
    "admin:crm_customer_import": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_customer_export": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_customer_changelist": ("302", "403", "403", "403", "403", "403", "200[mine,other_pupil,others,public,pupil]", "302", "302", "200[mine,other_pupil,others,public,pupil]"),
    "admin:crm_customer_add": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_customer_history": ("302", "403", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin:crm_customer_delete": ("302", "403", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin:crm_customer_change": ("302", "403", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin/crm/customer/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_publiccustomer_claim": ("302", "405", "405", "405", "405", "405", "405", "302", "302", "405"),
    "admin:crm_publiccustomer_changelist": ("302", "200[public]", "403", "403", "403", "403", "200[public]", "302", "302", "200[public]"),
    "admin:crm_publiccustomer_add": ("302", "200", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_publiccustomer_history": ("302", "200", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_publiccustomer_delete": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_publiccustomer_change": ("302", "200", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin/crm/publiccustomer/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_privatecustomer_release": ("302", "405", "405", "405", "405", "405", "405", "302", "302", "405"),
    "admin:crm_privatecustomer_changelist": ("302", "200[mine,pupil]", "403", "403", "403", "403", "200[]", "302", "302", "200[]"),
    "admin:crm_privatecustomer_add": ("302", "200", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_privatecustomer_history": ("302", "200", "404", "404", "404", "404", "404", "302", "302", "404"),
    "admin:crm_privatecustomer_delete": ("302", "403", "404", "404", "404", "404", "404", "302", "302", "404"),
    "admin:crm_privatecustomer_change": ("302", "200", "404", "404", "404", "404", "404", "302", "302", "404"),
    "admin/crm/privatecustomer/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_customertransfer_changelist": ("302", "200[transfer]", "403", "403", "403", "403", "200[transfer]", "302", "302", "200[transfer]"),
    "admin:crm_customertransfer_add": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "403"),
    "admin:crm_customertransfer_history": ("302", "200", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin:crm_customertransfer_delete": ("302", "403", "404", "404", "404", "404", "403", "302", "302", "403"),
    "admin:crm_customertransfer_change": ("302", "200", "404", "404", "404", "404", "200", "302", "302", "200"),
    "admin/crm/customertransfer/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:axes_accessattempt_changelist": ("302", "403", "403", "403", "403", "403", "200[attempt]", "302", "302", "200[attempt]"),
    "admin:axes_accessattempt_add": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "403"),
    "admin:axes_accessattempt_history": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:axes_accessattempt_delete": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:axes_accessattempt_change": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin/axes/accessattempt/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:axes_accesslog_changelist": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200[access_log]"),
    "admin:axes_accesslog_add": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "403"),
    "admin:axes_accesslog_history": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin:axes_accesslog_delete": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin:axes_accesslog_change": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin/axes/accesslog/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:axes_accessfailurelog_changelist": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200[failure_log]"),
    "admin:axes_accessfailurelog_add": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "403"),
    "admin:axes_accessfailurelog_history": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin:axes_accessfailurelog_delete": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin:axes_accessfailurelog_change": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin/axes/accessfailurelog/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_contracttemplate_changelist": ("302", "403", "200[contract]", "403", "403", "403", "200[contract]", "302", "302", "200[contract]"),
    "admin:crm_contracttemplate_add": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_contracttemplate_history": ("302", "403", "200", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_contracttemplate_delete": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_contracttemplate_change": ("302", "403", "200", "403", "403", "403", "200", "302", "302", "200"),
    "admin/crm/contracttemplate/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_classlist_students": ("302", "404", "200", "200", "200", "404", "200", "302", "302", "200"),
    "admin:crm_classlist_changelist": ("302", "403", "200[class]", "200[class]", "200[class]", "200[class,other_class]", "200[class,other_class]", "302", "302", "200[class,other_class]"),
    "admin:crm_classlist_add": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_classlist_history": ("302", "404", "200", "200", "200", "200", "200", "302", "302", "200"),
    "admin:crm_classlist_delete": ("302", "404", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_classlist_change": ("302", "404", "200", "200", "200", "200", "200", "302", "302", "200"),
    "admin/crm/classlist/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_courserecord_attendance": ("302", "404", "200", "200", "200", "404", "200", "302", "302", "200"),
    "admin:crm_courserecord_changelist": ("302", "403", "200[lesson]", "200[lesson]", "200[lesson]", "403", "200[lesson,other_lesson]", "302", "302", "200[lesson,other_lesson]"),
    "admin:crm_courserecord_add": ("302", "403", "200", "200", "403", "403", "200", "302", "302", "200"),
    "admin:crm_courserecord_history": ("302", "404", "200", "200", "200", "404", "200", "302", "302", "200"),
    "admin:crm_courserecord_delete": ("302", "404", "200", "403", "403", "404", "200", "302", "302", "200"),
    "admin:crm_courserecord_change": ("302", "404", "200", "200", "200", "404", "200", "302", "302", "200"),
    "admin/crm/courserecord/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_studyrecord_changelist": ("302", "403", "200[study]", "200[study]", "200[study]", "403", "200[other_study,study]", "302", "302", "200[other_study,study]"),
    "admin:crm_studyrecord_add": ("302", "403", "200", "200", "403", "403", "200", "302", "302", "200"),
    "admin:crm_studyrecord_history": ("302", "404", "200", "200", "200", "404", "200", "302", "302", "200"),
    "admin:crm_studyrecord_delete": ("302", "404", "403", "403", "403", "404", "200", "302", "302", "200"),
    "admin:crm_studyrecord_change": ("302", "404", "200", "200", "200", "404", "200", "302", "302", "200"),
    "admin/crm/studyrecord/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:crm_department_changelist": ("302", "403", "403", "403", "403", "403", "200[department]", "302", "302", "200[department]"),
    "admin:crm_department_add": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_department_history": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_department_delete": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_department_change": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin/crm/department/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:auth_user_password_change": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_userprofile_changelist": ("302", "403", "403", "403", "403", "403", "200[other_sales,sales]", "302", "302", "200[other_sales,sales]"),
    "admin:crm_userprofile_add": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_userprofile_history": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:crm_userprofile_delete": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin:crm_userprofile_change": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin/crm/userprofile/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:auth_group_changelist": ("302", "403", "403", "403", "403", "403", "200[sales_group]", "302", "302", "200[sales_group]"),
    "admin:auth_group_add": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin:auth_group_history": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:auth_group_delete": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "200"),
    "admin:auth_group_change": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin/auth/group/<path:object_id>/": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302", "302", "302>"),
    "admin:app_list": ("302", "200", "200", "200", "200", "200", "200", "302", "302", "200"),
    "admin/(?P<url>.*)$": ("302", "404", "404", "404", "404", "404", "404", "302", "302", "404"),
    "home": ("302", "302>", "302>", "302>", "302>", "302>", "302>", "302>", "302>", "302>"),
    "register": ("200", "200", "200", "200", "200", "200", "200", "200", "200", "200"),
    "login": ("200", "302>", "302>", "302>", "302>", "302>", "302>", "302>", "302>", "302>"),
    "logout": ("405", "405", "405", "405", "405", "405", "405", "405", "405", "405"),
    "me": ("302", "200", "200", "200", "200", "200", "200", "200", "200", "200"),
    "homework_upload": ("302", "405", "405", "405", "405", "405", "405", "405", "405", "405"),
    "homework_file": ("302", "404", "200", "200", "200", "404", "200", "200", "404", "200"),
    "admin:crm_job_changelist?action=cancel_jobs": ("302", "403", "403", "403", "403", "y", "y", "302", "302", "y"),
    "admin:crm_enrollment_changelist?action=delete_selected": ("302", "-", "-", "403", "403", "-", "-", "302", "302", "y"),
    "admin:crm_enrollment_changelist?action=approve_contracts": ("302", "-", "y", "403", "403", "-", "y", "302", "302", "y"),
    "admin:crm_enrollment_changelist?action=move_to_recycle_bin": ("302", "y", "y", "403", "403", "-", "y", "302", "302", "y"),
    "admin:crm_enrollment_changelist?action=export_admin_action": ("302", "-", "-", "403", "403", "y", "y", "302", "302", "y"),
    "admin:crm_paymentrecord_changelist?action=delete_selected": ("302", "-", "403", "403", "403", "-", "-", "302", "302", "y"),
    "admin:crm_paymentrecord_changelist?action=confirm_payments": ("302", "-", "403", "403", "403", "y", "y", "302", "302", "y"),
    "admin:crm_paymentrecord_changelist?action=reject_payments": ("302", "-", "403", "403", "403", "y", "y", "302", "302", "y"),
    "admin:crm_paymentrecord_changelist?action=move_to_recycle_bin": ("302", "y", "403", "403", "403", "y", "y", "302", "302", "y"),
    "admin:crm_paymentrecord_changelist?action=export_admin_action": ("302", "-", "403", "403", "403", "y", "y", "302", "302", "y"),
    "admin:crm_consultrecord_changelist?action=delete_selected": ("302", "-", "403", "403", "403", "403", "-", "302", "302", "y"),
    "admin:crm_consultrecord_changelist?action=move_to_recycle_bin": ("302", "y", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_customerimport_changelist?action=revert_imports": ("302", "403", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_campus_changelist?action=delete_selected": ("302", "-", "-", "403", "403", "-", "y", "302", "302", "y"),
    "admin:crm_customer_changelist?action=delete_selected": ("302", "403", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_customer_changelist?action=reassign_customers": ("302", "403", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_customer_changelist?action=correct_status": ("302", "403", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_customer_changelist?action=merge_customers": ("302", "403", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_customer_changelist?action=export_admin_action": ("302", "403", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_publiccustomer_changelist?action=delete_selected": ("302", "-", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_publiccustomer_changelist?action=claim_customers": ("302", "y", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_privatecustomer_changelist?action=delete_selected": ("302", "-", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_privatecustomer_changelist?action=release_customers": ("302", "y", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_privatecustomer_changelist?action=lock_customers": ("302", "y", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_privatecustomer_changelist?action=unlock_customers": ("302", "y", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:axes_accessattempt_changelist?action=delete_selected": ("302", "403", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:axes_accessattempt_changelist?action=cleanup_expired_attempts": ("302", "403", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:axes_accesslog_changelist?action=delete_selected": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "y"),
    "admin:axes_accessfailurelog_changelist?action=delete_selected": ("302", "403", "403", "403", "403", "403", "403", "302", "302", "y"),
    "admin:crm_contracttemplate_changelist?action=delete_selected": ("302", "403", "-", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_classlist_changelist?action=delete_selected": ("302", "403", "-", "-", "-", "-", "y", "302", "302", "y"),
    "admin:crm_courserecord_changelist?action=delete_selected": ("302", "403", "y", "-", "-", "403", "y", "302", "302", "y"),
    "admin:crm_courserecord_changelist?action=create_study_records": ("302", "403", "y", "y", "-", "403", "y", "302", "302", "y"),
    "admin:crm_studyrecord_changelist?action=delete_selected": ("302", "403", "-", "-", "-", "403", "y", "302", "302", "y"),
    "admin:crm_department_changelist?action=delete_selected": ("302", "403", "403", "403", "403", "403", "y", "302", "302", "y"),
    "admin:crm_userprofile_changelist?action=delete_selected": ("302", "403", "403", "403", "403", "403", "-", "302", "302", "y"),
    "admin:auth_group_changelist?action=delete_selected": ("302", "403", "403", "403", "403", "403", "-", "302", "302", "y"),
    "admin:autocomplete?crm.customer.introduce_from": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:autocomplete?crm.publiccustomer.introduce_from": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
    "admin:autocomplete?crm.privatecustomer.introduce_from": ("302", "403", "403", "403", "403", "403", "200", "302", "302", "200"),
}
# fmt: on


@dataclass
class World:
    """One of each thing, scoped so that every role sees some rows and not others."""

    users: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)  # label -> model instance

    def label_of(self, obj) -> str | None:
        for label, candidate in self.objects.items():
            if (
                type(candidate)._meta.concrete_model is type(obj)._meta.concrete_model
                and candidate.pk == obj.pk
            ):
                return label
        return None

    def subject(self, model):
        """The object whose change, delete and history pages the matrix opens, for a model admin."""
        preferred = SUBJECTS.get(model._meta.model_name)
        if preferred:
            return self.objects[preferred]
        for candidate in self.objects.values():
            if type(candidate)._meta.concrete_model is model._meta.concrete_model:
                return candidate
        raise LookupError(f"The World has no {model._meta.label}: add one in build_world().")


# Which object of the World a model admin's object pages open (default: the first of its model).
SUBJECTS = {"publiccustomer": "public", "privatecustomer": "mine", "customer": "mine", "userprofile": "sales"}


def build_world(private_media) -> World:
    world = World()
    users = world.users
    users["sales"] = UserFactory(role="sales", username="sales_a", name="销售甲")
    users["other_sales"] = UserFactory(role="sales", username="sales_b", name="销售乙")
    users["class_teacher"] = UserFactory(role="class_teacher", username="ct_a", name="班主任甲")
    users["lecturer"] = UserFactory(role="lecturer", username="lecturer_a", name="讲师甲")
    users["ta"] = UserFactory(role="ta", username="ta_a", name="助教甲")
    users["finance"] = UserFactory(role="finance", username="finance_a", name="财务")
    users["boss"] = UserFactory(role="boss", username="boss_a", name="校长")
    users["student"] = UserFactory(role="student", username="student_a", name="学生甲")
    users["no_role"] = UserFactory(username="nobody", name="无角色")
    users["superuser"] = UserFactory(username="root", name="管理员", is_staff=True, is_superuser=True)
    other_teacher = UserFactory(role="lecturer", username="lecturer_z", name="讲师乙")

    objects = world.objects
    objects["campus"] = campus = CampusFactory(name="昌平校区")
    objects["contract"] = ContractTemplateFactory(name="标准合同")
    objects["department"] = DepartmentFactory(name="销售部")
    objects["class"] = klass = ClassListFactory(
        campus=campus, teachers=[users["class_teacher"], users["lecturer"], users["ta"]]
    )
    objects["other_class"] = other_class = ClassListFactory(campus=campus, teachers=[other_teacher])
    objects["public"] = CustomerFactory(name="公户客户")
    objects["mine"] = mine = CustomerFactory(name="甲的客户", consultant=users["sales"])
    objects["others"] = others = CustomerFactory(name="乙的客户", consultant=users["other_sales"])
    objects["pupil"] = pupil = CustomerFactory(
        name="学生客户",
        consultant=users["sales"],
        user=users["student"],
        status=Customer.Status.STUDYING,
        class_list=[klass],
    )
    objects["other_pupil"] = other_pupil = CustomerFactory(
        name="他班学生",
        consultant=users["other_sales"],
        status=Customer.Status.STUDYING,
        class_list=[other_class],
    )
    objects["my_followup"] = ConsultRecordFactory(customer=mine, consultant=users["sales"])
    objects["other_followup"] = ConsultRecordFactory(customer=others, consultant=users["other_sales"])
    objects["enrollment"] = EnrollmentFactory(
        customer=pupil, enrolment_class=klass, consultant=users["sales"], school=campus
    )
    objects["other_enrollment"] = EnrollmentFactory(
        customer=other_pupil, enrolment_class=other_class, consultant=users["other_sales"], school=campus
    )
    objects["payment"] = PaymentRecordFactory(
        customer=pupil,
        enrolment_class=klass,
        consultant=users["sales"],
        status=PaymentRecord.Status.UNCONFIRMED,
    )
    objects["other_payment"] = PaymentRecordFactory(
        customer=other_pupil, enrolment_class=other_class, consultant=users["other_sales"]
    )
    objects["lesson"] = lesson = CourseRecordFactory(re_class=klass, teacher=users["lecturer"])
    objects["other_lesson"] = other_lesson = CourseRecordFactory(re_class=other_class, teacher=other_teacher)
    objects["study"] = study = StudyRecordFactory(course_record=lesson, student=pupil)
    study.homework.save("homework.txt", ContentFile(b"print('hello')"), save=True)
    objects["other_study"] = StudyRecordFactory(course_record=other_lesson, student=other_pupil)
    objects["transfer"] = CustomerTransfer.objects.create(
        customer=mine, to_consultant=users["sales"], by=users["sales"], reason=CustomerTransfer.Reason.CLAIM
    )
    objects["import"] = CustomerImport.objects.create(user=users["boss"], file_name="名单.csv")
    objects["job"] = job = Job.objects.create(
        user=users["finance"],
        kind=Job.Kind.EXPORT,
        subject="缴费记录",
        state=Job.State.DONE,
        result_name="缴费记录.xlsx",
    )
    job.result_file.save("jobs/payments.xlsx", ContentFile(b"PK"), save=True)
    objects["sales_group"] = Group.objects.get(name="销售")
    for label in ("sales", "other_sales"):
        objects[label] = users[label]
    attempt = {"username": "ghost", "ip_address": "10.0.0.9", "user_agent": "test", "path_info": "/login/"}
    objects["attempt"] = AccessAttempt.objects.create(
        **attempt, get_data="", post_data="", failures_since_start=1, attempt_time=timezone.now()
    )
    objects["access_log"] = AccessLog.objects.create(**attempt, attempt_time=timezone.now())
    objects["failure_log"] = AccessFailureLog.objects.create(**attempt, attempt_time=timezone.now())
    return world


# --- walking the URLconf ---
@dataclass(frozen=True)
class Route:
    key: str  # the URL name, "admin:crm_customer_changelist", or the route of an unnamed URL
    pattern: URLPattern
    route: str


def routes() -> list[Route]:
    found = []

    def walk(resolver, prefix, namespace):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry, prefix + str(entry.pattern), inner)
            else:
                route = prefix + str(entry.pattern)
                key = f"{namespace}{entry.name}" if entry.name else route
                found.append(Route(key=key, pattern=entry, route=route))

    walk(get_resolver(), "", "")
    return found


ADMIN_OBJECT_ROUTE = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/<path:object_id>/")


def model_admin_of(route: str):
    match = re.match(r"^admin/(?P<app>\w+)/(?P<model>\w+)/", route)
    if not match:
        return None
    for model, model_admin in admin.site._registry.items():
        if (model._meta.app_label, model._meta.model_name) == (match["app"], match["model"]):
            return model_admin
    return None


def url_of(route: Route, world: World) -> str:
    """A concrete URL for a route: its parameters filled from the World."""
    path = route.route
    model_admin = model_admin_of(path)
    values = {
        "<path:object_id>": lambda: str(world.subject(model_admin.model if model_admin else Customer).pk),
        "<path:content_type_id>": lambda: str(ContentType.objects.get_for_model(Customer).pk),
        "<str:name>": lambda: "missing.csv",
        "<str:file_format>": lambda: "csv",
        "<id>": lambda: str(world.users["sales"].pk),
        "<int:pk>": lambda: str(world.objects["study"].pk),
        "<path:name>": lambda: world.objects["study"].homework.name,
        "(?P<url>.*)$": lambda: "no-such-page/",
        "<slug:area>": lambda: "sales",
        "<int:object_id>": lambda: str(world.subject(model_admin.model if model_admin else Customer).pk),
    }
    # The admin's app index lists the registered apps in registration order: ^(?P<app_label>crm|auth|…)/$
    path = re.sub(r"\^\(\?P<app_label>[\w|]+\)/\$", "crm/", path)
    for placeholder, value in values.items():
        if placeholder in path:
            path = path.replace(placeholder, value())
    path = path.replace("^", "").replace("$", "")
    if "<" in path or "(?P" in path:
        raise AssertionError(f"{route.key}: teach url_of() a value for the parameters of {route.route!r}")
    return "/" + path


def login(client, world: World, role: str):
    client.logout()
    if role != "anonymous":
        client.force_login(world.users[role])


def row_labels(response, world: World) -> str:
    changelist = response.context["cl"]
    labels = sorted(label for obj in changelist.result_list if (label := world.label_of(obj)))
    return f"[{','.join(labels)}]"


def answer(client, url: str, world: World, is_changelist: bool, role: str) -> str:
    response = client.get(url)
    status = str(response.status_code)
    if response.status_code == 302 and "login" not in response["Location"]:
        status = "302>"  # a redirect elsewhere than a login page
    if is_changelist and response.status_code == 200:
        status += row_labels(response, world)
    return status


# --- actions and autocomplete: not URLs of their own, listed beside them ---
def request_as(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def every_action(world: World) -> dict[str, tuple]:
    """``<changelist URL name>?action=<name>`` -> (model admin, action, changelist), for every action."""
    found = {}
    superuser = request_as(world.users["superuser"])
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        for action in model_admin.get_actions(superuser):
            found[f"{name}?action={action}"] = (model_admin, action, name)
    return found


def every_autocomplete(world: World) -> dict[str, tuple]:
    """ "admin:autocomplete?<app>.<model>.<field>" -> its GET parameters, for every autocomplete field."""
    found = {}
    superuser = request_as(world.users["superuser"])
    for model, model_admin in admin.site._registry.items():
        for field_name in model_admin.get_autocomplete_fields(superuser):
            key = f"admin:autocomplete?{model._meta.app_label}.{model._meta.model_name}.{field_name}"
            found[key] = {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": field_name,
                "term": "客",
            }
    return found


def action_answer(client, world: World, model_admin, action: str, changelist: str, lists, role: str) -> str:
    response = lists.get((role, changelist)) or client.get(reverse(changelist))
    lists[(role, changelist)] = response
    if response.status_code != 200:
        return answer_status(response)
    offered = action in model_admin.get_actions(request_as(world.users[role]))
    subject = world.subject(model_admin.model)
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [subject.pk], "index": 0, "select_across": 1}
    # The action runs on every row the role sees, and is undone: the rest of the walk sees the same World.
    with transaction.atomic():
        posted = client.post(reverse(changelist), data)
        transaction.set_rollback(True)
    if posted.status_code not in {200, 302}:
        return str(posted.status_code)
    return "y" if offered else "-"


def autocomplete_answer(client, params: dict, role: str) -> str:
    return answer_status(client.get(reverse("admin:autocomplete"), params))


def answer_status(response) -> str:
    if response.status_code == 302 and "login" not in response["Location"]:
        return "302>"
    return str(response.status_code)


def observed_row(client, world: World, key: str, probe) -> tuple[str, ...]:
    cells = []
    for role in ROLES:
        login(client, world, role)
        cells.append(probe(role))
    return tuple(cells)


def matrix_line(key: str, cells: tuple[str, ...]) -> str:
    return f'    "{key}": ({", ".join(repr(cell).replace(chr(39), chr(34)) for cell in cells)}),'


@pytest.fixture
def world(db, private_media, settings):
    # Every login of the walk would add a row to the access log, pushing the World's off its first page.
    settings.AXES_DISABLE_ACCESS_LOG = True
    return build_world(private_media)


def probes(client, world: World) -> dict:
    """Every key the matrix must list -> a function of the role giving the observed cell."""
    client.raise_request_exception = False  # a 500 is a cell of the matrix, not a crash of the test
    found = {}
    for route in routes():
        is_changelist = route.key.endswith("_changelist")
        found[route.key] = partial(answer, client, url_of(route, world), world, is_changelist)
    lists = {}  # (role, changelist) -> its response, shared by the changelist's actions
    for key, (model_admin, action, changelist) in every_action(world).items():
        found[key] = partial(action_answer, client, world, model_admin, action, changelist, lists)
    for key, params in every_autocomplete(world).items():
        found[key] = partial(autocomplete_answer, client, params)
    return found


def test_every_url_action_and_autocomplete_field_is_in_the_matrix(client, world):
    keys = probes(client, world)
    missing = [key for key in keys if key not in MATRIX]
    stale = [key for key in MATRIX if key not in keys]
    lines = []
    for key in missing:
        lines.append(matrix_line(key, observed_row(client, world, key, keys[key])))
    if missing and os.environ.get("MATRIX_DUMP"):
        Path(os.environ["MATRIX_DUMP"]).write_text("\n".join(lines) + "\n")
    assert not missing, (
        "These URLs are not in tests/test_access_matrix.py's MATRIX. Add their rows (filled with what "
        "they answer today: check each cell is what that role should get):\n" + "\n".join(lines)
    )
    assert not stale, f"MATRIX lists keys the URLconf no longer has: {stale}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_says(client, world, role):
    keys = probes(client, world)
    login(client, world, role)
    column = ROLES.index(role)
    wrong = []
    for key, probe in keys.items():
        if key not in MATRIX:
            continue  # reported by the test above
        login(client, world, role)
        got = probe(role)
        if got != MATRIX[key][column]:
            wrong.append(f"{key}: expected {MATRIX[key][column]}, got {got}")
    assert not wrong, f"As {role}:\n" + "\n".join(wrong)


def test_a_url_missing_from_the_matrix_is_named_with_the_row_to_add(client, world, monkeypatch):
    monkeypatch.delitem(MATRIX, "admin:crm_campus_add")

    with pytest.raises(AssertionError) as failure:
        test_every_url_action_and_autocomplete_field_is_in_the_matrix(client, world)

    assert '"admin:crm_campus_add": ("302", "403", "403", "403", "403", "403", "200",' in str(failure.value)


def test_no_cell_of_the_matrix_accepts_a_500():
    assert [key for key, cells in MATRIX.items() if "500" in cells] == []
