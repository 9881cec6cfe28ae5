"""Writes of the teaching area: course records and their study records (attendance, marks)."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm import tallies
from crm.models import CourseRecord, Customer, StudyRecord

# Rows per INSERT. A class has a few dozen students, so one statement covers a whole batch of
# lessons; the database backend may cap it lower (SQLite binds at most 999 parameters).
STUDY_RECORDS_BATCH_SIZE = 1000


@dataclass(frozen=True)
class StudyRecordsCreated:
    course_record: CourseRecord
    created: int
    skipped: int


@transaction.atomic
def study_records_create_for(*, course_records: Iterable[CourseRecord]) -> list[StudyRecordsCreated]:
    """Create the study record of every studying student of each course record's class.

    Idempotent: students who already have a record for that course record are skipped. The
    number of queries does not depend on the number of students or of course records.
    """
    ids = [record.pk for record in course_records]
    # Lock the course records: two teachers running this at once for the same lesson would
    # both see no record yet and the second insert would break the unique constraint.
    locked = list(
        CourseRecord.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .select_related("re_class__campus")
        .order_by("pk")
    )
    class_ids = {record.re_class_id for record in locked}

    students_by_class: dict[int, list[int]] = defaultdict(list)
    memberships = Customer.class_list.through.objects.filter(
        Customer.objects.students_q("customer__"), classlist_id__in=class_ids
    ).order_by("customer_id")
    for class_id, student_id in memberships.values_list("classlist_id", "customer_id"):
        students_by_class[class_id].append(student_id)

    existing: dict[int, set[int]] = defaultdict(set)
    for record_id, student_id in StudyRecord.objects.filter(course_record_id__in=ids).values_list(
        "course_record_id", "student_id"
    ):
        existing[record_id].add(student_id)

    new_records: list[StudyRecord] = []
    results: list[StudyRecordsCreated] = []
    for record in locked:
        missing = [sid for sid in students_by_class[record.re_class_id] if sid not in existing[record.pk]]
        new_records += [StudyRecord(course_record=record, student_id=sid) for sid in missing]
        skipped = len(students_by_class[record.re_class_id]) - len(missing)
        results.append(StudyRecordsCreated(course_record=record, created=len(missing), skipped=skipped))
    StudyRecord.objects.bulk_create(new_records, batch_size=STUDY_RECORDS_BATCH_SIZE)
    return results


@transaction.atomic
def course_records_create(*, course_record: CourseRecord) -> StudyRecordsCreated:
    """Save a new course record and give each student of its class a study record at once.

    One transaction: a lesson never exists without the records its attendance is taken on.
    """
    course_record.save()
    [result] = study_records_create_for(course_records=[course_record])
    return result


@dataclass(frozen=True)
class Marks:
    attendance: str
    score: int
    homework_note: str


MARK_FIELDS = ["attendance", "score", "homework_note"]


@transaction.atomic
def study_records_take_attendance(*, course_record: CourseRecord, marks: Mapping[int, Marks]) -> int:
    """Record each student's attendance, score and homework comment for a lesson, all or none.

    ``marks`` maps a student's id to their marks. Every student must be a student of the lesson's
    class (ValidationError otherwise, and nothing is saved); a student without a record yet (who joined
    after the lesson was added) gets one. Returns the number of records written. The number of queries
    does not depend on the number of students.
    """
    # Locked so that two teachers saving the same lesson at once cannot both create the missing
    # records (the second insert would break the unique constraint).
    CourseRecord.objects.select_for_update(of=("self",)).filter(pk=course_record.pk).get()
    students = set(Customer.objects.students_of(course_record.re_class_id).values_list("pk", flat=True))
    if set(marks) - students:
        raise ValidationError(
            _("Some of these people are no longer students of the class; reload the page."),
            code="not_in_class",
        )
    records = {
        record.student_id: record
        for record in StudyRecord.objects.filter(course_record=course_record, student_id__in=list(marks))
    }
    new, changed = [], []
    for student_id, mark in marks.items():
        record = records.get(student_id)
        if record is None:
            record = StudyRecord(course_record=course_record, student_id=student_id)
            new.append(record)
        else:
            changed.append(record)
        record.attendance, record.score, record.homework_note = (
            mark.attendance,
            mark.score,
            mark.homework_note,
        )
    StudyRecord.objects.bulk_create(new, batch_size=STUDY_RECORDS_BATCH_SIZE)
    StudyRecord.objects.bulk_update(changed, MARK_FIELDS, batch_size=STUDY_RECORDS_BATCH_SIZE)
    return len(new) + len(changed)


# What a study record's own forms (its change form, the list's editable columns) may change: a record
# belongs to one student at one lesson for good.
EDITABLE_STUDY_RECORD_FIELDS = [*MARK_FIELDS, "note", "date"]


def study_records_check_student(*, course_record: CourseRecord, student: Customer) -> None:
    """A study record is only for a student of the lesson's class: the people the bulk action and the
    attendance page give a record to (``students_of``), no one else."""
    if not Customer.objects.students_of(course_record.re_class_id).filter(pk=student.pk).exists():
        raise ValidationError(
            _("%(student)s is not a student of %(class)s."),
            code="not_in_class",
            params={"student": student, "class": course_record.re_class},
        )


@transaction.atomic
def study_records_save(*, study_record: StudyRecord, fields: Iterable[str] = ()) -> StudyRecord:
    """Save a study record written by hand: a new one for a student of the lesson's class only; an
    existing one changes only ``fields`` among its marks, its note and its date."""
    if study_record.pk is None:
        study_records_check_student(course_record=study_record.course_record, student=study_record.student)
        study_record.save()
        return study_record
    changed = [name for name in fields if name in EDITABLE_STUDY_RECORD_FIELDS]
    if changed:
        study_record.save(update_fields=changed)
    return study_record


def study_records_tally_count(*, groups) -> int | None:
    """How many study records the ``StudyRecordTally`` rows ``groups`` (scoped and filtered like the
    records, with their queryset's own methods) hold, in one small query, on PostgreSQL, whose triggers
    keep the tally; None on another database, which counts the records."""
    return tallies.tally_count(tallies.STUDY_RECORDS, groups)
