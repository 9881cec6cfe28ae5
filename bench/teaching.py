"""Teaching at school scale: the create_study_records action and the study record list.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm .venv/bin/python bench/teaching.py [students]

Builds a throwaway test database (``test_`` + the configured name), a class of ``students`` (default
300) studying students with 60 lessons, and 40 other classes of 30 students with their study records
(about 75,000 rows), then prints the time and the SQL queries of: creating one lesson's records, running
it again (all skipped), and the teacher's and the boss's study record lists. Prints figures, asserts nothing.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_databases, teardown_databases  # noqa: E402

from crm.models import ClassList, Customer, StudyRecord  # noqa: E402
from crm.services.teaching import study_records_create_for  # noqa: E402


def build(students: int):
    from tests.factories import CampusFactory, ClassListFactory, CourseRecordFactory, UserFactory

    lecturer = UserFactory(role="lecturer", username="bench_lecturer")
    boss = UserFactory(role="boss", username="bench_boss")
    campus = CampusFactory(name="基准校区")
    big = ClassListFactory(campus=campus, teachers=[lecturer])
    customers = Customer.objects.bulk_create(
        Customer(qq=str(10_000_000 + n), name=f"学生{n}", status=Customer.Status.STUDYING)
        for n in range(students + 40 * 30)
    )
    Customer.class_list.through.objects.bulk_create(
        Customer.class_list.through(customer_id=customer.pk, classlist_id=big.pk)
        for customer in customers[:students]
    )
    lessons = [CourseRecordFactory(re_class=big, day_num=day, teacher=lecturer) for day in range(1, 61)]
    for index in range(40):
        klass = ClassListFactory(campus=campus)
        members = customers[students + index * 30 : students + (index + 1) * 30]
        Customer.class_list.through.objects.bulk_create(
            Customer.class_list.through(customer_id=member.pk, classlist_id=klass.pk) for member in members
        )
        for day in range(1, 61):
            lesson = CourseRecordFactory(re_class=klass, day_num=day, teacher=lecturer)
            StudyRecord.objects.bulk_create(StudyRecord(course_record=lesson, student=m) for m in members)
    return lecturer, boss, lessons


def measure(label, function):
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = function()
        elapsed = time.perf_counter() - started
    assert getattr(response, "status_code", 200) == 200, response
    print(f"{label:<52} {elapsed * 1000:8.1f} ms {len(captured):4d} queries")
    if os.environ.get("BENCH_SQL"):
        for query in sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]:
            print(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:1500]}")


def main() -> None:
    students = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    settings.ALLOWED_HOSTS = ["testserver"]
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        lecturer, boss, lessons = build(students)
        rows, classes = StudyRecord.objects.count(), ClassList.objects.count()
        print(f"{connection.vendor}: {rows} study records, {classes} classes")
        measure(
            f"create_study_records, one lesson of {students}",
            lambda: study_records_create_for(course_records=lessons[:1]),
        )
        measure("the same again (all skipped)", lambda: study_records_create_for(course_records=lessons[:1]))
        measure(
            f"create_study_records, 20 lessons of {students}",
            lambda: study_records_create_for(course_records=lessons[1:21]),
        )
        client = Client()
        for user, who in [(lecturer, "lecturer"), (boss, "boss")]:
            client.force_login(user)
            measure(f"study record list, {who}, 50 rows", lambda: client.get("/admin/crm/studyrecord/"))
            measure(f"course record list, {who}", lambda: client.get("/admin/crm/courserecord/"))
            measure(f"class list, {who}", lambda: client.get("/admin/crm/classlist/"))
    finally:
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
