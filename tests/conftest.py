import threading

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import translation

from crm.roles import ROLES
from tests.factories import UserFactory

STAFF_ROLE_CODES = [role.code for role in ROLES if role.is_staff]


def pytest_collection_modifyitems(config, items):
    # Races need real row locks: SQLite's select_for_update is a no-op.
    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(
                pytest.mark.skip(reason="needs PostgreSQL (row locks); runs in the PostgreSQL pass")
            )


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the site's language; a request in English must not leak into the next test."""
    with translation.override(settings.LANGUAGE_CODE):
        yield


@pytest.fixture(autouse=True)
def empty_cache():
    """Counters in the cache (the registration rate limit) start from zero in each test."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(db):
    """make_user("sales", username="sales9") -> a user in that role (None for no role)."""

    def make(role: str | None = None, **fields):
        return UserFactory(role=role, **fields)

    return make


@pytest.fixture
def sales_user(make_user):
    return make_user("sales", username="sales_a", name="销售甲")


@pytest.fixture
def other_sales_user(make_user):
    return make_user("sales", username="sales_b", name="销售乙")


@pytest.fixture
def boss_user(make_user):
    return make_user("boss", username="boss_a", name="校长")


@pytest.fixture
def finance_user(make_user):
    return make_user("finance", username="finance_a", name="财务")


@pytest.fixture
def class_teacher_user(make_user):
    return make_user("class_teacher", username="ct_a", name="班主任甲")


@pytest.fixture
def lecturer_user(make_user):
    return make_user("lecturer", username="lecturer_a", name="讲师甲")


@pytest.fixture
def ta_user(make_user):
    return make_user("ta", username="ta_a", name="助教甲")


@pytest.fixture
def client_for(client):
    """client_for(user) -> the test client logged in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def sales_client(client_for, sales_user):
    return client_for(sales_user)


@pytest.fixture
def boss_client(client_for, boss_user):
    return client_for(boss_user)


@pytest.fixture
def finance_client(client_for, finance_user):
    return client_for(finance_user)


# --- imports ---
IMPORT_DATA_DIR = settings.BASE_DIR / "tests" / "data"


@pytest.fixture
def import_file():
    """import_file("customers_gbk.csv") -> the bytes of a file under tests/data/."""

    def read(name: str) -> bytes:
        return (IMPORT_DATA_DIR / name).read_bytes()

    return read


@pytest.fixture
def import_tmp_storage(settings, tmp_path):
    """The shared storage of files between the two import steps, in a folder of this test."""
    settings.STORAGES = {
        **settings.STORAGES,
        "import_export": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    return tmp_path


# --- finance ---


@pytest.fixture
def class_teacher_client(client_for, class_teacher_user):
    return client_for(class_teacher_user)


@pytest.fixture
def klass(db):
    """A class of price 10000 at one campus."""
    from tests.factories import ClassListFactory

    return ClassListFactory(price=10000)


@pytest.fixture
def own_customer(sales_user):
    """A private customer of ``sales_user``."""
    from tests.factories import CustomerFactory

    return CustomerFactory(consultant=sales_user, name="张同学")


# --- teaching ---
@pytest.fixture
def teaching_class(class_teacher_user, lecturer_user, ta_user):
    """A class staffed by the class teacher, the lecturer and the TA of the fixtures above."""
    from tests.factories import ClassListFactory

    return ClassListFactory(teachers=[class_teacher_user, lecturer_user, ta_user])


@pytest.fixture
def other_class(make_user):
    """A class taught by somebody else entirely."""
    from tests.factories import ClassListFactory

    return ClassListFactory(teachers=[make_user("lecturer", username="lecturer_z", name="讲师乙")])


@pytest.fixture
def enroll_students():
    """enroll_students(klass, 3) -> that many studying customers who joined the class."""
    from crm.models import Customer
    from tests.factories import CustomerFactory

    def enroll(klass, count, status=Customer.Status.STUDYING):
        return CustomerFactory.create_batch(count, status=status, class_list=[klass])

    return enroll


# --- pages ---


@pytest.fixture
def private_media(settings, tmp_path):
    """Homework uploads go to a temporary directory."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def student_user(make_user):
    return make_user("student", username="student_a", name="学生甲")


@pytest.fixture
def student_class(lecturer_user):
    from tests.factories import ClassListFactory

    return ClassListFactory(teachers=[lecturer_user])


@pytest.fixture
def student_customer(student_user, student_class):
    """The customer linked to ``student_user``, studying in ``student_class``."""
    from crm.models import Customer
    from tests.factories import CustomerFactory

    return CustomerFactory(
        name="张同学", user=student_user, status=Customer.Status.STUDYING, class_list=[student_class]
    )


@pytest.fixture
def student_client(client_for, student_user, student_customer):
    return client_for(student_user)


# --- dashboard ---
@pytest.fixture
def grow_school(sales_user, other_sales_user):
    """grow_school(n) -> n more of everything the dashboard counts (leads, follow-ups, enrollments,
    payments, lessons with study records), spread over two salespeople and two classes, this month."""
    import datetime

    from crm.models import Customer, PaymentRecord, StudyRecord
    from tests.factories import (
        ClassListFactory,
        ConsultRecordFactory,
        CourseRecordFactory,
        CustomerFactory,
        EnrollmentFactory,
        PaymentRecordFactory,
        StudyRecordFactory,
    )

    classes = ClassListFactory.create_batch(2, start_date=datetime.date(2020, 1, 1))

    def grow(count: int):
        for index in range(count):
            seller = (sales_user, other_sales_user)[index % 2]
            klass = classes[index % 2]
            customer = CustomerFactory(
                consultant=seller,
                source=Customer.Source.values[index % len(Customer.Source.values)],
                status=Customer.Status.STUDYING if index % 3 else Customer.Status.UNREGISTERED,
                class_list=[klass],
            )
            ConsultRecordFactory(customer=customer, consultant=seller)
            EnrollmentFactory(customer=customer, enrolment_class=klass, consultant=seller)
            PaymentRecordFactory(
                customer=customer,
                enrolment_class=klass,
                consultant=seller,
                status=PaymentRecord.Status.CONFIRMED if index % 2 else PaymentRecord.Status.UNCONFIRMED,
            )
            lesson = CourseRecordFactory(re_class=klass, teacher=seller)
            StudyRecordFactory(course_record=lesson, student=customer, score=StudyRecord.Score.B)

    return grow


# --- races ---
@pytest.fixture
def pause_before(monkeypatch):
    """pause_before(module, "service", "thread name") -> (reached, go_on) events.

    The service, called from the thread of that name (the admin saving a form), first signals
    ``reached`` and waits for ``go_on``: the request has passed every check of its form, and the test
    runs the competing change exactly between those checks and the save. No sleeps.
    """

    def pause(owner, name, thread_name):
        reached, go_on = threading.Event(), threading.Event()
        service = getattr(owner, name)

        def pause_then_call(*args, **kwargs):
            if threading.current_thread().name == thread_name:
                reached.set()
                go_on.wait(timeout=30)
            return service(*args, **kwargs)

        monkeypatch.setattr(owner, name, pause_then_call)
        return reached, go_on

    return pause


@pytest.fixture
def post_in_thread():
    """post_in_thread(client, url, data, name) -> (thread, outcome): the POST runs in a thread of that
    name, with its own database connection; ``outcome["response"]`` once the thread is joined."""

    def post(client, url, data, name):
        outcome = {}

        def run():
            try:
                outcome["response"] = client.post(url, data)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run, name=name)
        thread.start()
        return thread, outcome

    return post


# --- work queue ---
@pytest.fixture
def work_day(sales_user, other_sales_user, class_teacher_user, teaching_class, other_class, settings):
    """A morning with known answers for every box of the home page (see each figure's comment)."""
    import datetime

    from django.utils import timezone

    from crm.models import CustomerTransfer, PaymentRecord
    from tests.factories import CourseRecordFactory, CustomerFactory, EnrollmentFactory, PaymentRecordFactory

    settings.CUSTOMER_RECYCLE_DAYS = 15
    settings.MAX_CUSTOMER_NUM = 40
    today = timezone.localdate()
    midnight = datetime.datetime.combine(today, datetime.time.min, tzinfo=timezone.get_current_timezone())

    def days(n):
        return today + datetime.timedelta(days=n)

    # sales_user: 2 due today, 2 overdue, 1 recycled soon (silent 13 of 15 days), 7 owned in all.
    for offset in (0, 0, -1, -30, 1, None):
        CustomerFactory(consultant=sales_user, next_date=None if offset is None else days(offset))
    CustomerFactory(
        consultant=sales_user,
        date=timezone.now() - datetime.timedelta(days=40),
        last_consult_date=days(-13),
        next_date=days(3),
    )
    # Not counted for sales_user: another salesperson's overdue customer and a pool customer.
    CustomerFactory(consultant=other_sales_user, next_date=days(-2))
    CustomerFactory(consultant=None, next_date=days(-5))

    # Claimed today by sales_user: 2 (yesterday's claim, another's claim and a release do not count).
    claimed = CustomerFactory(consultant=sales_user, next_date=days(2))
    for when, to, reason in [
        (midnight, sales_user, CustomerTransfer.Reason.CLAIM),
        (timezone.now(), sales_user, CustomerTransfer.Reason.CLAIM),
        (midnight - datetime.timedelta(seconds=1), sales_user, CustomerTransfer.Reason.CLAIM),
        (timezone.now(), other_sales_user, CustomerTransfer.Reason.CLAIM),
        (timezone.now(), None, CustomerTransfer.Reason.RELEASE),
    ]:
        CustomerTransfer.objects.create(
            customer=claimed, to_consultant=to, by=sales_user, reason=reason, date=when
        )

    # Payments: 3 to confirm, net ¥6,000 (a refund counts negative; a deleted one not at all);
    # 2 rejected on the last 7 local days (one just before that window).
    payer = CustomerFactory(consultant=sales_user, next_date=days(9))
    seven_days_ago = midnight - datetime.timedelta(days=6)

    def payment(**fields):
        return PaymentRecordFactory(
            customer=payer, consultant=sales_user, enrolment_class=teaching_class, **fields
        )

    payment(paid_fee=5000)
    payment(paid_fee=3000)
    payment(paid_fee=2000, pay_type=PaymentRecord.PayType.REFUND)
    payment(paid_fee=9000, delete_status=True)
    payment(paid_fee=4000, status=PaymentRecord.Status.CONFIRMED, confirm_date=timezone.now())
    payment(status=PaymentRecord.Status.REJECTED, confirm_date=seven_days_ago)
    payment(status=PaymentRecord.Status.REJECTED, confirm_date=timezone.now())
    payment(status=PaymentRecord.Status.REJECTED, confirm_date=seven_days_ago - datetime.timedelta(seconds=1))

    # Enrollments awaiting approval: 2 in the class teacher's class, 1 in another class (the boss: 3).
    for klass, fields in [
        (teaching_class, {}),
        (teaching_class, {}),
        (other_class, {}),
        (teaching_class, {"contract_approved": True}),
        (teaching_class, {"contract_agreed": False}),
        (teaching_class, {"delete_status": True}),
    ]:
        EnrollmentFactory(enrolment_class=klass, consultant=sales_user, **fields)

    # Lessons today: 2 of the teaching class (plus yesterday's), 1 of another class (the boss: 3).
    lessons = [
        CourseRecordFactory(re_class=teaching_class, teacher=class_teacher_user, day_num=number, date=today)
        for number in (3, 4)
    ]
    CourseRecordFactory(re_class=teaching_class, teacher=class_teacher_user, day_num=2, date=days(-1))
    CourseRecordFactory(re_class=other_class, date=today)
    return {"today": today, "lessons": lessons}


@pytest.fixture
def store_days(db):
    """store_days() -> the dashboard's daily figures stored for every closed day (``aggregate_dashboard``
    registers new days in one run and stores them in the next)."""
    from crm.services.daily_figures import daily_figures_aggregate

    def store():
        daily_figures_aggregate()
        return daily_figures_aggregate()

    return store
