"""Load the demo school: accounts for every role, classes, ~200 customers and their history.

Deterministic (a fixed random seed over fixtures/demo.json) and idempotent: every row is looked up
by its natural key first, so running it twice leaves the same data.
"""

import datetime
import json
import random
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from crm.models import (
    Campus,
    ClassList,
    ClassType,
    ConsultRecord,
    ContractTemplate,
    Course,
    CourseRecord,
    Customer,
    CustomerTransfer,
    Department,
    Enrollment,
    PaymentRecord,
    StudyRecord,
    UserProfile,
)
from crm.roles import ROLES_BY_CODE
from crm.services.customers import customer_transfers_record

DEMO_FILE = Path(settings.BASE_DIR) / "fixtures" / "demo.json"
PUBLIC_POOL_SIZE = 120
LEADS_PER_SALES = {"sales1": 28, "sales2": 26}
STUDENTS_PER_CLASS = {"py15": 12, "linux8": 8, "go3": 4}
LESSONS_PER_CLASS = {"py15": 8, "linux8": 5, "go3": 0}
# Ownership history: every 5th lead of a salesperson was first claimed by the other one and then
# reassigned by the boss; every 15th customer of the public pool was claimed once and released.
REASSIGNED_LEAD_EVERY = 5
RELEASED_POOL_EVERY = 15
Attendance = StudyRecord.Attendance
DEMO_ATTENDANCE = [Attendance.CHECKED] * 8 + [Attendance.LATE, Attendance.VACATE, Attendance.ABSENCE]
DEMO_SCORES = [
    StudyRecord.Score.A_PLUS,
    StudyRecord.Score.A,
    StudyRecord.Score.B_PLUS,
    StudyRecord.Score.B,
    StudyRecord.Score.B_MINUS,
    StudyRecord.Score.C_PLUS,
    StudyRecord.Score.NOT_GRADED,
]
PHONE_PREFIXES = ["135", "136", "138", "139", "150", "152", "158", "186", "188", "177"]


class Command(BaseCommand):
    help = "Load the demo data (idempotent). Demo accounts share the password in fixtures/demo.json."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database already has customers."
        )

    def handle(self, *args, if_empty: bool = False, **options):
        demo = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
        if if_empty and Customer.objects.exists():
            self.stdout.write("The database already has data; demo data not loaded.")
        else:
            with transaction.atomic():
                DemoLoader(demo).load()
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {Customer.objects.count()} customers."))
        self.print_accounts(demo)

    def print_accounts(self, demo):
        self.stdout.write(f"Demo accounts (password: {demo['password']}):")
        for account in demo["accounts"]:
            role = "superuser" if account.get("superuser") else account["role"]
            self.stdout.write(f"  {account['username']:<16} {role:<14} {account['name']}")


class DemoLoader:
    def __init__(self, demo: dict):
        self.demo = demo
        self.rng = random.Random(2026)
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.users: dict[str, UserProfile] = {}
        self.classes: dict[str, ClassList] = {}
        self.customer_number = 0

    def load(self) -> None:
        self.load_accounts()
        campuses = self.load_campuses()
        contracts = self.load_contracts()
        self.load_classes(campuses, contracts)
        self.load_public_pool()
        for username, count in LEADS_PER_SALES.items():
            self.load_leads(self.users[username], count)
        for key, count in STUDENTS_PER_CLASS.items():
            self.load_students(self.classes[key], key, count)
        for key, count in LESSONS_PER_CLASS.items():
            self.load_lessons(self.classes[key], count)

    # Reference data

    def load_accounts(self) -> None:
        departments = {
            name: Department.objects.get_or_create(name=name)[0] for name in self.demo["departments"]
        }
        for account in self.demo["accounts"]:
            user = UserProfile.objects.filter(username=account["username"]).first()
            if user is None:
                user = UserProfile(username=account["username"])
                user.set_password(self.demo["password"])
            user.name = account["name"]
            user.mobile = account.get("mobile", "")
            user.department = departments.get(account.get("department"))
            user.is_superuser = user.is_staff = bool(account.get("superuser"))
            role = ROLES_BY_CODE.get(account.get("role"))
            if role:
                user.is_staff = role.is_staff
            user.save()
            if role:
                user.groups.set([Group.objects.get(name=role.group_name)])
            self.users[user.username] = user

    def load_campuses(self) -> dict[str, Campus]:
        return {
            item["name"]: Campus.objects.update_or_create(
                name=item["name"], defaults={"address": item["address"]}
            )[0]
            for item in self.demo["campuses"]
        }

    def load_contracts(self) -> dict[str, ContractTemplate]:
        return {
            item["name"]: ContractTemplate.objects.update_or_create(
                name=item["name"], defaults={"content": item["content"]}
            )[0]
            for item in self.demo["contracts"]
        }

    def load_classes(self, campuses, contracts) -> None:
        for item in self.demo["classes"]:
            start = self.today - datetime.timedelta(days=item["start_days_ago"])
            klass, _ = ClassList.objects.update_or_create(
                course=item["course"],
                semester=item["semester"],
                campus=campuses[item["campus"]],
                defaults={
                    "class_type": item["class_type"],
                    "price": item["price"],
                    "start_date": start,
                    "graduate_date": start + datetime.timedelta(days=150),
                    "contract": contracts[item["contract"]],
                },
            )
            klass.teachers.set([self.users[name] for name in item["teachers"]])
            self.classes[item["key"]] = klass

    # Customers

    def next_customer(self, **fields) -> Customer:
        """The next demo customer, created on first run and found by its QQ afterwards."""
        self.customer_number += 1
        number = self.customer_number
        rng = self.rng
        name = rng.choice(self.demo["surnames"]) + rng.choice(self.demo["given_names"])
        phone_suffix = (number * 7919 + 12345678) % 10**8
        days_ago = rng.randrange(1, 120)
        defaults = {
            "name": name,
            "qq_name": f"{name}_{rng.randrange(100, 999)}",
            "sex": rng.choice(Customer.Sex.values),
            "phone": f"{rng.choice(PHONE_PREFIXES)}{phone_suffix:08d}",
            "source": rng.choice(Customer.Source.values),
            "course": rng.sample(
                [Course.PYTHON_FULLSTACK, Course.LINUX, Course.GO, Course.FRONTEND, Course.DATA],
                k=rng.choice([1, 1, 2]),
            ),
            "class_type": rng.choice([ClassType.FULLTIME, ClassType.ONLINE, ClassType.WEEKEND]),
            "birthday": datetime.date(1990 + rng.randrange(12), rng.randrange(1, 13), rng.randrange(1, 29)),
            "date": self.now - datetime.timedelta(days=days_ago, hours=rng.randrange(24)),
            **fields,
        }
        customer, _ = Customer.objects.update_or_create(qq=str(100000000 + number * 37), defaults=defaults)
        return customer

    def load_public_pool(self) -> None:
        sales = [self.users["sales1"], self.users["sales2"]]
        for index in range(PUBLIC_POOL_SIZE):
            customer = self.next_customer(consultant=None)
            if index % RELEASED_POOL_EVERY == RELEASED_POOL_EVERY - 1:
                seller = sales[index // RELEASED_POOL_EVERY % 2]
                self.add_history(
                    customer,
                    [
                        (CustomerTransfer.Reason.CLAIM, None, seller, seller),
                        (CustomerTransfer.Reason.RELEASE, seller, None, seller),
                    ],
                )

    def load_leads(self, consultant: UserProfile, count: int) -> None:
        other = self.users["sales2" if consultant.username == "sales1" else "sales1"]
        for index in range(count):
            customer = self.next_customer(consultant=consultant)
            history = [(CustomerTransfer.Reason.CLAIM, None, consultant, consultant)]
            if index % REASSIGNED_LEAD_EVERY == REASSIGNED_LEAD_EVERY - 1:
                history = [
                    (CustomerTransfer.Reason.CLAIM, None, other, other),
                    (CustomerTransfer.Reason.REASSIGN, other, consultant, self.users["boss"]),
                ]
            self.add_history(customer, history)
            self.add_follow_ups(customer, consultant, self.rng.randrange(1, 4))

    def add_history(self, customer: Customer, steps) -> None:
        """The ownership history that led to the customer's owner, an hour apart from its creation on;
        written once (a second run finds it)."""
        if customer.transfers.exists():
            return
        for hours, (reason, from_user, to_user, by) in enumerate(steps, start=1):
            customer_transfers_record(
                changes=[(customer, from_user.pk if from_user else None)],
                to=to_user,
                by=by,
                reason=reason,
                date=customer.date + datetime.timedelta(hours=hours),
            )

    def add_follow_ups(self, customer: Customer, consultant: UserProfile, count: int) -> None:
        stages = ConsultRecord.Stage.values
        last = None
        for index in range(count):
            when = self.now - datetime.timedelta(days=self.rng.randrange(1, 40) + 10 * (count - index))
            record, _ = ConsultRecord.objects.get_or_create(
                customer=customer,
                consultant=consultant,
                note=self.demo["consult_notes"][(customer.pk + index) % len(self.demo["consult_notes"])],
                defaults={"status": stages[min(index + self.rng.randrange(3), 6)], "date": when},
            )
            last = max(last or record.date, record.date)
        if last:
            customer.last_consult_date = timezone.localdate(last)
            # The planned calls of a normal morning: some overdue, some today, most in the days ahead.
            customer.next_date = timezone.localdate(self.now) + datetime.timedelta(days=customer.pk % 13 - 4)
            customer.save(update_fields=["last_consult_date", "next_date"])

    def load_students(self, klass: ClassList, key: str, count: int) -> None:
        approved = key != "go3"
        for index in range(count):
            consultant = self.users["sales1" if index % 3 else "sales2"]
            status = Customer.Status.STUDYING if approved else Customer.Status.UNREGISTERED
            extra = {}
            if key == "py15" and index == 0:
                extra = {"name": "张三", "user": self.users["student1"]}
            customer = self.next_customer(
                consultant=consultant, status=status, course=[klass.course], **extra
            )
            self.add_history(customer, [(CustomerTransfer.Reason.CREATE, None, consultant, consultant)])
            self.add_follow_ups(customer, consultant, 2)
            # Spread over the last two months, so that the dashboard's 30 days and the 30 before both
            # have enrollments to compare.
            enrolled_days_ago = 3 + (7 * index) % 60
            Enrollment.objects.get_or_create(
                customer=customer,
                enrolment_class=klass,
                defaults={
                    "school": klass.campus,
                    "consultant": consultant,
                    "why_us": self.rng.choice(self.demo["why_us"]),
                    "your_expectation": self.rng.choice(self.demo["expectations"]),
                    "contract_agreed": True,
                    "contract_approved": approved,
                    "enrolled_date": self.now - datetime.timedelta(days=enrolled_days_ago),
                },
            )
            if approved:
                customer.class_list.add(klass)
            self.add_payments(customer, klass, consultant, index, approved, enrolled_days_ago)

    def add_payments(
        self, customer, klass, consultant, index: int, approved: bool, enrolled_days_ago: int
    ) -> None:
        confirmed = {"status": PaymentRecord.Status.CONFIRMED, "confirm_user": self.users["finance1"]}
        unconfirmed = {"status": PaymentRecord.Status.UNCONFIRMED}
        payments = [(PaymentRecord.PayType.DEPOSIT, 500, confirmed if approved else unconfirmed)]
        if approved:
            tuition_paid = klass.price - 500 if index % 4 == 0 else klass.price // 2
            payments.append(
                (PaymentRecord.PayType.TUITION, tuition_paid, confirmed if index % 5 else unconfirmed)
            )
            if index == 7:
                payments.append((PaymentRecord.PayType.REFUND, -2000, confirmed))
        for pay_type, fee, status in payments:
            # Deposits come with the enrollment; tuition and refunds in the days after it.
            days_ago = (
                enrolled_days_ago
                if pay_type == PaymentRecord.PayType.DEPOSIT
                else max(1, enrolled_days_ago - 2 - index % 5)
            )
            date = self.now - datetime.timedelta(days=days_ago)
            PaymentRecord.objects.get_or_create(
                customer=customer,
                enrolment_class=klass,
                pay_type=pay_type,
                defaults={
                    "consultant": consultant,
                    "paid_fee": fee,
                    "date": date,
                    "confirm_date": date if status is confirmed else None,
                    **status,
                },
            )

    # Teaching

    def load_lessons(self, klass: ClassList, count: int) -> None:
        teacher = next(user for user in klass.teachers.all() if user.username.startswith("lecturer"))
        students = list(Customer.objects.students_of(klass).order_by("qq"))
        for day in range(1, count + 1):
            record, _ = CourseRecord.objects.get_or_create(
                re_class=klass,
                day_num=day,
                defaults={
                    "date": klass.start_date + datetime.timedelta(days=3 * day),
                    "course_title": self.demo["lessons"][(day - 1) % len(self.demo["lessons"])],
                    "course_memo": "课堂讲解与练习",
                    "has_homework": day % 2 == 1,
                    "homework_title": f"第{day}天作业" if day % 2 == 1 else "",
                    "teacher": teacher,
                },
            )
            # The latest lesson is left without study records, to show the bulk action at work.
            if day == count:
                continue
            for student in students:
                StudyRecord.objects.get_or_create(
                    course_record=record,
                    student=student,
                    defaults={
                        "attendance": self.rng.choice(DEMO_ATTENDANCE),
                        "score": self.rng.choice(DEMO_SCORES),
                    },
                )
