"""The one declaration of roles and their permissions.

Roles are Django groups, kept in sync with this declaration after every ``migrate``. Access
rules elsewhere are written against permissions (``user.has_perm``), never group names.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Role:
    code: str
    group_name: str
    label: str
    is_staff: bool
    permissions: frozenset[str]


def _perms(model: str, *actions: str) -> set[str]:
    return {f"crm.{action}_{model}" for action in actions}


def recycle_permission(model) -> str:
    """The capability of moving ``model``'s rows to the recycle bin: ``crm.recycle_<model>``."""
    return f"{model._meta.app_label}.recycle_{model._meta.model_name}"


CRUD = ("view", "add", "change", "delete")

# Capabilities: what a user may do beyond a model's CRUD, checked by these names and never inferred
# from the CRUD permissions that happen to go with them.
VIEW_ALL_CLASSES = "crm.view_all_classes"
APPROVE_ENROLLMENT = "crm.approve_enrollment"
VIEW_DASHBOARD = "crm.view_dashboard"
OWN_CUSTOMERS = "crm.own_customers"
TEACH_CLASS = "crm.teach_class"
VIEW_DELETED_CONSULTRECORD = "crm.view_deleted_consultrecord"
# Every background job, not only one's own (crm.view_job shows the job page and one's own jobs).
VIEW_ALL_JOBS = "crm.view_all_jobs"
CAPABILITIES = frozenset(
    {
        VIEW_ALL_CLASSES,
        APPROVE_ENROLLMENT,
        VIEW_DASHBOARD,
        OWN_CUSTOMERS,
        TEACH_CLASS,
        VIEW_DELETED_CONSULTRECORD,
        VIEW_ALL_JOBS,
    }
)

SALES = Role(
    code="sales",
    group_name="销售",
    label=_("Sales"),
    is_staff=True,
    permissions=frozenset(
        _perms("publiccustomer", "view", "add", "change")
        | _perms("privatecustomer", "view", "add", "change")
        | _perms("customer", "claim", "release", "lock")
        | {OWN_CUSTOMERS}
        | _perms("consultrecord", "view", "add", "change", "recycle")
        | _perms("enrollment", "view", "add", "change", "recycle")
        | _perms("paymentrecord", "view", "add", "change", "recycle")
        | _perms("customertransfer", "view")
        | _perms("campus", "view")
    ),
)
CLASS_TEACHER = Role(
    code="class_teacher",
    group_name="班主任",
    label=_("Class teacher"),
    is_staff=True,
    permissions=frozenset(
        _perms("classlist", "view", "change")
        | _perms("courserecord", *CRUD)
        | _perms("studyrecord", "view", "add", "change")
        | _perms("enrollment", "view", "change", "recycle")
        | _perms("campus", "view")
        | _perms("contracttemplate", "view")
        | {APPROVE_ENROLLMENT, TEACH_CLASS}
    ),
)
LECTURER = Role(
    code="lecturer",
    group_name="讲师",
    label=_("Lecturer"),
    is_staff=True,
    permissions=frozenset(
        _perms("classlist", "view")
        | _perms("courserecord", "view", "add", "change")
        | _perms("studyrecord", "view", "add", "change")
        | {TEACH_CLASS}
    ),
)
TA = Role(
    code="ta",
    group_name="助教",
    label=_("Teaching assistant"),
    is_staff=True,
    permissions=frozenset(
        _perms("classlist", "view")
        | _perms("courserecord", "view")
        | _perms("studyrecord", "view", "change")
        | {TEACH_CLASS}
    ),
)
FINANCE = Role(
    code="finance",
    group_name="财务",
    label=_("Finance"),
    is_staff=True,
    permissions=frozenset(
        _perms("paymentrecord", "view", "change", "confirm", "export", "recycle")
        | _perms("enrollment", "view", "export")
        | _perms("classlist", "view")
        | _perms("campus", "view")
        | _perms("job", "view")
        | {VIEW_ALL_CLASSES}
    ),
)
BOSS = Role(
    code="boss",
    group_name="校长",
    label=_("Boss"),
    is_staff=True,
    permissions=frozenset(
        _perms("customer", *CRUD, "claim", "release", "lock", "import", "export")
        | {"crm.view_all_customers", "crm.correct_customer_status"}
        | CAPABILITIES
        | _perms("publiccustomer", *CRUD)
        | _perms("privatecustomer", *CRUD)
        | _perms("customertransfer", "view")
        | _perms("consultrecord", *CRUD, "recycle")
        | _perms("enrollment", *CRUD, "export", "recycle")
        | _perms("paymentrecord", *CRUD, "confirm", "export", "recycle")
        | _perms("classlist", *CRUD)
        | _perms("courserecord", *CRUD)
        | _perms("studyrecord", *CRUD)
        | _perms("campus", *CRUD)
        | _perms("contracttemplate", *CRUD)
        | _perms("department", *CRUD)
        | _perms("userprofile", "view", "add", "change")
        | _perms("customerimport", "view", "change")
        | _perms("job", "view")
        | {"auth.view_group"}
        # django-axes' failed logins: deleting a user's row unlocks them.
        | {"axes.view_accessattempt", "axes.delete_accessattempt"}
    ),
)
STUDENT = Role(
    code="student",
    group_name="学生",
    label=_("Student"),
    is_staff=False,
    permissions=frozenset(),
)

ROLES: tuple[Role, ...] = (SALES, CLASS_TEACHER, LECTURER, TA, FINANCE, BOSS, STUDENT)
ROLES_BY_CODE = {role.code: role for role in ROLES}


def sync_roles(sender=None, using="default", **kwargs) -> None:
    """post_migrate handler: make every role's group hold exactly its declared permissions."""
    from django.contrib.auth.models import Group, Permission

    wanted = {perm for role in ROLES for perm in role.permissions}
    by_name = {
        f"{perm.content_type.app_label}.{perm.codename}": perm
        for perm in Permission.objects.using(using).select_related("content_type")
    }
    missing = wanted - by_name.keys()
    if missing:
        # Permissions of models not migrated yet; the next post_migrate completes the sync.
        if kwargs.get("verbosity", 1) >= 2:
            print(f"Roles: permissions not created yet: {sorted(missing)}")
    for role in ROLES:
        group, _created = Group.objects.using(using).get_or_create(name=role.group_name)
        group.permissions.set([by_name[perm] for perm in role.permissions if perm in by_name])
