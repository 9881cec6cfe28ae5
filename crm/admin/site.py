import datetime

from django.contrib import admin
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import get_script_prefix, get_urlconf, path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from crm.admin.dashboard import dashboard_view
from crm.admin.filters import FollowUpFilter
from crm.forms import AdminLoginForm
from crm.models import CustomerTransfer, PaymentRecord
from crm.roles import APPROVE_ENROLLMENT, OWN_CUSTOMERS, TEACH_CLASS, VIEW_DASHBOARD
from crm.services import work_queue
from crm.services.dashboard import may_view_dashboard

# The model list (index and side menu) by area of the school's work, each area's models in the
# order of that work. A model not named here (a new one, a package's) goes to the last area, 设置.
AREAS = [
    (
        "sales",
        _("Sales"),
        [
            "crm.publiccustomer",
            "crm.privatecustomer",
            "crm.customer",
            "crm.consultrecord",
            "crm.customertransfer",
        ],
    ),
    ("teaching", _("Teaching"), ["crm.classlist", "crm.courserecord", "crm.studyrecord"]),
    ("finance", _("Finance"), ["crm.enrollment", "crm.paymentrecord"]),
    (
        "settings",
        _("Settings"),
        [
            "crm.userprofile",
            "auth.group",
            "crm.department",
            "crm.campus",
            "crm.contracttemplate",
            "crm.customerimport",
            "crm.job",
            "axes.accessattempt",
            "axes.accessfailurelog",
            "axes.accesslog",
        ],
    ),
]
OTHER_AREA = "settings"
# Django's auth "groups" are the school's roles (crm/roles.py).
MODEL_NAMES = {"auth.group": _("Roles")}
# Lessons of today listed on the home page; the course-record list behind its link has them all.
LESSONS_SHOWN = 12


def model_key(model_dict) -> str:
    return model_dict["model"]._meta.label_lower


POSITIONS = {
    key: (index, order) for index, (_slug, _name, keys) in enumerate(AREAS) for order, key in enumerate(keys)
}
OTHER_INDEX = next(index for index, (slug, _name, _keys) in enumerate(AREAS) if slug == OTHER_AREA)


def area_position(model_dict) -> tuple[int, int, str]:
    """(area, place in the area, name): unlisted models last in 设置, by name."""
    index, order = POSITIONS.get(model_key(model_dict), (OTHER_INDEX, len(POSITIONS)))
    return index, order, str(model_dict["name"])


# How many app lists (one per set of permissions, language, URL configuration) a process keeps.
APP_LISTS_KEPT = 256


class CrmAdminSite(admin.AdminSite):
    site_header = _("Campus CRM")
    site_title = _("Campus CRM")
    index_title = _("School back office")
    # The work queue of the user's roles above the models.
    index_template = "admin/crm/index.html"
    # An overlong username is a form error, not a 500 (see the form).
    login_form = AdminLoginForm

    def __init__(self, name="admin"):
        super().__init__(name)
        self._app_lists: dict[tuple, list[dict]] = {}

    def register(self, model_or_iterable, admin_class=None, **options):
        self._app_lists.clear()
        return super().register(model_or_iterable, admin_class, **options)

    def unregister(self, model_or_iterable):
        self._app_lists.clear()
        return super().unregister(model_or_iterable)

    def get_urls(self):
        urls = [
            path("dashboard/", self.admin_view(dashboard_view), {"site": self}, name="dashboard"),
            path("area/<slug:area>/", self.admin_view(self.area_index), name="area"),
        ]
        return [*urls, *super().get_urls()]

    def index(self, request, extra_context=None):
        extra_context = {
            "show_dashboard": may_view_dashboard(request.user),
            **self.work_queue_context(request),
            **(extra_context or {}),
        }
        return super().index(request, extra_context)

    def get_app_list(self, request, app_label=None):
        """The models grouped by area (销售, 教学, 财务, 设置) instead of by Django app; an app's own page
        (``app_label``: the breadcrumbs' "校园 CRM") keeps that app, its models in the same order.

        Every admin page shows it (the side menu): it is built once for each set of permissions,
        language and URL configuration, not at every request (four permission checks and two URL
        reversals per model, a tenth of a list page's time). The lists built are read only."""
        user = request.user
        key = (
            app_label,
            user.is_active,
            user.is_superuser,
            frozenset(user.get_all_permissions()),
            get_language(),
            get_urlconf(),
            get_script_prefix(),
        )
        app_list = self._app_lists.get(key)
        if app_list is None:
            if len(self._app_lists) >= APP_LISTS_KEPT:
                self._app_lists.clear()
            app_list = self._app_lists[key] = self.build_app_list(request, app_label)
        return app_list

    def build_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            for model in app["models"]:
                model["name"] = MODEL_NAMES.get(model_key(model), model["name"])
            app["models"].sort(key=area_position)
        if app_label is not None:
            return app_list
        return self.areas(model for app in app_list for model in app["models"])

    def areas(self, models) -> list[dict]:
        grouped: dict[int, list] = {}
        for model in models:
            grouped.setdefault(area_position(model)[0], []).append(model)
        return [
            {
                "name": name,
                "app_label": slug,
                "app_url": reverse("admin:area", kwargs={"area": slug}, current_app=self.name),
                "has_module_perms": True,
                "models": sorted(grouped[index], key=area_position),
            }
            for index, (slug, name, _keys) in enumerate(AREAS)
            if index in grouped
        ]

    def area_index(self, request, area):
        """One area's models, the way Django's app page lists one app's."""
        app_list = [app for app in self.get_app_list(request) if app["app_label"] == area]
        if not app_list:
            raise Http404(_("Not found."))
        context = {
            **self.each_context(request),
            "title": app_list[0]["name"],
            "subtitle": None,
            "app_list": app_list,
            "app_label": area,
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/app_index.html", context)

    # --- work queue ---
    def work_queue_context(self, request) -> dict:
        """The boxes of the home page, each shown to whoever holds the capability it is about; every
        box is one query (see crm/services/work_queue.py)."""
        user = request.user
        today = timezone.localdate()
        context = {}
        if user.has_perm(OWN_CUSTOMERS):
            context["sales_queue"] = self.sales_queue(user, today)
            context["notice_queue"] = self.notice_queue(user)
        if user.has_perm("crm.confirm_paymentrecord"):
            context["finance_queue"] = self.finance_queue(user, today)
        if user.has_perm(APPROVE_ENROLLMENT):
            context["approval_queue"] = {
                "count": work_queue.enrollments_awaiting_approval(user),
                "url": changelist_url(
                    "enrollment", {"contract_agreed__exact": 1, "contract_approved__exact": 0}
                ),
            }
        if user.has_perm(TEACH_CLASS):
            context["lesson_queue"] = self.lesson_queue(user, today)
        if user.has_perm(VIEW_DASHBOARD):
            context["team_queue"] = self.team_queue(today)
        return context

    def sales_queue(self, user, today) -> dict:
        figures = work_queue.sales_figures(user, today=today)
        mine = "privatecustomer"
        return {
            **figures,
            "claimed": work_queue.claimed_today(user, today=today),
            "today_url": changelist_url(mine, {FollowUpFilter.parameter_name: FollowUpFilter.TODAY}),
            "overdue_url": changelist_url(mine, {FollowUpFilter.parameter_name: FollowUpFilter.OVERDUE}),
            "recycling_url": changelist_url(mine, {"recycling": "soon"}),
            "owned_url": changelist_url(mine),
            "claimed_url": changelist_url(
                "customertransfer",
                {
                    "reason__exact": CustomerTransfer.Reason.CLAIM,
                    "to_consultant__id__exact": user.pk,
                    "date__range__gte": today.isoformat(),
                    "date__range__lte": today.isoformat(),
                },
            ),
        }

    def notice_queue(self, user) -> dict:
        """What changed for the salesperson since the home page last showed it (then marked as seen)."""
        now = timezone.now()
        since = work_queue.notices_since(user)
        found = work_queue.notices(user, since=since, until=now)
        work_queue.notices_mark_seen(user, at=now)
        return {**found, "since": timezone.localtime(since)}

    def finance_queue(self, user, today) -> dict:
        figures = work_queue.finance_figures(user, today=today)
        since = timezone.localtime(work_queue.rejected_since(today))
        return {
            **figures,
            "rejected_days": work_queue.REJECTED_DAYS,
            "pending_url": changelist_url(
                "paymentrecord", {"status__exact": PaymentRecord.Status.UNCONFIRMED}
            ),
            "rejected_url": changelist_url(
                "paymentrecord",
                {"status__exact": PaymentRecord.Status.REJECTED, "confirm_date__gte": since.isoformat()},
            ),
        }

    def lesson_queue(self, user, today) -> dict:
        lessons = work_queue.lessons_today(user, today=today, limit=LESSONS_SHOWN + 1)
        return {
            "lessons": [(lesson, attendance_url(lesson)) for lesson in lessons[:LESSONS_SHOWN]],
            "more": len(lessons) > LESSONS_SHOWN,
            # The course-record list's own 今天 choice of its date filter.
            "url": changelist_url(
                "courserecord",
                {
                    "date__gte": today.isoformat(),
                    "date__lt": (today + datetime.timedelta(days=1)).isoformat(),
                },
            ),
        }

    def team_queue(self, today) -> dict:
        rows = work_queue.team_overdue(today=today)
        overdue = {FollowUpFilter.parameter_name: FollowUpFilter.OVERDUE}
        return {
            "rows": [
                {
                    "name": row["consultant__name"] or row["consultant__username"],
                    "overdue": row["overdue"],
                    "url": changelist_url(
                        "customer", {"consultant__id__exact": row["consultant"], **overdue}
                    ),
                }
                for row in rows
            ],
            "total": sum(row["overdue"] for row in rows),
            "dashboard_url": reverse("admin:dashboard"),
        }


def changelist_url(model_name: str, params: dict | None = None) -> str:
    url = reverse(f"admin:crm_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def attendance_url(lesson) -> str:
    """The lesson's 点名 page."""
    return reverse("admin:crm_courserecord_attendance", args=[lesson.pk])
