"""What the admin modules share: scoping (a filter naming a row outside the user's scope gives an
empty list), the one save strategy (locked checks in the form's clean, inside the admin's own save
transaction), the recycle bin (the only delete of follow-ups, enrollments and payments for anyone but
the superuser) and change messages in the forms' language."""

import datetime
import html

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from crm.admin import followups as followups_admin
from crm.models import Campus, ConsultRecord, Customer, Enrollment, PaymentRecord
from tests.factories import (
    ConsultRecordFactory,
    CourseRecordFactory,
    CustomerFactory,
    EnrollmentFactory,
    PaymentRecordFactory,
    StudyRecordFactory,
)

pytestmark = pytest.mark.django_db

MODELS = {
    "consultrecord": (ConsultRecord, ConsultRecordFactory),
    "enrollment": (Enrollment, EnrollmentFactory),
    "paymentrecord": (PaymentRecord, PaymentRecordFactory),
}


def changelist(model_name):
    return reverse(f"admin:crm_{model_name}_changelist")


def act(client, model_name, action, rows, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [row.pk for row in rows], **extra}
    return client.post(changelist(model_name), data)


def offered_actions(response):
    return [name for name, _label in response.context["action_form"].fields["action"].choices if name]


# The save strategy rests on Django running the form's clean and save_model in one transaction
# (ModelAdmin.changeform_view, Django 5.2): if that ever changes, the locks of the checks would be
# released before the save.
@pytest.mark.django_db(transaction=True)
def test_the_forms_locking_check_runs_inside_the_admins_save_transaction(client_for, sales_user, monkeypatch):
    customer = CustomerFactory(consultant=sales_user, date=timezone.now() - datetime.timedelta(days=9))
    seen = []
    check = followups_admin.consult_records_check

    def spy(**kwargs):
        seen.append(connection.in_atomic_block)
        return check(**kwargs)

    monkeypatch.setattr(followups_admin, "consult_records_check", spy)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    response = client_for(sales_user).post(
        reverse("admin:crm_consultrecord_add"),
        {
            "customer": customer.pk,
            "date_0": yesterday.isoformat(),
            "date_1": "10:00:00",
            "status": ConsultRecord.Stage.B,
            "note": "电话",
            "next_date": (yesterday + datetime.timedelta(days=5)).isoformat(),
        },
    )

    assert response.status_code == 302
    assert seen == [True]


# Finding 8: the boss held Django's hard delete_selected beside a soft delete of another name.
@pytest.mark.parametrize("model_name", MODELS)
def test_the_boss_is_offered_the_recycle_bin_and_no_hard_delete(boss_client, model_name):
    response = boss_client.get(changelist(model_name))

    assert "move_to_recycle_bin" in offered_actions(response)
    assert "delete_selected" not in offered_actions(response)
    assert "移入回收站" in response.content.decode()


@pytest.mark.parametrize("model_name", MODELS)
def test_the_bosss_forged_delete_deletes_nothing(boss_client, model_name):
    model, factory = MODELS[model_name]
    row = factory()

    act(boss_client, model_name, "delete_selected", [row], post="yes")

    assert model.objects.filter(pk=row.pk).exists()
    assert boss_client.get(reverse(f"admin:crm_{model_name}_delete", args=[row.pk])).status_code == 403
    assert (
        boss_client.post(
            reverse(f"admin:crm_{model_name}_delete", args=[row.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("model_name", MODELS)
def test_the_superuser_keeps_djangos_delete(client_for, make_user, model_name):
    model, factory = MODELS[model_name]
    row = factory()
    superuser = make_user(username="root", is_superuser=True, is_staff=True)

    act(client_for(superuser), model_name, "delete_selected", [row], post="yes")

    assert not model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("model_name", MODELS)
def test_the_recycle_bin_confirms_first_then_soft_deletes_with_history(boss_client, boss_user, model_name):
    model, factory = MODELS[model_name]
    row = factory()

    page = act(boss_client, model_name, "move_to_recycle_bin", [row])
    assert page.status_code == 200
    content = html.unescape(page.content.decode())
    assert str(row) in content
    assert 'name="post" value="yes"' in content
    row.refresh_from_db()
    assert row.delete_status is False

    done = act(boss_client, model_name, "move_to_recycle_bin", [row], post="yes")

    assert done.status_code == 302
    row.refresh_from_db()
    assert row.delete_status is True
    entry = LogEntry.objects.get(object_id=str(row.pk))
    assert (entry.user, entry.get_change_message()) == (boss_user, "已移入回收站。")
    if model_name != "consultrecord":  # the boss holds crm.view_deleted_consultrecord
        assert row not in boss_client.get(changelist(model_name)).context["cl"].result_list


def test_a_confirmed_payment_cannot_be_moved_to_the_recycle_bin(boss_client):
    confirmed = PaymentRecordFactory(status=PaymentRecord.Status.CONFIRMED)

    response = act(boss_client, "paymentrecord", "move_to_recycle_bin", [confirmed], post="yes")

    assert response.status_code == 302
    messages = [str(message) for message in response.wsgi_request._messages]
    assert any("已确认的缴费记录不能删除" in message for message in messages)
    confirmed.refresh_from_db()
    assert confirmed.delete_status is False


def test_sales_move_their_own_unconfirmed_payment_to_the_bin(sales_client, sales_user, own_customer):
    mine = PaymentRecordFactory(customer=own_customer, consultant=sales_user)
    theirs = PaymentRecordFactory()

    act(sales_client, "paymentrecord", "move_to_recycle_bin", [mine, theirs], post="yes")

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.delete_status, theirs.delete_status) == (True, False)


def test_finance_moves_an_unconfirmed_payment_to_the_bin(finance_client):
    pending = PaymentRecordFactory()
    act(finance_client, "paymentrecord", "move_to_recycle_bin", [pending], post="yes")
    pending.refresh_from_db()
    assert pending.delete_status is True


# --- The change history speaks the forms' language ---


def test_the_history_of_a_change_names_the_fields_as_the_form_shows_them(boss_client):
    campus = Campus.objects.create(name="北京校区", address="旧地址")
    response = boss_client.post(
        reverse("admin:crm_campus_change", args=[campus.pk]), {"name": "北京总校", "address": "新地址"}
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get(object_id=str(campus.pk))
    assert entry.get_change_message() == "已修改校区名称 和 地址。"
    html = boss_client.get(reverse("admin:crm_campus_history", args=[campus.pk])).content.decode()
    assert "已修改校区名称 和 地址。" in html
    assert "Campus name" not in html and "Address" not in html


def test_an_addition_keeps_djangos_own_message(boss_client):
    response = boss_client.post(reverse("admin:crm_campus_add"), {"name": "上海校区", "address": ""})
    assert response.status_code == 302
    assert LogEntry.objects.get().get_change_message() == "已添加。"


# --- Scoping: a filter naming a row outside the user's scope gives an empty list ---


def scoped_rows(response):
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


ENROLLMENTS = reverse("admin:crm_enrollment_changelist")
STUDY_RECORDS = reverse("admin:crm_studyrecord_changelist")
POOL = reverse("admin:crm_publiccustomer_changelist")


def scoped_scoped_rows(response):
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_a_filter_on_a_class_outside_the_scope_gives_an_empty_list(
    client_for, class_teacher_user, teaching_class, other_class
):
    # Finding 11: the class filter has one choice for this teacher, so Django hid it and dropped the
    # parameter: the teacher saw their own class's rows as if filtered on the other class.
    own = EnrollmentFactory(enrolment_class=teaching_class)
    EnrollmentFactory(enrolment_class=other_class)
    client = client_for(class_teacher_user)

    assert scoped_rows(client.get(ENROLLMENTS, {"enrolment_class__id__exact": other_class.pk})) == []
    assert scoped_rows(client.get(ENROLLMENTS, {"enrolment_class": other_class.pk})) == []
    assert (
        scoped_rows(client.get(ENROLLMENTS, {"enrolment_class__in": f"{teaching_class.pk},{other_class.pk}"}))
        == []
    )
    assert scoped_rows(client.get(ENROLLMENTS, {"enrolment_class__id__exact": teaching_class.pk})) == [own]


def test_a_filter_on_the_user_s_own_class_is_applied_even_with_one_choice(
    client_for, class_teacher_user, teaching_class, other_class
):
    # The teacher's own enrollment in another class is in scope, but not in the filtered list.
    EnrollmentFactory(enrolment_class=other_class, consultant=class_teacher_user)
    own = EnrollmentFactory(enrolment_class=teaching_class)

    response = client_for(class_teacher_user).get(
        ENROLLMENTS, {"enrolment_class__id__exact": teaching_class.pk}
    )

    assert scoped_rows(response) == [own]


def test_the_students_page_links_to_each_student_s_study_records(
    client_for, lecturer_user, teaching_class, enroll_students
):
    # The students are not the teacher's customers, yet the list names them: the filter is in scope.
    [student] = enroll_students(teaching_class, 1)
    record = StudyRecordFactory(course_record=CourseRecordFactory(re_class=teaching_class), student=student)
    client = client_for(lecturer_user)
    page = client.get(reverse("admin:crm_classlist_students", args=[teaching_class.pk]))
    query = {"course_record__re_class__id__exact": teaching_class.pk, "student__id__exact": student.pk}

    assert f"student__id__exact={student.pk}" in page.content.decode()
    assert scoped_rows(client.get(STUDY_RECORDS, query)) == [record]
    stranger = CustomerFactory(status=Customer.Status.STUDYING)
    assert scoped_rows(client.get(STUDY_RECORDS, {"student__id__exact": stranger.pk})) == []


def test_a_filter_on_a_lesson_of_another_class_gives_an_empty_list(
    client_for, lecturer_user, teaching_class, other_class
):
    StudyRecordFactory(course_record=CourseRecordFactory(re_class=teaching_class))
    foreign_lesson = CourseRecordFactory(re_class=other_class)
    client = client_for(lecturer_user)

    assert scoped_rows(client.get(STUDY_RECORDS, {"course_record__id__exact": foreign_lesson.pk})) == []
    assert (
        scoped_rows(client.get(STUDY_RECORDS, {"course_record__re_class__id__exact": other_class.pk})) == []
    )


def test_the_pool_is_no_oracle_for_whom_another_salesperson_s_customer_referred(
    sales_client, sales_user, other_sales_user
):
    # Finding 10: ?introduce_from=<id> listed the pool customers referred by any customer at all.
    theirs = CustomerFactory(consultant=other_sales_user)
    mine = CustomerFactory(consultant=sales_user)
    CustomerFactory(introduce_from=theirs)
    referred_by_mine = CustomerFactory(introduce_from=mine)

    assert scoped_rows(sales_client.get(POOL, {"introduce_from": theirs.pk})) == []
    assert scoped_rows(sales_client.get(POOL, {"introduce_from__id__exact": theirs.pk})) == []
    assert scoped_rows(sales_client.get(POOL, {"introduce_from": mine.pk})) == [referred_by_mine]


def test_the_boss_filters_on_any_row(boss_client, other_sales_user):
    theirs = CustomerFactory(consultant=other_sales_user)
    referred = CustomerFactory(introduce_from=theirs)

    assert scoped_rows(boss_client.get(POOL, {"introduce_from": theirs.pk})) == [referred]


def test_a_parameter_that_names_no_row_filters_as_django_does(client_for, class_teacher_user, teaching_class):
    EnrollmentFactory(enrolment_class=teaching_class)
    client = client_for(class_teacher_user)

    assert len(scoped_rows(client.get(ENROLLMENTS, {"enrolment_class__isnull": "False"}))) == 1
    assert client.get(ENROLLMENTS, {"enrolment_class__id__exact": "x"}).status_code in (200, 302)


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_a_row_outside_the_scope_answers_404_like_a_missing_one(
    client_for, class_teacher_user, other_class, view
):
    # Pins Django 5.2's behaviour we replace through get_object: it redirected to the index with
    # "doesn't exist" for a row the user may not see.
    foreign = EnrollmentFactory(enrolment_class=other_class)
    client = client_for(class_teacher_user)

    assert client.get(reverse(f"admin:crm_enrollment_{view}", args=[foreign.pk])).status_code == 404
    assert client.get(reverse(f"admin:crm_enrollment_{view}", args=[999_999])).status_code == 404
    assert client.get(reverse(f"admin:crm_enrollment_{view}", args=["nonsense"])).status_code == 404


# --- Autocomplete fields re-render only valid keys ---


@pytest.mark.parametrize("forged", ["0001-01-01", str(2**70)])
def test_a_forged_value_in_an_autocomplete_field_is_a_form_error_not_a_500(boss_client, forged):
    response = boss_client.post(
        reverse("admin:crm_customer_add"),
        {"name": "甲", "qq": "123456789", "source": "qq", "class_type": "fulltime", "introduce_from": forged},
    )

    assert response.status_code == 200
    assert "introduce_from" in response.context["adminform"].form.errors


def test_the_action_checkbox_is_the_markup_of_django():
    # Pins Django 5.2's ModelAdmin.action_checkbox, which CrmModelAdmin writes without a widget.
    from django.contrib import admin as django_admin

    from crm.admin.customers import CampusAdmin
    from crm.models import Campus

    campus = Campus(pk=7, name="北京")
    ours = CampusAdmin(Campus, django_admin.site).action_checkbox(campus)
    django = django_admin.ModelAdmin(Campus, django_admin.site).action_checkbox(campus)

    def attributes(html):
        import re

        return sorted(re.findall(r'(\w[\w-]*)="([^"]*)"', html))

    assert attributes(ours) == attributes(django)
