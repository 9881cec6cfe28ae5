"""What every scoped admin list shares (crm/admin/base.py, ScopedAdminMixin)."""

import pytest
from django.urls import reverse

from crm.models import Customer
from tests.factories import (
    CourseRecordFactory,
    CustomerFactory,
    EnrollmentFactory,
    StudyRecordFactory,
)

pytestmark = pytest.mark.django_db

ENROLLMENTS = reverse("admin:crm_enrollment_changelist")
STUDY_RECORDS = reverse("admin:crm_studyrecord_changelist")
POOL = reverse("admin:crm_publiccustomer_changelist")


def rows(response):
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

    assert rows(client.get(ENROLLMENTS, {"enrolment_class__id__exact": other_class.pk})) == []
    assert rows(client.get(ENROLLMENTS, {"enrolment_class": other_class.pk})) == []
    assert (
        rows(client.get(ENROLLMENTS, {"enrolment_class__in": f"{teaching_class.pk},{other_class.pk}"})) == []
    )
    assert rows(client.get(ENROLLMENTS, {"enrolment_class__id__exact": teaching_class.pk})) == [own]


def test_a_filter_on_the_user_s_own_class_is_applied_even_with_one_choice(
    client_for, class_teacher_user, teaching_class, other_class
):
    # The teacher's own enrollment in another class is in scope, but not in the filtered list.
    EnrollmentFactory(enrolment_class=other_class, consultant=class_teacher_user)
    own = EnrollmentFactory(enrolment_class=teaching_class)

    response = client_for(class_teacher_user).get(
        ENROLLMENTS, {"enrolment_class__id__exact": teaching_class.pk}
    )

    assert rows(response) == [own]


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
    assert rows(client.get(STUDY_RECORDS, query)) == [record]
    stranger = CustomerFactory(status=Customer.Status.STUDYING)
    assert rows(client.get(STUDY_RECORDS, {"student__id__exact": stranger.pk})) == []


def test_a_filter_on_a_lesson_of_another_class_gives_an_empty_list(
    client_for, lecturer_user, teaching_class, other_class
):
    StudyRecordFactory(course_record=CourseRecordFactory(re_class=teaching_class))
    foreign_lesson = CourseRecordFactory(re_class=other_class)
    client = client_for(lecturer_user)

    assert rows(client.get(STUDY_RECORDS, {"course_record__id__exact": foreign_lesson.pk})) == []
    assert rows(client.get(STUDY_RECORDS, {"course_record__re_class__id__exact": other_class.pk})) == []


def test_the_pool_is_no_oracle_for_whom_another_salesperson_s_customer_referred(
    sales_client, sales_user, other_sales_user
):
    # Finding 10: ?introduce_from=<id> listed the pool customers referred by any customer at all.
    theirs = CustomerFactory(consultant=other_sales_user)
    mine = CustomerFactory(consultant=sales_user)
    CustomerFactory(introduce_from=theirs)
    referred_by_mine = CustomerFactory(introduce_from=mine)

    assert rows(sales_client.get(POOL, {"introduce_from": theirs.pk})) == []
    assert rows(sales_client.get(POOL, {"introduce_from__id__exact": theirs.pk})) == []
    assert rows(sales_client.get(POOL, {"introduce_from": mine.pk})) == [referred_by_mine]


def test_the_boss_filters_on_any_row(boss_client, other_sales_user):
    theirs = CustomerFactory(consultant=other_sales_user)
    referred = CustomerFactory(introduce_from=theirs)

    assert rows(boss_client.get(POOL, {"introduce_from": theirs.pk})) == [referred]


def test_a_parameter_that_names_no_row_filters_as_django_does(client_for, class_teacher_user, teaching_class):
    EnrollmentFactory(enrolment_class=teaching_class)
    client = client_for(class_teacher_user)

    assert len(rows(client.get(ENROLLMENTS, {"enrolment_class__isnull": "False"}))) == 1
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
