"""Follow-up records in the admin: own customers only, the writer is the consultant, dated when they
happened with the next one planned, deleted into the recycle bin only."""

import datetime
import html

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.admin import followups as followups_admin
from crm.admin.paging import SEARCH_KEYS_LIMIT
from crm.models import ConsultRecord
from crm.services.customers import customers_release
from tests.factories import ConsultRecordFactory, CustomerFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:crm_consultrecord_changelist"
ADD = "admin:crm_consultrecord_add"


def rows(response):
    return list(response.context["cl"].result_list)


YESTERDAY = timezone.localdate() - datetime.timedelta(days=1)
NEXT_WEEK = timezone.localdate() + datetime.timedelta(days=7)


def follow_up_form(customer, **fields):
    data = {
        "customer": customer.pk,
        "date_0": YESTERDAY.isoformat(),
        "date_1": "09:30:00",
        "status": "B",
        "note": "电话沟通，下周来访",
        "next_date": NEXT_WEEK.isoformat(),
    }
    data.update(fields)
    return data


def old_customer(**fields):
    """A customer created long ago, so that yesterday's follow-up is after its creation."""
    return CustomerFactory(date=timezone.now() - datetime.timedelta(days=60), **fields)


def form_errors(response):
    return response.context["adminform"].form.errors


def test_a_salesperson_sees_only_their_own_follow_ups(sales_client, sales_user, other_sales_user):
    mine = ConsultRecordFactory(consultant=sales_user)
    ConsultRecordFactory(consultant=other_sales_user)
    ConsultRecordFactory(consultant=sales_user, delete_status=True)
    assert rows(sales_client.get(reverse(CHANGELIST))) == [mine]


def test_the_boss_sees_every_follow_up(boss_client, sales_user, other_sales_user):
    records = [ConsultRecordFactory(consultant=sales_user), ConsultRecordFactory(consultant=other_sales_user)]
    assert set(rows(boss_client.get(reverse(CHANGELIST)))) == set(records)


@pytest.mark.parametrize("view", ["change", "history"])
def test_another_users_follow_up_answers_404(sales_client, other_sales_user, view):
    theirs = ConsultRecordFactory(consultant=other_sales_user)
    response = sales_client.get(reverse(f"admin:crm_consultrecord_{view}", args=[theirs.pk]))
    assert response.status_code == 404


def test_the_customer_link_filters_the_list_to_that_customer(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user, name="赵六")
    wanted = ConsultRecordFactory.create_batch(2, customer=customer, consultant=sales_user)
    ConsultRecordFactory(consultant=sales_user)
    response = sales_client.get(reverse(CHANGELIST), {"customer": customer.pk})
    assert set(rows(response)) == set(wanted)
    assert "赵六" in response.content.decode()


def test_adding_a_follow_up_makes_the_user_the_consultant_and_updates_the_customer(sales_client, sales_user):
    customer = old_customer(consultant=sales_user)
    response = sales_client.post(reverse(ADD), follow_up_form(customer))
    assert response.status_code == 302, response.context["adminform"].form.errors
    record = ConsultRecord.objects.get()
    assert (record.consultant, record.next_date) == (sales_user, NEXT_WEEK)
    customer.refresh_from_db()
    assert (customer.last_consult_date, customer.next_date) == (YESTERDAY, NEXT_WEEK)


def test_the_consultant_is_not_a_form_field_and_customers_are_only_mine(
    sales_client, sales_user, other_sales_user
):
    mine = CustomerFactory(consultant=sales_user)
    CustomerFactory(consultant=other_sales_user)
    CustomerFactory()
    form = sales_client.get(reverse(ADD)).context["adminform"].form
    assert "consultant" not in form.fields
    assert list(form.fields["customer"].queryset) == [mine]


@pytest.mark.parametrize("owner", ["other", "pool"])
def test_a_forged_post_of_another_customer_is_a_form_error(sales_client, other_sales_user, owner):
    customer = CustomerFactory(consultant=other_sales_user if owner == "other" else None)
    response = sales_client.post(reverse(ADD), follow_up_form(customer, consultant=other_sales_user.pk))
    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert not ConsultRecord.objects.exists()


def test_editing_keeps_the_customer_and_the_consultant(sales_client, sales_user):
    customer = old_customer(consultant=sales_user)
    record = ConsultRecordFactory(customer=customer, consultant=sales_user)
    other = CustomerFactory(consultant=sales_user)
    data = follow_up_form(other, note="改过的内容")
    response = sales_client.post(reverse("admin:crm_consultrecord_change", args=[record.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    record.refresh_from_db()
    assert (record.customer, record.consultant, record.note) == (customer, sales_user, "改过的内容")


def test_editing_a_follow_up_of_a_released_customer_is_refused(sales_client, sales_user):
    customer = CustomerFactory()
    record = ConsultRecordFactory(customer=customer, consultant=sales_user)
    response = sales_client.post(
        reverse("admin:crm_consultrecord_change", args=[record.pk]), follow_up_form(customer, note="x")
    )
    assert response.status_code == 200
    record.refresh_from_db()
    assert record.note != "x"


def test_the_stage_and_date_filters(sales_client, sales_user):
    wanted = ConsultRecordFactory(consultant=sales_user, status="D")
    ConsultRecordFactory(consultant=sales_user, status="A")
    assert rows(sales_client.get(reverse(CHANGELIST), {"status__exact": "D"})) == [wanted]
    day = wanted.date.astimezone().date().isoformat()
    response = sales_client.get(reverse(CHANGELIST), {"date__range__gte": day, "date__range__lte": day})
    assert wanted in rows(response)


@pytest.mark.parametrize("count", [10, 100])
def test_the_follow_up_list_needs_the_same_queries_at_10_and_100_rows(
    sales_client, sales_user, count, django_assert_max_num_queries
):
    ConsultRecordFactory.create_batch(count, consultant=sales_user)
    with django_assert_max_num_queries(7):
        response = sales_client.get(reverse(CHANGELIST), {"per_page": 100})
    assert len(rows(response)) == count


def test_adding_from_one_customers_follow_ups_starts_with_that_customer(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user)
    response = sales_client.get(reverse(ADD), {"_changelist_filters": f"customer={customer.pk}"})
    assert response.context["adminform"].form.initial["customer"] == str(customer.pk)


def test_a_customers_row_link_opens_the_form_with_the_customer_chosen_and_the_cursor_in_the_note(
    sales_client, sales_user
):
    customer = old_customer(consultant=sales_user)
    page = sales_client.get(reverse("admin:crm_privatecustomer_changelist")).content.decode()
    link = f"{reverse(ADD)}?customer={customer.pk}"
    assert f'href="{link}"' in page

    response = sales_client.get(link)

    form = response.context["adminform"].form
    assert form.initial["customer"] == str(customer.pk)
    assert form.fields["note"].widget.attrs.get("autofocus") is True
    assert "autofocus" in str(form["note"])


# Finding 4: follow-up dates are when the talk happened.
@pytest.mark.parametrize("day", ["9999-12-31", "tomorrow"])
def test_a_follow_up_dated_in_the_future_is_a_translated_form_error(sales_client, sales_user, day):
    customer = old_customer(consultant=sales_user)
    if day == "tomorrow":
        day = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()

    response = sales_client.post(reverse(ADD), follow_up_form(customer, date_0=day))

    assert response.status_code == 200
    assert form_errors(response) == {"date": ["跟进日期不能晚于现在。"]}
    assert not ConsultRecord.objects.exists()
    customer.refresh_from_db()
    assert customer.last_consult_date is None


def test_editing_a_follow_up_to_a_future_date_is_refused(sales_client, sales_user):
    customer = old_customer(consultant=sales_user)
    record = ConsultRecordFactory(customer=customer, consultant=sales_user)
    url = reverse("admin:crm_consultrecord_change", args=[record.pk])

    response = sales_client.post(url, follow_up_form(customer, date_0="9999-12-31"))

    assert form_errors(response) == {"date": ["跟进日期不能晚于现在。"]}


def test_a_follow_up_before_the_customer_existed_is_a_form_error(sales_client, sales_user):
    customer = CustomerFactory(consultant=sales_user)  # created now; the form says yesterday

    response = sales_client.post(reverse(ADD), follow_up_form(customer))

    assert list(form_errors(response)) == ["date"]
    assert not ConsultRecord.objects.exists()


# Issue 13: the next follow-up is planned.
def test_a_follow_up_without_a_next_date_is_refused(sales_client, sales_user):
    customer = old_customer(consultant=sales_user)

    response = sales_client.post(reverse(ADD), follow_up_form(customer, next_date=""))

    assert response.status_code == 200
    assert list(form_errors(response)) == ["next_date"]
    assert not ConsultRecord.objects.exists()


def test_an_invalid_lead_needs_no_next_date(sales_client, sales_user):
    customer = old_customer(consultant=sales_user)
    response = sales_client.post(reverse(ADD), follow_up_form(customer, status="H", next_date=""))
    assert response.status_code == 302


def test_a_next_date_in_the_past_is_refused(sales_client, sales_user):
    customer = old_customer(consultant=sales_user)
    response = sales_client.post(reverse(ADD), follow_up_form(customer, next_date=YESTERDAY.isoformat()))
    assert form_errors(response) == {"next_date": ["下次跟进日期不能早于今天。"]}


def test_the_inline_on_my_customers_plans_the_next_follow_up_too(sales_client, sales_user):
    customer = old_customer(consultant=sales_user)
    url = reverse("admin:crm_privatecustomer_change", args=[customer.pk])
    data = {
        "qq": customer.qq,
        "phone": customer.phone,
        "name": customer.name,
        "source": "qq",
        "class_type": "fulltime",
        "status": "unregistered",
        "transfers-TOTAL_FORMS": 0,
        "transfers-INITIAL_FORMS": 0,
        "status_changes-TOTAL_FORMS": 0,
        "status_changes-INITIAL_FORMS": 0,
        **_inline(next_date=""),
    }

    refused = sales_client.post(url, data)
    assert refused.status_code == 200
    assert "请填写预计下次跟进日期" in refused.content.decode()
    assert not ConsultRecord.objects.exists()

    data.update(_inline(next_date=NEXT_WEEK.isoformat()))
    assert sales_client.post(url, data).status_code == 302
    customer.refresh_from_db()
    assert customer.next_date == NEXT_WEEK


def _inline(**fields):
    return {
        "consult_records-TOTAL_FORMS": 1,
        "consult_records-INITIAL_FORMS": 0,
        "consult_records-0-date_0": YESTERDAY.isoformat(),
        "consult_records-0-date_1": "10:00:00",
        "consult_records-0-status": "C",
        "consult_records-0-note": "来访，准备报名",
        **{f"consult_records-0-{name}": value for name, value in fields.items()},
    }


# Finding 9: a follow-up saved while its customer is released in another tab was a 500.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_release_in_another_tab_while_the_form_is_checked_gives_the_form_back_with_an_error(
    sales_user, pause_before, post_in_thread
):
    customer = old_customer(consultant=sales_user)
    tab = Client(raise_request_exception=False)  # a 500 is an answer to assert on, as the user sees it
    tab.force_login(sales_user)
    # The form has been read and its fields cleaned (the customer was still one of the user's own);
    # the release commits before the form's clean. Before the fix, the save then answered 500.
    reached, go_on = pause_before(followups_admin.ConsultRecordForm, "clean", "tab")

    thread, outcome = post_in_thread(tab, reverse(ADD), follow_up_form(customer), "tab")
    try:
        assert reached.wait(timeout=30)
        customers_release(user=sales_user, customer_ids=[customer.pk], reason="no_interest")
    finally:
        go_on.set()
        thread.join(timeout=60)

    response = outcome["response"]
    assert response.status_code == 200
    assert "只能为自己的客户填写跟进记录。" in html.unescape(response.content.decode())
    assert not ConsultRecord.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_forms_lock_holds_until_the_save_and_blocks_no_insert_referencing_the_customer(
    sales_user, pause_before, post_in_thread
):
    customer = old_customer(consultant=sales_user)
    tab = Client()
    tab.force_login(sales_user)
    reached, go_on = pause_before(followups_admin, "consult_records_save", "tab")

    thread, outcome = post_in_thread(tab, reverse(ADD), follow_up_form(customer), "tab")
    try:
        assert reached.wait(timeout=30)  # the form's check passed: the customer is locked
        with transaction.atomic(), connection.cursor() as cursor:
            # What a release (FOR UPDATE) needs is held...
            with pytest.raises(DatabaseError), transaction.atomic():
                cursor.execute("SELECT 1 FROM crm_customer WHERE id = %s FOR UPDATE NOWAIT", [customer.pk])
            # ...but not what an insert of a payment or enrollment of this customer needs (NO KEY).
            cursor.execute("SELECT 1 FROM crm_customer WHERE id = %s FOR KEY SHARE NOWAIT", [customer.pk])
    finally:
        go_on.set()
        thread.join(timeout=60)

    assert outcome["response"].status_code == 302
    assert ConsultRecord.objects.get().customer == customer


# Finding 8: deleting is moving to the recycle bin.
def recycle(client, records, **extra):
    data = {"action": "move_to_recycle_bin", ACTION_CHECKBOX_NAME: [record.pk for record in records], **extra}
    return client.post(reverse(CHANGELIST), data)


def test_moving_to_the_recycle_bin_asks_for_confirmation_first(sales_client, sales_user):
    record = ConsultRecordFactory(consultant=sales_user, note="要删的")

    page = recycle(sales_client, [record])

    assert page.status_code == 200
    assert 'name="post" value="yes"' in page.content.decode()
    assert str(record) in html.unescape(page.content.decode())
    record.refresh_from_db()
    assert record.delete_status is False


def test_a_salesperson_moves_a_follow_up_to_the_recycle_bin(sales_client, sales_user):
    record = ConsultRecordFactory(consultant=sales_user)

    response = recycle(sales_client, [record], post="yes")

    assert response.status_code == 302
    record.refresh_from_db()
    assert record.delete_status is True
    assert rows(sales_client.get(reverse(CHANGELIST))) == []
    entry = LogEntry.objects.get(object_id=str(record.pk))
    assert (entry.user, entry.get_change_message()) == (sales_user, "已移入回收站。")


def test_the_only_delete_offered_is_the_recycle_bin(client_for, sales_user, boss_user):
    for user in (sales_user, boss_user):
        actions = client_for(user).get(reverse(CHANGELIST)).context["action_form"].fields["action"].choices
        names = [name for name, _label in actions if name]
        assert names == ["move_to_recycle_bin"], user
        assert dict(actions)["move_to_recycle_bin"] == "移入回收站"


@pytest.mark.parametrize("role", ["sales", "boss"])
def test_nobody_but_the_superuser_deletes_follow_ups_for_real(client_for, make_user, sales_user, role):
    client = client_for(make_user(role) if role == "boss" else sales_user)
    record = ConsultRecordFactory(consultant=sales_user)

    client.post(
        reverse(CHANGELIST), {"action": "delete_selected", ACTION_CHECKBOX_NAME: [record.pk], "post": "yes"}
    )

    assert ConsultRecord.objects.filter(pk=record.pk).exists()
    assert client.get(reverse("admin:crm_consultrecord_delete", args=[record.pk])).status_code == 403


def test_the_superuser_still_deletes_for_real(client_for, make_user, sales_user):
    client = client_for(make_user(is_superuser=True, is_staff=True))
    record = ConsultRecordFactory(consultant=sales_user)
    client.post(
        reverse(CHANGELIST), {"action": "delete_selected", ACTION_CHECKBOX_NAME: [record.pk], "post": "yes"}
    )
    assert not ConsultRecord.objects.filter(pk=record.pk).exists()


def test_deleted_follow_ups_are_shown_to_holders_of_view_deleted_consultrecord_only(
    client_for, make_user, sales_user
):
    from django.contrib.auth.models import Permission

    deleted = ConsultRecordFactory(consultant=sales_user, delete_status=True)
    boss = make_user("boss")
    assert deleted in rows(client_for(boss).get(reverse(CHANGELIST)))
    # A role holding the delete permission but not the capability no longer sees them.
    clerk = make_user("boss", username="clerk")
    clerk.groups.clear()
    clerk.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_consultrecord", "delete_consultrecord", "view_all_customers"]
        )
    )
    assert rows(client_for(clerk).get(reverse(CHANGELIST))) == []


# --- the search: the customer's name and QQ through the customers' own indexes, the note beside ---


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("张三丰", {"by name", "by note"}),  # one term found in either field, each row once
        ("12345678", {"by name"}),  # the customer's QQ
        ("回访", {"by note"}),
        ("张三丰 回访", {"by note"}),  # every term, in any field
        ('"三丰 回"', set()),  # a quoted phrase is one term
        ("无此人", set()),
    ],
)
def test_the_follow_ups_are_searched_by_customer_name_qq_and_note(boss_client, sales_user, term, found):
    named = CustomerFactory(name="张三丰", qq="12345678", consultant=sales_user)
    other = CustomerFactory(name="李四", consultant=sales_user)
    ConsultRecordFactory(customer=named, consultant=sales_user, note="by name")
    ConsultRecordFactory(customer=other, consultant=sales_user, note="by note: 张三丰介绍的, 回访")

    response = boss_client.get(reverse("admin:crm_consultrecord_changelist"), {"q": term})

    notes = [record.note for record in response.context["cl"].result_list]
    assert {note.split(":")[0] for note in notes} == found
    assert len(notes) == len(found)
    assert response.context["cl"].result_count == len(found)


def test_the_search_asks_the_customers_first_and_never_joins_them_to_every_follow_up(boss_client, sales_user):
    from django.test.utils import CaptureQueriesContext

    ConsultRecordFactory(customer=CustomerFactory(name="张三丰"), consultant=sales_user)

    with CaptureQueriesContext(connection) as queries:
        boss_client.get(reverse("admin:crm_consultrecord_changelist"), {"q": "张三丰"})

    # The search reads the keys of what it finds (NearestPageChangeList.search_keys); the page then
    # joins its own rows only.
    (keys,) = [q["sql"] for q in queries if f"LIMIT {SEARCH_KEYS_LIMIT + 1}" in q["sql"]]
    assert "JOIN" not in keys
    assert '"customer_id" IN (SELECT' in keys


def stage_queries(client, params):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return response, [query["sql"] for query in queries]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "params", [{"status__exact": "B"}, {"status__exact": "C", "delete_status__exact": "0"}]
)
def test_a_follow_up_list_filtered_by_stage_counts_from_the_tally(boss_client, sales_user, params):
    customer = CustomerFactory(consultant=sales_user)
    for stage in "ABBCC":
        ConsultRecordFactory(customer=customer, consultant=sales_user, status=stage)

    response, read = stage_queries(boss_client, params)

    cl = response.context["cl"]
    assert cl.result_count == cl.queryset.count() == 2
    assert len([sql for sql in read if '"crm_consultrecordtally"' in sql]) == 1
    assert not [sql for sql in read if sql.startswith("SELECT COUNT(*)") and '"crm_consultrecord"' in sql]


@pytest.mark.parametrize(
    "params",
    [{"status__exact": "B", "q": "感兴趣"}, {"status__exact": "B", "date__range__gte": "2026-01-01"}],
)
def test_a_searched_or_date_filtered_follow_up_list_counts_its_follow_ups(boss_client, sales_user, params):
    customer = CustomerFactory(consultant=sales_user)
    for stage in "ABBC":
        ConsultRecordFactory(customer=customer, consultant=sales_user, status=stage)

    response, read = stage_queries(boss_client, params)

    assert response.context["cl"].result_count == 2
    assert not [sql for sql in read if '"crm_consultrecordtally"' in sql]
