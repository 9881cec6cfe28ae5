"""The load generator of bench/load.sh (run that script, not this one).

load.py setup [CUSTOMERS]   8 sales users with a known password, and public customers until the
                            table holds CUSTOMERS (at least 10,000 of them ours)
load.py run URL SECONDS     8 concurrent sales users, each logged in, for SECONDS: first the baseline
                            (the admin index, the cheapest logged-in page), then the mix of the 公户
                            list, a search of it and a customer's page; prints requests/s, median
                            and p99 latency and the error count of each
"""

import http.client
import os
import re
import statistics
import sys
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

USERS = 8
PASSWORD = "load-bench-Pa55word"
BASE_QQ = 8_500_000_000
OWN = 10_000


def setup(total: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.db import connection

    from bench.population import add_pool_customers
    from crm.models import Customer, UserProfile
    from crm.roles import SALES

    # The table holds TOTAL customers (those of another bench count: the 1M database of
    # bench/customers_changelist.py is loaded as it is), of which at least OWN are ours, in the pool:
    # the search and the customer page look for them.
    own = Customer.objects.filter(qq__gte=str(BASE_QQ), qq__lt=str(BASE_QQ + 10**8)).count()
    adding = max(total - Customer.objects.count(), OWN - own, 0)
    if adding:
        add_pool_customers(base_qq=BASE_QQ, start=own, stop=own + adding, name="负载客户", phone="166")
    from django.contrib.auth.models import Group

    group = Group.objects.get(name=SALES.group_name)
    for n in range(USERS):
        user, _created = UserProfile.objects.get_or_create(
            username=f"load_sales_{n}", defaults={"is_staff": True}
        )
        user.set_password(PASSWORD)
        user.is_staff = True
        user.save()
        user.groups.add(group)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    customer = Customer.objects.public().filter(qq__gte=str(BASE_QQ)).order_by("pk").first()
    print(customer.pk)


class Session:
    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookies = SimpleCookie()

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        # gunicorn's sync workers close the connection after each response: one connection per request.
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{key}={morsel.value}" for key, morsel in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            content = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                self.cookies.load(header)
            return response.status, content
        finally:
            connection.close()

    def login(self, username: str) -> None:
        status, page = self.request("GET", "/admin/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        body = {"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD, "next": "/admin/"}
        status, _page = self.request("POST", "/admin/login/?next=/admin/", body)
        if status != 302 or "sessionid" not in self.cookies:
            notes = re.findall(rb'class="errornote">\s*(.*?)\s*<', _page)
            raise SystemExit(f"login of {username} failed ({status}): {notes[:1]}")


def load(base: str, seconds: float, paths: list[str]) -> dict:
    sessions = []
    for n in range(USERS):
        session = Session(base)
        session.login(f"load_sales_{n}")
        sessions.append(session)
    latencies, errors = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(USERS + 1)

    def user(session: Session, offset: int) -> None:
        mine, failed = [], 0
        barrier.wait()
        deadline = time.perf_counter() + seconds
        index = offset
        while time.perf_counter() < deadline:
            path = paths[index % len(paths)]
            index += 1
            started = time.perf_counter()
            try:
                status, _content = session.request("GET", path)
            except (OSError, http.client.HTTPException):
                status = 0
            mine.append(time.perf_counter() - started)
            if status != 200:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors.append(failed)

    threads = [threading.Thread(target=user, args=(session, n)) for n, session in enumerate(sessions)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "median": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": sum(errors),
    }


def report(label: str, figures: dict) -> None:
    print(
        f"{label:<48} {figures['rps']:7.1f} req/s  median {figures['median']:7.1f} ms"
        f"  p99 {figures['p99']:7.1f} ms  errors {figures['errors']}  ({figures['requests']} requests)"
    )


def run(base: str, seconds: float, customer_pk: int) -> None:
    if urlsplit(base).hostname not in {"127.0.0.1", "localhost"}:
        raise SystemExit("bench/load.py only loads 127.0.0.1")
    baseline = load(base, min(seconds, 10), ["/admin/"])
    mix = load(
        base,
        seconds,
        [
            "/admin/crm/publiccustomer/",
            "/admin/crm/publiccustomer/?" + urlencode({"q": "负载客户123"}),
            f"/admin/crm/publiccustomer/{customer_pk}/change/",
        ],
    )
    print(f"\n{USERS} concurrent sales users, gunicorn at {base}")
    report("baseline: admin index (logged in, no list)", baseline)
    report("公户 list + search + customer page", mix)


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(int(sys.argv[2]) if len(sys.argv) > 2 else 20_000)
    elif sys.argv[1] == "run":
        run(sys.argv[2], float(sys.argv[3]), int(os.environ["LOAD_CUSTOMER"]))
