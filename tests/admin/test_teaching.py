"""Teaching in the admin: classes, course records and the study records of each lesson."""

from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import connection
from django.forms import modelform_factory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.admin.teaching import StudyRecordForm
from crm.models import CourseRecord, Customer, StudyRecord
from crm.services.teaching import study_records_create_for
from tests.factories import (
    CampusFactory,
    ClassListFactory,
    CourseRecordFactory,
    CustomerFactory,
    StudyRecordFactory,
)

pytestmark = pytest.mark.django_db

CLASSES = reverse("admin:crm_classlist_changelist")
COURSE_RECORDS = reverse("admin:crm_courserecord_changelist")
STUDY_RECORDS = reverse("admin:crm_studyrecord_changelist")


def study_record_url(record) -> str:
    return reverse("admin:crm_studyrecord_change", args=[record.pk])


def lesson_with_records(klass, students: int, **fields):
    record = CourseRecordFactory(re_class=klass, **fields)
    for student in CustomerFactory.create_batch(students, status="studying", class_list=[klass]):
        StudyRecordFactory(course_record=record, student=student)
    return record


def editable_list_post(records, **changes) -> dict:
    """The POST of the study record changelist's form, with changes {index: {field: value}}."""
    data = {
        "form-TOTAL_FORMS": str(len(records)),
        "form-INITIAL_FORMS": str(len(records)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, record in enumerate(records):
        row = {
            "id": record.pk,
            "attendance": record.attendance,
            "score": record.score,
            "homework_note": record.homework_note,
        }
        row.update(changes.get(f"row{index}", {}))
        data.update({f"form-{index}-{field}": value for field, value in row.items()})
    return data


def page_records(response):
    return list(response.context["cl"].result_list)


# --- classes -------------------------------------------------------------------------------------


def test_a_teacher_sees_only_the_classes_they_teach(client_for, lecturer_user, teaching_class, other_class):
    response = client_for(lecturer_user).get(CLASSES)

    assert page_records(response) == [teaching_class]


def test_sales_enroll_into_every_class_without_seeing_the_classes_or_their_students(
    client_for, sales_user, teaching_class, other_class, enroll_students
):
    # Finding 7: sales saw every class because they may add enrollments (a CRUD permission); seeing
    # every class is crm.view_all_classes, which sales do not hold. The enrollment form still offers
    # every class.
    enroll_students(teaching_class, 2)
    client = client_for(sales_user)

    assert client.get(CLASSES).status_code == 403  # the class list is the teachers'
    assert client.get(reverse("admin:crm_classlist_students", args=[teaching_class.pk])).status_code in (
        403,
        404,
    )
    form = client.get(reverse("admin:crm_enrollment_add")).context["adminform"].form
    assert set(form.fields["enrolment_class"].queryset) == {teaching_class, other_class}


def test_the_class_list_shows_students_and_lessons_with_links(
    client_for, class_teacher_user, teaching_class, enroll_students
):
    enroll_students(teaching_class, 3)
    enroll_students(teaching_class, 1, status="signed")
    CourseRecordFactory.create_batch(2, re_class=teaching_class)

    page = client_for(class_teacher_user).get(CLASSES).content.decode()

    assert "学生 (3)" in page
    assert "课程记录 (2)" in page
    assert reverse("admin:crm_classlist_students", args=[teaching_class.pk]) in page
    assert f"{COURSE_RECORDS}?re_class__id__exact={teaching_class.pk}" in page
    assert "班主任甲" in page


def test_the_class_list_query_count_does_not_grow_with_the_classes(client_for, boss_user, enroll_students):
    client = client_for(boss_user)

    def queries_for_page():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(CLASSES).status_code == 200
        return len(captured)

    klass = ClassListFactory(teachers=[boss_user])
    enroll_students(klass, 2)
    few = queries_for_page()
    for _ in range(8):
        enroll_students(ClassListFactory(teachers=[boss_user]), 2)

    assert queries_for_page() == few


def test_the_class_form_offers_the_active_teaching_staff_as_teachers_in_a_plain_list(
    client_for, boss_user, lecturer_user, class_teacher_user, ta_user, sales_user, finance_user, make_user
):
    student = make_user("student", username="student_z")
    retired = make_user("lecturer", username="retired", is_active=False)
    klass = ClassListFactory(teachers=[boss_user])

    response = client_for(boss_user).get(reverse("admin:crm_classlist_change", args=[klass.pk]))

    offered = set(response.context["adminform"].form.fields["teachers"].queryset)
    # The boss already teaches this class: editing it must keep him a valid choice.
    assert offered == {lecturer_user, class_teacher_user, ta_user, boss_user}
    assert not offered & {student, retired, sales_user, finance_user}
    # Not Django's two-box filter widget, whose texts are English in Chinese (Django 5.2).
    assert "selectfilter" not in response.content.decode()


def test_the_students_page_lists_the_studying_students_of_the_class(
    client_for, ta_user, teaching_class, enroll_students
):
    [student] = enroll_students(teaching_class, 1)
    [former] = enroll_students(teaching_class, 1, status="signed")

    response = client_for(ta_user).get(reverse("admin:crm_classlist_students", args=[teaching_class.pk]))

    assert response.status_code == 200
    assert list(response.context["students"]) == [student]
    # The breadcrumbs lead back to the class, then name the page.
    crumbs = response.content.decode().split('<div class="breadcrumbs">')[1].split("</div>")[0]
    assert reverse("admin:crm_classlist_change", args=[teaching_class.pk]) in crumbs
    assert crumbs.rstrip().endswith("&rsaquo; 学生")


def test_the_students_page_of_another_class_is_not_found(client_for, ta_user, other_class):
    response = client_for(ta_user).get(reverse("admin:crm_classlist_students", args=[other_class.pk]))

    assert response.status_code == 404


# --- course records ------------------------------------------------------------------------------


def test_a_teacher_sees_the_course_records_of_their_classes_only(
    client_for, lecturer_user, teaching_class, other_class
):
    own = CourseRecordFactory(re_class=teaching_class)
    foreign = CourseRecordFactory(re_class=other_class)
    client = client_for(lecturer_user)

    assert page_records(client.get(COURSE_RECORDS)) == [own]
    change = reverse("admin:crm_courserecord_change", args=[foreign.pk])
    assert client.get(change).status_code == 404


def test_the_course_record_form_offers_own_classes_and_defaults_the_teacher(
    client_for, lecturer_user, teaching_class, other_class
):
    response = client_for(lecturer_user).get(reverse("admin:crm_courserecord_add"))

    form = response.context["adminform"].form
    assert list(form.fields["re_class"].queryset) == [teaching_class]
    assert form.initial["teacher"] == lecturer_user.pk
    assert form.initial["re_class"] == teaching_class.pk


def test_a_course_record_cannot_be_added_to_another_class(client_for, lecturer_user, other_class):
    response = client_for(lecturer_user).post(
        reverse("admin:crm_courserecord_add"),
        {"re_class": other_class.pk, "day_num": 1, "date": "2026-09-01", "teacher": lecturer_user.pk},
    )

    assert response.status_code == 200
    assert "re_class" in response.context["adminform"].form.errors
    assert not CourseRecord.objects.exists()


def test_a_lecturer_adds_a_course_record_of_their_class(client_for, lecturer_user, teaching_class):
    response = client_for(lecturer_user).post(
        reverse("admin:crm_courserecord_add"),
        {
            "re_class": teaching_class.pk,
            "day_num": 1,
            "date": "2026-09-01",
            "course_title": "Python 基础",
            "teacher": lecturer_user.pk,
        },
    )

    assert response.status_code == 302
    assert CourseRecord.objects.get().re_class == teaching_class


def test_a_ta_may_not_add_course_records(client_for, ta_user, teaching_class):
    assert client_for(ta_user).get(reverse("admin:crm_courserecord_add")).status_code == 403


def test_each_course_record_links_to_its_study_records_with_their_count(
    client_for, lecturer_user, teaching_class
):
    record = lesson_with_records(teaching_class, 3)

    page = client_for(lecturer_user).get(COURSE_RECORDS).content.decode()

    assert "学习记录 (3)" in page
    assert f"{STUDY_RECORDS}?course_record__id__exact={record.pk}&amp;next=" in page


def test_the_course_record_list_query_count_does_not_grow_with_the_rows(
    client_for, lecturer_user, teaching_class
):
    client = client_for(lecturer_user)
    lesson_with_records(teaching_class, 2)
    with CaptureQueriesContext(connection) as few:
        client.get(COURSE_RECORDS)
    for _ in range(10):
        lesson_with_records(teaching_class, 2)
    with CaptureQueriesContext(connection) as many:
        client.get(COURSE_RECORDS)

    assert len(many) == len(few)


# --- the create_study_records action -------------------------------------------------------------


def run_create_study_records(client, records):
    return client.post(
        COURSE_RECORDS,
        {"action": "create_study_records", "_selected_action": [record.pk for record in records]},
        follow=True,
    )


def test_the_action_creates_the_records_and_says_how_many_per_lesson(
    client_for, class_teacher_user, teaching_class, enroll_students
):
    enroll_students(teaching_class, 4)
    record = CourseRecordFactory(re_class=teaching_class, day_num=7)
    client = client_for(class_teacher_user)

    first = [str(m) for m in get_messages(run_create_study_records(client, [record]).wsgi_request)]
    second = [str(m) for m in get_messages(run_create_study_records(client, [record]).wsgi_request)]

    assert record.study_records.count() == 4
    assert first == [f"{record}: 已创建 4 条学习记录，跳过 0 条。"]
    assert second == [f"{record}: 已创建 0 条学习记录，跳过 4 条。"]


def test_the_action_on_a_class_without_students_says_so(client_for, lecturer_user, teaching_class):
    record = CourseRecordFactory(re_class=teaching_class)

    response = run_create_study_records(client_for(lecturer_user), [record])

    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"{record}: 该班级没有在读学生。"]


def test_the_action_ignores_lessons_of_other_classes(client_for, lecturer_user, other_class, enroll_students):
    enroll_students(other_class, 2)
    foreign = CourseRecordFactory(re_class=other_class)

    run_create_study_records(client_for(lecturer_user), [foreign])

    assert not StudyRecord.objects.exists()


def test_a_ta_cannot_run_the_action(client_for, ta_user, teaching_class, enroll_students):
    enroll_students(teaching_class, 2)
    record = CourseRecordFactory(re_class=teaching_class)

    run_create_study_records(client_for(ta_user), [record])

    assert not StudyRecord.objects.exists()


def test_the_action_query_count_does_not_grow_with_the_students(client_for, boss_user):
    from tests.services.test_teaching import inserts_needed

    client = client_for(boss_user)

    def measure(students):
        klass = ClassListFactory()
        CustomerFactory.create_batch(students, status="studying", class_list=[klass])
        record = CourseRecordFactory(re_class=klass)
        with CaptureQueriesContext(connection) as captured:
            client.post(COURSE_RECORDS, {"action": "create_study_records", "_selected_action": [record.pk]})
        assert record.study_records.count() == students
        return len(captured)

    queries_5 = measure(5)
    queries_300 = measure(300)

    assert queries_300 == queries_5 + inserts_needed(300) - 1


# --- study records -------------------------------------------------------------------------------


def test_a_teacher_sees_and_edits_only_the_study_records_of_their_classes(
    client_for, ta_user, teaching_class, other_class
):
    own = lesson_with_records(teaching_class, 2)
    foreign = lesson_with_records(other_class, 2)
    client = client_for(ta_user)

    assert {r.course_record for r in page_records(client.get(STUDY_RECORDS))} == {own}
    foreign_record = foreign.study_records.first()
    assert client.get(study_record_url(foreign_record)).status_code == 404
    assert client.post(study_record_url(foreign_record), {"score": 100}).status_code == 404
    history = reverse("admin:crm_studyrecord_history", args=[foreign_record.pk])
    assert client.get(history).status_code == 404


def test_the_list_edits_many_rows_in_one_submit(client_for, ta_user, teaching_class):
    lesson = lesson_with_records(teaching_class, 3)
    client = client_for(ta_user)
    url = f"{STUDY_RECORDS}?course_record__id__exact={lesson.pk}"
    first, second, third = page_records(client.get(url))
    data = editable_list_post(
        [first, second, third],
        row0={"attendance": "late", "score": 90},
        row2={"score": 100, "homework_note": "很好"},
    )

    response = client.post(url, data)

    assert response.status_code == 302
    assert response["Location"] == url
    saved = {r.pk: (r.attendance, r.score, r.homework_note) for r in StudyRecord.objects.all()}
    assert saved == {
        first.pk: ("late", 90, ""),
        second.pk: ("checked", -1, ""),
        third.pk: ("checked", 100, "很好"),
    }


def test_each_rows_key_is_a_hidden_input_written_without_a_template(client_for, ta_user, teaching_class):
    from crm.admin.rows import CellHiddenInput

    lesson_with_records(teaching_class, 2)
    response = client_for(ta_user).get(STUDY_RECORDS)

    forms = response.context["cl"].formset.forms
    assert [type(form.fields["id"].widget) for form in forms] == [CellHiddenInput, CellHiddenInput]
    page = response.content.decode()
    for index, form in enumerate(forms):
        assert (
            f'<input type="hidden" name="form-{index}-id" value="{form.instance.pk}" id="id_form-{index}-id">'
            in page
        )


def test_an_invalid_row_shows_its_error_keeps_the_input_and_saves_nothing(
    client_for, ta_user, teaching_class
):
    lesson = lesson_with_records(teaching_class, 2)
    client = client_for(ta_user)
    records = page_records(client.get(STUDY_RECORDS))
    data = editable_list_post(records, row0={"homework_note": "已交作业"}, row1={"score": "7"})

    response = client.post(STUDY_RECORDS, data)

    assert response.status_code == 200
    formset = response.context["cl"].formset
    assert formset.forms[1].errors["score"]
    page = response.content.decode()
    assert 'value="已交作业"' in page
    assert set(StudyRecord.objects.filter(course_record=lesson).values_list("homework_note", "score")) == {
        ("", -1)
    }


def test_a_study_record_of_another_class_cannot_be_slipped_into_the_list(
    client_for, ta_user, teaching_class, other_class
):
    lesson_with_records(teaching_class, 1)
    foreign = lesson_with_records(other_class, 1).study_records.get()
    client = client_for(ta_user)
    [own] = page_records(client.get(STUDY_RECORDS))
    data = editable_list_post([own, foreign], row0={"score": 90}, row1={"score": 100})

    client.post(STUDY_RECORDS, data)

    foreign.refresh_from_db()
    own.refresh_from_db()
    assert (own.score, foreign.score) == (-1, -1)


def test_after_saving_the_list_returns_to_a_safe_next(client_for, ta_user, teaching_class):
    lesson = lesson_with_records(teaching_class, 1)
    client = client_for(ta_user)
    back = f"{COURSE_RECORDS}?re_class__id__exact={teaching_class.pk}"
    url = f"{STUDY_RECORDS}?{urlencode({'course_record__id__exact': lesson.pk, 'next': back})}"
    list_page = client.get(url)
    assert page_records(list_page) == [lesson.study_records.get()]

    response = client.post(url, editable_list_post(page_records(list_page), row0={"score": 85}))

    assert response.status_code == 302
    assert response["Location"] == back
    assert lesson.study_records.get().score == 85


@pytest.mark.parametrize(
    "next_url", ["https://evil.example.com/phish", "//evil.example.com/", "javascript:alert(1)"]
)
def test_an_off_site_next_is_refused(client_for, ta_user, teaching_class, next_url):
    lesson = lesson_with_records(teaching_class, 1)
    client = client_for(ta_user)
    url = f"{STUDY_RECORDS}?{urlencode({'course_record__id__exact': lesson.pk, 'next': next_url})}"
    records = page_records(client.get(url))

    response = client.post(url, editable_list_post(records, row0={"score": 90}))

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.scheme, target.netloc, target.path) == ("", "", STUDY_RECORDS)
    assert lesson.study_records.get().score == 90


def test_the_change_form_returns_to_a_safe_next_and_refuses_an_off_site_one(
    client_for, ta_user, teaching_class
):
    record = lesson_with_records(teaching_class, 1).study_records.get()
    client = client_for(ta_user)
    form = {
        "attendance": "late",
        "score": 80,
        "homework_note": "",
        "date_0": "2026-09-01",
        "date_1": "10:00:00",
    }
    form["note"] = ""

    safe = client.post(f"{study_record_url(record)}?next={COURSE_RECORDS}", form)
    off_site = client.post(f"{study_record_url(record)}?next=https://evil.example.com/", form)

    assert safe["Location"] == COURSE_RECORDS
    assert off_site["Location"].startswith(STUDY_RECORDS)


def test_the_lesson_filter_offers_the_lessons_of_the_chosen_class(client_for, lecturer_user, teaching_class):
    first = lesson_with_records(teaching_class, 1, day_num=1, course_title="变量")
    lesson_with_records(teaching_class, 1, day_num=2, course_title="函数")
    client = client_for(lecturer_user)

    response = client.get(f"{STUDY_RECORDS}?course_record__re_class__id__exact={teaching_class.pk}")
    page = response.content.decode()

    assert "第1节 变量" in page and "第2节 函数" in page
    filtered = client.get(f"{STUDY_RECORDS}?course_record__id__exact={first.pk}")
    assert [r.course_record for r in page_records(filtered)] == [first]


@pytest.mark.parametrize("query", ["attendance__exact=late", "score__exact=90"])
def test_the_list_filters_by_attendance_and_score(client_for, lecturer_user, teaching_class, query):
    lesson = lesson_with_records(teaching_class, 2)
    marked = lesson.study_records.first()
    marked.attendance, marked.score = "late", 90
    marked.save()

    response = client_for(lecturer_user).get(f"{STUDY_RECORDS}?{query}")

    assert page_records(response) == [marked]


def test_the_study_record_list_query_count_does_not_grow_with_the_page_size(
    client_for, lecturer_user, teaching_class
):
    client = client_for(lecturer_user)
    lesson = lesson_with_records(teaching_class, 3)
    url = f"{STUDY_RECORDS}?course_record__re_class__id__exact={teaching_class.pk}"
    with CaptureQueriesContext(connection) as few:
        assert len(page_records(client.get(url))) == 3
    for _ in range(40):
        StudyRecordFactory(course_record=lesson, student__class_list=[teaching_class])
    with CaptureQueriesContext(connection) as many:
        assert len(page_records(client.get(url))) == 43

    assert len(many) == len(few)


def test_a_study_record_is_added_only_for_a_student_of_the_lesson_s_class(
    client_for, lecturer_user, teaching_class, enroll_students
):
    lesson = CourseRecordFactory(re_class=teaching_class)
    [student] = enroll_students(teaching_class, 1)
    stranger = CustomerFactory(status="studying", class_list=[ClassListFactory(teachers=[lecturer_user])])
    client = client_for(lecturer_user)
    form = {"course_record": lesson.pk, "attendance": "checked", "score": -1, "date_0": "2026-09-01"}
    form["date_1"] = "10:00:00"

    refused = client.post(reverse("admin:crm_studyrecord_add"), {**form, "student": stranger.pk})
    added = client.post(reverse("admin:crm_studyrecord_add"), {**form, "student": student.pk})

    assert refused.status_code == 200
    assert refused.context["adminform"].form.non_field_errors()
    assert added.status_code == 302
    assert StudyRecord.objects.get().student == student


def test_the_change_form_names_the_student_and_homework_file_without_links(
    client_for, ta_user, teaching_class
):
    record = lesson_with_records(teaching_class, 1).study_records.get()
    StudyRecord.objects.filter(pk=record.pk).update(homework="homework/1/abc123.zip")

    page = client_for(ta_user).get(study_record_url(record)).content.decode()

    assert "abc123.zip" in page
    assert str(record.student) in page
    assert 'href="/media' not in page
    assert "/admin/crm/customer/" not in page


def test_the_scores_that_are_words_are_in_chinese(client_for, lecturer_user, teaching_class):
    lesson_with_records(teaching_class, 1)
    html = client_for(lecturer_user).get(STUDY_RECORDS).content.decode()
    for chinese, english in [("未评分", "N/A"), ("抄袭", "COPY"), ("不及格", "FAIL")]:
        assert f">{chinese}<" in html and f">{english}<" not in html


def test_a_study_record_is_not_added_for_a_member_who_is_not_studying(
    client_for, lecturer_user, teaching_class, enroll_students
):
    # Finding 6: the form accepted any member of the class; the bulk action gives records to the
    # studying ones only (the one definition, Customer.objects.students_of).
    lesson = CourseRecordFactory(re_class=teaching_class)
    [signed] = enroll_students(teaching_class, 1, status=Customer.Status.SIGNED)
    form = {"course_record": lesson.pk, "attendance": "checked", "score": -1, "date_0": "2026-09-01"}
    form["date_1"] = "10:00:00"

    response = client_for(lecturer_user).post(
        reverse("admin:crm_studyrecord_add"), {**form, "student": signed.pk}
    )

    assert response.status_code == 200
    assert not StudyRecord.objects.exists()
    assert study_records_create_for(course_records=[lesson])[0].created == 0
    # The form's own rule, whatever the choices of its student field (the change list, an import).
    fields = ["course_record", "student", "attendance", "score", "date"]
    form = modelform_factory(StudyRecord, form=StudyRecordForm, fields=fields)({**form, "student": signed.pk})
    assert not form.is_valid()
    assert form.has_error(NON_FIELD_ERRORS, "not_in_class")


def test_the_class_list_count_the_students_page_and_the_bulk_action_mean_the_same_people(
    client_for, class_teacher_user, teaching_class, enroll_students
):
    # A student who paid the rest of the tuition (学费已交齐) is still in class.
    studying = enroll_students(teaching_class, 2)
    studying += enroll_students(teaching_class, 1, status=Customer.Status.PAID_IN_FULL)
    enroll_students(teaching_class, 1, status=Customer.Status.SIGNED)
    lesson = CourseRecordFactory(re_class=teaching_class)
    client = client_for(class_teacher_user)

    [row] = page_records(client.get(CLASSES))
    page = client.get(reverse("admin:crm_classlist_students", args=[teaching_class.pk]))
    study_records_create_for(course_records=[lesson])

    assert row.student_count == 3
    assert set(page.context["students"]) == set(studying)
    assert set(StudyRecord.objects.values_list("student", flat=True)) == {s.pk for s in studying}


# --- attendance ----------------------------------------------------------------------------------


def attendance_url(lesson) -> str:
    return reverse("admin:crm_courserecord_attendance", args=[lesson.pk])


def attendance_post(response, changes=None) -> dict:
    """The attendance page's form as shown, with changes {student_pk: {field: value}}."""
    data = {}
    for row in response.context["rows"]:
        form = row.form
        for name in form.fields:
            value = form[name].value()
            data[form.add_prefix(name)] = "" if value is None else value
        for name, value in (changes or {}).get(row.student.pk, {}).items():
            data[form.add_prefix(name)] = value
    return data


def test_adding_a_course_record_creates_the_study_records_of_the_class_s_students(
    client_for, lecturer_user, teaching_class, enroll_students
):
    studying = enroll_students(teaching_class, 2)
    enroll_students(teaching_class, 1, status=Customer.Status.SIGNED)
    form = {"re_class": teaching_class.pk, "day_num": 1, "date": "2026-09-01", "teacher": lecturer_user.pk}

    response = client_for(lecturer_user).post(reverse("admin:crm_courserecord_add"), form)

    assert response.status_code == 302
    lesson = CourseRecord.objects.get()
    assert {record.student for record in lesson.study_records.all()} == set(studying)
    assert study_records_create_for(course_records=[lesson])[0].created == 0  # the action stays harmless


def test_the_attendance_page_lists_the_students_with_checked_in_preselected(
    client_for, ta_user, teaching_class, enroll_students
):
    studying = enroll_students(teaching_class, 2)
    enroll_students(teaching_class, 1, status=Customer.Status.SIGNED)
    lesson = CourseRecordFactory(re_class=teaching_class, day_num=7)

    response = client_for(ta_user).get(attendance_url(lesson))

    assert response.status_code == 200
    assert {row.student for row in response.context["rows"]} == set(studying)
    assert all(
        row.form["attendance"].value() == StudyRecord.Attendance.CHECKED for row in response.context["rows"]
    )
    page = response.content.decode()
    assert f"点名：{teaching_class} 第 7 节" in page
    assert "crm/admin/attendance.js" in page and 'id="crm-all-checked"' in page
    assert "onclick" not in page


def test_the_attendance_page_is_one_click_from_the_course_record_list(
    client_for, lecturer_user, teaching_class
):
    lesson = CourseRecordFactory(re_class=teaching_class)

    page = client_for(lecturer_user).get(COURSE_RECORDS).content.decode()

    assert attendance_url(lesson) in page


def test_saving_the_attendance_saves_every_row(client_for, ta_user, teaching_class, enroll_students):
    first, second = enroll_students(teaching_class, 2)
    lesson = CourseRecordFactory(re_class=teaching_class)
    StudyRecordFactory(course_record=lesson, student=first)  # the second joined after the lesson was added
    client = client_for(ta_user)
    data = attendance_post(
        client.get(attendance_url(lesson)),
        {
            first.pk: {"attendance": StudyRecord.Attendance.LATE, "score": StudyRecord.Score.A},
            second.pk: {"homework_note": "很好"},
        },
    )

    response = client.post(attendance_url(lesson), data)

    assert response.status_code == 302
    marks = {r.student: (r.attendance, r.score, r.homework_note) for r in lesson.study_records.all()}
    assert marks == {
        first: (StudyRecord.Attendance.LATE, StudyRecord.Score.A, ""),
        second: (StudyRecord.Attendance.CHECKED, StudyRecord.Score.NOT_GRADED, "很好"),
    }


def test_one_invalid_row_saves_no_row_and_shows_its_error(
    client_for, ta_user, teaching_class, enroll_students
):
    first, second = enroll_students(teaching_class, 2)
    lesson = CourseRecordFactory(re_class=teaching_class)
    client = client_for(ta_user)
    data = attendance_post(
        client.get(attendance_url(lesson)),
        {first.pk: {"attendance": StudyRecord.Attendance.LATE}, second.pk: {"score": "12345"}},
    )

    response = client.post(attendance_url(lesson), data)

    assert response.status_code == 200
    [bad] = [row for row in response.context["rows"] if row.form.errors]
    assert bad.student == second and "score" in bad.form.errors
    assert not StudyRecord.objects.exists()


def test_the_attendance_page_of_another_class_is_not_found(
    client_for, lecturer_user, other_class, enroll_students
):
    enroll_students(other_class, 1)
    lesson = CourseRecordFactory(re_class=other_class)
    client = client_for(lecturer_user)

    assert client.get(attendance_url(lesson)).status_code == 404
    assert client.post(attendance_url(lesson), {}).status_code == 404
    assert not StudyRecord.objects.exists()


def test_the_attendance_page_query_count_does_not_grow_with_the_class(client_for, ta_user, teaching_class):
    client = client_for(ta_user)

    def queries(students: int) -> tuple[int, int]:
        klass = ClassListFactory(teachers=[ta_user])
        CustomerFactory.create_batch(students, status=Customer.Status.STUDYING, class_list=[klass])
        lesson = CourseRecordFactory(re_class=klass)
        with CaptureQueriesContext(connection) as shown:
            page = client.get(attendance_url(lesson))
        data = attendance_post(page)
        with CaptureQueriesContext(connection) as saved:
            assert client.post(attendance_url(lesson), data).status_code == 302
        return len(shown), len(saved)

    assert queries(2) == queries(7)


# --- the class list ------------------------------------------------------------------------------


def test_the_class_list_shows_tuition_studying_and_members(
    client_for, class_teacher_user, teaching_class, enroll_students
):
    teaching_class.price = 19800
    teaching_class.save()
    enroll_students(teaching_class, 2)
    enroll_students(teaching_class, 1, status=Customer.Status.SIGNED)

    page = client_for(class_teacher_user).get(CLASSES).content.decode()

    assert "¥19,800" in page
    assert "学生 (2)</a> / 3" in page
    assert "在读 / 成员" in page


@pytest.mark.parametrize("term", ["全栈", "python", "15", "15期", "全栈 15期"])
def test_the_class_list_is_searched_by_course_name_and_semester(client_for, boss_user, term):
    from crm.models import Course

    wanted = ClassListFactory(course=Course.PYTHON_FULLSTACK, semester=15, campus=CampusFactory(name="北京"))
    ClassListFactory(course=Course.LINUX, semester=16, campus=CampusFactory(name="上海"))

    response = client_for(boss_user).get(CLASSES, {"q": term})

    assert page_records(response) == [wanted]


def test_the_class_list_shows_upcoming_classes_first(client_for, boss_user):
    import datetime

    from django.utils import timezone

    today = timezone.localdate()
    past = ClassListFactory(start_date=today - datetime.timedelta(days=100))
    older = ClassListFactory(start_date=today - datetime.timedelta(days=300))
    later = ClassListFactory(start_date=today + datetime.timedelta(days=60))
    soon = ClassListFactory(start_date=today + datetime.timedelta(days=3))

    assert page_records(client_for(boss_user).get(CLASSES)) == [soon, later, past, older]


@pytest.mark.parametrize(
    ("widget", "cell", "value"),
    [
        ("Select", "CellSelect", "late"),
        ("Select", "CellSelect", None),
        ("Select", "CellSelect", "b"),
        ("Select", "CellSelect", "nothing offered"),
        ("Select", "CellSelect", ""),
        ("TextInput", "CellTextInput", 'a "quoted" <note> & more'),
        ("TextInput", "CellTextInput", None),
        ("HiddenInput", "CellHiddenInput", 12345),
    ],
)
def test_the_editable_cells_render_what_djangos_widgets_render(widget, cell, value):
    # Pins the markup of Django 5.2's select, option, input and attrs templates.
    from django import forms
    from django.test.html import parse_html

    from crm.admin import rows

    choices = [
        ("", "---------"),
        ("checked", "已签到"),
        ("late", "迟到 <5'"),
        ("Group", [("a", "A"), ("b", "B")]),
        ("", [("c", "no group")]),
        (None, "none"),
        (7, "seven"),
    ]
    attrs = {"id": "id_form-0-x", "required": True, "disabled": False, "size": 24}
    django_widget, cell_widget = getattr(forms, widget)(), getattr(rows, cell)()
    for one in (django_widget, cell_widget):
        one.choices = choices

    expected = django_widget.render("form-0-x", value, attrs)
    assert parse_html(cell_widget.render("form-0-x", value, attrs)) == parse_html(expected)


@pytest.mark.parametrize("messages", [[], ["请填写此项。", "a <b> & 'c'"]])
def test_a_cells_errors_render_what_djangos_error_list_renders(messages):
    # Pins Django 5.2's errors/list templates: an empty list prints nothing, without rendering them.
    from django.forms.utils import ErrorList
    from django.test.html import parse_html

    from crm.admin.rows import CellErrorList

    expected = str(ErrorList(messages, field_id="id_form-0-score"))
    cell = CellErrorList(messages, field_id="id_form-0-score")

    assert parse_html(str(cell)) == parse_html(expected)
    assert parse_html(cell.__html__()) == parse_html(expected)
    assert (str(cell) == "") is (not messages)


def test_a_rejected_cell_shows_its_error_on_the_list_and_saves_nothing(client_for, ta_user, teaching_class):
    lesson_with_records(teaching_class, 2)
    records = list(StudyRecord.objects.order_by("-student_id"))
    data = editable_list_post(records, row0={"score": "90"}, row1={"attendance": "no-such-mark"})

    response = client_for(ta_user).post(STUDY_RECORDS, data)

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<ul class="errorlist"') == 1
    assert '<ul class="errorlist" id="id_form-1-attendance_error">' in page
    assert [(r.attendance, r.score) for r in StudyRecord.objects.order_by("-student_id")] == [
        (r.attendance, r.score) for r in records
    ]


def test_each_rows_choice_fields_are_copies_sharing_their_choices(client_for, ta_user, teaching_class):
    # A list's row forms copy their fields without copying (and normalizing again) the choices.
    from crm.admin.rows import CellChoiceField, CellSelect

    lesson_with_records(teaching_class, 2)
    first, second = client_for(ta_user).get(STUDY_RECORDS).context["cl"].formset.forms

    for name in ("attendance", "score"):
        one, other = first.fields[name], second.fields[name]
        assert type(one) is CellChoiceField and type(one.widget) is CellSelect
        assert one is not other and one.widget is not other.widget
        assert one.widget.attrs is not other.widget.attrs
        assert one.choices is other.choices and one.widget.choices is other.widget.choices
        assert [value for value, _label in one.choices] == [
            value for value, _label in StudyRecord._meta.get_field(name).choices
        ]


def test_a_cell_select_writes_its_options_in_the_active_language_and_for_its_choices():
    from django.utils import translation

    from crm.admin.rows import CellSelect

    widget = CellSelect(choices=StudyRecord.Attendance.choices)
    late = str(StudyRecord.Attendance.LATE.value)
    with translation.override("zh-hans"):
        chinese = widget.render("form-0-attendance", late)
    with translation.override("en"):
        english = widget.render("form-0-attendance", late)
    widget.choices = [("x", "X")]

    assert f'<option value="{late}" selected>迟到</option>' in chinese
    assert f'<option value="{late}" selected>Late</option>' in english
    assert widget.render("form-0-attendance", "x") == (
        '<select name="form-0-attendance"><option value="x" selected>X</option></select>'
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("user", "params", "tallied"),
    [
        ("boss", {}, True),
        ("boss", {"attendance__exact": "late"}, True),
        ("boss", {"course_record__re_class__id__exact": "class"}, False),
        ("boss", {"course_record__id__exact": "lesson", "attendance__exact": "checked"}, False),
        ("boss", {"score__exact": "90"}, False),
        ("boss", {"q": "学生"}, False),
        ("lecturer", {}, False),
        ("lecturer", {"attendance__exact": "late"}, False),
    ],
)
def test_the_study_record_list_counts_from_the_tally_within_its_filters(
    client_for, boss_user, lecturer_user, teaching_class, other_class, user, params, tallied
):
    lesson = lesson_with_records(teaching_class, 3)
    lesson_with_records(other_class, 2)
    StudyRecord.objects.filter(pk=StudyRecord.objects.filter(course_record=lesson).first().pk).update(
        attendance="late", score=90
    )
    values = {"class": str(teaching_class.pk), "lesson": str(lesson.pk)}
    params = {key: values.get(value, value) for key, value in params.items()}

    with CaptureQueriesContext(connection) as queries:
        response = client_for(boss_user if user == "boss" else lecturer_user).get(STUDY_RECORDS, params)

    cl = response.context["cl"]
    assert cl.result_count == cl.queryset.count() == len(cl.result_list)
    read = [q["sql"] for q in queries]
    assert len([sql for sql in read if '"crm_studyrecordtally"' in sql]) == (1 if tallied else 0)
    counted = [sql for sql in read if sql.startswith("SELECT COUNT(*)") and '"crm_studyrecord"' in sql]
    # Otherwise the records are counted: a filter by a COUNT, a search by the keys it finds.
    assert bool(counted) is (not tallied and "q" not in params)
