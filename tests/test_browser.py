"""End to end in a real headless Chromium: register, log in, the student's own page, log out.

Uses Debian's ``chromium`` (``CHROMIUM_PATH``, default /usr/bin/chromium) through Playwright's Python
package; skipped with the reason when either is missing. ``.ci/run`` installs Chromium, so CI runs it.
"""

import datetime
import os
import shutil

import pytest
from django.db import connections
from django.utils import timezone

from crm.models import Customer, UserProfile
from tests.factories import ClassListFactory, CourseRecordFactory, CustomerFactory, StudyRecordFactory

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium(monkeypatch):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
    )
    if not shutil.which(CHROMIUM):
        pytest.skip(
            f"Chromium is not installed at {CHROMIUM} (apt-get install chromium); browser test skipped"
        )
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
            # The ORM calls made while Playwright runs leave a connection open; close it, or
            # PostgreSQL cannot drop the test database at the end of the run.
            connections.close_all()


def test_register_log_in_see_my_page_and_log_out(chromium, live_server):
    page = chromium.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(15_000)

    page.goto(f"{live_server.url}/me/")
    assert page.url == f"{live_server.url}/login/?next=/me/"
    page.click("text=还没有账号？注册")
    page.fill("#id_username", "e2e_student")
    page.fill("#id_name", "端到端")
    page.fill("#id_mobile", "13700001111")
    page.fill("#id_password", "Zx9-campus-pass")
    page.fill("#id_password2", "Zx9-campus-pass")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/login/")
    assert "账号 e2e_student 已创建，请用它登录。" in page.content()

    # The school links the new account to its student, as a class teacher does in the admin.
    user = UserProfile.objects.get(username="e2e_student")
    klass = ClassListFactory()
    student = CustomerFactory(name="端到端", user=user, status=Customer.Status.STUDYING, class_list=[klass])
    StudyRecordFactory(
        course_record=CourseRecordFactory(re_class=klass, course_title="浏览器测试课"),
        student=student,
        homework_note="端到端批语",
    )

    page.fill("#id_username", "e2e_student")
    page.fill("#id_password", "Zx9-campus-pass")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/me/")
    assert page.locator("h1").inner_text() == "我的学习"
    assert str(klass) in page.content()
    assert "浏览器测试课" in page.content() and "端到端批语" in page.content()

    page.click("#logout-form button")
    page.wait_for_url(f"{live_server.url}/login/")
    page.goto(f"{live_server.url}/me/")
    assert page.url == f"{live_server.url}/login/?next=/me/"


@pytest.mark.parametrize(("width", "folded_menu"), [(1600, False), (1366, True), (1366, False)])
def test_my_customers_show_every_column_without_scrolling_sideways(chromium, live_server, width, folded_menu):
    from django.contrib.auth.models import Group

    sales = UserProfile.objects.create_user(
        "wide_sales", password="Zx9-campus-pass", name="李销售", is_staff=True
    )
    sales.groups.add(Group.objects.get(name="销售"))
    klass = ClassListFactory(course="PythonFullStack", semester=15)
    for number in range(20):
        CustomerFactory(
            consultant=sales,
            name="欧阳晓东",
            phone=f"138{number:08d}",
            course=["PythonFullStack", "LinuxL"],
            class_list=[klass],
            last_consult_date=timezone.localdate() - datetime.timedelta(days=14),
            # The widest a row gets: an overdue call (逾期 N 天) beside the last one's date.
            next_date=timezone.localdate() - datetime.timedelta(days=4),
        )
    page = chromium.new_context(locale="zh-CN", viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    if folded_menu:
        page.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "wide_sales")
    page.fill("#id_password", "Zx9-campus-pass")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/crm/privatecustomer/")

    scroll_width, client_width = page.evaluate(
        "() => { const r = document.querySelector('.results'); return [r.scrollWidth, r.clientWidth]; }"
    )
    assert scroll_width <= client_width, (scroll_width, client_width)
    assert page.locator("#result_list td.field-created").first.is_visible()


def test_the_pages_work_under_the_content_security_policy(chromium, live_server, tmp_path, settings):
    """Nothing the policy blocks on the login page, the admin (a list with date filters, a form, the
    dashboard) or the student's page, whose file input is labelled by crm/static/crm/pages.js."""
    from django.contrib.auth.models import Group

    settings.PRIVATE_MEDIA_ROOT = tmp_path
    boss = UserProfile.objects.create_user("csp_boss", password="Zx9-campus-pass", name="校长", is_staff=True)
    boss.groups.add(Group.objects.get(name="校长"))
    student_user = UserProfile.objects.create_user("csp_student", password="Zx9-campus-pass", name="学生")
    klass = ClassListFactory()
    student = CustomerFactory(user=student_user, status=Customer.Status.STUDYING, class_list=[klass])
    StudyRecordFactory(course_record=CourseRecordFactory(re_class=klass, has_homework=True), student=student)

    context = chromium.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocked = []
    page.on(
        "console",
        lambda message: (
            blocked.append((page.url, message.text[:160]))
            if "Content Security Policy" in message.text
            else None
        ),
    )

    def log_in(username):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "Zx9-campus-pass")
        page.click("input[type=submit]")

    log_in("csp_boss")
    page.wait_for_url(f"{live_server.url}/admin/")
    for path in ["/admin/", "/admin/dashboard/", "/admin/crm/paymentrecord/", "/admin/crm/customer/add/"]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
    # The range filter's calendar comes from its inline script, allowed by the nonce.
    assert page.goto(f"{live_server.url}/admin/crm/paymentrecord/").ok
    page.click("#logout-form button")

    log_in("csp_student")
    page.wait_for_url(f"{live_server.url}/me/")
    homework = tmp_path / "day1.zip"
    homework.write_bytes(b"PK homework")
    page.set_input_files(".crm-file input[type=file]", str(homework))
    assert page.locator(".crm-file-name").first.inner_text() == "day1.zip"
    assert blocked == [], "\n".join(map(str, blocked))


def test_a_teacher_takes_attendance_with_everyone_checked_in_and_the_save_bar_in_sight(
    chromium, live_server, tmp_path
):
    from django.contrib.auth.models import Group

    from crm.models import StudyRecord

    ta = UserProfile.objects.create_user("e2e_ta", password="Zx9-campus-pass", name="王助教", is_staff=True)
    ta.groups.add(Group.objects.get(name="助教"))
    klass = ClassListFactory(teachers=[ta])
    students = CustomerFactory.create_batch(25, status=Customer.Status.STUDYING, class_list=[klass])
    lesson = CourseRecordFactory(re_class=klass, day_num=3)
    for student in students:
        StudyRecordFactory(course_record=lesson, student=student, attendance=StudyRecord.Attendance.ABSENCE)

    page = chromium.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "e2e_ta")
    page.fill("#id_password", "Zx9-campus-pass")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/crm/courserecord/")
    page.click("td.field-attendance_link a")
    assert page.locator("h1").inner_text() == f"点名：{klass} 第 3 节"

    # The save bar stays at the bottom of the window over a long class.
    save = page.locator("#crm-attendance input[type=submit]")
    assert save.is_visible() and save.bounding_box()["y"] + save.bounding_box()["height"] <= 768
    page.screenshot(path=str(tmp_path / "attendance.png"))
    page.click("#crm-all-checked")
    assert page.locator('input[type=radio][value="checked"]:checked').count() == 25
    save.click()
    page.wait_for_url(f"{live_server.url}/admin/crm/courserecord/?re_class__id__exact={klass.pk}")
    attendance = set(lesson.study_records.values_list("attendance", flat=True))
    assert attendance == {StudyRecord.Attendance.CHECKED}


@pytest.mark.parametrize("width", [1366, 1920])
def test_a_salespersons_morning_follow_up_then_claim_with_the_row_button(
    chromium, live_server, tmp_path, width
):
    """The home page's 今日待跟进, the follow-up form opened from the customer's row with a next date,
    and a claim with the 领取 button of a pool row (a <button form=...> outside the list's own form)."""
    import datetime

    from django.contrib.auth.models import Group
    from django.utils import timezone

    from crm.models import ConsultRecord, CustomerTransfer

    sales = UserProfile.objects.create_user(
        "morning_sales", password="Zx9-campus-pass", name="晨销售", is_staff=True
    )
    sales.groups.add(Group.objects.get(name="销售"))
    today = timezone.localdate()
    due = CustomerFactory(
        consultant=sales, name="今天要打", next_date=today, date=timezone.now() - datetime.timedelta(days=3)
    )
    CustomerFactory(consultant=sales, name="下周再打", next_date=today + datetime.timedelta(days=5))
    pooled = CustomerFactory(consultant=None, name="公户新线索")

    page = chromium.new_context(locale="zh-CN", viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "morning_sales")
    page.fill("#id_password", "Zx9-campus-pass")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    assert page.locator("#queue-follow-up-today strong").inner_text() == "1"
    page.screenshot(path=str(tmp_path / f"home-{width}.png"), full_page=True)

    page.click("#queue-follow-up-today")
    page.wait_for_url("**/admin/crm/privatecustomer/?*follow_up=today*")
    names = page.locator(
        "#result_list tbody td.field-name, #result_list tbody th.field-name"
    ).all_inner_texts()
    assert names == ["今天要打"]
    page.screenshot(path=str(tmp_path / f"today-{width}.png"), full_page=True)

    page.click("#result_list tbody tr >> text=写跟进")
    assert page.locator("#id_customer").input_value() == str(due.pk)
    page.select_option("#id_status", ConsultRecord.Stage.C)
    page.fill("#id_note", "约了周六来试听")
    next_date = today + datetime.timedelta(days=2)
    page.fill("#id_next_date", next_date.isoformat())
    page.screenshot(path=str(tmp_path / f"follow-up-{width}.png"), full_page=True)
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/crm/consultrecord/")
    due.refresh_from_db()
    assert due.next_date == next_date
    assert ConsultRecord.objects.get(customer=due).note == "约了周六来试听"

    page.goto(f"{live_server.url}/admin/crm/publiccustomer/")
    page.screenshot(path=str(tmp_path / f"pool-{width}.png"), full_page=True)
    page.click("#result_list tbody tr:has-text('公户新线索') button.crm-row-button")
    page.wait_for_url(f"{live_server.url}/admin/crm/publiccustomer/")
    assert "已领取 1 个客户" in page.locator(".messagelist").inner_text()
    pooled.refresh_from_db()
    assert pooled.consultant == sales
    assert CustomerTransfer.objects.get(customer=pooled).reason == CustomerTransfer.Reason.CLAIM
    page.screenshot(path=str(tmp_path / f"claimed-{width}.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/crm/privatecustomer/{due.pk}/change/")
    assert "约了周六来试听" in page.locator("#crm-timeline").inner_text()
    page.screenshot(path=str(tmp_path / f"customer-page-{width}.png"), full_page=True)
