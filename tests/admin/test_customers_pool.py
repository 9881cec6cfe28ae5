"""The pool as a salesperson sees it: masked contacts, 查重, campus pools, locking and the quota line."""

import html

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from crm.models import Customer, CustomerTransfer
from tests.factories import CampusFactory, CustomerFactory

pytestmark = pytest.mark.django_db

PUBLIC = "admin:crm_publiccustomer_changelist"
PRIVATE = "admin:crm_privatecustomer_changelist"
ALL = "admin:crm_customer_changelist"
CHECK = "admin:crm_customer_duplicate_check"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(response) -> str:
    return html.unescape(response.content.decode())


def rows(response):
    return list(response.context["cl"].result_list)


# --- Masking ---


def test_the_pool_shows_contacts_masked_to_a_salesperson(sales_client):
    CustomerFactory(name="公户甲", qq="12345689", phone="13812345678")

    shown = page(sales_client.get(reverse(PUBLIC)))

    assert "12****89" in shown and "138****5678" in shown
    assert "12345689" not in shown and "13812345678" not in shown


def test_the_owner_and_the_boss_see_contacts_whole(sales_user, boss_user):
    CustomerFactory(name="私户甲", qq="22345689", phone="13912345678", consultant=sales_user)
    CustomerFactory(name="公户乙", qq="32345689", phone="13712345678")

    assert "13912345678" in page(logged_in(sales_user).get(reverse(PRIVATE)))
    assert "13712345678" in page(logged_in(boss_user).get(reverse(PUBLIC)))
    assert "13912345678" in page(logged_in(boss_user).get(reverse(ALL)))


def test_a_pool_customers_page_shows_contacts_masked_and_a_forged_post_cannot_change_them(sales_client):
    customer = CustomerFactory(name="公户丙", qq="42345689", phone="13612345678")
    url = reverse("admin:crm_publiccustomer_change", args=[customer.pk])

    shown = page(sales_client.get(url))
    assert "42****89" in shown and "136****5678" in shown
    assert "42345689" not in shown and "13612345678" not in shown

    sales_client.post(url, {"qq": "52345689", "phone": "13512345678", "name": "公户丙", "source": "qq"})
    customer.refresh_from_db()
    assert (customer.qq, customer.phone) == ("42345689", "13612345678")


def test_the_history_names_pool_customers_masked(sales_client, sales_user):
    customer = CustomerFactory(name="回收客户", qq="62345689")
    CustomerTransfer.objects.create(
        customer=customer, from_consultant=sales_user, reason=CustomerTransfer.Reason.RELEASE
    )

    shown = page(sales_client.get(reverse("admin:crm_customertransfer_changelist")))

    assert "62****89" in shown and "62345689" not in shown


def test_search_finds_a_pool_customer_by_a_whole_number_or_four_digits_and_shows_only_the_mask(sales_client):
    customer = CustomerFactory(name="搜索客户", qq="72345689", phone="13412345678")

    for term in ["13412345678", "+86 134-1234-5678", "5678", "7234"]:
        response = sales_client.get(reverse(PUBLIC), {"q": term})
        assert rows(response) == [customer], term
        [phone_cell] = [cell for cell in page(response).split("<td") if "field-phone_number" in cell]
        assert "134****5678" in phone_cell and "13412345678" not in phone_cell
    assert rows(sales_client.get(reverse(PUBLIC), {"q": "567"})) == []


def test_search_by_name_still_works_in_the_pool(sales_client):
    customer = CustomerFactory(name="张小明")

    assert rows(sales_client.get(reverse(PUBLIC), {"q": "小明"})) == [customer]


# --- Canonical contacts ---


def test_the_form_stores_a_phone_typed_with_a_prefix_and_dashes_canonical(sales_client, sales_user):
    response = sales_client.post(
        reverse("admin:crm_privatecustomer_add"),
        {
            "name": "新客户",
            "phone": "+86 138-0013-8000",
            "qq": "",
            "wechat": "",
            "source": "website",
            "class_type": "fulltime",
            "status": "unregistered",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Customer.objects.get(name="新客户").phone == "13800138000"


def test_a_customer_with_only_a_wechat_id_can_be_entered(sales_client):
    response = sales_client.post(
        reverse("admin:crm_privatecustomer_add"),
        {
            "name": "微信客户",
            "wechat": "wx_lead_01",
            "source": "website",
            "class_type": "fulltime",
            "status": "unregistered",
        },
    )

    assert response.status_code == 302
    customer = Customer.objects.get(name="微信客户")
    assert (customer.qq, customer.phone, customer.wechat) == (None, None, "wx_lead_01")


def test_a_customer_without_any_contact_is_refused(sales_client):
    response = sales_client.post(
        reverse("admin:crm_privatecustomer_add"),
        {"name": "无联系方式", "source": "website", "class_type": "fulltime", "status": "unregistered"},
    )

    assert response.status_code == 200
    assert "QQ、手机号和微信号至少填写一项" in page(response)
    assert not Customer.objects.filter(name="无联系方式").exists()


def test_a_duplicate_on_the_add_form_says_its_state_and_never_its_owner(sales_client, other_sales_user):
    CustomerFactory(name="别人的客户", phone="13800138000", consultant=other_sales_user)

    response = sales_client.post(
        reverse("admin:crm_privatecustomer_add"),
        {
            "name": "重复",
            "phone": "138 0013 8000",
            "source": "website",
            "class_type": "fulltime",
            "status": "unregistered",
        },
    )

    errors = " ".join(response.context["adminform"].form.errors["phone"])
    assert "已被其他销售跟进" in errors
    assert str(other_sales_user) not in errors and "别人的客户" not in errors
    assert not Customer.objects.filter(name="重复").exists()


def test_wechat_ids_are_unique_without_regard_to_case(sales_client):
    CustomerFactory(wechat="WX_Same")

    response = sales_client.post(
        reverse("admin:crm_privatecustomer_add"),
        {
            "name": "同微信",
            "wechat": "wx_same",
            "source": "website",
            "class_type": "fulltime",
            "status": "unregistered",
        },
    )

    assert response.status_code == 200
    assert not Customer.objects.filter(name="同微信").exists()


# --- 查重 ---


@pytest.mark.parametrize(
    ("owner", "expected"),
    [("none", "不存在"), ("pool", "在公户，可领取"), ("own", "是你的客户"), ("other", "已被其他销售跟进")],
)
def test_the_duplicate_check_says_the_state_only(sales_client, sales_user, other_sales_user, owner, expected):
    if owner != "none":
        consultant = {"pool": None, "own": sales_user, "other": other_sales_user}[owner]
        CustomerFactory(name="查重对象", qq="82345689", consultant=consultant)

    response = sales_client.get(reverse(CHECK), {"contact": "82345689"})

    shown = page(response)
    assert response.status_code == 200
    assert expected in shown
    assert "查重对象" not in shown and str(other_sales_user) not in shown


def test_the_duplicate_check_is_for_sales_and_the_boss_only(finance_user, boss_user):
    assert logged_in(finance_user).get(reverse(CHECK)).status_code == 403
    assert logged_in(boss_user).get(reverse(CHECK)).status_code == 200


# --- Campus pools ---


def test_a_salesperson_with_a_campus_sees_and_claims_only_that_campuss_pool(sales_client, sales_user):
    beijing, shanghai = CampusFactory(name="北京"), CampusFactory(name="上海")
    sales_user.campus = beijing
    sales_user.save(update_fields=["campus"])
    ours = CustomerFactory(name="北京客户", campus=beijing)
    anyone = CustomerFactory(name="无校区客户", campus=None)
    theirs = CustomerFactory(name="上海客户", campus=shanghai)

    assert set(rows(sales_client.get(reverse(PUBLIC)))) == {ours, anyone}
    assert rows(sales_client.get(reverse(PUBLIC), {"q": "上海"})) == []

    sales_client.post(
        reverse(PUBLIC), {"action": "claim_customers", ACTION_CHECKBOX_NAME: [theirs.pk], "index": 0}
    )
    assert Customer.objects.get(pk=theirs.pk).consultant is None


def test_a_salesperson_without_a_campus_and_the_boss_see_every_pool_customer(sales_user, boss_user):
    customers = {CustomerFactory(campus=CampusFactory()), CustomerFactory(campus=None)}

    assert set(rows(logged_in(sales_user).get(reverse(PUBLIC)))) == customers
    assert set(rows(logged_in(boss_user).get(reverse(PUBLIC)))) == customers


def test_a_released_customer_keeps_its_campus(sales_client, sales_user, settings):
    campus = CampusFactory()
    customer = CustomerFactory(consultant=sales_user, campus=campus)

    sales_client.post(
        reverse(PRIVATE),
        {
            "action": "release_customers",
            ACTION_CHECKBOX_NAME: [customer.pk],
            "index": 0,
            "post": "yes",
            "reason": "no_interest",
        },
    )

    customer.refresh_from_db()
    assert (customer.consultant, customer.campus) == (None, campus)


# --- Locking and the quota line ---


def test_lock_and_unlock_actions_on_my_customers_show_a_padlock(sales_client, sales_user, settings):
    settings.CUSTOMER_LOCK_LIMIT = 10
    customer = CustomerFactory(name="锁定客户", consultant=sales_user)
    data = {ACTION_CHECKBOX_NAME: [customer.pk], "index": 0}

    sales_client.post(reverse(PRIVATE), {"action": "lock_customers", **data})
    assert Customer.objects.get(pk=customer.pk).locked
    assert "🔒" in page(sales_client.get(reverse(PRIVATE)))

    sales_client.post(reverse(PRIVATE), {"action": "unlock_customers", **data})
    assert not Customer.objects.get(pk=customer.pk).locked


def test_the_pool_and_my_customers_show_the_users_quota(sales_client, sales_user, settings):
    settings.MAX_CUSTOMER_NUM = 150
    settings.CUSTOMER_DAILY_CLAIM_LIMIT = 30
    settings.CUSTOMER_LOCK_LIMIT = 10
    CustomerFactory.create_batch(2, consultant=sales_user, locked=True)
    CustomerFactory(consultant=sales_user)

    for url in (PUBLIC, PRIVATE):
        shown = page(sales_client.get(reverse(url)))
        assert "私户 3/150" in shown and "今日已领 0/30" in shown and "锁定 2/10" in shown


def test_the_next_salesperson_sees_why_a_pool_customer_was_released(sales_client, other_sales_user):
    customer = CustomerFactory(name="放弃的客户")
    CustomerTransfer.objects.create(
        customer=customer,
        from_consultant=other_sales_user,
        reason=CustomerTransfer.Reason.RELEASE,
        release_reason=CustomerTransfer.ReleaseReason.OTHER,
        release_note="只想学前端",
    )

    shown = page(sales_client.get(reverse("admin:crm_publiccustomer_change", args=[customer.pk])))

    assert "其他" in shown and "只想学前端" in shown


# --- Merging duplicates (the boss) ---


def merge(client, customers, **extra):
    data = {"action": "merge_customers", ACTION_CHECKBOX_NAME: [c.pk for c in customers], "index": 0, **extra}
    return client.post(reverse(ALL), data, follow=True)


def test_merging_asks_which_customer_to_keep_first(boss_client):
    customers = CustomerFactory.create_batch(2)

    response = merge(boss_client, customers)

    assert response.templates[0].name == "admin/crm/action_confirmation.html"
    assert Customer.objects.count() == 2


def test_the_sales_cannot_merge(sales_user):
    customers = CustomerFactory.create_batch(2, consultant=sales_user)

    logged_in(sales_user).post(
        reverse(PRIVATE),
        {
            "action": "merge_customers",
            ACTION_CHECKBOX_NAME: [c.pk for c in customers],
            "index": 0,
            "post": "yes",
            "survivor": customers[0].pk,
        },
    )

    assert Customer.objects.count() == 2
