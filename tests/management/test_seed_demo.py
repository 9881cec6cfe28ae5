import datetime

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from crm.models import (
    ClassList,
    ConsultRecord,
    Customer,
    CustomerTransfer,
    Enrollment,
    PaymentRecord,
    StudyRecord,
    UserProfile,
)

pytestmark = pytest.mark.django_db


def table_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_app_config("crm").get_models()}


def test_seed_demo_twice_leaves_the_same_counts():
    call_command("seed_demo", verbosity=0)
    first = table_counts()
    call_command("seed_demo", verbosity=0)
    assert table_counts() == first
    assert first["crm.Customer"] >= 190


def test_seed_demo_if_empty_leaves_an_existing_database_alone(capsys):
    call_command("seed_demo", verbosity=0)
    Customer.objects.filter(consultant__isnull=True).first().delete()
    before = table_counts()
    call_command("seed_demo", "--if-empty")
    assert table_counts() == before
    assert "demo-pass-2026" in capsys.readouterr().out


def test_demo_data_shows_every_rule_at_work():
    call_command("seed_demo", verbosity=0)
    assert Customer.objects.public().exclude(phone=None).count() >= 100
    for username in ["sales1", "sales2"]:
        owned = Customer.objects.filter(consultant__username=username)
        assert owned.count() >= 20
        assert ConsultRecord.objects.filter(customer__in=owned, consultant__username=username).exists()

    for teacher, lecturer in [("class_teacher1", "lecturer1"), ("class_teacher2", "lecturer2")]:
        classes = ClassList.objects.filter(teachers__username=teacher).filter(teachers__username=lecturer)
        assert classes.exists()
        assert Customer.objects.filter(class_list__in=classes, status="studying").exists()
        assert StudyRecord.objects.filter(course_record__re_class__in=classes).exists()
    assert not ClassList.objects.filter(teachers__username="class_teacher1").filter(
        teachers__username="class_teacher2"
    )

    assert Enrollment.objects.filter(contract_approved=True).exists()
    assert Enrollment.objects.filter(contract_approved=False).exists()
    assert PaymentRecord.objects.filter(status="confirmed").exists()
    assert PaymentRecord.objects.filter(status="unconfirmed").exists()
    assert PaymentRecord.objects.filter(pay_type="refund").exists()

    student = UserProfile.objects.get(username="student1")
    assert student.customer.status == "studying"
    assert student.customer.class_list.exists()
    assert not student.is_staff
    for username in ["admin", "boss", "sales1", "finance1", "ta1"]:
        assert UserProfile.objects.get(username=username).check_password("demo-pass-2026")


def test_the_demo_enrollments_and_payments_fill_the_last_30_days_and_the_30_before():
    call_command("seed_demo", verbosity=0)
    now = timezone.now()
    for start, end in [
        (now - datetime.timedelta(days=30), now),
        (now - datetime.timedelta(days=60), now - datetime.timedelta(days=30)),
    ]:
        enrolled = Enrollment.objects.filter(enrolled_date__range=(start, end))
        assert enrolled.filter(contract_approved=True).exists()
        assert PaymentRecord.objects.filter(date__range=(start, end), status="confirmed").exists()
    for enrollment in Enrollment.objects.all():
        paid = PaymentRecord.objects.filter(
            customer=enrollment.customer, enrolment_class=enrollment.enrolment_class
        )
        assert all(payment.date >= enrollment.enrolled_date for payment in paid)


def test_the_demo_customers_have_an_ownership_history_that_leads_to_their_owner():
    def history():
        return list(CustomerTransfer.objects.values_list("customer__qq", "reason", "date").order_by("pk"))

    call_command("seed_demo", verbosity=0)
    first = history()
    call_command("seed_demo", verbosity=0)
    assert history() == first

    reasons = set(CustomerTransfer.objects.values_list("reason", flat=True))
    assert reasons == {"claim", "release", "reassign", "create"}
    assert CustomerTransfer.objects.filter(reason="reassign", by__username="boss").exists()
    for customer in Customer.objects.exclude(transfers=None).prefetch_related("transfers"):
        latest = customer.transfers.all()[0]  # newest first
        assert latest.to_consultant_id == customer.consultant_id, customer
        assert latest.date > customer.date
    owned = Customer.objects.exclude(consultant=None)
    assert not owned.filter(transfers=None).exists()
    assert Customer.objects.public().filter(transfers__reason="release").exists()
