"""Every role reaches the admin pages its permissions allow, and only those, in Chinese."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from crm.models import UserProfile

pytestmark = pytest.mark.django_db

DEMO_STAFF = ["admin", "boss", "sales1", "class_teacher1", "lecturer1", "ta1", "finance1"]


def crm_model_admins():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()]


def admin_url(model, view: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


@pytest.mark.parametrize("username", DEMO_STAFF)
def test_each_staff_role_sees_exactly_the_pages_its_permissions_allow(demo, client, username):
    user = UserProfile.objects.get(username=username)
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 200

    request = RequestFactory().get("/admin/")
    request.user = user
    for model, model_admin in crm_model_admins():
        may_view = model_admin.has_view_or_change_permission(request)
        may_add = model_admin.has_add_permission(request)
        changelist = client.get(admin_url(model, "changelist"))
        assert changelist.status_code == (200 if may_view else 403), (model, changelist.status_code)
        add = client.get(admin_url(model, "add"))
        assert add.status_code == (200 if may_add else 403), (model, add.status_code)


def test_the_student_role_has_no_admin_access(demo, client):
    client.force_login(UserProfile.objects.get(username="student1"))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_sales_sees_the_public_pool_but_not_all_customers(demo, client):
    client.force_login(UserProfile.objects.get(username="sales1"))
    assert client.get(reverse("admin:crm_publiccustomer_changelist")).status_code == 200
    assert client.get(reverse("admin:crm_privatecustomer_changelist")).status_code == 200
    assert client.get(reverse("admin:crm_customer_changelist")).status_code == 403
    assert client.get(reverse("admin:crm_paymentrecord_changelist")).status_code == 200
    assert client.get(reverse("admin:crm_courserecord_changelist")).status_code == 403


def test_boss_sees_every_crm_list(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    for model, _model_admin in crm_model_admins():
        if model._meta.app_label == "crm":
            assert client.get(admin_url(model, "changelist")).status_code == 200, model


def test_the_admin_speaks_chinese_by_default(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for text in [
        "校园 CRM",
        "公户",
        "我的客户",
        "全部客户",
        "跟进记录",
        "报名表",
        "缴费记录",
        "课程记录",
        "学习记录",
    ]:
        assert text in page
    customers = client.get(reverse("admin:crm_customer_add"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for label in ["咨询课程", "客户备注", "手机", "来源"]:
        assert label in customers


def test_english_is_available(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "public pool" in page.lower()


def test_the_index_lists_models_in_the_order_of_the_work(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    page = client.get(reverse("admin:index")).content.decode()
    page = page[page.index('class="app-sales') :]  # the model list, below the work queue
    positions = [
        page.index(f'href="/admin/crm/{name}/"')
        for name in [
            "publiccustomer",
            "privatecustomer",
            "customer",
            "consultrecord",
            "classlist",
            "enrollment",
            "userprofile",
        ]
    ]
    assert positions == sorted(positions)


def test_the_header_greets_staff_by_real_name(demo, client):
    client.force_login(UserProfile.objects.get(username="boss"))
    assert "王校长" in client.get(reverse("admin:index")).content.decode()


def test_change_url_of_a_missing_row_answers_404_instead_of_redirecting(boss_client):
    response = boss_client.get("/admin/crm/customer/999999/change/")

    assert response.status_code == 404


def test_no_changelist_of_ours_counts_its_table_twice():
    counting_twice = [
        model.__name__
        for model, model_admin in crm_model_admins()
        if model._meta.app_label == "crm" and model_admin.show_full_result_count
    ]

    assert counting_twice == []


def test_strings_missing_from_djangos_chinese_are_translated_by_ours(boss_client):
    page = boss_client.get(reverse("admin:index")).content.decode()

    assert "Model name" not in page and "模型名称" in page


# --- model list by area ---
def areas_of(user) -> dict[str, list[str]]:
    request = RequestFactory().get("/admin/")
    request.user = user
    return {
        str(app["name"]): [model["model"]._meta.label_lower for model in app["models"]]
        for app in admin.site.get_app_list(request)
    }


def test_the_boss_sees_the_models_by_area_in_the_order_of_the_work(boss_user):
    assert areas_of(boss_user) == {
        "销售": [
            "crm.publiccustomer",
            "crm.privatecustomer",
            "crm.customer",
            "crm.consultrecord",
            "crm.customertransfer",
        ],
        "教学": ["crm.classlist", "crm.courserecord", "crm.studyrecord"],
        "财务": ["crm.enrollment", "crm.paymentrecord"],
        "设置": [
            "crm.userprofile",
            "auth.group",
            "crm.department",
            "crm.campus",
            "crm.contracttemplate",
            "crm.customerimport",
            "crm.job",
            # The boss unlocks locked-out users there.
            "axes.accessattempt",
        ],
    }


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            "sales",
            {
                "销售": [
                    "crm.publiccustomer",
                    "crm.privatecustomer",
                    "crm.consultrecord",
                    "crm.customertransfer",
                ],
                # Sales enrol into a class from the enrollment form; the class list is the teachers'.
                "财务": ["crm.enrollment", "crm.paymentrecord"],
                "设置": ["crm.campus"],
            },
        ),
        (
            "finance",
            {
                "教学": ["crm.classlist"],
                "财务": ["crm.enrollment", "crm.paymentrecord"],
                # Finance's exports of many rows are jobs.
                "设置": ["crm.campus", "crm.job"],
            },
        ),
        (
            "class_teacher",
            {
                "教学": ["crm.classlist", "crm.courserecord", "crm.studyrecord"],
                "财务": ["crm.enrollment"],
                "设置": ["crm.campus", "crm.contracttemplate"],
            },
        ),
        ("ta", {"教学": ["crm.classlist", "crm.courserecord", "crm.studyrecord"]}),
    ],
)
def test_each_role_sees_only_the_areas_of_its_models(make_user, role, expected):
    assert areas_of(make_user(role)) == expected


def test_login_attempts_and_unlisted_models_go_to_settings_in_chinese(make_user, client):
    superuser = make_user(None, username="root", is_staff=True, is_superuser=True)
    settings_area = areas_of(superuser)["设置"]

    assert {"axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"} <= set(settings_area)
    client.force_login(superuser)
    page = client.get(reverse("admin:index")).content.decode()
    assert "AXES" not in page.upper().replace("/AXES/", "")
    assert ">角色<" in page and ">销售<" in page and ">设置<" in page


def test_the_side_menu_is_grouped_by_area_too(class_teacher_client):
    response = class_teacher_client.get(reverse("admin:crm_courserecord_changelist"))

    assert [str(app["name"]) for app in response.context["available_apps"]] == [
        "教学",
        "财务",
        "设置",
    ]
    assert 'id="nav-sidebar"' in response.content.decode()


def test_an_areas_page_lists_its_models(sales_client):
    response = sales_client.get(reverse("admin:area", kwargs={"area": "sales"}))

    assert response.status_code == 200
    assert [str(app["name"]) for app in response.context["app_list"]] == ["销售"]
    assert 'href="/admin/crm/privatecustomer/"' in response.content.decode()


def test_an_unknown_area_or_one_without_models_for_the_user_is_404(client_for, ta_user):
    client = client_for(ta_user)

    assert client.get(reverse("admin:area", kwargs={"area": "sales"})).status_code == 404
    assert client.get(reverse("admin:area", kwargs={"area": "nowhere"})).status_code == 404


def test_an_apps_own_page_keeps_djangos_list_of_that_app(boss_client):
    response = boss_client.get(reverse("admin:app_list", kwargs={"app_label": "crm"}))

    assert response.status_code == 200
    assert [app["app_label"] for app in response.context["app_list"]] == ["crm"]


# --- home page: the work queue ---
BOXES = {"sales_queue", "finance_queue", "approval_queue", "lesson_queue", "team_queue"}


def boxes(response) -> set[str]:
    return {name for name in BOXES if response.context.get(name) is not None}


def listed(client, url) -> int:
    """How many rows the list behind a link of the home page shows."""
    response = client.get(url)
    assert response.status_code == 200, url
    assert "e" not in response.context["cl"].params  # not Django's "invalid filter" fallback
    return response.context["cl"].result_count


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("sales", {"sales_queue"}),
        ("finance", {"finance_queue"}),
        ("class_teacher", {"approval_queue", "lesson_queue"}),
        ("lecturer", {"lesson_queue"}),
        ("ta", {"lesson_queue"}),
        ("boss", BOXES),
    ],
)
def test_each_role_sees_the_boxes_of_its_capabilities(make_user, client_for, role, expected):
    response = client_for(make_user(role)).get(reverse("admin:index"))

    assert boxes(response) == expected


def test_a_box_follows_the_capability_not_the_role(make_user, client_for):
    from django.contrib.auth.models import Permission

    user = make_user(None, username="helper", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="approve_enrollment"))

    assert boxes(client_for(user).get(reverse("admin:index"))) == {"approval_queue"}


def test_the_sales_box_counts_and_links_to_the_lists_it_counts(work_day, sales_client):
    response = sales_client.get(reverse("admin:index"))
    queue = response.context["sales_queue"]

    figures = {key: queue[key] for key in ["today", "overdue", "recycling_soon", "owned", "cap", "claimed"]}
    assert figures == {"today": 2, "overdue": 2, "recycling_soon": 1, "owned": 9, "cap": 40, "claimed": 2}
    assert listed(sales_client, queue["today_url"]) == 2
    assert listed(sales_client, queue["overdue_url"]) == 2
    assert listed(sales_client, queue["recycling_url"]) == 1
    assert listed(sales_client, queue["owned_url"]) == 9
    assert listed(sales_client, queue["claimed_url"]) == 2
    page = response.content.decode()
    for text in ["今日待跟进", "已逾期", "即将回收", "私户", "9<small> / 40</small>", "今日领取"]:
        assert text in page


def test_the_finance_box_counts_and_sums_the_payments_to_confirm(work_day, finance_client):
    response = finance_client.get(reverse("admin:index"))
    queue = response.context["finance_queue"]

    assert (queue["pending"], queue["pending_net"], queue["rejected"]) == (3, 6000, 2)
    assert listed(finance_client, queue["pending_url"]) == 3
    assert listed(finance_client, queue["rejected_url"]) == 2
    page = response.content.decode()
    assert "待确认缴费 · ¥6,000" in page and "近 7 天驳回" in page


def test_the_approval_box_counts_the_enrollments_waiting_in_the_users_classes(work_day, class_teacher_client):
    queue = class_teacher_client.get(reverse("admin:index")).context["approval_queue"]

    assert queue["count"] == 2
    assert listed(class_teacher_client, queue["url"]) == 2


def test_the_lessons_of_today_each_link_to_their_attendance(work_day, class_teacher_client):
    response = class_teacher_client.get(reverse("admin:index"))
    queue = response.context["lesson_queue"]

    assert [lesson for lesson, _url in queue["lessons"]] == work_day["lessons"]
    assert listed(class_teacher_client, queue["url"]) == 2
    page = response.content.decode()
    for _lesson, url in queue["lessons"]:
        assert f'href="{url}"' in page
        assert class_teacher_client.get(url).status_code == 200
    assert "第 3 节" in page and "点名" in page


def test_todays_lessons_link_to_their_attendance_page(work_day, class_teacher_client):
    lesson = work_day["lessons"][0]
    page = class_teacher_client.get(reverse("admin:index")).content.decode()

    assert reverse("admin:crm_courserecord_attendance", args=[lesson.pk]) in page


def test_the_boss_sees_the_teams_overdue_per_salesperson(work_day, boss_client, sales_user, other_sales_user):
    response = boss_client.get(reverse("admin:index"))
    queue = response.context["team_queue"]

    assert [(row["name"], row["overdue"]) for row in queue["rows"]] == [("销售甲", 2), ("销售乙", 1)]
    assert queue["total"] == 3
    for row in queue["rows"]:
        assert listed(boss_client, row["url"]) == row["overdue"]
    assert f'href="{reverse("admin:dashboard")}"' in response.content.decode()


def grow_work(count, sales_user, other_sales_user, klass):
    """``count`` more of everything the home page counts."""
    import datetime

    from django.utils import timezone

    from crm.models import CustomerTransfer, PaymentRecord
    from tests.factories import CourseRecordFactory, CustomerFactory, EnrollmentFactory, PaymentRecordFactory

    today = timezone.localdate()
    for index in range(count):
        seller = (sales_user, other_sales_user)[index % 2]
        customer = CustomerFactory(consultant=seller, next_date=today - datetime.timedelta(days=index % 3))
        CustomerTransfer.objects.create(
            customer=customer, to_consultant=seller, by=seller, reason=CustomerTransfer.Reason.CLAIM
        )
        PaymentRecordFactory(customer=customer, consultant=seller, enrolment_class=klass)
        EnrollmentFactory(customer=customer, consultant=seller, enrolment_class=klass)
        CourseRecordFactory(re_class=klass, date=today)
        # Notices: a customer recycled away, a payment confirmed.
        CustomerTransfer.objects.create(
            customer=customer,
            from_consultant=seller,
            reason=CustomerTransfer.Reason.RECYCLE,
            release_reason=CustomerTransfer.ReleaseReason.NO_FOLLOW_UP,
        )
        PaymentRecordFactory(
            customer=customer,
            consultant=seller,
            enrolment_class=klass,
            status=PaymentRecord.Status.CONFIRMED,
            confirm_date=timezone.now(),
        )


@pytest.mark.parametrize("role", ["boss", "sales", "finance", "class_teacher"])
def test_the_home_page_runs_a_fixed_number_of_queries_whatever_the_data(
    work_day,
    make_user,
    client_for,
    sales_user,
    other_sales_user,
    teaching_class,
    django_assert_num_queries,
    role,
):
    client = client_for(sales_user if role == "sales" else make_user(role))
    url = reverse("admin:index")
    client.get(url)  # the session and the user's permissions are looked up the same way on every request
    # The session, the user, their permissions (1: crm.backends) and the recent actions (4 in all), plus
    # one query per box: sales 2 (customers, claims) and 3 for the notices (ownership changes, payments,
    # the time they were seen), finance 1, class teacher 2 (approvals, lessons), the boss 9.
    expected = {"boss": 13, "sales": 9, "finance": 5, "class_teacher": 6}[role]

    with django_assert_num_queries(expected):
        client.get(url)
    grow_work(30, sales_user, other_sales_user, teaching_class)
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200


def test_the_crm_apps_own_page_lists_its_models_in_the_order_of_the_work(boss_client):
    response = boss_client.get(reverse("admin:app_list", kwargs={"app_label": "crm"}))
    names = [model["object_name"].lower() for model in response.context["app_list"][0]["models"]]

    assert names[:5] == ["publiccustomer", "privatecustomer", "customer", "consultrecord", "customertransfer"]
    assert names.index("classlist") < names.index("enrollment") < names.index("userprofile")


def test_the_auth_apps_page_calls_groups_roles(boss_client):
    response = boss_client.get(reverse("admin:app_list", kwargs={"app_label": "auth"}))

    assert [str(model["name"]) for model in response.context["app_list"][0]["models"]] == ["角色"]


def test_the_home_page_tells_a_salesperson_what_changed_since_the_last_visit(
    sales_user, other_sales_user, boss_user, sales_client
):
    import datetime

    from django.utils import timezone

    from crm.models import CustomerTransfer, PaymentRecord
    from tests.factories import CustomerFactory, PaymentRecordFactory

    Reason = CustomerTransfer.Reason
    recycled = CustomerFactory(name="回收甲", consultant=None, phone="13812345678", qq=None)
    CustomerTransfer.objects.create(
        customer=recycled,
        from_consultant=sales_user,
        reason=Reason.RECYCLE,
        release_reason=CustomerTransfer.ReleaseReason.NO_DEAL,
    )
    given = CustomerFactory(name="分配乙", consultant=sales_user)
    CustomerTransfer.objects.create(
        customer=given, to_consultant=sales_user, by=boss_user, reason=Reason.REASSIGN
    )
    taken = CustomerFactory(name="调走丙", consultant=other_sales_user)
    CustomerTransfer.objects.create(
        customer=taken,
        from_consultant=sales_user,
        to_consultant=other_sales_user,
        by=boss_user,
        reason=Reason.MERGE,
    )
    payer = CustomerFactory(name="交费丁", consultant=sales_user)
    PaymentRecordFactory(
        customer=payer,
        consultant=sales_user,
        status=PaymentRecord.Status.REJECTED,
        confirm_date=timezone.now(),
    )
    # No news: the user's own claim, another salesperson's recycling, news older than 7 days.
    CustomerTransfer.objects.create(
        customer=given, to_consultant=sales_user, by=sales_user, reason=Reason.CLAIM
    )
    CustomerTransfer.objects.create(customer=taken, from_consultant=other_sales_user, reason=Reason.RECYCLE)
    CustomerTransfer.objects.create(
        customer=recycled,
        from_consultant=sales_user,
        reason=Reason.RECYCLE,
        date=timezone.now() - datetime.timedelta(days=8),
    )

    response = sales_client.get(reverse("admin:index"))

    notices = response.context["notice_queue"]["notices"]
    assert [(notice.kind, notice.customer.name) for notice in notices] == [
        ("rejected", "交费丁"),
        ("taken", "调走丙"),
        ("given", "分配乙"),
        ("recycled", "回收甲"),
    ]
    page = response.content.decode()
    assert "回收甲 (138****5678) 已退回公户：超期未成交。" in page
    assert "校长 将 调走丙" in page
    sales_user.refresh_from_db()
    assert sales_user.notices_seen_at is not None
    # The next visit shows only what happened since.
    response = sales_client.get(reverse("admin:index"))
    assert response.context["notice_queue"]["notices"] == []
    assert "自上次以来，你的客户没有变化。" in response.content.decode()


def test_the_side_menu_is_built_once_for_a_set_of_permissions(boss_user, sales_user, monkeypatch):
    site = admin.site
    built = []
    build = site.build_app_list
    monkeypatch.setattr(
        site,
        "build_app_list",
        lambda request, app_label=None: built.append(request) or build(request, app_label),
    )
    site._app_lists.clear()

    first = areas_of(boss_user)
    assert areas_of(boss_user) == first
    assert len(built) == 1
    # Another role's permissions are another menu, built for them.
    assert areas_of(sales_user) != first
    assert len(built) == 2


def test_the_side_menu_follows_a_change_of_permissions(make_user):
    from django.contrib.auth.models import Permission

    ta = make_user("ta")
    assert "设置" not in areas_of(ta)

    ta.user_permissions.add(Permission.objects.get(codename="view_campus"))
    ta = UserProfile.objects.get(pk=ta.pk)  # a new request's user: a new permission cache

    assert areas_of(ta)["设置"] == ["crm.campus"]


def test_the_side_menu_is_the_one_django_builds_for_each_role(demo):
    for username in DEMO_STAFF:
        user = UserProfile.objects.get(username=username)
        request = RequestFactory().get("/admin/")
        request.user = user
        assert admin.site.get_app_list(request) == admin.site.build_app_list(request)
