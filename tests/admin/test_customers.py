"""The three customer lists as a salesperson and the boss use them."""

import html

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from crm.admin import customers as customers_admin
from crm.models import ConsultRecord, Customer, CustomerStatusChange, CustomerTransfer
from crm.services.customers import customers_claim
from tests.factories import ClassListFactory, ConsultRecordFactory, CustomerFactory

pytestmark = pytest.mark.django_db

PUBLIC = "admin:crm_publiccustomer_changelist"
PRIVATE = "admin:crm_privatecustomer_changelist"
ALL = "admin:crm_customer_changelist"


def rows(response):
    return list(response.context["cl"].result_list)


def post_action(client, url_name, action, customers, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [c.pk for c in customers], "index": 0, **extra}
    return client.post(reverse(url_name), data, follow=True)


def page_messages(response):
    return [str(message) for message in response.context["messages"]]


# --- Who sees which list ---


def test_each_list_shows_exactly_its_customers(sales_client, sales_user, other_sales_user):
    public = CustomerFactory()
    mine = CustomerFactory(consultant=sales_user)
    CustomerFactory(consultant=other_sales_user)

    assert rows(sales_client.get(reverse(PUBLIC))) == [public]
    assert rows(sales_client.get(reverse(PRIVATE))) == [mine]
    assert sales_client.get(reverse(ALL)).status_code == 403


def test_the_boss_sees_all_customers(boss_client, sales_user):
    customers = [CustomerFactory(), CustomerFactory(consultant=sales_user)]
    assert set(rows(boss_client.get(reverse(ALL)))) == set(customers)


@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_another_users_customer_answers_404_everywhere(sales_client, other_sales_user, view):
    theirs = CustomerFactory(consultant=other_sales_user)
    for model in ["privatecustomer", "publiccustomer", "customer"]:
        response = sales_client.get(reverse(f"admin:crm_{model}_{view}", args=[theirs.pk]))
        assert response.status_code in (403, 404), (model, response.status_code)
    for model in ["privatecustomer", "publiccustomer"]:
        response = sales_client.get(reverse(f"admin:crm_{model}_{view}", args=[theirs.pk]))
        if view == "delete":
            continue  # sales may not delete at all: 403 before the lookup
        assert response.status_code == 404, model


def test_a_missing_customer_answers_404_like_another_users(sales_client):
    response = sales_client.get(reverse("admin:crm_privatecustomer_change", args=[999999]))
    assert response.status_code == 404


# --- Columns without a query per row ---


def fill_list(owner, count):
    classes = ClassListFactory.create_batch(2)
    for customer in CustomerFactory.create_batch(count, consultant=owner, class_list=classes):
        ConsultRecordFactory.create_batch(2, customer=customer, consultant=owner or customer_owner())


def customer_owner():
    from tests.factories import UserFactory

    return UserFactory()


@pytest.mark.parametrize("count", [10, 100])
@pytest.mark.parametrize(
    ("url_name", "who", "owner", "queries"),
    # The pool and my customers add one query: the user's quota line; all customers the 销售 filter's choices.
    [(PRIVATE, "sales", "sales", 8), (PUBLIC, "sales", None, 8), (ALL, "boss", "sales", 8)],
)
def test_the_changelist_needs_the_same_queries_at_10_and_100_rows(
    client_for, sales_user, boss_user, count, url_name, who, owner, queries, django_assert_max_num_queries
):
    fill_list(sales_user if owner else None, count)
    client = client_for(boss_user if who == "boss" else sales_user)
    with django_assert_max_num_queries(queries):
        response = client.get(reverse(url_name), {"per_page": 100})
    assert len(rows(response)) == count


def test_the_columns_show_labels_classes_and_the_follow_up_link(sales_client, sales_user):
    python = ClassListFactory(semester=15)
    customer = CustomerFactory(
        consultant=sales_user, course=["PythonFullStack", "Go"], status="studying", class_list=[python]
    )
    ConsultRecordFactory.create_batch(2, customer=customer, consultant=sales_user)
    ConsultRecordFactory(customer=customer, consultant=sales_user, delete_status=True)

    page = sales_client.get(reverse(PRIVATE)).content.decode()

    assert (
        '<span class="crm-nowrap">Python高级全栈开发</span><br><span class="crm-nowrap">Go语言开发</span>'
        in page
    )
    assert "学习中" in page
    assert str(python) in page
    assert f"?customer={customer.pk}" in page
    assert "跟进记录 (2)" in page


def test_the_follow_up_count_leaves_the_list_count_a_plain_count(
    sales_client, sales_user, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fill_list(sales_user, 3)
    with CaptureQueriesContext(connection) as queries:
        sales_client.get(reverse(PRIVATE))
    # Counted by a COUNT of the customers, or read from their tally (PostgreSQL): never with the figure.
    counts = [
        q["sql"]
        for q in queries
        if (q["sql"].startswith("SELECT COUNT(*)") and "crm_customer" in q["sql"])
        or '"crm_customertally"' in q["sql"]
    ]
    assert counts and all("crm_consultrecord" not in sql for sql in counts)


# --- Search, filters, page size ---


@pytest.mark.parametrize("q", ["张三", "123456", "sunny", "SUNNY", "13912345678", "9123"])
def test_search_finds_by_name_qq_qq_name_and_phone_ignoring_case(sales_client, q):
    wanted = CustomerFactory(name="张三丰", qq="123456789", qq_name="Sunny Day", phone="13912345678")
    CustomerFactory(name="李四", qq="555666", qq_name="rain", phone="13800000000")
    assert rows(sales_client.get(reverse(PUBLIC), {"q": q})) == [wanted]


def test_the_course_filter_matches_one_course_among_several(sales_client):
    wanted = CustomerFactory(course=["LinuxL", "Go"])
    CustomerFactory(course=["PythonFullStack"])
    assert rows(sales_client.get(reverse(PUBLIC), {"course": "Go"})) == [wanted]


def test_the_date_range_filters_work(sales_client, sales_user):
    import datetime

    wanted = CustomerFactory(consultant=sales_user, last_consult_date=datetime.date(2026, 11, 10))
    CustomerFactory(consultant=sales_user, last_consult_date=datetime.date(2026, 10, 1))
    response = sales_client.get(
        reverse(PRIVATE),
        {"last_consult_date__range__gte": "2026-11-01", "last_consult_date__range__lte": "2026-11-30"},
    )
    assert rows(response) == [wanted]


@pytest.mark.parametrize(("per_page", "shown"), [(None, 20), (50, 50), (100, 60), (7, 20)])
def test_the_user_picks_20_50_or_100_per_page(sales_client, per_page, shown):
    CustomerFactory.create_batch(60)
    params = {"per_page": per_page} if per_page else {}
    response = sales_client.get(reverse(PUBLIC), params)
    assert response.status_code == 200
    assert len(rows(response)) == shown


# --- The form ---


def customer_form(**fields):
    data = {
        "qq": "2233445566",
        "name": "王五",
        "source": "qq",
        "class_type": "fulltime",
        "status": "unregistered",
    }
    data.update(fields)
    for inline in ("transfers", "status_changes"):
        data.update({f"{inline}-{k}": v for k, v in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()})
    return data


def test_adding_from_my_customers_makes_it_mine(sales_client, sales_user):
    response = sales_client.post(reverse("admin:crm_privatecustomer_add"), customer_form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Customer.objects.get(qq="2233445566")
    assert customer.consultant == sales_user
    assert CustomerTransfer.objects.get(customer=customer).reason == "create"


def test_adding_from_the_public_pool_keeps_it_in_the_pool(sales_client):
    response = sales_client.post(reverse("admin:crm_publiccustomer_add"), customer_form())
    assert response.status_code == 302
    assert Customer.objects.get(qq="2233445566").consultant is None


def test_adding_over_the_cap_is_a_form_error(sales_client, sales_user, settings):
    settings.MAX_CUSTOMER_NUM = 1
    CustomerFactory(consultant=sales_user)
    response = sales_client.post(reverse("admin:crm_privatecustomer_add"), customer_form())
    assert response.status_code == 200
    assert not Customer.objects.filter(qq="2233445566").exists()


@pytest.mark.parametrize(
    ("field", "value"), [("qq", "1234"), ("qq", "1234567890123"), ("qq", "12a456"), ("phone", "1381234567")]
)
def test_qq_and_phone_must_be_well_formed(sales_client, field, value):
    response = sales_client.post(reverse("admin:crm_publiccustomer_add"), customer_form(**{field: value}))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


@pytest.mark.parametrize("field", ["qq", "phone"])
def test_a_duplicate_is_a_field_error_that_does_not_reveal_the_owner(sales_client, other_sales_user, field):
    existing = CustomerFactory(consultant=other_sales_user, qq="99887766", phone="13912340000")
    response = sales_client.post(
        reverse("admin:crm_publiccustomer_add"), customer_form(**{field: getattr(existing, field)})
    )
    errors = response.context["adminform"].form.errors
    assert field in errors
    assert other_sales_user.name not in str(errors)
    assert other_sales_user.username not in str(errors)
    assert existing.name not in response.content.decode()


def test_editing_keeps_the_owner_and_writes_the_change(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user)
    data = customer_form(qq=customer.qq, name="改过的名字")
    data.update({"consult_records-TOTAL_FORMS": 0, "consult_records-INITIAL_FORMS": 0})
    response = sales_client.post(reverse("admin:crm_privatecustomer_change", args=[customer.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.name == "改过的名字"
    assert customer.consultant == sales_user


def test_the_boss_reassigning_a_customer_is_recorded(boss_client, boss_user, sales_user, other_sales_user):
    customer = CustomerFactory(consultant=sales_user)
    data = customer_form(qq=customer.qq, consultant=other_sales_user.pk)
    response = boss_client.post(reverse("admin:crm_customer_change", args=[customer.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    transfer = CustomerTransfer.objects.get(customer=customer)
    assert (transfer.from_consultant, transfer.to_consultant, transfer.by, transfer.reason) == (
        sales_user,
        other_sales_user,
        boss_user,
        "reassign",
    )


def test_the_change_page_shows_the_ownership_history(sales_client, sales_user):
    customer = CustomerFactory()
    post_action(sales_client, PUBLIC, "claim_customers", [customer])
    page = sales_client.get(reverse("admin:crm_privatecustomer_change", args=[customer.pk])).content.decode()
    assert "从公户领取" in page or "Claimed from the public pool" in page


def test_user_choices_are_staff_only_and_referrers_are_own_customers(sales_client, sales_user, make_user):
    student = make_user(None, username="student_x")
    mine = CustomerFactory(consultant=sales_user)
    public = CustomerFactory()
    form = sales_client.get(reverse("admin:crm_privatecustomer_add")).context["adminform"].form
    assert student not in form.fields["network_consultant"].queryset
    assert list(form.fields["introduce_from"].queryset) == [mine]
    assert public not in form.fields["introduce_from"].queryset


# --- Claiming and releasing ---


def test_claiming_from_the_public_pool(sales_client, sales_user):
    pool = CustomerFactory.create_batch(3)
    response = post_action(sales_client, PUBLIC, "claim_customers", pool[:2])
    assert Customer.objects.owned_by(sales_user).count() == 2
    assert any("2" in message for message in page_messages(response))


def test_claiming_a_customer_taken_meanwhile_claims_nothing_and_names_it(
    sales_client, sales_user, other_sales_user
):
    free = CustomerFactory()
    taken = CustomerFactory(name="被抢走的", consultant=other_sales_user)

    response = post_action(sales_client, PUBLIC, "claim_customers", [free, taken])

    assert Customer.objects.owned_by(sales_user).count() == 0
    assert Customer.objects.get(pk=free.pk).consultant is None
    assert any("被抢走的" in message for message in page_messages(response))


def test_claiming_over_the_cap_claims_nothing_and_says_the_cap(sales_client, sales_user, settings):
    settings.MAX_CUSTOMER_NUM = 3
    CustomerFactory.create_batch(2, consultant=sales_user)
    pool = CustomerFactory.create_batch(2)

    response = post_action(sales_client, PUBLIC, "claim_customers", pool)

    assert Customer.objects.owned_by(sales_user).count() == 2
    assert not CustomerTransfer.objects.exists()
    assert any("3" in message and "2" in message for message in page_messages(response))


@pytest.mark.parametrize("count", [1, 10])
def test_the_claim_action_takes_the_same_queries_for_one_customer_or_ten(
    sales_client, sales_user, count, django_assert_num_queries
):
    pool = CustomerFactory.create_batch(count)
    data = {"action": "claim_customers", ACTION_CHECKBOX_NAME: [c.pk for c in pool], "index": 0}

    # The session, the user, their permissions (crm.backends), then the claim (customers_claim: 6 with its
    # savepoint); the list is neither built nor counted before the action.
    with django_assert_num_queries(9):
        response = sales_client.post(reverse(PUBLIC), data)

    assert response.status_code == 302
    assert Customer.objects.owned_by(sales_user).count() == count


def test_a_user_without_the_claim_permission_has_no_claim_action(client_for, make_user):
    from django.contrib.auth.models import Permission

    user = make_user(None, username="viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_publiccustomer"))
    customer = CustomerFactory()
    client = client_for(user)
    response = post_action(client, PUBLIC, "claim_customers", [customer])
    assert Customer.objects.get(pk=customer.pk).consultant is None
    assert "claim_customers" not in dict(
        response.context["cl"].model_admin.get_action_choices(response.wsgi_request)
    )


def test_releasing_own_customers_asks_why_then_releases_them_with_the_reason(sales_client, sales_user):
    own = CustomerFactory.create_batch(2, consultant=sales_user)

    asked = post_action(sales_client, PRIVATE, "release_customers", own)

    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()
    assert Customer.objects.public().count() == 0
    post_action(
        sales_client, PRIVATE, "release_customers", own, post="yes", reason="unreachable", note="三次未接"
    )
    assert Customer.objects.public().count() == 2
    assert set(
        CustomerTransfer.objects.filter(reason=CustomerTransfer.Reason.RELEASE).values_list(
            "release_reason", "release_note"
        )
    ) == {(CustomerTransfer.ReleaseReason.UNREACHABLE, "三次未接")}


def test_a_release_for_another_reason_without_a_note_is_refused_and_releases_nothing(
    sales_client, sales_user
):
    own = CustomerFactory.create_batch(2, consultant=sales_user)

    response = post_action(sales_client, PRIVATE, "release_customers", own, post="yes", reason="other")

    assert response.status_code == 200
    assert "备注" in response.content.decode()
    assert Customer.objects.public().count() == 0


def test_releasing_someone_elses_customer_by_a_forged_post_releases_nothing(
    sales_client, sales_user, other_sales_user
):
    own = CustomerFactory(consultant=sales_user)
    theirs = CustomerFactory(consultant=other_sales_user)
    post_action(sales_client, PRIVATE, "release_customers", [own, theirs], post="yes", reason="no_interest")
    assert Customer.objects.get(pk=own.pk).consultant == sales_user
    assert Customer.objects.get(pk=theirs.pk).consultant == other_sales_user


def test_follow_ups_can_be_added_inline_on_my_customers(sales_client, sales_user):
    import datetime

    from django.utils import timezone

    customer = CustomerFactory(consultant=sales_user, date=timezone.make_aware(datetime.datetime(2026, 1, 1)))
    next_date = timezone.localdate() + datetime.timedelta(days=3)
    data = customer_form(qq=customer.qq, phone=customer.phone, name=customer.name)
    data.update(
        {
            "consult_records-TOTAL_FORMS": 1,
            "consult_records-INITIAL_FORMS": 0,
            "consult_records-0-date_0": "2026-11-20",
            "consult_records-0-date_1": "10:00:00",
            "consult_records-0-status": "C",
            "consult_records-0-note": "来访，准备报名",
            "consult_records-0-next_date": next_date.isoformat(),
        }
    )
    response = sales_client.post(reverse("admin:crm_privatecustomer_change", args=[customer.pk]), data)
    assert response.status_code == 302
    record = ConsultRecord.objects.get(customer=customer)
    assert record.consultant == sales_user
    customer.refresh_from_db()
    assert str(customer.last_consult_date) == "2026-11-20"


@pytest.mark.postgres
@pytest.mark.parametrize("column", ["name", "qq", "qq_name", "phone", "wechat"])
def test_the_search_uses_the_upper_trigram_index_on_postgresql(rf, sales_user, column):
    from django.contrib import admin
    from django.db import connection

    from crm.models import PublicCustomer

    model_admin = admin.site._registry[PublicCustomer]
    model_admin.search_fields = [column]  # one column at a time: each has its index
    try:
        request = rf.get("/")
        request.user = sales_user
        queryset, _duplicates = model_admin.get_search_results(request, Customer.objects.all(), "abc")
    finally:
        del model_admin.search_fields
    sql, params = queryset.order_by().only("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        # On a small table the planner prefers scanning the table (or another index) and filtering;
        # forbid both to see that the search can use its index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"crm_customer_{column}_upper_trgm" in plan, plan


def test_the_boss_picks_a_referrer_by_search_and_sales_cannot_search_all_customers(
    client_for, boss_user, sales_user
):
    wanted = CustomerFactory(name="推荐人甲")
    CustomerFactory(name="别人")
    params = {"app_label": "crm", "model_name": "customer", "field_name": "introduce_from", "term": "推荐人"}

    response = client_for(boss_user).get(reverse("admin:autocomplete"), params)
    assert [item["id"] for item in response.json()["results"]] == [str(wanted.pk)]

    assert client_for(sales_user).get(reverse("admin:autocomplete"), params).status_code == 403


def test_the_ownership_history_list_shows_a_salesperson_only_their_customers_history(
    client_for, sales_user, other_sales_user, boss_user
):
    from crm.services.customers import customers_claim

    mine, theirs = CustomerFactory(), CustomerFactory()
    customers_claim(user=sales_user, customer_ids=[mine.pk])
    customers_claim(user=other_sales_user, customer_ids=[theirs.pk])

    url = reverse("admin:crm_customertransfer_changelist")
    assert [transfer.customer for transfer in rows(client_for(sales_user).get(url))] == [mine]
    assert len(rows(client_for(boss_user).get(url))) == 2


def test_a_salespersons_ownership_history_is_each_part_by_its_own_index_never_an_or_across_the_join(
    client_for, sales_user, other_sales_user, boss_user
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.models import CustomerTransfer
    from crm.services.customers import customers_claim, customers_reassign

    given, claimed, theirs = CustomerFactory(), CustomerFactory(), CustomerFactory()
    customers_claim(user=other_sales_user, customer_ids=[given.pk, theirs.pk])
    customers_reassign(by=boss_user, customer_ids=[given.pk], to=sales_user)  # from them, to me, by the boss
    customers_claim(user=sales_user, customer_ids=[claimed.pk])

    with CaptureQueriesContext(connection) as queries:
        shown = set(CustomerTransfer.objects.visible_to(sales_user).values_list("customer", flat=True))

    assert shown == {given.pk, claimed.pk}
    assert set(CustomerTransfer.objects.visible_to(other_sales_user).values_list("customer", flat=True)) == {
        given.pk,
        theirs.pk,
    }
    assert " UNION " in queries[-1]["sql"] and "JOIN" not in queries[-1]["sql"]


def test_the_boss_adding_a_customer_for_someone_at_the_cap_gets_a_form_error(
    boss_client, sales_user, settings
):
    settings.MAX_CUSTOMER_NUM = 1
    CustomerFactory(consultant=sales_user)
    response = boss_client.post(reverse("admin:crm_customer_add"), customer_form(consultant=sales_user.pk))
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    assert not Customer.objects.filter(qq="2233445566").exists()


def test_the_boss_reassigning_to_a_consultant_at_the_cap_gets_a_form_error_and_nothing_changes(
    boss_client, sales_user, other_sales_user, settings
):
    settings.MAX_CUSTOMER_NUM = 2
    CustomerFactory.create_batch(2, consultant=other_sales_user)
    customer = CustomerFactory(consultant=sales_user, name="原名")
    data = customer_form(qq=customer.qq, name="改名", consultant=other_sales_user.pk)

    response = boss_client.post(reverse("admin:crm_customer_change", args=[customer.pk]), data)

    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert str(other_sales_user) in errors and "最多拥有 2 个客户" in errors and "已有 2 个" in errors
    customer.refresh_from_db()
    assert (customer.consultant, customer.name) == (sales_user, "原名")
    assert not CustomerTransfer.objects.exists()


def test_the_boss_editing_a_customer_of_a_consultant_at_the_cap_keeps_the_consultant(
    boss_client, sales_user, settings
):
    settings.MAX_CUSTOMER_NUM = 1
    customer = CustomerFactory(consultant=sales_user)
    data = customer_form(qq=customer.qq, name="改名", consultant=sales_user.pk)

    response = boss_client.post(reverse("admin:crm_customer_change", args=[customer.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Customer.objects.get(pk=customer.pk).name == "改名"


@pytest.mark.parametrize(("days", "said"), [(0, "今天"), (1, "昨天"), (12, "12天前")])
def test_the_last_follow_up_shows_the_date_and_the_days_since(sales_client, sales_user, days, said):
    import datetime

    from django.utils import timezone

    last = timezone.localdate() - datetime.timedelta(days=days)
    CustomerFactory(consultant=sales_user, last_consult_date=last)
    page = sales_client.get(reverse(PRIVATE)).content.decode()
    assert f"{last.isoformat()}<br><small>{said}</small>" in page


def test_all_customers_show_the_consultant_and_the_status_as_a_coloured_badge(boss_client, sales_user):
    CustomerFactory(consultant=sales_user, status="signed")
    page = boss_client.get(reverse(ALL)).content.decode()
    assert f'<td class="field-consultant nowrap">{sales_user}</td>' in page
    assert '<span class="crm-badge" style="background:#2f6fb3">已报名</span>' in page


# --- The cap filled meanwhile: a form error, never a 500 ---


def test_the_cap_filled_meanwhile_shows_the_boss_the_form_again_and_changes_nothing(
    boss_client, sales_user, other_sales_user, settings, monkeypatch
):
    # The new owner reached the cap after the boss's form was read: the form's locked check sees it.
    settings.MAX_CUSTOMER_NUM = 2
    CustomerFactory.create_batch(2, consultant=other_sales_user)
    customer = CustomerFactory(consultant=sales_user, name="原名")
    data = customer_form(qq=customer.qq, name="改名", consultant=other_sales_user.pk)

    response = boss_client.post(reverse("admin:crm_customer_change", args=[customer.pk]), data)

    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert f"{other_sales_user} 最多拥有 2 个客户：已有 2 个" in errors
    assert "未做任何更改" in html.unescape(response.content.decode())
    customer.refresh_from_db()
    assert (customer.consultant, customer.name) == (sales_user, "原名")
    assert not CustomerTransfer.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_between_the_bosss_form_check_and_save_shows_the_boss_the_cap(
    boss_user, sales_user, other_sales_user, settings, pause_before, post_in_thread
):
    settings.MAX_CUSTOMER_NUM = 2
    CustomerFactory(consultant=other_sales_user)
    free = CustomerFactory()
    customer = CustomerFactory(consultant=sales_user, name="原名")
    boss = Client()
    boss.force_login(boss_user)
    # The boss's form has been read and is about to run its locked cap check.
    reached, go_on = pause_before(customers_admin, "customers_check_capacity", "boss")
    data = customer_form(qq=customer.qq, name="改名", consultant=other_sales_user.pk)
    url = reverse("admin:crm_customer_change", args=[customer.pk])

    thread, outcome = post_in_thread(boss, url, data, "boss")
    try:
        assert reached.wait(timeout=30)
        customers_claim(user=other_sales_user, customer_ids=[free.pk])  # the last place is taken
    finally:
        go_on.set()
        thread.join(timeout=60)

    response = outcome["response"]
    assert response.status_code == 200
    assert f"{other_sales_user} 最多拥有 2 个客户：已有 2 个" in html.unescape(response.content.decode())
    customer.refresh_from_db()
    assert (customer.consultant, customer.name) == (sales_user, "原名")
    assert list(CustomerTransfer.objects.values_list("reason", flat=True)) == ["claim"]


# --- Status and classes joined: written only by their services ---

CUSTOMER_FORMS = [
    # (who, add or change URL name, owner of the edited customer)
    ("sales", "admin:crm_publiccustomer_add", None),
    ("sales", "admin:crm_publiccustomer_change", None),
    ("sales", "admin:crm_privatecustomer_add", None),
    ("sales", "admin:crm_privatecustomer_change", "sales"),
    ("boss", "admin:crm_customer_add", None),
    ("boss", "admin:crm_customer_change", "sales"),
]


def forged_post(client, url_name, customer, **fields):
    """Save a customer form (a new one when ``customer`` is None) with ``fields`` added to the POST."""
    if customer is None:
        url, data = reverse(url_name), customer_form()
    else:
        url = reverse(url_name, args=[customer.pk])
        data = customer_form(qq=customer.qq, phone=customer.phone, name="改过的名字")
        data["consultant"] = customer.consultant_id or ""
    data.update({"consult_records-TOTAL_FORMS": 0, "consult_records-INITIAL_FORMS": 0, **fields})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return Customer.objects.get(pk=customer.pk) if customer else Customer.objects.get(qq="2233445566")


@pytest.mark.parametrize(("who", "url_name", "owner"), CUSTOMER_FORMS)
def test_a_forged_status_or_class_on_any_customer_form_changes_neither(
    client_for, sales_user, boss_user, who, url_name, owner
):
    klass = ClassListFactory()
    customer = (
        None if url_name.endswith("_add") else CustomerFactory(consultant=sales_user if owner else None)
    )

    saved = forged_post(
        client_for(boss_user if who == "boss" else sales_user),
        url_name,
        customer,
        status=Customer.Status.PAID_IN_FULL,
        class_list=[klass.pk],
    )

    assert saved.status == Customer.Status.UNREGISTERED
    assert not saved.class_list.exists()


@pytest.mark.parametrize(
    ("who", "url_name", "owner"), [form for form in CUSTOMER_FORMS if form[0] == "sales"]
)
def test_a_forged_consultant_on_a_sales_form_changes_nothing(
    client_for, sales_user, other_sales_user, who, url_name, owner
):
    customer = (
        None if url_name.endswith("_add") else CustomerFactory(consultant=sales_user if owner else None)
    )

    saved = forged_post(client_for(sales_user), url_name, customer, consultant=other_sales_user.pk)

    expected = sales_user if "privatecustomer" in url_name else None
    assert saved.consultant == expected
    assert not CustomerTransfer.objects.filter(to_consultant=other_sales_user).exists()


@pytest.mark.parametrize("url_name", ["admin:crm_privatecustomer_change", "admin:crm_customer_change"])
def test_status_and_classes_are_shown_read_only(client_for, sales_user, boss_user, url_name):
    klass = ClassListFactory(semester=42)
    customer = CustomerFactory(consultant=sales_user, status=Customer.Status.SIGNED, class_list=[klass])
    client = client_for(boss_user if "crm_customer_" in url_name else sales_user)

    response = client.get(reverse(url_name, args=[customer.pk]))

    form = response.context["adminform"].form
    assert "status" not in form.fields and "class_list" not in form.fields
    page = response.content.decode()
    assert "已报名" in page and str(klass) in page


# --- The boss's correction of a status ---


def correct(client, customers, **fields):
    return post_action(client, ALL, "correct_status", customers, **fields)


def test_correct_status_asks_for_the_new_status_and_a_reason_first(boss_client):
    customer = CustomerFactory(status=Customer.Status.STUDYING)

    response = correct(boss_client, [customer])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/crm/action_confirmation.html"
    assert set(response.context["form"].fields) == {"status", "reason"}
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.STUDYING


def test_correct_status_sets_the_status_back_and_records_who_when_from_to_and_why(boss_client, boss_user):
    customer = CustomerFactory(status=Customer.Status.PAID_IN_FULL)

    response = correct(
        boss_client, [customer], post="yes", status=Customer.Status.SIGNED, reason="财务录错了一笔学费"
    )

    assert any("1" in message for message in page_messages(response))
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.SIGNED
    change = CustomerStatusChange.objects.get()
    assert (change.customer, change.from_status, change.to_status, change.reason, change.by) == (
        customer,
        Customer.Status.PAID_IN_FULL,
        Customer.Status.SIGNED,
        "财务录错了一笔学费",
        boss_user,
    )
    assert change.date is not None


@pytest.mark.parametrize("reason", ["", "   "])
def test_correct_status_without_a_reason_is_a_translated_form_error_and_changes_nothing(boss_client, reason):
    customer = CustomerFactory(status=Customer.Status.STUDYING)

    response = correct(
        boss_client, [customer], post="yes", status=Customer.Status.UNREGISTERED, reason=reason
    )

    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["请填写更正的原因。"]
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.STUDYING
    assert not CustomerStatusChange.objects.exists()


def test_correct_status_with_an_unknown_status_is_a_form_error(boss_client):
    customer = CustomerFactory(status=Customer.Status.STUDYING)

    response = correct(boss_client, [customer], post="yes", status="graduated", reason="试试")

    assert "status" in response.context["form"].errors
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.STUDYING


def test_only_holders_of_correct_customer_status_are_offered_the_action(client_for, boss_user, make_user):
    from django.contrib.auth.models import Permission

    viewer = make_user(None, username="viewer_all", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_customer", "view_all_customers", "change_customer"])
    )
    customer = CustomerFactory(status=Customer.Status.STUDYING)

    def actions(user):
        response = client_for(user).get(reverse(ALL))
        return dict(response.context["cl"].model_admin.get_action_choices(response.wsgi_request))

    assert "correct_status" in actions(boss_user)
    assert "correct_status" not in actions(viewer)
    correct(client_for(viewer), [customer], post="yes", status=Customer.Status.UNREGISTERED, reason="x")
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.STUDYING


def test_the_corrections_are_readable_on_the_customer_page(client_for, boss_user, sales_user):
    customer = CustomerFactory(consultant=sales_user, status=Customer.Status.STUDYING)
    correct(
        client_for(boss_user),
        [customer],
        post="yes",
        status=Customer.Status.SIGNED,
        reason="学费退回，重新报名",
    )

    for user, url_name in [
        (boss_user, "admin:crm_customer_change"),
        (sales_user, "admin:crm_privatecustomer_change"),
    ]:
        page = client_for(user).get(reverse(url_name, args=[customer.pk])).content.decode()
        assert "学费退回，重新报名" in page, url_name
        assert "状态更正记录" in page


# --- Who may be 销售 ---


def test_the_boss_is_offered_only_the_sales_staff_as_consultant(
    boss_client, sales_user, ta_user, lecturer_user
):
    form = boss_client.get(reverse("admin:crm_customer_add")).context["adminform"].form
    offered = set(form.fields["consultant"].queryset)
    assert sales_user in offered
    assert ta_user not in offered and lecturer_user not in offered


def test_the_boss_giving_a_customer_to_a_ta_by_a_forged_post_changes_nothing(
    boss_client, sales_user, ta_user
):
    customer = CustomerFactory(consultant=sales_user)
    data = customer_form(qq=customer.qq, phone=customer.phone, consultant=ta_user.pk)

    response = boss_client.post(reverse("admin:crm_customer_change", args=[customer.pk]), data)

    assert response.status_code == 200
    assert "consultant" in response.context["adminform"].form.errors
    assert Customer.objects.get(pk=customer.pk).consultant == sales_user


def test_a_current_consultant_who_left_sales_is_kept_on_an_edit(boss_client, make_user):
    from django.contrib.auth.models import Group

    former = make_user("sales", username="former_sales")
    customer = CustomerFactory(consultant=former)
    former.groups.set([Group.objects.get(name="助教")])
    data = customer_form(qq=customer.qq, phone=customer.phone, name="改名", consultant=former.pk)

    response = boss_client.post(reverse("admin:crm_customer_change", args=[customer.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Customer.objects.get(pk=customer.pk).consultant == former


# --- A referrer the viewer may not see ---


@pytest.mark.parametrize("url_name", ["admin:crm_publiccustomer_change", "admin:crm_privatecustomer_change"])
def test_a_referrer_the_viewer_may_not_see_is_not_named_and_is_kept_on_save(
    sales_client, sales_user, other_sales_user, url_name
):
    secret = CustomerFactory(consultant=other_sales_user, name="别人的私户")
    owner = sales_user if "private" in url_name else None
    customer = CustomerFactory(consultant=owner, introduce_from=secret)
    url = reverse(url_name, args=[customer.pk])

    page = sales_client.get(url).content.decode()

    assert "别人的私户" not in page and secret.qq not in page
    assert "其他销售的客户" in page
    saved = forged_post(sales_client, url_name, customer, introduce_from="")
    assert saved.introduce_from == secret
    assert saved.name == "改过的名字"


def test_the_referrers_offered_are_only_customers_the_viewer_may_see(
    sales_client, sales_user, other_sales_user
):
    mine = CustomerFactory(consultant=sales_user)
    pool_referrer = CustomerFactory()
    CustomerFactory(consultant=other_sales_user)
    customer = CustomerFactory(consultant=sales_user, introduce_from=pool_referrer)

    response = sales_client.get(reverse("admin:crm_privatecustomer_change", args=[customer.pk]))

    offered = set(response.context["adminform"].form.fields["introduce_from"].queryset)
    assert offered == {mine, customer, pool_referrer}


def test_a_forged_referrer_outside_the_viewers_customers_is_refused(
    sales_client, sales_user, other_sales_user
):
    theirs = CustomerFactory(consultant=other_sales_user)
    customer = CustomerFactory(consultant=sales_user)
    data = customer_form(qq=customer.qq, phone=customer.phone, introduce_from=theirs.pk)
    data.update({"consult_records-TOTAL_FORMS": 0, "consult_records-INITIAL_FORMS": 0})

    response = sales_client.post(reverse("admin:crm_privatecustomer_change", args=[customer.pk]), data)

    assert "introduce_from" in response.context["adminform"].form.errors
    assert Customer.objects.get(pk=customer.pk).introduce_from is None


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("list_name", "user_fixture", "index"),
    [
        ("admin:crm_publiccustomer_changelist", "sales_user", "crm_customer_pool_date"),
        ("admin:crm_customer_changelist", "boss_user", "crm_customer_date_id"),
    ],
)
def test_a_deep_page_of_a_customer_list_is_read_from_its_order_index_without_a_sort(
    request, list_name, user_fixture, index
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import CampusFactory

    user = request.getfixturevalue(user_fixture)
    user.campus = CampusFactory()
    user.save(update_fields=["campus"])
    CustomerFactory.create_batch(30, campus=user.campus)
    CustomerFactory.create_batch(15)
    client = Client()
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(list_name), {"p": 2})
    assert len(rows(response)) == 20
    [page_query] = [query["sql"] for query in queries if "OFFSET 20" in query["sql"]]
    with connection.cursor() as cursor:
        # On a small table the planner would rather read the table (or a bitmap of it) and sort it,
        # or walk another index (the pool's status one, on earlier tests' statistics) and sort what it
        # finds: what the order index is for is that no sort is needed.
        for plan_type in ("seqscan", "bitmapscan", "sort", "incremental_sort"):
            cursor.execute(f"SET LOCAL enable_{plan_type} = off")
        cursor.execute(f"EXPLAIN {page_query}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Only Scan Backward using {index}" in plan or f"Index Only Scan using {index}" in plan, plan
    # The page's keys (the subquery U0) come in the index's order; only the 20 rows shown are sorted.
    assert "Sort Key: u0." not in plan, plan


@pytest.mark.postgres
def test_a_salespersons_list_counts_each_rows_follow_ups_by_one_probe_of_the_customer_and_owner_index(
    sales_client, sales_user
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for customer in CustomerFactory.create_batch(3, consultant=sales_user):
        ConsultRecordFactory.create_batch(2, customer=customer, consultant=sales_user)
    with CaptureQueriesContext(connection) as queries:
        response = sales_client.get(reverse("admin:crm_privatecustomer_changelist"))
    assert len(rows(response)) == 3
    [page_query] = [
        query["sql"] for query in queries if '"crm_consultrecord"' in query["sql"] and "COUNT" in query["sql"]
    ]
    with connection.cursor() as cursor:
        # A small table is cheaper to scan: forbid it, to see which index each row's count can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {page_query}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "crm_consult_alive_cust_owner" in plan and "BitmapAnd" not in plan, plan
