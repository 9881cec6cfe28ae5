"""The student's own page: what a student sees of their studies, and their homework uploads."""

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Exists, OuterRef, Q, Value
from django.db.models.functions import Greatest
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from crm.models import ClassList, CourseRecord, Customer, PaymentRecord, StudyRecord

# Attendance codes that count as being in class for the attendance rate.
PRESENT = {
    StudyRecord.Attendance.CHECKED,
    StudyRecord.Attendance.LATE,
    StudyRecord.Attendance.LEAVE_EARLY,
}


@dataclass
class Lesson:
    course_record: CourseRecord
    study_record: StudyRecord | None


@dataclass
class ClassSummary:
    class_list: ClassList
    lessons: list[Lesson] = field(default_factory=list)
    attendance_rate: float | None = None
    average_score: float | None = None


@dataclass
class StudentOverview:
    customer: Customer
    classes: list[ClassSummary]
    payments: list[PaymentRecord]
    confirmed_total: int


def customer_of(user) -> Customer | None:
    """The customer (student) linked to this login account, or None."""
    return Customer.objects.filter(user=user).first() if user.is_authenticated else None


def attendance_rate(records: list[StudyRecord]) -> float | None:
    if not records:
        return None
    return sum(record.attendance in PRESENT for record in records) / len(records)


def average_score(records: list[StudyRecord]) -> float | None:
    # Ungraded records (N/A) do not count; copied or failed homework counts as zero.
    graded = [max(record.score, 0) for record in records if record.score != StudyRecord.Score.NOT_GRADED]
    return sum(graded) / len(graded) if graded else None


# The same two rules as aggregates, for figures over many records (the boss's dashboard); keep
# them in step with attendance_rate() and average_score() above.
def present_count() -> Count:
    """How many of the study records count as being in class (the numerator of attendance_rate)."""
    return Count("pk", filter=Q(attendance__in=PRESENT))


def average_score_aggregate() -> Avg:
    """average_score() in the database: N/A left out, COPY and FAIL counted as zero."""
    return Avg(Greatest("score", Value(0)), filter=~Q(score=StudyRecord.Score.NOT_GRADED))


def student_overview(*, customer: Customer) -> StudentOverview:
    """Everything of one student for their own page, in a constant number of queries.

    Classes are those the student joined and those where they have study records; every course
    record of these classes is listed with the student's study record (None when not recorded yet).
    """
    joined = ClassList.customers.through.objects.filter(classlist_id=OuterRef("pk"), customer_id=customer.pk)
    recorded = StudyRecord.objects.filter(student=customer, course_record__re_class=OuterRef("pk"))
    classes = (
        ClassList.objects.filter(Exists(joined) | Exists(recorded))
        .select_related("campus")
        .prefetch_related("teachers")
        .order_by("-start_date", "pk")
    )
    summaries = {klass.pk: ClassSummary(class_list=klass) for klass in classes}
    records = {
        record.course_record_id: record
        for record in StudyRecord.objects.filter(student=customer, course_record__re_class__in=summaries)
    }
    course_records = CourseRecord.objects.filter(re_class__in=summaries).order_by("re_class", "day_num")
    for course_record in course_records:
        summaries[course_record.re_class_id].lessons.append(
            Lesson(course_record=course_record, study_record=records.get(course_record.pk))
        )
    for summary in summaries.values():
        recorded = [lesson.study_record for lesson in summary.lessons if lesson.study_record]
        summary.attendance_rate = attendance_rate(recorded)
        summary.average_score = average_score(recorded)

    own_payments = PaymentRecord.objects.alive().filter(customer=customer)
    payments = list(
        own_payments.with_net_amount().select_related("enrolment_class__campus").order_by("-date", "-pk")
    )
    # The payment list's own total (PaymentRecordQuerySet.totals), not a second sum in Python.
    confirmed_total = own_payments.totals()["confirmed_net"]
    return StudentOverview(
        customer=customer,
        classes=list(summaries.values()),
        payments=payments,
        confirmed_total=confirmed_total,
    )


def validate_homework_file(upload) -> None:
    """Raise ValidationError when the file's type or size is not accepted (settings.HOMEWORK_*)."""
    allowed = [extension.lower().lstrip(".") for extension in settings.HOMEWORK_ALLOWED_EXTENSIONS]
    extension = PurePosixPath(upload.name).suffix.lower().lstrip(".")
    if extension not in allowed:
        raise ValidationError(
            _("Files of this type are not accepted. Allowed types: %(allowed)s.")
            % {"allowed": ", ".join(allowed)},
            code="extension",
        )
    limit = settings.HOMEWORK_MAX_UPLOAD_MB * 1024 * 1024
    if upload.size > limit:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            code="size",
        )


@transaction.atomic
def study_records_upload_homework(*, user, study_record_id: int, upload) -> StudyRecord:
    """Store a student's homework file on their own study record, replacing an earlier upload.

    Raises StudyRecord.DoesNotExist for a record that is not the user's own (so that the view
    answers 404, as for a missing one) and ValidationError for a lesson without homework or a
    file of a refused type or size.
    """
    # Locked so that two uploads at once cannot both keep the same old file to delete.
    record = (
        StudyRecord.objects.select_for_update()
        .select_related("course_record")
        .get(pk=study_record_id, student__user=user)
    )
    if not record.course_record.has_homework:
        raise ValidationError(_("This lesson has no homework to hand in."), code="no_homework")
    validate_homework_file(upload)
    old = record.homework.name
    record.homework.save(upload.name, upload, save=False)
    record.save(update_fields=["homework"])
    if old:
        storage = record.homework.storage
        transaction.on_commit(lambda: storage.delete(old))
    return record
