from django.contrib import admin

from crm.admin.base import CrmModelAdmin
from crm.models import ClassList, ContractTemplate, CourseRecord, StudyRecord


@admin.register(ContractTemplate)
class ContractTemplateAdmin(CrmModelAdmin):
    list_display = ["name", "created"]
    search_fields = ["name"]


@admin.register(ClassList)
class ClassListAdmin(CrmModelAdmin):
    list_display = ["__str__", "class_type", "price", "start_date", "graduate_date"]
    list_filter = ["course", "campus", "class_type"]
    search_fields = ["memo", "campus__name"]
    list_select_related = ["campus"]
    filter_horizontal = ["teachers"]


@admin.register(CourseRecord)
class CourseRecordAdmin(CrmModelAdmin):
    list_display = ["re_class", "day_num", "course_title", "teacher", "date", "has_homework"]
    list_filter = ["re_class", "has_homework"]
    search_fields = ["course_title", "homework_title"]
    list_select_related = ["re_class__campus", "teacher"]


@admin.register(StudyRecord)
class StudyRecordAdmin(CrmModelAdmin):
    list_display = ["student", "course_record", "attendance", "score", "homework_note"]
    list_filter = ["attendance", "score"]
    search_fields = ["student__name", "student__qq"]
    list_select_related = ["student", "course_record__re_class__campus"]
    raw_id_fields = ["student", "course_record"]
