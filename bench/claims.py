"""Claims per second through the admin's claim action, beside the service-level baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench \
        .venv/bin/python bench/claims.py [CUSTOMERS] [CLAIMS_PER_USER]

Run it against a scratch PostgreSQL database (row locks: SQLite cannot run it): it migrates it and adds
public customers (QQ numbers 8000000000 + i) until there are CUSTOMERS of them (default 20,000; the
issue's figure is at 1,000,000: `bench/claims.py 1000000`). Then, in one run:

1. baseline: 8 threads, one salesperson each, claim disjoint customers one at a time by calling
   ``customers_claim`` directly (the service, no HTTP, no admin);
2. the same through the admin: each of the 8 users POSTs the claim action to the 公户 changelist
   (django.test.Client, the full middleware and admin stack), one customer per request;
3. 16 users fight over the same 100 customers through the action, each allowed only 8 more than it
   has (it starts at the cap minus 8): every customer must be claimed exactly once, nobody over the cap.

Claimed customers go back to the pool at the end, so the database can be reused. It prints figures.
"""

import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
# Hundreds of claims per user in one day, and customers claimed again by the users who released them:
# the daily limit and the cool-down would refuse most of them (the cap still binds the fight).
os.environ.setdefault("CUSTOMER_DAILY_CLAIM_LIMIT", "0")
os.environ.setdefault("CUSTOMER_RECLAIM_COOLDOWN_DAYS", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.models import Customer, CustomerTransfer, UserProfile  # noqa: E402
from crm.services.customers import customers_claim  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

BASE_QQ = 8_000_000_000
USERS = 8
FIGHTERS = 16
CONTESTED = 100
FIGHTER_ROOM = 8
PUBLIC = reverse("admin:crm_publiccustomer_changelist")


def populate(total: int) -> None:
    existing = Customer.objects.filter(qq__gte=str(BASE_QQ), qq__lt=str(BASE_QQ + 10**9)).count()
    if existing < total:
        # One INSERT ... SELECT: a million rows in about a minute, where bulk_create takes ten.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO crm_customer (qq, qq_name, name, sex, phone, source, course, class_type,
                    customer_note, status, network_consult_note, date, locked)
                SELECT (%(base)s + i)::text, '', '领取压测' || i, '', '177' || lpad(i::text, 8, '0'), 'qq',
                    'PythonFullStack', 'fulltime', '', 'unregistered', '', now() - make_interval(secs => i),
                    false
                FROM generate_series(%(start)s, %(stop)s - 1) AS i
                """,
                {"base": BASE_QQ, "start": existing, "stop": total},
            )
        print(f"  {total - existing} customers added", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE crm_customer")


def sales_user(name: str):
    user = UserProfile.objects.filter(username=name).first()
    return user or UserFactory(username=name, role="sales")


def run_threads(work: list, target) -> float:
    """target(*args) in one thread per entry of ``work``, started together; returns the wall time."""
    barrier = threading.Barrier(len(work) + 1)
    errors = []

    def run(*args):
        try:
            barrier.wait()
            target(*args)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=args) for args in work]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def claim_through_service(user, ids: list[int]) -> None:
    for pk in ids:
        customers_claim(user=user, customer_ids=[pk])


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def claim_through_action(client: Client, ids: list[int]) -> None:
    for pk in ids:
        # A refused claim (taken meanwhile, over the cap) also redirects back with its message.
        response = client.post(PUBLIC, {"action": "claim_customers", "_selected_action": [pk]})
        if response.status_code != 302:
            raise AssertionError(f"claim of {pk} answered {response.status_code}")


def release_all(users) -> None:
    Customer.objects.filter(consultant__in=users).update(consultant=None)


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    per_user = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    cap = settings.MAX_CUSTOMER_NUM
    per_user = min(per_user, cap)
    if connection.vendor != "postgresql":
        sys.exit("bench/claims.py needs PostgreSQL (DATABASE_URL): SQLite has no row locks.")
    setup_test_environment()
    call_command("migrate", verbosity=0)
    print(f"Populating up to {total} public customers...")
    populate(total)
    users = [sales_user(f"claim_bench_{n}") for n in range(USERS)]
    fighters = [sales_user(f"claim_fight_{n}") for n in range(FIGHTERS)]
    release_all(users + fighters)
    pool = list(
        Customer.objects.public()
        .filter(qq__gte=str(BASE_QQ))
        .order_by("?" if total <= 100_000 else "pk")
        .values_list("pk", flat=True)[: 2 * USERS * per_user + CONTESTED + FIGHTERS * (cap - FIGHTER_ROOM)]
    )
    print(
        f"\n{Customer.objects.count()} customers, {Customer.objects.public().count()} in the pool (cap {cap})"
    )

    baseline_ids, pool = pool[: USERS * per_user], pool[USERS * per_user :]
    chunks = [baseline_ids[n::USERS] for n in range(USERS)]
    elapsed = run_threads(list(zip(users, chunks, strict=True)), claim_through_service)
    baseline = len(baseline_ids) / elapsed
    release_all(users)

    action_ids, pool = pool[: USERS * per_user], pool[USERS * per_user :]
    chunks = [action_ids[n::USERS] for n in range(USERS)]
    clients = [client_for(user) for user in users]
    elapsed = run_threads(list(zip(clients, chunks, strict=True)), claim_through_action)
    through_action = len(action_ids) / elapsed
    claimed = Customer.objects.filter(pk__in=action_ids, consultant__in=users).count()
    release_all(users)

    # The fight: each fighter already owns cap - 8 customers, so the cap binds while they compete.
    contested, pool = pool[:CONTESTED], pool[CONTESTED:]
    for fighter in fighters:
        owned, pool = pool[: cap - FIGHTER_ROOM], pool[cap - FIGHTER_ROOM :]
        Customer.objects.filter(pk__in=owned).update(consultant=fighter)
    orders = [random.sample(contested, len(contested)) for _ in fighters]
    fight_clients = [client_for(fighter) for fighter in fighters]
    fight_started = timezone.now()
    elapsed = run_threads(list(zip(fight_clients, orders, strict=True)), claim_through_action)
    owners = list(Customer.objects.filter(pk__in=contested).values_list("consultant_id", flat=True))
    claims_per_customer = list(
        CustomerTransfer.objects.filter(
            customer_id__in=contested, reason=CustomerTransfer.Reason.CLAIM, date__gte=fight_started
        )
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
    )
    counts = dict(
        Customer.objects.filter(consultant__in=fighters)
        .values("consultant_id")
        .annotate(n=Count("id"))
        .values_list("consultant_id", "n")
    )
    attempts = len(fighters) * len(contested)
    release_all(fighters)
    once = len(claims_per_customer) == CONTESTED and set(claims_per_customer) == {1}
    once = once and all(owner is not None for owner in owners)

    print(f"\n8 users, disjoint customers, {per_user} claims each (one customer per claim)")
    print(f"  baseline: customers_claim (service, no HTTP)   {baseline:8.1f} claims/s")
    print(
        f"  through the admin's claim action (POST 公户)    {through_action:8.1f} claims/s"
        f"  ({through_action / baseline:.2f}x the baseline; {claimed}/{len(action_ids)} claimed)"
    )
    print(f"\n16 users fighting over the same {CONTESTED} customers (each at cap - {FIGHTER_ROOM})")
    print(f"  {attempts} claim attempts in {elapsed:.2f} s: {attempts / elapsed:.1f} attempts/s")
    print(f"  every customer claimed exactly once: {once}")
    largest = max(counts.values())
    print(f"  largest holding {largest} (cap {cap}): nobody over the cap: {largest <= cap}")


if __name__ == "__main__":
    main()
