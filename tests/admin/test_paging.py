"""Every list: a page number that is not a number or below 1 shows the first page, one past the end the
last page; the page sizes 20/50/100 stay."""

import pytest
from django.urls import reverse

from crm.admin import paging
from crm.admin.paging import SEARCH_KEYS_LIMIT, NearestPagePaginator
from crm.models import Customer
from tests.factories import CampusFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

CAMPUSES = "admin:crm_campus_changelist"
MY_CUSTOMERS = "admin:crm_privatecustomer_changelist"


@pytest.fixture
def campuses(db):
    # 45 rows: pages of 20, 20 and 5.
    return CampusFactory.create_batch(45)


def shown(response):
    assert response.status_code == 200, response.get("Location")
    cl = response.context["cl"]
    return cl.page_num, len(cl.result_list)


@pytest.mark.parametrize("page", ["abc", "0", "-3", "", "1.5"])
def test_a_page_that_is_not_a_number_or_below_one_shows_the_first_page(boss_client, campuses, page):
    assert shown(boss_client.get(reverse(CAMPUSES), {"p": page})) == (1, 20)


@pytest.mark.parametrize("page", ["4", "999"])
def test_a_page_past_the_end_shows_the_last_page(boss_client, campuses, page):
    response = boss_client.get(reverse(CAMPUSES), {"p": page})

    assert shown(response) == (3, 5)
    # The page shown is the one marked as current in the page links.
    assert '<span class="this-page">3</span>' in response.content.decode()


def test_a_page_in_range_is_shown_as_asked(boss_client, campuses):
    assert shown(boss_client.get(reverse(CAMPUSES), {"p": "2"})) == (2, 20)


def test_the_page_sizes_stay_and_a_page_past_the_end_of_a_larger_page_is_the_last(sales_client, sales_user):
    CustomerFactory.create_batch(60, consultant=sales_user)

    assert shown(sales_client.get(reverse(MY_CUSTOMERS), {"per_page": "50", "p": "7"})) == (2, 10)
    assert shown(sales_client.get(reverse(MY_CUSTOMERS), {"per_page": "100", "p": "x"})) == (1, 60)
    assert shown(sales_client.get(reverse(MY_CUSTOMERS), {"per_page": "20", "p": "3"})) == (3, 20)
    sizes = sales_client.get(reverse(MY_CUSTOMERS)).context["cl"].per_page_links()
    assert [size for size, _url, _current in sizes] == [20, 50, 100]


def test_the_users_list_pages_the_same_way(boss_client):
    UserFactory.create_batch(25, is_staff=True)

    response = boss_client.get(reverse("admin:crm_userprofile_changelist"), {"p": "9"})

    assert shown(response)[0] == response.context["cl"].paginator.num_pages


def test_the_study_record_list_pages_the_same_way(boss_client):
    from tests.factories import CourseRecordFactory, StudyRecordFactory

    # Pages of 50 rows: 51 make two.
    StudyRecordFactory.create_batch(51, course_record=CourseRecordFactory())

    assert shown(boss_client.get(reverse("admin:crm_studyrecord_changelist"), {"p": "5"}))[0] == 2


def test_the_paginator_clamps_any_number():
    paginator = NearestPagePaginator(list(range(45)), 20)

    assert [paginator.validate_number(n) for n in ["0", -1, "x", None, 2, 3, 4, 10**9]] == [
        1,
        1,
        1,
        1,
        2,
        3,
        3,
        3,
    ]
    assert NearestPagePaginator([], 20).validate_number(5) == 1


# --- Counting at the floor (issue 15) ---


def count_queries(queries, table):
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT COUNT(*)") and f'"{table}"' in q["sql"]]


def key_queries(queries, table):
    """The queries that read the keys of what a search found (NearestPageChangeList.search_keys)."""
    limit = f"LIMIT {SEARCH_KEYS_LIMIT + 1}"
    return [q["sql"] for q in queries if f'"{table}"' in q["sql"] and limit in q["sql"]]


@pytest.mark.parametrize(
    ("page", "shown_page", "rows"), [("1", 1, 20), ("2", 2, 20), ("3", 3, 5), ("9", 3, 5)]
)
def test_a_search_finding_few_rows_is_paged_over_their_keys_in_the_lists_order(
    boss_client, campuses, page, shown_page, rows
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CampusFactory(name="另一处", address="上海")
    with CaptureQueriesContext(connection) as queries:
        response = boss_client.get(reverse(CAMPUSES), {"q": "昌平", "p": page})

    cl = response.context["cl"]
    assert cl.result_count == 45
    assert shown(response) == (shown_page, rows)
    # The rows of that page of the searched list, in its order, as Django would page it.
    start = (shown_page - 1) * 20
    assert list(cl.result_list) == list(cl.queryset)[start : start + 20]
    # The search is read once, for its keys; their number is the count.
    assert len(key_queries(queries, "crm_campus")) == 1
    assert not count_queries(queries, "crm_campus")


def test_a_search_finding_more_rows_than_the_keys_limit_counts_them(boss_client, campuses, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(paging, "SEARCH_KEYS_LIMIT", 30)
    with CaptureQueriesContext(connection) as queries:
        response = boss_client.get(reverse(CAMPUSES), {"q": "昌平", "p": "3"})

    assert response.context["cl"].result_count == 45
    assert shown(response) == (3, 5)
    assert len(count_queries(queries, "crm_campus")) == 1


def test_a_list_without_a_search_reads_no_keys(boss_client, campuses):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = boss_client.get(reverse(CAMPUSES), {"p": "2"})

    assert shown(response) == (2, 20)
    assert not key_queries(queries, "crm_campus")
    assert len(count_queries(queries, "crm_campus")) == 1


@pytest.fixture
def analyzed_campuses(campuses, settings):
    from django.db import connection

    settings.ADMIN_EXACT_COUNT_LIMIT = 10
    with connection.cursor() as cursor:
        # The planner's estimate comes from the table's statistics, as autovacuum keeps them.
        cursor.execute("ANALYZE crm_campus")
    return campuses


@pytest.mark.postgres
def test_a_long_list_without_search_or_filter_shows_the_planner_estimate(boss_client, analyzed_campuses):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = boss_client.get(reverse(CAMPUSES))

    cl = response.context["cl"]
    assert cl.paginator.count_is_estimated
    # One count that stops after the limit, then the estimate: never a count of every row.
    (count,) = count_queries(queries, "crm_campus")
    assert "LIMIT 11" in count
    assert any(q["sql"].upper().startswith("EXPLAIN (FORMAT JSON)") for q in queries)
    assert f"约 {cl.result_count} 条" in response.content.decode()
    assert shown(response) == (1, 20)


@pytest.mark.postgres
def test_a_searched_long_list_counts_exactly(boss_client, analyzed_campuses):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = boss_client.get(reverse(CAMPUSES), {"q": analyzed_campuses[0].name})

    assert not response.context["cl"].paginator.count_is_estimated
    assert response.context["cl"].result_count == 1
    # Counted from the keys the search found (search_keys): the search read once, no COUNT.
    assert len(key_queries(queries, "crm_campus")) == 1
    assert not count_queries(queries, "crm_campus")


@pytest.mark.postgres
def test_a_long_list_narrowed_by_a_lookup_no_filter_declares_counts_exactly(boss_client, analyzed_campuses):
    # Such as a row's link to its related rows (?customer__id__exact=5); Django's has_active_filters
    # does not see it.
    CampusFactory(name="另一处", address="上海")
    response = boss_client.get(reverse(CAMPUSES), {"address": "北京市昌平区"})

    assert not response.context["cl"].paginator.count_is_estimated
    assert response.context["cl"].result_count == 45


@pytest.mark.postgres
def test_a_filtered_long_list_counts_exactly(sales_client, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CustomerFactory.create_batch(30, source="website")
    CustomerFactory.create_batch(15, source="qq")
    settings.ADMIN_EXACT_COUNT_LIMIT = 10
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")
    url = reverse("admin:crm_publiccustomer_changelist")
    assert sales_client.get(url).context["cl"].paginator.count_is_estimated

    with CaptureQueriesContext(connection) as queries:
        response = sales_client.get(url, {"source__exact": "website"})

    assert not response.context["cl"].paginator.count_is_estimated
    assert response.context["cl"].result_count == 30
    # Counted from the tally of the customers' groups (CustomerTally), not by scanning the customers.
    assert count_queries(queries, "crm_customer") == []
    assert len([q for q in queries if '"crm_customertally"' in q["sql"]]) == 1


@pytest.mark.postgres
def test_a_long_list_with_a_tally_reads_its_count_there_and_shows_it_as_the_estimate(sales_client, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CustomerFactory.create_batch(45)
    settings.ADMIN_EXACT_COUNT_LIMIT = 10

    with CaptureQueriesContext(connection) as queries:
        response = sales_client.get(reverse("admin:crm_publiccustomer_changelist"))

    cl = response.context["cl"]
    # Neither counted up to the limit nor planned: the tally's exact sum, shown as the long list's 「约」.
    assert cl.paginator.count_is_estimated and cl.result_count == 45
    assert count_queries(queries, "crm_customer") == []
    assert not any(q["sql"].upper().startswith("EXPLAIN") for q in queries)
    assert len([q for q in queries if '"crm_customertally"' in q["sql"]]) == 1
    assert "约 45 条" in response.content.decode()
    last = sales_client.get(reverse("admin:crm_publiccustomer_changelist"), {"p": "3"}).context["cl"]
    assert not last.paginator.count_is_estimated and last.result_count == 45


@pytest.mark.postgres
@pytest.mark.parametrize("params", [{"q": "website"}, {"source__exact": "website", "course": "Go"}])
def test_a_list_searched_or_filtered_beyond_the_tally_counts_its_customers(sales_client, params):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CustomerFactory.create_batch(3, source="website", qq_name="website", course=["Go"])
    CustomerFactory.create_batch(2, source="website")

    with CaptureQueriesContext(connection) as queries:
        response = sales_client.get(reverse("admin:crm_publiccustomer_changelist"), params)

    assert response.context["cl"].result_count == 3
    # The customers themselves are counted: a search by the keys it finds (search_keys), a filter by
    # a COUNT.
    counted = (key_queries if "q" in params else count_queries)(queries, "crm_customer")
    assert len(counted) == 1
    assert not [q for q in queries if '"crm_customertally"' in q["sql"]]


@pytest.mark.postgres
@pytest.mark.parametrize("page", ["3", "999"])
def test_the_last_page_of_an_estimated_list_counts_exactly_and_is_reached(
    boss_client, analyzed_campuses, page
):
    response = boss_client.get(reverse(CAMPUSES), {"p": page})

    assert not response.context["cl"].paginator.count_is_estimated
    assert response.context["cl"].result_count == 45
    assert shown(response) == (3, 5)


def test_sqlite_counts_exactly_over_the_limit(boss_client, campuses, settings):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the estimate is PostgreSQL's")
    settings.ADMIN_EXACT_COUNT_LIMIT = 10

    response = boss_client.get(reverse(CAMPUSES))

    assert not response.context["cl"].paginator.count_is_estimated
    assert response.context["cl"].result_count == 45


def test_the_estimate_label_reads_in_ten_thousands():
    from crm.admin.paging import estimated_count_label

    assert estimated_count_label(904_321) == "约 90 万条"
    assert estimated_count_label(4_321) == "约 4321 条"


def test_the_deferred_results_are_every_attribute_django_get_results_sets():
    # Pins Django 5.2's ChangeList.get_results: the attributes it sets are those an action's POST defers.
    import inspect
    import re

    from django.contrib.admin.views.main import ChangeList

    from crm.admin.paging import RESULT_ATTRIBUTES

    assert set(re.findall(r"self\.(\w+) = ", inspect.getsource(ChangeList.get_results))) == RESULT_ATTRIBUTES


def page_query(queries):
    """The list query of the page: the one that selects the customers' columns and their figures."""
    (sql,) = [
        q["sql"] for q in queries if q["sql"].startswith('SELECT "crm_customer"."id", "crm_customer"."qq"')
    ]
    return sql


@pytest.mark.parametrize(
    ("url_name", "figures"),
    [
        ("admin:crm_publiccustomer_changelist", ["crm_consultrecord"]),
        (MY_CUSTOMERS, ["crm_consultrecord", "crm_customertransfer", "crm_enrollment"]),
    ],
)
def test_per_row_figures_are_computed_for_the_rows_of_the_page_only(
    sales_client, sales_user, url_name, figures
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner = sales_user if url_name == MY_CUSTOMERS else None
    CustomerFactory.create_batch(45, consultant=owner)

    with CaptureQueriesContext(connection) as queries:
        response = sales_client.get(reverse(url_name), {"p": 2})

    assert shown(response) == (2, 20)
    sql = page_query(queries)
    # The page's keys are picked by the plain list query (its OFFSET), the figures computed outside it.
    keys = sql[sql.index('"crm_customer"."id" IN (SELECT') :]
    keys = keys[: keys.index("OFFSET 20") + len("OFFSET 20")]
    assert "LIMIT 20" in keys
    for table in figures:
        assert table in sql.replace(keys, "")
        assert table not in keys
        assert all(table not in count for count in count_queries(queries, "crm_customer"))


def test_an_action_post_neither_counts_nor_fetches_the_list(sales_client, sales_user):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    customers = CustomerFactory.create_batch(25)
    data = {"action": "claim_customers", ACTION_CHECKBOX_NAME: [customers[0].pk], "index": 0}

    with CaptureQueriesContext(connection) as queries:
        response = sales_client.post(reverse("admin:crm_publiccustomer_changelist"), data)

    assert response.status_code == 302
    customers[0].refresh_from_db()
    assert customers[0].consultant == sales_user
    pool_counts = [sql for sql in count_queries(queries, "crm_customer") if '"consultant_id" IS NULL' in sql]
    assert pool_counts == []
    assert not [q for q in queries if "crm_customer" in q["sql"] and "LIMIT 20" in q["sql"]]


def test_before_an_action_django_uses_its_changelist_for_the_queryset_only():
    # Pins Django 5.2's ModelAdmin.changelist_view: up to the action's response, the ChangeList is only
    # asked for its queryset, which is all TickedRowsChangeList gives without building the list.
    import inspect
    import re

    from django.contrib.admin import ModelAdmin

    source = inspect.getsource(ModelAdmin.changelist_view)
    before_actions = source[: source.index("if action_failed:")]
    assert set(re.findall(r"\bcl\.\w+", before_actions)) == {"cl.get_queryset"}


def test_a_claim_of_ticked_rows_builds_no_list_and_select_across_does(sales_client, sales_user, monkeypatch):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
    from django.contrib.admin.views.main import ChangeList

    built = []
    build = ChangeList.__init__
    monkeypatch.setattr(ChangeList, "__init__", lambda self, *args: built.append(1) or build(self, *args))
    ticked, other = CustomerFactory(name="勾选的"), CustomerFactory(name="另一个")
    url = reverse("admin:crm_publiccustomer_changelist") + "?q=另一个"

    sales_client.post(url, {"action": "claim_customers", ACTION_CHECKBOX_NAME: [ticked.pk], "index": 0})

    # The list's search is not applied to the ticked rows, nor built.
    assert Customer.objects.owned_by(sales_user).get() == ticked
    assert built == []
    data = {"action": "claim_customers", ACTION_CHECKBOX_NAME: [other.pk], "index": 0, "select_across": "1"}
    sales_client.post(reverse("admin:crm_publiccustomer_changelist") + "?q=没有这个", data)
    assert Customer.objects.owned_by(sales_user).get() == ticked
    sales_client.post(url, data)
    assert set(Customer.objects.owned_by(sales_user)) == {ticked, other}
    assert len(built) == 2


def test_a_list_without_per_row_figures_pages_with_its_plain_query(boss_client, campuses):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        boss_client.get(reverse(CAMPUSES), {"p": 2})

    (page,) = [q["sql"] for q in queries if q["sql"].startswith('SELECT "crm_campus"."id"')]
    assert " IN (SELECT" not in page


@pytest.mark.parametrize(
    ("posted", "expected"),
    [
        ({"action": ["claim_customers"], "index": "0"}, "claim_customers"),
        ({"action": ["claim_customers", "other"], "index": "1"}, "other"),
        ({"action": ["claim_customers", "other"], "index": "-2"}, "claim_customers"),
        ({"action": ["claim_customers", "other"], "index": "7"}, "other"),
        ({"action": ["other", "claim_customers"], "index": "x"}, "other"),
        ({"index": "0"}, None),
    ],
)
def test_the_posted_action_is_the_one_django_runs(rf, posted, expected):
    # Django 5.2's response_action: the `action` at the posted `index` (Python indexing), the last
    # posted `action` when there is none there, the first when the index is not a number.
    from crm.admin.paging import posted_action

    assert posted_action(rf.post("/", posted)) == expected


def test_the_row_links_are_the_ones_django_reverses_for_each_row(boss_client, campuses):
    # Pins Django 5.2's ChangeList.url_for_result, which NearestPageChangeList reverses once per page.
    from django.contrib import admin
    from django.contrib.admin.views.main import ChangeList

    from crm.admin.rows import row_url
    from crm.models import Campus

    response = boss_client.get(reverse(CAMPUSES))
    cl = response.context["cl"]

    assert [cl.url_for_result(row) for row in cl.result_list] == [
        ChangeList.url_for_result(cl, row) for row in cl.result_list
    ]
    # The first row shown (the campuses are ordered by name, so which one depends on their numbers).
    assert cl.url_for_result(cl.result_list[0]) in response.content.decode()
    quoted = reverse("admin:crm_campus_change", args=["a_2Fb_5Fc"])
    assert row_url("admin:crm_campus_change", "a/b_c") == quoted
    assert row_url("admin:crm_campus_changelist") == reverse("admin:crm_campus_changelist")
    assert admin.site._registry[Campus] is cl.model_admin


# --- Every long list runs a fixed number of queries, whatever its rows (issue 15) ---


def grow_lists(n, sales_user):
    """``n`` rows in each long list, every row with its own class (so its own filter choice), lesson,
    study record, enrollment, payment and ownership change."""
    from crm.services.customers import customers_claim
    from tests.factories import (
        ClassListFactory,
        ConsultRecordFactory,
        CourseRecordFactory,
        EnrollmentFactory,
        PaymentRecordFactory,
        StudyRecordFactory,
    )

    for _ in range(n):
        klass = ClassListFactory()
        customer = CustomerFactory()
        customers_claim(user=sales_user, customer_ids=[customer.pk])
        CustomerFactory(campus=klass.campus)  # the pool
        ConsultRecordFactory(customer=customer, consultant=sales_user)
        StudyRecordFactory(course_record=CourseRecordFactory(re_class=klass), student=customer)
        customer.class_list.add(klass)
        EnrollmentFactory(customer=customer, enrolment_class=klass, consultant=sales_user)
        PaymentRecordFactory(customer=customer, enrolment_class=klass, consultant=sales_user)


# The session, the user and their permissions (3: crm.backends), then each list's own: its count and
# its page, the per-row figures and related rows of the page's rows (one query each), the filters'
# choices, and what the page shows above the list (the quota of the customer lists, the payments' totals).
LIST_QUERIES = {
    ("sales", "publiccustomer", ()): 7,
    ("sales", "privatecustomer", ()): 7,
    ("sales", "privatecustomer", (("source__exact", "qq"),)): 7,
    ("boss", "customer", ()): 7,
    ("boss", "customer", (("status__exact", "unregistered"),)): 7,
    ("boss", "consultrecord", ()): 5,
    ("sales", "consultrecord", ()): 5,
    ("boss", "studyrecord", ()): 6,
    ("boss", "courserecord", ()): 6,
    ("boss", "classlist", ()): 7,
    ("boss", "enrollment", ()): 7,
    ("boss", "paymentrecord", ()): 7,
    ("boss", "customertransfer", ()): 5,
    ("sales", "customertransfer", ()): 5,
}


# On PostgreSQL, lists whose count is read with the figures above them from one tally (PaymentTally).
COUNTED_WITH_THE_TALLY = {"paymentrecord"}


@pytest.mark.parametrize(("role", "model", "params"), list(LIST_QUERIES))
def test_each_long_list_runs_a_fixed_number_of_queries_whatever_its_rows(
    client_for, sales_user, boss_user, django_assert_num_queries, role, model, params
):
    from django.db import connection

    client = client_for(sales_user if role == "sales" else boss_user)
    url = reverse(f"admin:crm_{model}_changelist")
    expected = LIST_QUERIES[(role, model, params)]
    if connection.vendor == "postgresql" and model in COUNTED_WITH_THE_TALLY:
        expected -= 1
    grow_lists(2, sales_user)
    client.get(url, dict(params))

    with django_assert_num_queries(expected):
        assert client.get(url, dict(params)).status_code == 200
    grow_lists(23, sales_user)  # more than a page of each, and 25 classes to choose from
    with django_assert_num_queries(expected):
        assert client.get(url, dict(params)).status_code == 200


@pytest.mark.parametrize(
    ("params", "offered"),
    [({}, False), ({"q": "昌平"}, True), ({"name": "校区1"}, True), ({"p": "2"}, False)],
)
def test_the_search_bar_counts_a_searched_or_filtered_list_only(boss_client, campuses, params, offered):
    # "45 条结果。（显示全部）" beside the search box: on the whole list it would lead back to itself.
    response = boss_client.get(reverse(CAMPUSES), params)

    assert ("条结果" in response.content.decode()) is offered


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("model", "indexes"),
    [
        ("consultrecord", ["crm_consult_date_id"]),
        ("customertransfer", ["crm_transfer_date_id"]),
        ("enrollment", ["crm_enrollment_date_id"]),
        ("paymentrecord", ["crm_payment_date_id"]),
        # Either index of the study records' order: the one with the key (an index-only scan once
        # vacuumed, as at scale), or the unique one, which a few unvacuumed rows may make cheaper.
        ("studyrecord", ["crm_studyrecord_order", "crm_studyrecord_unique_student"]),
    ],
)
def test_a_deep_page_of_a_long_list_is_read_in_its_order_index_without_sorting_the_list(
    boss_client, sales_user, model, indexes
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.models import CourseRecord, StudyRecord

    grow_lists(21, sales_user)
    if model == "studyrecord":  # 50 a page: a second page of one more lesson's records
        lesson = CourseRecord.objects.first()
        students = CustomerFactory.create_batch(40, status="studying")
        StudyRecord.objects.bulk_create(StudyRecord(course_record=lesson, student=s) for s in students)
    per_page = boss_client.get(reverse(f"admin:crm_{model}_changelist")).context["cl"].list_per_page
    with CaptureQueriesContext(connection) as queries:
        response = boss_client.get(reverse(f"admin:crm_{model}_changelist"), {"p": 2})
    assert response.status_code == 200
    [page_query] = [query["sql"] for query in queries if f"OFFSET {per_page}" in query["sql"]]
    with connection.cursor() as cursor:
        # On a small table the planner would rather read the table (or a bitmap of it) and sort it,
        # or walk another index and sort what it finds (an incremental sort): what the order index
        # is for is that no sort is needed.
        for plan_type in ("seqscan", "bitmapscan", "sort", "incremental_sort"):
            cursor.execute(f"SET LOCAL enable_{plan_type} = off")
        cursor.execute(f"EXPLAIN {page_query}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert any(f" using {index} " in plan for index in indexes), plan
    # The page's keys (a subquery U0 when the page joins other rows) come in the index's order; only
    # the rows shown may be sorted.
    assert ("Sort Key: u0." not in plan) if 'U0."' in page_query else ("Sort" not in plan), plan
