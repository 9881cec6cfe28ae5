from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.models.choices import ClassType, Course, choice_labels
from crm.querysets import (
    ClassListQuerySet,
    CourseRecordQuerySet,
    StudyRecordQuerySet,
    StudyRecordTallyQuerySet,
)
from crm.storage import homework_upload_to, private_storage


class ContractTemplate(models.Model):
    name = models.CharField(_("contract name"), max_length=128, unique=True)
    content = models.TextField(_("contract content"))
    created = models.DateField(_("created"), default=timezone.localdate)

    class Meta:
        verbose_name = _("contract template")
        verbose_name_plural = _("contract templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClassList(models.Model):
    course = models.CharField(_("course"), max_length=64, choices=Course.choices)
    semester = models.PositiveIntegerField(_("semester"))
    campus = models.ForeignKey(
        "crm.Campus", verbose_name=_("campus"), on_delete=models.PROTECT, related_name="classes"
    )
    class_type = models.CharField(
        _("class type"), max_length=16, choices=ClassType.choices, default=ClassType.FULLTIME
    )
    price = models.PositiveIntegerField(_("tuition"), default=10000)
    start_date = models.DateField(_("start date"))
    graduate_date = models.DateField(_("graduation date"), null=True, blank=True)
    contract = models.ForeignKey(
        ContractTemplate,
        verbose_name=_("contract template"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    teachers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("teachers"), related_name="classes", blank=True
    )
    memo = models.CharField(_("memo"), max_length=255, blank=True)

    objects = ClassListQuerySet.as_manager()

    class Meta:
        verbose_name = _("class")
        verbose_name_plural = _("classes")
        ordering = ["-start_date", "course", "semester"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "semester", "campus"], name="crm_classlist_unique_semester"
            ),
        ]
        permissions = [
            ("view_all_classes", _("Can view all classes")),
            # Who may be a class's or a lesson's teacher (class teachers, lecturers, TAs).
            ("teach_class", _("Can teach classes")),
        ]

    def __str__(self) -> str:
        return ClassList.names_of([self])[0]

    @staticmethod
    def names_of(classes) -> list[str]:
        """``str()`` of each class, with the translations looked up once for all of them: the class
        filters of the lists name every class of the school on each page. Read the campuses with them."""
        name = gettext("%(course)s %(semester)s (%(campus)s)")
        semester = gettext("semester %(number)s")
        courses = choice_labels(ClassList._meta.get_field("course"))
        return [
            name
            % {
                "course": courses.get(klass.course, klass.course),
                "semester": semester % {"number": klass.semester},
                "campus": klass.campus,
            }
            for klass in classes
        ]


class CourseRecord(models.Model):
    re_class = models.ForeignKey(
        ClassList, verbose_name=_("class"), on_delete=models.CASCADE, related_name="course_records"
    )
    day_num = models.PositiveIntegerField(_("lesson number"))
    date = models.DateField(_("lesson date"), default=timezone.localdate, db_index=True)
    course_title = models.CharField(_("lesson title"), max_length=64, blank=True)
    course_memo = models.TextField(_("lesson content"), blank=True)
    has_homework = models.BooleanField(_("has homework"), default=True)
    homework_title = models.CharField(_("homework title"), max_length=64, blank=True)
    homework_memo = models.TextField(_("homework description"), blank=True)
    scoring_point = models.TextField(_("scoring points"), blank=True)
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("teacher"),
        on_delete=models.PROTECT,
        related_name="course_records",
    )

    objects = CourseRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("course record")
        verbose_name_plural = _("course records")
        ordering = ["-date", "-day_num"]
        constraints = [
            models.UniqueConstraint(fields=["re_class", "day_num"], name="crm_courserecord_unique_day"),
        ]

    def __str__(self) -> str:
        return _("%(class)s lesson %(day)s") % {"class": self.re_class, "day": self.day_num}


class StudyRecord(models.Model):
    class Attendance(models.TextChoices):
        CHECKED = "checked", _("Checked in")
        VACATE = "vacate", _("On leave")
        LATE = "late", _("Late")
        ABSENCE = "absence", _("Absent")
        LEAVE_EARLY = "leave_early", _("Left early")

    class Score(models.IntegerChoices):
        A_PLUS = 100, "A+"
        A = 90, "A"
        B_PLUS = 85, "B+"
        B = 80, "B"
        B_MINUS = 70, "B-"
        C_PLUS = 60, "C+"
        C = 50, "C"
        C_MINUS = 40, "C-"
        D = 0, "D"
        # Letter grades read the same in every language; these three are words, so they are translated.
        NOT_GRADED = -1, _("N/A")
        COPY = -100, _("COPY")
        FAIL = -1000, _("FAIL")

    course_record = models.ForeignKey(
        CourseRecord,
        verbose_name=_("course record"),
        on_delete=models.CASCADE,
        related_name="study_records",
        # A lesson's records are found by the unique index, which starts with the lesson: an index of
        # its own was one more index to write, and one the list's pages could be sorted from.
        db_index=False,
    )
    student = models.ForeignKey(
        "crm.Customer",
        verbose_name=_("student"),
        on_delete=models.CASCADE,
        related_name="study_records",
    )
    attendance = models.CharField(
        _("attendance"), max_length=16, choices=Attendance.choices, default=Attendance.CHECKED
    )
    score = models.IntegerField(_("score"), choices=Score.choices, default=Score.NOT_GRADED)
    homework_note = models.CharField(_("homework comment"), max_length=255, blank=True)
    date = models.DateTimeField(_("date"), default=timezone.now)
    note = models.CharField(_("note"), max_length=255, blank=True)
    homework = models.FileField(
        _("homework file"),
        upload_to=homework_upload_to,
        storage=private_storage,
        blank=True,
        max_length=255,
    )

    objects = StudyRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("study record")
        verbose_name_plural = _("study records")
        ordering = ["-course_record__date", "student_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["course_record", "student"], name="crm_studyrecord_unique_student"
            ),
        ]
        indexes = [
            # The list filtered by attendance counts its rows exactly (a school's million study
            # records): an index-only scan.
            models.Index(fields=["attendance"], name="crm_studyrecord_attendance"),
            # The list's order (StudyRecordAdmin.ordering) with the key: a deep page's OFFSET walks
            # this index alone (an index-only scan), not the table's rows.
            models.Index(fields=["course_record", "student", "id"], name="crm_studyrecord_order"),
        ]

    def __str__(self) -> str:
        return f"{self.course_record} {self.student}"


class StudyRecordTally(models.Model):
    """How many study records each attendance holds, kept exact by PostgreSQL statement triggers on
    crm_studyrecord (crm/tallies.py): the boss's 学习记录 list, whole or by attendance, counts a
    million records by summing a few of these rows. Per attendance only: per lesson too, the school's
    10,000 lessons would make more groups than a sum reads quickly; a class's or a teacher's records,
    a few thousand, are counted. Empty (and unused) on other databases."""

    attendance = models.CharField(max_length=16)
    n = models.BigIntegerField()

    objects = StudyRecordTallyQuerySet.as_manager()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.attendance}: {self.n}"
