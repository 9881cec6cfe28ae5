"""Concurrency soak: 20 threads, each with its own connection and user, run a random mix of claims,
releases, follow-ups, enrollments, payments and their confirmation, reassignments and recycling
through the services, then the books must balance.

In the suite it runs for 10 seconds; ``make soak`` runs it for a minute (``SOAK_SECONDS``).
The mix is random but reproducible: each thread's generator is seeded with ``SOAK_SEED`` and its number.
"""

import datetime
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone

from crm.models import ConsultRecord, Customer, CustomerTransfer, Enrollment, PaymentRecord
from crm.services.customers import customer_update, customers_claim, customers_recycle, customers_release
from crm.services.finance import enrollments_create, payment_check, payments_confirm
from crm.services.followups import consult_records_save
from tests.factories import CampusFactory, ClassListFactory, CustomerFactory, UserFactory

SECONDS = float(os.environ.get("SOAK_SECONDS", "10"))
SEED = int(os.environ.get("SOAK_SEED", "12"))
SALES, FINANCE = 16, 2  # with the boss and the recycler: 20 threads
CAP = 4
CUSTOMERS = 60
MAX_OPERATIONS = 100_000  # per thread: bounded even if the clock misbehaves


@dataclass
class Log:
    """What one thread did: the rows it wrote, the rules that refused it, what escaped as an error."""

    followups: list[int] = field(default_factory=list)
    payments: list[int] = field(default_factory=list)
    confirmed: int = 0
    done: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    doing: str = ""


def own_ids(user) -> list[int]:
    return list(Customer.objects.filter(consultant=user).values_list("pk", flat=True))


def pool_ids() -> list[int]:
    return list(Customer.objects.filter(consultant=None).values_list("pk", flat=True))


def sales_step(rng: random.Random, user, classes, campus, log: Log) -> str:
    operation = log.doing = rng.choice(["claim", "claim", "release", "followup", "followup", "enroll", "pay"])
    if operation == "claim":
        pool = pool_ids()
        if pool:
            customers_claim(user=user, customer_ids=rng.sample(pool, min(len(pool), rng.randint(1, 2))))
        return operation
    mine = own_ids(user)
    if not mine:
        return operation
    customer_id = rng.choice(mine)
    if operation == "release":
        customers_release(
            user=user, customer_ids=[customer_id], reason=CustomerTransfer.ReleaseReason.NO_INTEREST
        )
    elif operation == "followup":
        record = ConsultRecord(
            customer_id=customer_id,
            note="回访",
            status=ConsultRecord.Stage.B,
            next_date=timezone.localdate() + datetime.timedelta(days=3),
        )
        log.followups.append(consult_records_save(record=record, user=user).pk)
    elif operation == "enroll":
        enrollment = Enrollment(
            customer_id=customer_id, enrolment_class=rng.choice(classes), school=campus, contract_agreed=True
        )
        enrollments_create(enrollment=enrollment, user=user)
    else:
        enrollment = (
            Enrollment.objects.filter(customer_id=customer_id).select_related("enrolment_class").first()
        )
        klass = enrollment.enrolment_class if enrollment else None
        # As the admin's add form: the form's check, then the save (one transaction, as the admin's).
        with transaction.atomic():
            customer = Customer.objects.get(pk=customer_id)
            payment_check(user=user, customer=customer, enrolment_class=klass)
            payment = PaymentRecord.objects.create(
                customer=customer,
                enrolment_class=klass,
                consultant=user,
                pay_type=PaymentRecord.PayType.TUITION if klass else PaymentRecord.PayType.DEPOSIT,
                paid_fee=rng.choice([500, 5000, 10000]),
            )
        log.payments.append(payment.pk)
    return operation


def finance_step(rng: random.Random, user, log: Log) -> str:
    log.doing = "confirm"
    pending = list(
        PaymentRecord.objects.filter(status=PaymentRecord.Status.UNCONFIRMED).values_list("pk", flat=True)
    )
    if pending:
        chosen = rng.sample(pending, min(len(pending), rng.randint(1, 3)))
        log.confirmed += payments_confirm(payments=PaymentRecord.objects.filter(pk__in=chosen), user=user)
    return "confirm"


def boss_step(rng: random.Random, user, sellers, log: Log) -> str:
    log.doing = "reassign"
    customer = Customer.objects.get(pk=rng.choice(list(Customer.objects.values_list("pk", flat=True))))
    customer.consultant = rng.choice([*sellers, None])
    customer_update(customer=customer, by=user, fields=["consultant"])
    return "reassign"


def recycler_step(rng: random.Random, user, log: Log) -> str:
    log.doing = "recycle"
    # A day far enough ahead that most private customers are due: recycling competes with everything.
    customers_recycle(days=1, today=timezone.localdate() + datetime.timedelta(days=rng.randint(0, 3)))
    return "recycle"


def run_thread(number: int, step, deadline: float, log: Log) -> None:
    rng = random.Random(SEED * 1000 + number)
    try:
        for _operation in range(MAX_OPERATIONS):
            if time.monotonic() > deadline:
                break
            try:
                log.done[step(rng, log)] += 1
            except ValidationError as error:
                log.refused[getattr(error, "code", None) or "refused"] += 1  # a rule said no: it works
            except Exception as error:  # noqa: BLE001 - anything else is what the soak looks for
                log.errors.append(f"thread {number}, {log.doing}: {type(error).__name__}: {error}")
    finally:
        connections.close_all()


def replayed_owners() -> dict[int, int | None]:
    """Every customer's owner as its ownership history says: the last transfer's new owner."""
    owners = dict.fromkeys(Customer.objects.values_list("pk", flat=True))
    for customer_id, to_id in CustomerTransfer.objects.order_by("pk").values_list(
        "customer_id", "to_consultant_id"
    ):
        owners[customer_id] = to_id
    return owners


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_threads_of_claims_follow_ups_payments_and_recycling_keep_the_books(settings):
    settings.MAX_CUSTOMER_NUM = CAP
    sellers = [UserFactory(role="sales", username=f"soak_sales{index}") for index in range(SALES)]
    cashiers = [UserFactory(role="finance", username=f"soak_finance{index}") for index in range(FINANCE)]
    boss = UserFactory(role="boss", username="soak_boss")
    recycler = UserFactory(username="soak_recycler")
    campus = CampusFactory()
    classes = ClassListFactory.create_batch(2, campus=campus, price=10000)
    CustomerFactory.create_batch(CUSTOMERS)

    deadline = time.monotonic() + SECONDS
    steps = [
        *[lambda rng, log, user=user: sales_step(rng, user, classes, campus, log) for user in sellers],
        *[lambda rng, log, user=user: finance_step(rng, user, log) for user in cashiers],
        lambda rng, log: boss_step(rng, boss, sellers, log),
        lambda rng, log: recycler_step(rng, recycler, log),
    ]
    assert len(steps) == 20
    logs = [Log() for _step in steps]
    threads = [
        threading.Thread(
            target=run_thread, args=(number, step, deadline, logs[number]), name=f"soak-{number}"
        )
        for number, step in enumerate(steps)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"

    errors = [error for log in logs for error in log.errors]
    assert not errors, "\n".join(errors[:20])
    done = sum((log.done for log in logs), Counter())
    refused = sum((log.refused for log in logs), Counter())
    print(
        f"soak, {SECONDS:g} s: done {dict(done)}; refused by the rules {dict(refused)}"
    )  # make soak shows it
    assert done["claim"] and done["followup"] and done["confirm"] and done["reassign"] and done["recycle"]
    owned = Counter(Customer.objects.exclude(consultant=None).values_list("consultant_id", flat=True))
    assert max(owned.values(), default=0) <= CAP
    current = dict(Customer.objects.values_list("pk", "consultant_id"))
    assert replayed_owners() == current
    followups = [pk for log in logs for pk in log.followups]
    assert ConsultRecord.objects.filter(pk__in=followups).count() == len(followups)
    payments = [pk for log in logs for pk in log.payments]
    assert PaymentRecord.objects.filter(pk__in=payments).count() == len(payments)
    confirmed = PaymentRecord.objects.filter(pk__in=payments, status=PaymentRecord.Status.CONFIRMED).count()
    assert confirmed == sum(log.confirmed for log in logs)
