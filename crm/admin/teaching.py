import functools
from dataclasses import dataclass
from pathlib import PurePosixPath

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Exists, F, Func, IntegerField, OuterRef, Q, Subquery, Value, When
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.admin.base import CrmModelAdmin, RelatedSearchAdminMixin
from crm.admin.filters import SelectListFilterMixin
from crm.admin.paging import NearestPageChangeList
from crm.admin.rows import (
    CellFormSet,
    CellSelect,
    CellTextInput,
    cell_formfield_callback,
    cell_html,
    cell_html_join,
)
from crm.models import (
    ClassList,
    ContractTemplate,
    Course,
    CourseRecord,
    Customer,
    StudyRecord,
    StudyRecordTally,
    UserProfile,
)
from crm.services.teaching import (
    MARK_FIELDS,
    Marks,
    course_records_create,
    study_records_check_student,
    study_records_create_for,
    study_records_save,
    study_records_take_attendance,
    study_records_tally_count,
)
from crm.templatetags.crm_formats import yuan

NEXT_VAR = "next"
# The 学习记录 list's parameters whose records the tally's groups select (StudyRecordTally's column).
TALLIED_STUDY_RECORD_FILTERS = dict.fromkeys(["attendance__exact"])


def row_count(queryset):
    """A correlated ``SELECT COUNT(*)`` for each row of the page; unlike a joined ``Count`` it does
    not group the whole table when the changelist counts its rows."""
    counted = queryset.order_by().annotate(n=Func("pk", function="COUNT")).values("n")
    return Subquery(counted, output_field=IntegerField())


def safe_next_url(request) -> str | None:
    """The ``next`` of the request when it stays on this site, else None (no open redirect)."""
    url = request.POST.get(NEXT_VAR) or request.GET.get(NEXT_VAR)
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


def changelist_url(model, **params) -> str:
    url = reverse(f"admin:crm_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


class ManagedClassFilter(SelectListFilterMixin, admin.RelatedFieldListFilter):
    """The classes the user teaches (all for the boss). Shown, and applied, even for one class."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.empty_value_display = gettext("No class")

    def field_choices(self, field, request, model_admin):
        return ClassList.objects.managed_by(request.user).named()

    def has_output(self):
        return bool(self.lookup_choices) or self.lookup_val is not None


class LessonOfClassFilter(admin.RelatedFieldListFilter):
    """The lessons of the class chosen in the class filter (or of the chosen lesson's class):
    a school has thousands of course records, a class a few dozen."""

    class_param = "course_record__re_class__id__exact"

    def field_choices(self, field, request, model_admin):
        records = CourseRecord.objects.visible_to(request.user)
        class_id = request.GET.get(self.class_param, "")
        record_id = request.GET.get(self.lookup_kwarg, "")
        if class_id.isdigit():
            records = records.filter(re_class_id=class_id)
        elif record_id.isdigit():
            records = records.filter(re_class__course_records=record_id)
        else:
            return []
        return [
            (
                record.pk,
                gettext("Lesson %(day)s %(title)s") % {"day": record.day_num, "title": record.course_title},
            )
            for record in records.order_by("day_num")
        ]

    def has_output(self):
        return bool(self.lookup_choices) or self.lookup_val is not None


class TeachingMedia:
    css = {"all": ["crm/admin/teaching.css"]}


class StudyRecordListForm(forms.ModelForm):
    class Meta:
        model = StudyRecord
        fields = ["attendance", "score", "homework_note"]
        # A narrow comment box, so that a row of the list fits the screen; cells rendered without a
        # template each (crm.admin.rows).
        widgets = {
            "attendance": CellSelect,
            "score": CellSelect,
            "homework_note": CellTextInput(attrs={"size": 24}),
        }


class StudyRecordForm(forms.ModelForm):
    def clean(self):
        cleaned_data = super().clean()
        lesson, student = cleaned_data.get("course_record"), cleaned_data.get("student")
        if lesson and student:
            study_records_check_student(course_record=lesson, student=student)
        return cleaned_data


class AttendanceRowForm(forms.Form):
    """One student's row of the attendance page; the prefix (the student's id) keeps rows apart."""

    attendance = forms.ChoiceField(
        label=_("attendance"), choices=StudyRecord.Attendance.choices, widget=forms.RadioSelect
    )
    score = forms.TypedChoiceField(label=_("score"), choices=StudyRecord.Score.choices, coerce=int)
    homework_note = forms.CharField(
        label=_("homework comment"),
        max_length=StudyRecord._meta.get_field("homework_note").max_length,
        required=False,
        widget=forms.TextInput(attrs={"size": 24}),
    )


def row_form_kwargs(student, records) -> dict:
    record = records.get(student.pk)
    if record is None:
        initial = {"attendance": StudyRecord.Attendance.CHECKED, "score": StudyRecord.Score.NOT_GRADED}
    else:
        initial = {field: getattr(record, field) for field in MARK_FIELDS}
    return {"prefix": f"student-{student.pk}", "initial": initial}


@dataclass
class AttendanceRow:
    student: Customer
    record: StudyRecord | None
    form: AttendanceRowForm


class NextKeepingChangeList(NearestPageChangeList):
    # ``next`` rides along every link of the list (filters, pages, sorting) but filters nothing.
    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(NEXT_VAR, None)
        return lookup_params


@admin.register(ContractTemplate)
class ContractTemplateAdmin(CrmModelAdmin):
    list_display = ["name", "created"]
    search_fields = ["name"]


@admin.register(ClassList)
class ClassListAdmin(CrmModelAdmin):
    Media = TeachingMedia
    list_display = [
        "course",
        "semester",
        "campus",
        "class_type",
        "tuition",
        "dates",
        "teacher_names",
        "students",
        "course_records",
    ]
    list_filter = ["course", "campus", "class_type"]
    # Also searched: the course's name and the semester (get_search_results).
    search_fields = ["memo", "campus__name"]
    search_help_text = _("Course name, semester (15 or 15期), campus or memo.")
    list_select_related = ["campus"]

    def scope_queryset(self, request, queryset):
        return queryset.visible_to(request.user)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "teachers":
            # Active teaching staff only (crm.teach_class: class teachers, lecturers, TAs), plus whoever
            # already teaches a class so that editing never drops them; never sales, finance or the
            # students' accounts. A plain list box: Django 5.2's two-box widget speaks English on a
            # Chinese screen.
            teaching = Q(pk__in=UserProfile.objects.teaching_staff().values("pk"))
            staff = UserProfile.objects.filter(teaching | Q(classes__isnull=False), is_staff=True)
            kwargs["queryset"] = staff.filter(is_active=True).distinct().order_by("username")
            kwargs["widget"] = forms.SelectMultiple(attrs={"size": 10})
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_queryset(self, request):
        students = Customer.class_list.through.objects.filter(
            Customer.objects.students_q("customer__"), classlist_id=OuterRef("pk")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                student_count=row_count(students),
                member_count=row_count(
                    Customer.class_list.through.objects.filter(classlist_id=OuterRef("pk"))
                ),
                course_record_count=row_count(CourseRecord.objects.filter(re_class=OuterRef("pk"))),
                # Finance sees every class but works with the students and lessons of none.
                managed=Exists(ClassList.objects.managed_by(request.user).filter(pk=OuterRef("pk"))),
            )
            .prefetch_related("teachers")
        )

    def get_list_display(self, request):
        # The links depend on the user: finance sees every class, but not its students or lessons.
        may_view_lessons = request.user.has_perm("crm.view_courserecord")

        # The students of a class are its studying members; the column says it also counts the others.
        @admin.display(description=_("studying / members"), ordering="student_count")
        def students(klass):
            label = gettext("Students (%(count)s)") % {"count": klass.student_count}
            if klass.managed:
                url = reverse("admin:crm_classlist_students", args=[klass.pk])
                return cell_html('<a href="{}">{}</a> / {}', url, label, klass.member_count)
            return cell_html("{} / {}", label, klass.member_count)

        @admin.display(description=_("course records"), ordering="course_record_count")
        def course_records(klass):
            label = gettext("Course records (%(count)s)") % {"count": klass.course_record_count}
            if may_view_lessons:
                url = changelist_url(CourseRecord, re_class__id__exact=klass.pk)
                return cell_html('<a href="{}">{}</a>', url, label)
            return label

        return [*self.list_display[:-2], students, course_records]

    def get_ordering(self, request):
        # Upcoming classes first, the nearest at the top, then the others from the latest start.
        upcoming = Q(start_date__gte=timezone.localdate())
        return [
            Case(When(upcoming, then=Value(0)), default=Value(1)).asc(),
            Case(When(upcoming, then=F("start_date"))).asc(),
            F("start_date").desc(),
            "pk",
        ]

    def get_search_results(self, request, queryset, search_term):
        # The course is stored as a code and the semester as a number: each word of the search must
        # match the memo, the campus, a course's name or the semester ("15" or "15期").
        courses = [(code, str(label).casefold()) for code, label in Course.choices]
        for word in smart_split(search_term):
            if word[:1] in "\"'" and len(word) > 1 and word[0] == word[-1]:
                word = unescape_string_literal(word)
            matches = Q(memo__icontains=word) | Q(campus__name__icontains=word)
            matches |= Q(course__in=[code for code, label in courses if word.casefold() in label])
            matches |= Q(course__iexact=word)
            number = word.removesuffix("期")
            if number.isdigit():
                matches |= Q(semester=int(number))
            queryset = queryset.filter(matches)
        return super().get_search_results(request, queryset, "")

    def get_urls(self):
        students = path(
            "<path:object_id>/students/",
            self.admin_site.admin_view(self.students_view),
            name="crm_classlist_students",
        )
        return [students, *super().get_urls()]

    @admin.display(description=_("tuition"), ordering="price")
    def tuition(self, klass):
        return yuan(klass.price)

    @admin.display(description=_("teachers"))
    def teacher_names(self, klass):
        return cell_html_join(mark_safe("<br>"), "{}", ((teacher,) for teacher in klass.teachers.all()))

    @admin.display(description=_("start and graduation dates"), ordering="start_date")
    def dates(self, klass):
        return cell_html(
            "{}<br>{}",
            date_format(klass.start_date),
            date_format(klass.graduate_date) if klass.graduate_date else "-",
        )

    @admin.display(description=_("students"))
    def students(self, klass):
        return klass.student_count

    @admin.display(description=_("course records"))
    def course_records(self, klass):
        return klass.course_record_count

    def students_view(self, request, object_id):
        klass = self.get_object(request, object_id)
        if not klass.managed:
            # Outside the user's classes: as missing as a class that does not exist.
            raise Http404(gettext("Not found."))
        if not self.has_view_or_change_permission(request, klass):
            raise PermissionDenied
        students = Customer.objects.students_of(klass).order_by("name", "qq")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": klass,
            "title": gettext("Students of %(class)s") % {"class": klass},
            "students": students,
            "may_view_study_records": request.user.has_perm("crm.view_studyrecord"),
            "study_records_url": changelist_url(StudyRecord, course_record__re_class__id__exact=klass.pk),
        }
        return TemplateResponse(request, "admin/crm/classlist/students.html", context)


@admin.register(CourseRecord)
class CourseRecordAdmin(CrmModelAdmin):
    Media = TeachingMedia
    list_display = [
        "lesson_class",
        "day_num",
        "course_title",
        "teacher",
        "date",
        "has_homework",
        "attendance_link",
        "study_records",
    ]
    list_filter = [("re_class", ManagedClassFilter), "has_homework", "date"]
    search_fields = ["course_title", "homework_title"]
    list_select_related = ["re_class__campus", "teacher"]
    actions = ["create_study_records"]

    def scope_queryset(self, request, queryset):
        return queryset.visible_to(request.user)

    def get_queryset(self, request):
        study_records = StudyRecord.objects.filter(course_record=OuterRef("pk"))
        return super().get_queryset(request).annotate(study_record_count=row_count(study_records))

    def get_list_display(self, request):
        # The link carries this page as ``next``: saving the study records comes back here.
        back = request.get_full_path()

        @admin.display(description=_("study records"), ordering="study_record_count")
        def study_records(record):
            url = changelist_url(StudyRecord, course_record__id__exact=record.pk, next=back)
            label = gettext("Study records (%(count)s)") % {"count": record.study_record_count}
            return cell_html('<a href="{}">{}</a>', url, label)

        columns = [*self.list_display[:-1], study_records]
        if not self.has_attendance_permission(request):
            columns.remove("attendance_link")
        return columns

    def get_urls(self):
        attendance = path(
            "<path:object_id>/attendance/",
            self.admin_site.admin_view(self.attendance_view),
            name="crm_courserecord_attendance",
        )
        return [attendance, *super().get_urls()]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        result = course_records_create(course_record=obj)
        if result.created:
            self.message_user(
                request,
                gettext("%(count)d study records created for the students of the class.")
                % {"count": result.created},
                messages.SUCCESS,
            )
        return None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "re_class":
            kwargs["queryset"] = ClassList.objects.managed_by(request.user).select_related("campus")
        elif db_field.name == "teacher":
            kwargs["queryset"] = UserProfile.objects.teaching_staff().filter(is_staff=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = {"teacher": request.user.pk}
        own_classes = list(ClassList.objects.managed_by(request.user).values_list("pk", flat=True)[:2])
        if len(own_classes) == 1:
            initial["re_class"] = own_classes[0]
        return {**initial, **super().get_changeform_initial_data(request)}

    @admin.display(description=_("class"), ordering="re_class")
    def lesson_class(self, record):
        # Not the raw foreign key column, which the admin keeps on one (too wide) line.
        return str(record.re_class)

    @admin.display(description=_("study records"))
    def study_records(self, record):
        return record.study_record_count

    @admin.display(description=_("attendance"))
    def attendance_link(self, record):
        url = reverse("admin:crm_courserecord_attendance", args=[record.pk])
        return cell_html('<a class="button" href="{}">{}</a>', url, gettext("Take attendance"))

    def has_study_records_permission(self, request):
        return request.user.has_perm("crm.add_studyrecord")

    def has_attendance_permission(self, request):
        # Taking attendance is marking the lesson's study records (a TA too); the records of students
        # who joined after the lesson was added come with it.
        return request.user.has_perm("crm.change_studyrecord")

    def attendance_view(self, request, object_id):
        lesson = self.get_object(request, object_id)  # a lesson of another class answers 404
        if not self.has_attendance_permission(request):
            raise PermissionDenied
        students = list(Customer.objects.students_of(lesson.re_class_id).order_by("name", "qq"))
        records = {
            record.student_id: record
            for record in StudyRecord.objects.filter(
                course_record=lesson, student__in=[s.pk for s in students]
            )
        }
        data = request.POST if request.method == "POST" else None
        rows = [
            AttendanceRow(
                student, records.get(student.pk), AttendanceRowForm(data, **row_form_kwargs(student, records))
            )
            for student in students
        ]
        if data is not None and all(row.form.is_valid() for row in rows):
            marks = {row.student.pk: Marks(**row.form.cleaned_data) for row in rows}
            try:
                count = study_records_take_attendance(course_record=lesson, marks=marks)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Attendance of %(lesson)s saved for %(count)d students.")
                    % {"lesson": lesson, "count": count},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    changelist_url(CourseRecord, re_class__id__exact=lesson.re_class_id)
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": lesson,
            "title": gettext("Attendance: %(class)s, lesson %(day)s")
            % {"class": lesson.re_class, "day": lesson.day_num},
            "rows": rows,
            "has_errors": data is not None,
            "checked": StudyRecord.Attendance.CHECKED,
        }
        return TemplateResponse(request, "admin/crm/courserecord/attendance.html", context)

    @admin.action(permissions=["study_records"], description=_("Create study records for the students"))
    def create_study_records(self, request, queryset):
        for result in study_records_create_for(course_records=queryset):
            message = gettext("%(record)s: %(created)d study records created, %(skipped)d skipped.") % {
                "record": result.course_record,
                "created": result.created,
                "skipped": result.skipped,
            }
            level = messages.SUCCESS if result.created else messages.INFO
            if result.created + result.skipped == 0:
                message = gettext("%(record)s: the class has no studying students.") % {
                    "record": result.course_record
                }
                level = messages.WARNING
            self.message_user(request, message, level)


@admin.register(StudyRecord)
class StudyRecordAdmin(RelatedSearchAdminMixin, CrmModelAdmin):
    Media = TeachingMedia
    list_display = ["student", "lesson", "attendance", "score", "homework_note"]
    list_editable = ["attendance", "score", "homework_note"]
    list_filter = [
        ("course_record__re_class", ManagedClassFilter),
        ("course_record", LessonOfClassFilter),
        "attendance",
        "score",
    ]
    search_fields = ["student__name", "student__qq"]
    list_select_related = ["student", "course_record__re_class__campus"]
    list_per_page = 50
    # Latest lessons first, read backwards off the (course_record, student) unique index: ordering by
    # the lesson's date would join and sort the whole table on every page.
    ordering = ["-course_record_id", "-student_id"]
    form = StudyRecordForm

    def scope_queryset(self, request, queryset):
        return queryset.visible_to(request.user)

    def get_exact_count(self, request, changelist):
        # The boss's list, whole or by attendance: the sum of the tally's groups with the same filter
        # (study_records_tally_count).
        groups = self.tally_groups(
            request, changelist, StudyRecordTally.objects.all(), TALLIED_STUDY_RECORD_FILTERS
        )
        return None if groups is None else study_records_tally_count(groups=groups)

    def related_scope(self, request, model):
        if model is Customer:
            # The list names its students: the user may filter on anyone whose study records they see.
            return Customer.objects.filter(
                pk__in=StudyRecord.objects.visible_to(request.user).values("student_id")
            )
        return super().related_scope(request, model)

    def get_changelist(self, request, **kwargs):
        return NextKeepingChangeList

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("formfield_callback", self.cell_formfields(request))
        return super().get_changelist_form(request, form=StudyRecordListForm, **kwargs)

    def get_changelist_formset(self, request, **kwargs):
        kwargs.setdefault("formfield_callback", self.cell_formfields(request))
        return super().get_changelist_formset(request, formset=CellFormSet, **kwargs)

    def cell_formfields(self, request):
        # The list's form and formset each build the row form's fields (Django 5.2).
        return cell_formfield_callback(functools.partial(self.formfield_for_dbfield, request=request))

    def save_model(self, request, obj, form, change):
        # The add form, the change form and each changed row of the list's editable columns.
        study_records_save(study_record=obj, fields=form.changed_data)

    def get_fields(self, request, obj=None):
        marks = ["attendance", "score", "homework_note", "note", "date"]
        if obj is None:
            return ["course_record", "student", *marks]
        # A record belongs to one student at one lesson for good; only its marks change. The homework
        # file is uploaded by the student on their own pages; its link is the view that checks access.
        return ["lesson", "student_name", *marks, "homework_file"]

    def get_readonly_fields(self, request, obj=None):
        return ["lesson", "student_name", "homework_file"] if obj else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "course_record":
            records = CourseRecord.objects.visible_to(request.user)
            kwargs["queryset"] = records.select_related("re_class__campus")
        elif db_field.name == "student":
            classes = ClassList.objects.managed_by(request.user)
            kwargs["queryset"] = Customer.objects.students_of(classes)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("student"))
    def student_name(self, study_record):
        return str(study_record.student)

    @admin.display(description=_("homework file"))
    def homework_file(self, study_record):
        if not study_record.homework:
            return "-"
        name = PurePosixPath(study_record.homework.name).name
        return cell_html('<a href="{}">{}</a>', study_record.homework.url, name)

    @admin.display(description=_("course record"), ordering="course_record")
    def lesson(self, study_record):
        # Not the raw foreign key column, which the admin keeps on one (too wide) line.
        return str(study_record.course_record)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        saved = request.method == "POST" and "_save" in request.POST and response.status_code == 302
        next_url = safe_next_url(request)
        if saved and next_url:
            return HttpResponseRedirect(next_url)
        return response

    def response_post_save_change(self, request, obj):
        next_url = safe_next_url(request)
        if next_url:
            return HttpResponseRedirect(next_url)
        return super().response_post_save_change(request, obj)
