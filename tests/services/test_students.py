"""What a student sees of their studies, and their homework uploads."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.models import PaymentRecord, StudyRecord
from crm.services.students import (
    attendance_rate,
    average_score,
    customer_of,
    student_overview,
    study_records_upload_homework,
)
from tests.factories import (
    ClassListFactory,
    CourseRecordFactory,
    CustomerFactory,
    PaymentRecordFactory,
    StudyRecordFactory,
)

pytestmark = pytest.mark.django_db

Attendance = StudyRecord.Attendance
Score = StudyRecord.Score


def records(*pairs):
    return [StudyRecord(attendance=attendance, score=score) for attendance, score in pairs]


def test_attendance_rate_counts_late_and_early_leavers_as_present():
    rate = attendance_rate(
        records(
            (Attendance.CHECKED, 90),
            (Attendance.LATE, 90),
            (Attendance.LEAVE_EARLY, 90),
            (Attendance.ABSENCE, 90),
            (Attendance.VACATE, 90),
        )
    )
    assert rate == pytest.approx(0.6)
    assert attendance_rate([]) is None


def test_average_score_skips_ungraded_records_and_counts_copies_and_fails_as_zero():
    scored = records(
        (Attendance.CHECKED, Score.A_PLUS),
        (Attendance.CHECKED, Score.B),
        (Attendance.CHECKED, Score.NOT_GRADED),
        (Attendance.CHECKED, Score.COPY),
        (Attendance.CHECKED, Score.FAIL),
    )
    assert average_score(scored) == pytest.approx(180 / 4)
    assert average_score(records((Attendance.CHECKED, Score.NOT_GRADED))) is None


def test_customer_of_finds_the_linked_student_only(student_user, student_customer, make_user):
    assert customer_of(student_user) == student_customer
    assert customer_of(make_user(None, username="unlinked")) is None


def test_the_overview_lists_every_lesson_of_the_students_classes_with_their_own_records(
    student_class, student_customer
):
    first = CourseRecordFactory(re_class=student_class, day_num=1)
    CourseRecordFactory(re_class=student_class, day_num=2)
    mine = StudyRecordFactory(course_record=first, student=student_customer, attendance="late", score=80)
    StudyRecordFactory(course_record=first, score=100)  # a classmate's

    overview = student_overview(customer=student_customer)

    [summary] = overview.classes
    assert summary.class_list == student_class
    assert [(lesson.course_record.day_num, lesson.study_record) for lesson in summary.lessons] == [
        (1, mine),
        (2, None),
    ]
    assert summary.attendance_rate == 1
    assert summary.average_score == 80


def test_a_class_left_but_with_study_records_still_shows(student_customer):
    record = StudyRecordFactory(student=student_customer)
    classes = [summary.class_list for summary in student_overview(customer=student_customer).classes]
    assert record.course_record.re_class in classes


def test_the_confirmed_total_sums_confirmed_payments_including_refunds(student_class, student_customer):
    def pay(fee, status, **extra):
        return PaymentRecordFactory(
            customer=student_customer, enrolment_class=student_class, paid_fee=fee, status=status, **extra
        )

    pay(500, PaymentRecord.Status.CONFIRMED, pay_type=PaymentRecord.PayType.DEPOSIT)
    pay(10000, PaymentRecord.Status.CONFIRMED)
    pay(-2000, PaymentRecord.Status.CONFIRMED, pay_type=PaymentRecord.PayType.REFUND)
    pay(3000, PaymentRecord.Status.UNCONFIRMED)
    pay(4000, PaymentRecord.Status.REJECTED)
    pay(9999, PaymentRecord.Status.CONFIRMED, delete_status=True)
    PaymentRecordFactory(enrolment_class=student_class, paid_fee=7777, status=PaymentRecord.Status.CONFIRMED)

    overview = student_overview(customer=student_customer)

    assert overview.confirmed_total == 8500
    assert sorted(payment.paid_fee for payment in overview.payments) == [-2000, 500, 3000, 4000, 10000]


def test_a_refund_typed_as_a_positive_amount_is_subtracted_as_in_the_payment_list(
    student_class, student_customer
):
    # Finding 2: 19,800 paid and a confirmed 退款 of +2000 was 21,800 here and 17,800 in the list.
    for fee, pay_type in [(9800, PaymentRecord.PayType.DEPOSIT), (10000, PaymentRecord.PayType.TUITION)]:
        PaymentRecordFactory(
            customer=student_customer,
            enrolment_class=student_class,
            paid_fee=fee,
            pay_type=pay_type,
            status=PaymentRecord.Status.CONFIRMED,
        )
    PaymentRecordFactory(
        customer=student_customer,
        enrolment_class=student_class,
        paid_fee=2000,
        pay_type=PaymentRecord.PayType.REFUND,
        status=PaymentRecord.Status.CONFIRMED,
    )

    overview = student_overview(customer=student_customer)

    assert overview.confirmed_total == 17800
    assert (
        overview.confirmed_total
        == PaymentRecord.objects.filter(customer=student_customer).totals()["confirmed_net"]
    )
    assert sorted(payment.net_amount for payment in overview.payments) == [-2000, 9800, 10000]


def test_the_overview_takes_the_same_queries_for_one_lesson_or_many(
    student_class, student_customer, django_assert_num_queries
):
    StudyRecordFactory(course_record=CourseRecordFactory(re_class=student_class), student=student_customer)
    with django_assert_num_queries(6):
        student_overview(customer=student_customer)

    for _index in range(3):
        klass = ClassListFactory()
        student_customer.class_list.add(klass)
        for course in CourseRecordFactory.create_batch(4, re_class=klass):
            StudyRecordFactory(course_record=course, student=student_customer)
        PaymentRecordFactory(customer=student_customer, enrolment_class=klass)
    with django_assert_num_queries(6):
        overview = student_overview(customer=student_customer)
    assert len(overview.classes) == 4


@pytest.fixture
def homework_record(student_customer, student_class):
    course = CourseRecordFactory(re_class=student_class, has_homework=True)
    return StudyRecordFactory(course_record=course, student=student_customer)


def test_a_new_upload_replaces_the_old_file(
    student_user, homework_record, private_media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = study_records_upload_homework(
            user=student_user, study_record_id=homework_record.pk, upload=SimpleUploadedFile("a.zip", b"1")
        )
    old_path = private_media / first.homework.name
    assert old_path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        second = study_records_upload_homework(
            user=student_user,
            study_record_id=homework_record.pk,
            upload=SimpleUploadedFile("my-homework.py", b"2"),
        )
    assert not old_path.exists()
    assert (private_media / second.homework.name).read_bytes() == b"2"
    # A random name, not the uploaded one (a test on "b.py" failed whenever the random hex ended in b).
    assert second.homework.name.endswith(".py") and "my-homework" not in second.homework.name


def test_nobody_uploads_to_another_students_record(homework_record, make_user, private_media):
    intruder = make_user(None, username="intruder")
    CustomerFactory(user=intruder)
    with pytest.raises(StudyRecord.DoesNotExist):
        study_records_upload_homework(
            user=intruder, study_record_id=homework_record.pk, upload=SimpleUploadedFile("a.zip", b"1")
        )
    homework_record.refresh_from_db()
    assert not homework_record.homework


def test_an_upload_of_a_refused_type_stores_nothing(student_user, homework_record, private_media, settings):
    settings.HOMEWORK_ALLOWED_EXTENSIONS = ["zip"]
    with pytest.raises(ValidationError) as caught:
        study_records_upload_homework(
            user=student_user, study_record_id=homework_record.pk, upload=SimpleUploadedFile("a.exe", b"1")
        )
    assert caught.value.code == "extension"
    assert not private_media.exists() or not any(private_media.rglob("*.exe"))
