"""Claims per second through the admin's claim action, beside the service-level baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench \
        .venv/bin/python bench/claims.py [CUSTOMERS] [CLAIMS_PER_USER] [ROUNDS]

Run it against a scratch PostgreSQL database (row locks: SQLite cannot run it): it migrates it and adds
public customers (QQ numbers 8000000000 + i) until there are CUSTOMERS of them (default 20,000; the
issue's figure is at 1,000,000: `bench/claims.py 1000000`, or 100,000 of them on the 1M database of
bench/customers_changelist.py). Then, in one run:

1. baseline: 8 threads, one salesperson each, claim disjoint customers one at a time by calling
   ``customers_claim`` directly (the service, no HTTP, no admin);
2. the same through the admin in this process: each of the 8 users POSTs the claim action to the 公户
   changelist (django.test.Client, the full middleware and admin stack), one customer per request. The 8
   threads share one interpreter (the GIL): this measures the CPU cost of a claim, on one core;
3. the same through real HTTP, as production runs: gunicorn with WORKERS (default 4) processes and the
   production settings on a free 127.0.0.1 port, 8 logged-in users each POSTing the action with its
   CSRF token, one customer per POST; then a salesperson's batch, 10 ticked rows per POST, ROUNDS times
   (default 4) up to the cap (claimed customers go back to the pool between rounds, untimed);
4. 16 users fight over the same 100 customers through the action over HTTP, each allowed only 8 more
   than it has (it starts at the cap minus 8): every customer must be claimed exactly once, nobody over
   the cap.

The POST is timed until its redirect arrives (the page the browser then loads is not part of the claim:
bench/load.sh measures the list); the message it leaves in the cookie is dropped, as that page would.
Claimed customers go back to the pool at the end, so the database can be reused. It prints figures.
"""

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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

from bench.load import Session  # noqa: E402
from bench.population import add_pool_customers  # noqa: E402
from crm.models import Customer, CustomerTransfer, UserProfile  # noqa: E402
from crm.services.customers import customers_claim  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

BASE_QQ = 8_000_000_000
USERS = 8
FIGHTERS = 16
CONTESTED = 100
FIGHTER_ROOM = 8
BATCH = 10
WORKERS = int(os.environ.get("WORKERS", "4"))
PUBLIC = reverse("admin:crm_publiccustomer_changelist")


def populate(total: int) -> None:
    existing = Customer.objects.filter(qq__gte=str(BASE_QQ), qq__lt=str(BASE_QQ + 10**9)).count()
    if existing < total:
        add_pool_customers(base_qq=BASE_QQ, start=existing, stop=total, name="领取压测", phone="177")
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


@contextmanager
def gunicorn(workers: int):
    """gunicorn on a free 127.0.0.1 port with the production settings (as bench/load.sh starts it), on
    this database and with this process's SECRET_KEY, so that the sessions made here log its users in."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    static_root = tempfile.mkdtemp()
    log = tempfile.NamedTemporaryFile(suffix=".log", delete=False)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": settings.SECRET_KEY,
        # Plain HTTP on 127.0.0.1 (the README's intranet setting), persistent database connections.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_COOKIES": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60"),
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": static_root,
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", str(workers)]
        + ["--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "--error-logfile", log.name],
        env=env,
        cwd=ROOT,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(static_root)
        errors = Path(log.name).read_text()
        os.unlink(log.name)
        if "Traceback" in errors:
            print("gunicorn logged errors:\n" + errors)


def http_session(base: str, user) -> tuple[Session, str]:
    """A browser of ``user``: logged in (a session made here), with the CSRF token of the 公户 list
    it loaded."""
    session = Session(base)
    session.cookies[settings.SESSION_COOKIE_NAME] = (
        client_for(user).cookies[settings.SESSION_COOKIE_NAME].value
    )
    status, page = session.request("GET", PUBLIC)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or token is None:
        raise AssertionError(f"the 公户 list answered {status} to {user}")
    return session, token.group(1).decode()


def claim_through_http(browser: tuple[Session, str], ids: list[int], batch: int = 1) -> None:
    session, token = browser
    for start in range(0, len(ids), batch):
        body = {
            "csrfmiddlewaretoken": token,
            "action": "claim_customers",
            "index": "0",
            "select_across": "0",
            "_selected_action": ids[start : start + batch],
        }
        status, _content = session.request("POST", PUBLIC, body)
        # The page the redirect leads to would show the message and drop it from the cookie.
        session.cookies.pop("messages", None)
        if status != 302:
            raise AssertionError(f"claim of {ids[start : start + batch]} answered {status}")


def disjoint_claims(users, pool: list[int], per_user: int, target, *args) -> tuple[float, int, list]:
    """``per_user`` claims for each user, on disjoint customers taken from ``pool``, run by ``target``
    (one thread per user); returns claims/s, how many were claimed, and what is left of the pool."""
    ids, pool = pool[: len(users) * per_user], pool[len(users) * per_user :]
    chunks = [ids[n :: len(users)] for n in range(len(users))]
    elapsed = run_threads([(user, chunk, *args) for user, chunk in zip(users, chunks, strict=True)], target)
    claimed = Customer.objects.filter(pk__in=ids, consultant__isnull=False).count()
    return len(ids) / elapsed, claimed, pool


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    per_user = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    cap = settings.MAX_CUSTOMER_NUM
    per_user = min(per_user, cap)
    batch_per_user = cap - cap % BATCH
    if connection.vendor != "postgresql":
        sys.exit("bench/claims.py needs PostgreSQL (DATABASE_URL): SQLite has no row locks.")
    setup_test_environment()
    call_command("migrate", verbosity=0)
    print(f"Populating up to {total} public customers...")
    populate(total)
    users = [sales_user(f"claim_bench_{n}") for n in range(USERS)]
    fighters = [sales_user(f"claim_fight_{n}") for n in range(FIGHTERS)]
    release_all(users + fighters)
    wanted = (
        3 * USERS * per_user + rounds * USERS * batch_per_user + CONTESTED + FIGHTERS * (cap - FIGHTER_ROOM)
    )
    pool = list(
        Customer.objects.public()
        .filter(qq__gte=str(BASE_QQ))
        .order_by("?" if total <= 100_000 else "pk")
        .values_list("pk", flat=True)[:wanted]
    )
    print(
        f"\n{Customer.objects.count()} customers, {Customer.objects.public().count()} in the pool"
        f" (cap {cap})",
        flush=True,
    )
    load = os.getloadavg()

    baseline, _claimed, pool = disjoint_claims(users, pool, per_user, claim_through_service)
    release_all(users)
    clients = [client_for(user) for user in users]
    in_process, in_process_claimed, pool = disjoint_claims(clients, pool, per_user, claim_through_action)
    release_all(users)

    with gunicorn(WORKERS) as base:
        browsers = [http_session(base, user) for user in users]
        single, single_claimed, pool = disjoint_claims(browsers, pool, per_user, claim_through_http)
        release_all(users)
        batched = []
        for _round in range(rounds):
            figure, claimed, pool = disjoint_claims(browsers, pool, batch_per_user, claim_through_http, BATCH)
            batched.append((figure, claimed))
            release_all(users)

        # The fight: each fighter already owns cap - 8 customers, so the cap binds while they compete.
        contested, pool = pool[:CONTESTED], pool[CONTESTED:]
        for fighter in fighters:
            owned, pool = pool[: cap - FIGHTER_ROOM], pool[cap - FIGHTER_ROOM :]
            Customer.objects.filter(pk__in=owned).update(consultant=fighter)
        orders = [random.sample(contested, len(contested)) for _ in fighters]
        fight_browsers = [http_session(base, fighter) for fighter in fighters]
        fight_started = timezone.now()
        elapsed = run_threads(list(zip(fight_browsers, orders, strict=True)), claim_through_http)
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

    def line(label, figure, claimed, claims):
        print(
            f"  {label:<58} {figure:8.1f} claims/s  ({figure / baseline:.2f}x the baseline; "
            f"{claimed}/{claims} claimed)"
        )

    print(
        f"\nload average at the start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, now {os.getloadavg()[0]:.2f}"
    )
    print(f"\n8 users, disjoint customers, {per_user} claims each")
    print(f"  {'baseline: customers_claim (service, no HTTP, one customer)':<58} {baseline:8.1f} claims/s")
    line(
        "action in this process (django.test.Client, 1 per POST)",
        in_process,
        in_process_claimed,
        USERS * per_user,
    )
    line(
        f"action over HTTP, gunicorn {WORKERS} workers, 1 per POST", single, single_claimed, USERS * per_user
    )
    for n, (figure, claimed) in enumerate(batched, 1):
        line(f"action over HTTP, {BATCH} per POST, round {n}", figure, claimed, USERS * batch_per_user)
    if batched:
        mean = sum(figure for figure, _claimed in batched) / len(batched)
        print(
            f"  {f'action over HTTP, {BATCH} per POST, mean of {len(batched)} rounds':<58}"
            f" {mean:8.1f} claims/s"
        )
    print(f"\n16 users fighting over the same {CONTESTED} customers over HTTP (each at cap - {FIGHTER_ROOM})")
    print(f"  {attempts} claim attempts in {elapsed:.2f} s: {attempts / elapsed:.1f} attempts/s")
    print(f"  every customer claimed exactly once: {once}")
    largest = max(counts.values())
    print(f"  largest holding {largest} (cap {cap}): nobody over the cap: {largest <= cap}")


if __name__ == "__main__":
    main()
