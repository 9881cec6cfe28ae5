"""Time and query count of the other long lists at scale (follow-ups, study records, lessons,
enrollments, payments, ownership history), beside a stock ModelAdmin in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_scale_bench \
        .venv/bin/python bench/other_changelists.py [CUSTOMERS] [RUNS]

Run it against a scratch PostgreSQL database. It first populates the customers of
bench/customers_changelist.py (default 1,000,000; 100,000 owned, each with two follow-ups and the
transfer of its claim), then, once, with INSERT ... SELECT generate_series: eighteen more follow-ups per
owned customer (2,000,000 follow-ups in all), 200 classes on the two campuses with 50 lessons each and
100 students each (20,000 owned customers, studying), one study record per lesson and student
(1,000,000), one enrollment per student and five payments per enrollment (100,000).

Each page is fetched RUNS times (default 7) through django.test.Client as the boss (bench_boss), and a
salesperson's follow-ups as bench_sales; ours and then a stock ``ModelAdmin`` (on its own AdminSite:
same rows, columns, filters, search and page size; per-row counts annotated in ``get_queryset``;
Django's default full-result count). It prints the medians, the ratio and the query counts, and
asserts nothing.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import customers_changelist as customers  # noqa: E402
from django.apps import apps  # noqa: E402
from django.contrib import admin  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Q  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402
from rangefilter.filters import DateRangeFilter  # noqa: E402

from crm.models import (  # noqa: E402
    Campus,
    ConsultRecord,
    CourseRecord,
    CustomerTransfer,
    Enrollment,
    PaymentRecord,
    StudyRecord,
)
from tests.factories import UserFactory  # noqa: E402

CLASSES = 200
LESSONS = 50
STUDENTS = 100  # per class
MORE_FOLLOW_UPS = 18  # per owned customer, beside the two of the customer bench

stock_site = admin.AdminSite(name="stock")


class StockAdmin(admin.ModelAdmin):
    list_per_page = 20


@admin.register(ConsultRecord, site=stock_site)
class StockConsultRecordAdmin(StockAdmin):
    list_display = ["customer", "status", "note", "consultant", "date", "next_date"]
    list_filter = ["status", ("date", DateRangeFilter)]
    search_fields = ["customer__name", "customer__qq", "note"]
    list_select_related = ["customer", "consultant"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).filter(delete_status=False)
        return queryset if request.user.is_superuser else queryset.visible_to(request.user)


@admin.register(StudyRecord, site=stock_site)
class StockStudyRecordAdmin(StockAdmin):
    list_display = ["student", "course_record", "attendance", "score", "homework_note"]
    list_filter = ["course_record__re_class", "attendance", "score"]
    search_fields = ["student__name", "student__qq"]
    list_select_related = ["student", "course_record__re_class__campus"]
    list_per_page = 50


@admin.register(CourseRecord, site=stock_site)
class StockCourseRecordAdmin(StockAdmin):
    list_display = ["re_class", "day_num", "course_title", "teacher", "date", "has_homework", "records"]
    list_filter = ["re_class", "has_homework", "date"]
    search_fields = ["course_title", "homework_title"]
    list_select_related = ["re_class__campus", "teacher"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(record_count=Count("study_records"))

    @admin.display(description="study records")
    def records(self, obj):
        return obj.record_count


@admin.register(Enrollment, site=stock_site)
class StockEnrollmentAdmin(StockAdmin):
    list_display = [
        "customer", "enrolment_class", "school", "consultant", "contract_agreed", "contract_approved",
        "enrolled_date",
    ]  # fmt: skip
    list_filter = ["contract_approved", "contract_agreed", "school", "enrolment_class"]
    search_fields = ["customer__name", "customer__qq", "customer__qq_name"]
    list_select_related = ["customer", "enrolment_class__campus", "school", "consultant"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(delete_status=False)


@admin.register(PaymentRecord, site=stock_site)
class StockPaymentRecordAdmin(StockAdmin):
    list_display = [
        "customer", "enrolment_class", "pay_type", "paid_fee", "status", "consultant", "date",
        "confirm_user",
    ]  # fmt: skip
    list_filter = ["status", "pay_type", "enrolment_class", ("date", DateRangeFilter)]
    search_fields = ["customer__name", "customer__qq", "customer__qq_name"]
    list_select_related = ["customer", "enrolment_class__campus", "consultant", "confirm_user"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(delete_status=False)


@admin.register(CustomerTransfer, site=stock_site)
class StockCustomerTransferAdmin(StockAdmin):
    list_display = ["customer", "from_consultant", "to_consultant", "by", "reason", "release_reason", "date"]
    list_filter = ["reason", "release_reason", ("date", DateRangeFilter)]
    search_fields = ["customer__name", "customer__qq"]
    list_select_related = ["customer", "from_consultant", "to_consultant", "by"]

    def get_queryset(self, request):
        # The ownership history a salesperson sees, as one would write it: an OR across the join.
        queryset = super().get_queryset(request)
        if request.user.has_perm("crm.view_all_customers"):
            return queryset
        user = request.user
        return queryset.filter(
            Q(customer__consultant=user) | Q(from_consultant=user) | Q(to_consultant=user) | Q(by=user)
        )


# The floor of any list page: the campuses' (two rows, two columns), ours and stock, same run.
stock_site.register(Campus)

urlpatterns = [path("stock/", stock_site.urls), path("", include("config.urls"))]


def populate(campuses, teacher) -> None:
    if StudyRecord.objects.filter(note="bench").exists():
        return
    started = time.perf_counter()
    owned = "FROM crm_customer WHERE consultant_id IS NOT NULL AND qq >= %(low)s"
    params = {"low": str(customers.BASE_QQ), "campuses": [c.pk for c in campuses], "teacher": teacher.pk}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO crm_consultrecord (note, status, date, delete_status, consultant_id, customer_id)"
            " SELECT 'bench follow-up ' || n, (ARRAY['A', 'B', 'C', 'D'])[1 + n %% 4],"
            " date + make_interval(days => 2 + n), n %% 50 = 0, consultant_id, id "
            + owned.replace("FROM crm_customer", "FROM crm_customer, generate_series(1, %(more)s) AS n"),
            {**params, "more": MORE_FOLLOW_UPS},
        )
        cursor.execute(
            "INSERT INTO crm_classlist (course, semester, campus_id, class_type, price, start_date, memo)"
            " SELECT (ARRAY['PythonFullStack', 'Go', 'LinuxL'])[1 + c %% 3], 100 + c,"
            " (%(campuses)s::bigint[])[1 + c %% 2], 'fulltime', 10000,"
            " current_date - c, 'bench' FROM generate_series(0, %(classes)s - 1) AS c",
            {**params, "classes": CLASSES},
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_class AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS k,"
            " campus_id FROM crm_classlist WHERE memo = 'bench'"
        )
        # The students: the first CLASSES * STUDENTS owned customers, STUDENTS to a class.
        cursor.execute(
            "CREATE TEMP TABLE bench_student AS SELECT id, consultant_id,"
            " (row_number() OVER (ORDER BY id) - 1) / %(students)s AS k "
            + owned
            + " ORDER BY id LIMIT %(n)s",
            {**params, "students": STUDENTS, "n": CLASSES * STUDENTS},
        )
        cursor.execute(
            "UPDATE crm_customer SET status = 'studying' WHERE id IN (SELECT id FROM bench_student)"
        )
        cursor.execute(
            "INSERT INTO crm_customer_class_list (customer_id, classlist_id)"
            " SELECT s.id, c.id FROM bench_student s JOIN bench_class c USING (k)"
        )
        cursor.execute(
            "INSERT INTO crm_courserecord (re_class_id, day_num, date, course_title, course_memo,"
            " has_homework, homework_title, homework_memo, scoring_point, teacher_id)"
            " SELECT c.id, d, current_date - 400 + d * 7 + c.k::int, 'bench lesson ' || d, '', d %% 2 = 0,"
            " 'bench homework ' || d, '', '', %(teacher)s"
            " FROM bench_class c, generate_series(1, %(lessons)s) AS d",
            {**params, "lessons": LESSONS},
        )
        cursor.execute(
            "INSERT INTO crm_studyrecord (course_record_id, student_id, attendance, score, homework_note,"
            " date, note, homework)"
            " SELECT r.id, s.id,"
            " (ARRAY['checked', 'vacate', 'late', 'absence'])[1 + (s.id + r.day_num) %% 4],"
            " (ARRAY[-1, 100, 90, 80, 60])[1 + (s.id + r.day_num) %% 5], '', r.date, 'bench', ''"
            " FROM crm_courserecord r JOIN bench_class c ON c.id = r.re_class_id"
            " JOIN bench_student s ON s.k = c.k",
            params,
        )
        cursor.execute(
            "INSERT INTO crm_enrollment (customer_id, school_id, enrolment_class_id, consultant_id, why_us,"
            " your_expectation, contract_agreed, contract_approved, enrolled_date, memo, delete_status)"
            " SELECT s.id, c.campus_id, c.id, s.consultant_id, '', '', true, s.id %% 3 > 0,"
            " now() - make_interval(days => s.k::int), '', false"
            " FROM bench_student s JOIN bench_class c USING (k)",
            params,
        )
        cursor.execute(
            "INSERT INTO crm_paymentrecord (customer_id, enrolment_class_id, consultant_id, pay_type,"
            " paid_fee, note, date, status, reject_reason, delete_status)"
            " SELECT s.id, c.id, s.consultant_id, (ARRAY['deposit', 'tuition', 'tuition', 'tuition',"
            " 'refund'])[n], CASE WHEN n = 5 THEN -500 ELSE 2000 END, 'bench',"
            " now() - make_interval(days => s.k::int, hours => n),"
            " (ARRAY['unconfirmed', 'confirmed', 'confirmed', 'rejected'])[1 + (s.id + n) %% 4], '', false"
            " FROM bench_student s JOIN bench_class c USING (k), generate_series(1, 5) AS n",
            params,
        )
        cursor.execute("DROP TABLE bench_class, bench_student")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  added the follow-ups, lessons and money in {time.perf_counter() - started:.0f} s", flush=True)


@override_settings(ROOT_URLCONF=__name__, DEBUG=False, ALLOWED_HOSTS=["testserver"])
def measure(sales, boss, runs: int) -> None:
    def compare(client, model, params, label, runs):
        customers.compare(client, model, params, label, runs)

    def deep(model) -> int:
        """Page 1999, or the last page of a shorter list (the stock changelist redirects past it)."""
        model_admin = stock_site._registry[apps.get_model("crm", model)]
        return min(1999, model_admin.model._default_manager.count() // model_admin.list_per_page - 10)

    client = Client()
    client.force_login(boss)
    counts = {model.__name__: model.objects.count() for model in stock_site._registry if model is not Campus}
    print(f"\n{counts}; median of {runs} runs\n")
    record = ConsultRecord.objects.filter(note="bench").order_by("pk").first()
    klass = CourseRecord.objects.order_by("pk").first().re_class
    student = StudyRecord.objects.filter(note="bench").order_by("pk").first().student
    compare(client, "consultrecord", {}, "跟进记录 p1 (boss)", runs)
    compare(client, "consultrecord", {"p": deep("consultrecord")}, "跟进记录 deep (boss)", runs)
    compare(client, "consultrecord", {"q": record.customer.name}, "跟进记录 search name (boss)", runs)
    compare(client, "consultrecord", {"status__exact": "B"}, "跟进记录 filter stage (boss)", runs)
    compare(client, "studyrecord", {}, "学习记录 p1 (boss)", runs)
    compare(client, "studyrecord", {"p": deep("studyrecord")}, "学习记录 deep (boss)", runs)
    compare(client, "studyrecord", {"q": student.name}, "学习记录 search name (boss)", runs)
    compare(client, "studyrecord", {"attendance__exact": "late"}, "学习记录 filter attendance", runs)
    compare(
        client, "studyrecord", {"course_record__re_class__id__exact": klass.pk}, "学习记录 filter class", runs
    )
    compare(client, "courserecord", {}, "上课记录 p1 (boss)", runs)
    compare(client, "courserecord", {"p": deep("courserecord")}, "上课记录 deep (boss)", runs)
    compare(client, "courserecord", {"has_homework__exact": "1"}, "上课记录 filter homework", runs)
    compare(client, "enrollment", {}, "报名 p1 (boss)", runs)
    compare(client, "enrollment", {"p": deep("enrollment")}, "报名 deep (boss)", runs)
    compare(client, "enrollment", {"q": student.name}, "报名 search name (boss)", runs)
    compare(client, "enrollment", {"contract_approved__exact": "1"}, "报名 filter approved", runs)
    compare(client, "paymentrecord", {}, "缴费 p1 (boss)", runs)
    compare(client, "paymentrecord", {"p": deep("paymentrecord")}, "缴费 deep (boss)", runs)
    compare(client, "paymentrecord", {"q": student.name}, "缴费 search name (boss)", runs)
    compare(client, "paymentrecord", {"status__exact": "confirmed"}, "缴费 filter status", runs)
    compare(client, "customertransfer", {}, "归属记录 p1 (boss)", runs)
    compare(client, "customertransfer", {"p": deep("customertransfer")}, "归属记录 deep (boss)", runs)
    compare(client, "customertransfer", {"q": student.name}, "归属记录 search name (boss)", runs)
    compare(client, "customertransfer", {"reason__exact": "claim"}, "归属记录 filter reason", runs)
    compare(client, "campus", {}, "floor: 校区 list, 2 rows (boss)", runs)
    client.force_login(sales)
    compare(client, "consultrecord", {}, "跟进记录 p1 (sales)", runs)
    compare(client, "consultrecord", {"p": 50}, "跟进记录 p=50 (sales)", runs)
    compare(client, "customertransfer", {}, "归属记录 p1 (sales)", runs)


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    if connection.vendor != "postgresql":
        sys.exit("bench/other_changelists.py measures PostgreSQL (DATABASE_URL).")
    call_command("migrate", verbosity=0)
    campuses = [Campus.objects.get_or_create(name=name)[0] for name in ("压测校区A", "压测校区B")]
    sellers = [UserFactory(username=f"bench_sales{n or ''}", role="sales") for n in range(customers.SELLERS)]
    boss = UserFactory(username="bench_boss", role="boss")
    teacher = UserFactory(username="bench_teacher", role="class_teacher")
    print(f"Populating up to {total} customers, then the other lists...", flush=True)
    customers.populate(total, sellers, campuses)
    populate(campuses, teacher)
    measure(sellers[0], boss, runs)


if __name__ == "__main__":
    main()
