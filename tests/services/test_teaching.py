"""Teaching writes: study records per studying student (idempotent, constant queries), a new course
record with its records, attendance saved all or none."""

import math
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import CourseRecord, Customer, StudyRecord
from crm.services.teaching import (
    STUDY_RECORDS_BATCH_SIZE,
    Marks,
    course_records_create,
    study_records_create_for,
    study_records_take_attendance,
)
from tests.factories import ClassListFactory, CourseRecordFactory, CustomerFactory, StudyRecordFactory

pytestmark = pytest.mark.django_db


def inserts_needed(students: int) -> int:
    """INSERT statements for that many rows: one, unless the backend caps a statement lower than
    our batch size (SQLite binds at most 999 parameters, so 124 study records)."""
    fields = [field for field in StudyRecord._meta.concrete_fields if not field.primary_key]
    backend_cap = connection.ops.bulk_batch_size(fields, [None] * students)
    return math.ceil(students / min(STUDY_RECORDS_BATCH_SIZE, backend_cap))


def test_creates_the_record_of_every_studying_student_of_the_class(
    teaching_class, other_class, enroll_students
):
    students = enroll_students(teaching_class, 4)
    enroll_students(teaching_class, 2, status=Customer.Status.SIGNED)
    enroll_students(other_class, 3)
    record = CourseRecordFactory(re_class=teaching_class)

    [result] = study_records_create_for(course_records=[record])

    assert (result.course_record, result.created, result.skipped) == (record, 4, 0)
    assert set(record.study_records.values_list("student_id", flat=True)) == {s.pk for s in students}


def test_running_twice_creates_nothing_the_second_time(teaching_class, enroll_students):
    enroll_students(teaching_class, 3)
    record = CourseRecordFactory(re_class=teaching_class)
    study_records_create_for(course_records=[record])

    [again] = study_records_create_for(course_records=[record])

    assert (again.created, again.skipped) == (0, 3)
    assert record.study_records.count() == 3


def test_only_the_missing_students_are_added(teaching_class, enroll_students):
    first, second, third = enroll_students(teaching_class, 3)
    record = CourseRecordFactory(re_class=teaching_class)
    kept = StudyRecordFactory(course_record=record, student=first, score=StudyRecord.Score.A)

    [result] = study_records_create_for(course_records=[record])

    assert (result.created, result.skipped) == (2, 1)
    kept.refresh_from_db()
    assert kept.score == StudyRecord.Score.A


def test_a_class_without_students_gets_no_records(teaching_class):
    record = CourseRecordFactory(re_class=teaching_class)

    [result] = study_records_create_for(course_records=[record])

    assert (result.created, result.skipped) == (0, 0)
    assert not StudyRecord.objects.exists()


def test_several_course_records_of_several_classes_at_once(teaching_class, other_class, enroll_students):
    enroll_students(teaching_class, 2)
    enroll_students(other_class, 5)
    records = [CourseRecordFactory(re_class=teaching_class), CourseRecordFactory(re_class=other_class)]

    results = study_records_create_for(course_records=records)

    assert sorted((r.course_record.pk, r.created) for r in results) == sorted(
        [(records[0].pk, 2), (records[1].pk, 5)]
    )


def measure_creation(students: int) -> tuple[int, int]:
    """(queries, of which INSERTs) of creating the records of a fresh class of that many students."""
    klass = ClassListFactory()
    CustomerFactory.create_batch(students, status=Customer.Status.STUDYING, class_list=[klass])
    record = CourseRecordFactory(re_class=klass)
    with CaptureQueriesContext(connection) as captured:
        [result] = study_records_create_for(course_records=[record])
    assert result.created == students
    inserts = [query for query in captured.captured_queries if query["sql"].startswith("INSERT")]
    return len(captured), len(inserts)


def test_the_query_count_does_not_grow_with_the_students():
    queries_5, inserts_5 = measure_creation(5)
    queries_300, inserts_300 = measure_creation(300)

    assert (inserts_5, inserts_300) == (1, inserts_needed(300))
    assert queries_300 - inserts_300 == queries_5 - inserts_5
    if connection.vendor == "postgresql":
        assert queries_300 == queries_5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_teachers_creating_at_once_create_each_record_once(teaching_class, enroll_students):
    enroll_students(teaching_class, 20)
    record = CourseRecordFactory(re_class=teaching_class)
    results, errors = [], []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            results.extend(study_records_create_for(course_records=[record]))
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(result.created for result in results) == [0, 20]
    assert StudyRecord.objects.filter(course_record=record).count() == 20


# --- course_records_create, study_records_take_attendance ------------------------------------------


def test_a_new_course_record_comes_with_the_records_of_its_students(
    teaching_class, lecturer_user, enroll_students
):
    students = enroll_students(teaching_class, 3)
    enroll_students(teaching_class, 1, status=Customer.Status.SIGNED)

    result = course_records_create(
        course_record=CourseRecordFactory.build(re_class=teaching_class, teacher=lecturer_user)
    )

    assert result.created == 3
    assert {r.student for r in StudyRecord.objects.filter(course_record=result.course_record)} == set(
        students
    )


def test_a_failure_creating_the_records_leaves_no_course_record(
    teaching_class, lecturer_user, enroll_students, monkeypatch
):
    from crm.services import teaching

    enroll_students(teaching_class, 2)

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(teaching, "study_records_create_for", broken)
    with pytest.raises(RuntimeError):
        course_records_create(
            course_record=CourseRecordFactory.build(re_class=teaching_class, teacher=lecturer_user)
        )

    assert not CourseRecord.objects.exists()


def marks(**fields) -> Marks:
    return Marks(
        attendance=fields.get("attendance", StudyRecord.Attendance.CHECKED),
        score=fields.get("score", StudyRecord.Score.NOT_GRADED),
        homework_note=fields.get("homework_note", ""),
    )


def test_attendance_of_someone_outside_the_class_saves_nothing(teaching_class, enroll_students):
    [student] = enroll_students(teaching_class, 1)
    stranger = CustomerFactory(status=Customer.Status.STUDYING)
    lesson = CourseRecordFactory(re_class=teaching_class)

    with pytest.raises(ValidationError):
        study_records_take_attendance(course_record=lesson, marks={student.pk: marks(), stranger.pk: marks()})

    assert not StudyRecord.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_teachers_taking_attendance_at_once_write_each_record_once(teaching_class, enroll_students):
    students = enroll_students(teaching_class, 10)
    lesson = CourseRecordFactory(re_class=teaching_class)
    errors = []
    start = threading.Barrier(2)

    def run(attendance):
        try:
            start.wait()
            study_records_take_attendance(
                course_record=lesson, marks={s.pk: marks(attendance=attendance) for s in students}
            )
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    attendances = [StudyRecord.Attendance.LATE, StudyRecord.Attendance.ABSENCE]
    threads = [threading.Thread(target=run, args=[attendance]) for attendance in attendances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    saved = list(StudyRecord.objects.filter(course_record=lesson).values_list("attendance", flat=True))
    assert len(saved) == 10
    assert len(set(saved)) == 1 and saved[0] in attendances  # one save or the other, whole


# --- Study records written by hand (the add and change forms, the list's editable columns) ---


def test_a_hand_written_study_record_is_only_for_a_student_of_the_class(teaching_class, enroll_students):
    from django.core.exceptions import ValidationError

    from crm.services.teaching import study_records_save
    from tests.factories import CustomerFactory

    lesson = CourseRecordFactory(re_class=teaching_class)
    [student] = enroll_students(teaching_class, 1)
    member = CustomerFactory(status=Customer.Status.UNREGISTERED, class_list=[teaching_class])

    with pytest.raises(ValidationError) as error:
        study_records_save(study_record=StudyRecord(course_record=lesson, student=member))
    assert error.value.code == "not_in_class"
    study_records_save(study_record=StudyRecord(course_record=lesson, student=student))
    assert list(StudyRecord.objects.values_list("student", flat=True)) == [student.pk]


def test_an_edit_changes_only_the_marks_never_the_student_or_the_lesson(teaching_class, enroll_students):
    from crm.services.teaching import study_records_save

    lesson, other_lesson = (
        CourseRecordFactory(re_class=teaching_class),
        CourseRecordFactory(re_class=teaching_class),
    )
    first, second = enroll_students(teaching_class, 2)
    record = StudyRecord.objects.create(course_record=lesson, student=first)
    record.student, record.course_record, record.score = second, other_lesson, StudyRecord.Score.A

    study_records_save(study_record=record, fields=["student", "course_record", "score"])

    record.refresh_from_db()
    assert (record.student, record.course_record, record.score) == (first, lesson, StudyRecord.Score.A)


# --- the study record tally (StudyRecordTally, kept by PostgreSQL's triggers) ---


def tally_agrees_with_the_study_records():
    """Every filter the 学习记录 list counts from the tally gives the count of the records."""
    from crm.models import StudyRecordTally
    from crm.services.teaching import study_records_tally_count

    for lookups in [{}, *({"attendance": value} for value in StudyRecord.Attendance.values)]:
        assert study_records_tally_count(groups=StudyRecordTally.objects.filter(**lookups)) == (
            StudyRecord.objects.filter(**lookups).count()
        ), lookups


@pytest.mark.postgres
def test_the_study_record_tally_counts_each_group_exactly_through_every_kind_of_write(
    teaching_class, other_class, enroll_students
):
    from crm.models import StudyRecordTally

    enroll_students(teaching_class, 3)
    enroll_students(other_class, 2)
    lesson, later = CourseRecordFactory(re_class=teaching_class), CourseRecordFactory(re_class=teaching_class)
    CourseRecordFactory(re_class=other_class)
    study_records_create_for(course_records=CourseRecord.objects.all())
    assert StudyRecord.objects.count() == 8
    tally_agrees_with_the_study_records()

    first, second, third = StudyRecord.objects.filter(course_record=lesson).order_by("pk")
    makeup = CourseRecordFactory(re_class=teaching_class)  # no records yet
    StudyRecord.objects.filter(pk=first.pk).update(attendance="late")
    StudyRecord.objects.filter(pk=second.pk).update(score=90)  # moves nothing between groups
    StudyRecord.objects.filter(pk=third.pk).update(course_record=makeup, attendance="absence")
    StudyRecord.objects.filter(course_record=later, attendance="checked").delete()
    StudyRecord.objects.bulk_create([StudyRecord(course_record=makeup, student=second.student)])
    tally_agrees_with_the_study_records()

    CourseRecord.objects.filter(pk=lesson.pk).delete()  # its records with it
    tally_agrees_with_the_study_records()
    assert sum(StudyRecordTally.objects.values_list("n", flat=True)) == StudyRecord.objects.count() == 4


def test_the_study_record_tally_is_not_read_on_sqlite(teaching_class):
    from crm.models import StudyRecordTally
    from crm.services.teaching import study_records_tally_count

    if connection.vendor != "sqlite":
        pytest.skip("the tally is PostgreSQL's")
    StudyRecordFactory(course_record=CourseRecordFactory(re_class=teaching_class))
    assert study_records_tally_count(groups=StudyRecordTally.objects.all()) is None


def test_the_study_record_tallys_groups_are_the_bosss_alone(boss_user, lecturer_user):
    # A teacher's records are their classes': the tally does not tell them apart, they are counted.
    from crm.models import StudyRecordTally

    assert StudyRecordTally.objects.visible_to(boss_user) is not None
    assert StudyRecordTally.objects.visible_to(lecturer_user) is None
