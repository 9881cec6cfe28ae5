import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from crm.models import ClassList, Enrollment, PaymentRecord, UserProfile
from crm.roles import (
    APPROVE_ENROLLMENT,
    CAPABILITIES,
    OWN_CUSTOMERS,
    ROLES,
    TEACH_CLASS,
    VIEW_ALL_CLASSES,
    VIEW_ALL_JOBS,
    VIEW_DASHBOARD,
    VIEW_DELETED_CONSULTRECORD,
    sync_roles,
)
from crm.services.dashboard import may_view_dashboard
from tests.factories import ClassListFactory, EnrollmentFactory, PaymentRecordFactory


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.code)
def test_each_role_has_exactly_its_declared_permissions_after_migrate(role):
    group = Group.objects.get(name=role.group_name)
    granted = {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }
    assert granted == set(role.permissions)


@pytest.mark.django_db
def test_sync_restores_a_permission_removed_by_hand():
    group = Group.objects.get(name=ROLES[0].group_name)
    group.permissions.clear()
    sync_roles()
    assert group.permissions.count() == len(ROLES[0].permissions)


@pytest.mark.django_db
def test_changing_the_role_declaration_needs_no_migration():
    call_command("makemigrations", "crm", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_access_is_granted_by_permission_not_by_group_name(make_user):
    user = make_user("sales")
    assert user.has_perm("crm.claim_customer")
    assert not user.has_perm("crm.view_all_customers")
    assert make_user("boss").has_perm("crm.view_all_customers")


# --- capabilities --------------------------------------------------------------------------------
HOLDERS = {
    VIEW_ALL_CLASSES: {"finance", "boss"},
    APPROVE_ENROLLMENT: {"class_teacher", "boss"},
    VIEW_DASHBOARD: {"boss"},
    OWN_CUSTOMERS: {"sales", "boss"},
    TEACH_CLASS: {"class_teacher", "lecturer", "ta", "boss"},
    VIEW_DELETED_CONSULTRECORD: {"boss"},
    VIEW_ALL_JOBS: {"boss"},
}


# Who may move a list's rows to the recycle bin (RecycleBinAdminMixin): a permission of each model.
RECYCLERS = {
    "crm.recycle_consultrecord": {"sales", "boss"},
    "crm.recycle_enrollment": {"sales", "class_teacher", "boss"},
    "crm.recycle_paymentrecord": {"sales", "finance", "boss"},
}


def grant(user, *perms: str):
    """Give the user's role (its group) more permissions, as the boss would by editing the role."""
    for perm in perms:
        app_label, codename = perm.split(".")
        permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
        user.groups.get().permissions.add(permission)
    return type(user).objects.get(pk=user.pk)  # a fresh instance: has_perm caches the permissions


def admin_request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_every_capability_is_declared_with_its_holders():
    assert set(HOLDERS) == CAPABILITIES


@pytest.mark.django_db
@pytest.mark.parametrize("capability", sorted(HOLDERS | RECYCLERS))
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.code)
def test_each_capability_is_held_by_its_roles_only(make_user, role, capability):
    user = make_user(role.code, username=f"holder_{role.code}")
    assert user.has_perm(capability) == (role.code in (HOLDERS | RECYCLERS)[capability])


@pytest.mark.django_db
def test_seeing_every_class_is_not_inferred_from_enrollment_or_payment_permissions(
    make_user, class_teacher_user, teaching_class, other_class
):
    # Finding 7: adding or viewing enrollments, viewing, confirming or exporting payments and exporting
    # enrollments each used to open every class, enrollment or payment of the school.
    EnrollmentFactory(enrolment_class=other_class)
    PaymentRecordFactory(enrolment_class=other_class)
    teacher = grant(
        class_teacher_user,
        "crm.add_enrollment",
        "crm.view_paymentrecord",
        "crm.confirm_paymentrecord",
        "crm.export_paymentrecord",
        "crm.export_enrollment",
        "crm.add_classlist",
    )
    assert list(ClassList.objects.visible_to(teacher)) == [teaching_class]
    assert not Enrollment.objects.visible_to(teacher).exists()
    assert not PaymentRecord.objects.visible_to(teacher).exists()

    finance = make_user("finance", username="finance_caps")
    assert ClassList.objects.visible_to(finance).count() == 2
    assert Enrollment.objects.visible_to(finance).count() == 1
    assert PaymentRecord.objects.visible_to(finance).count() == 1


@pytest.mark.django_db
def test_approving_enrollments_is_not_inferred_from_changing_enrollments_and_classes(
    sales_user, class_teacher_user
):
    enrollments = admin.site.get_model_admin(Enrollment)
    sales = grant(sales_user, "crm.change_enrollment", "crm.change_classlist")
    assert not enrollments.has_approve_permission(admin_request(sales))
    assert enrollments.has_approve_permission(admin_request(class_teacher_user))


@pytest.mark.django_db
def test_teaching_staff_is_not_inferred_from_marking_study_records(
    client_for, boss_user, sales_user, finance_user, lecturer_user
):
    grant(sales_user, "crm.change_studyrecord", "crm.add_studyrecord")
    assert set(UserProfile.objects.teaching_staff()) == {boss_user, lecturer_user}

    klass = ClassListFactory()
    response = client_for(boss_user).get(reverse("admin:crm_classlist_change", args=[klass.pk]))
    offered = set(response.context["adminform"].form.fields["teachers"].queryset)
    assert offered == {boss_user, lecturer_user}
    lesson_form = client_for(boss_user).get(reverse("admin:crm_courserecord_add")).context["adminform"].form
    assert set(lesson_form.fields["teacher"].queryset) == {boss_user, lecturer_user}


@pytest.mark.django_db
def test_the_dashboard_is_not_inferred_from_seeing_every_customer(finance_user, boss_user):
    finance = grant(finance_user, "crm.view_all_customers")
    assert not may_view_dashboard(finance)
    assert may_view_dashboard(boss_user)


@pytest.mark.django_db
def test_owning_customers_is_not_inferred_from_the_customer_permissions(
    class_teacher_user, sales_user, boss_user
):
    grant(class_teacher_user, "crm.add_privatecustomer", "crm.change_privatecustomer", "crm.claim_customer")
    assert set(UserProfile.objects.sales_staff()) == {sales_user, boss_user}


@pytest.mark.django_db
def test_moving_rows_to_the_recycle_bin_is_not_inferred_from_changing_or_deleting_them(lecturer_user):
    # It was: whoever might change or delete a model's rows was offered 移入回收站 on its list.
    model_admin = admin.site._registry[PaymentRecord]
    user = grant(
        lecturer_user, "crm.view_paymentrecord", "crm.change_paymentrecord", "crm.delete_paymentrecord"
    )
    assert "move_to_recycle_bin" not in model_admin.get_actions(admin_request(user))
    user = grant(user, "crm.recycle_paymentrecord")
    assert "move_to_recycle_bin" in model_admin.get_actions(admin_request(user))
