"""The pages outside the admin: register, log in and out, the lockout, home, and the student's own page."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from crm.models import StudyRecord, UserProfile
from tests.factories import (
    ClassListFactory,
    CourseRecordFactory,
    CustomerFactory,
    PaymentRecordFactory,
    StudyRecordFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-2026"
# The reverse proxy's address, which every visitor has when the proxy is not trusted.
PROXY = "10.0.0.2"
LOGIN_FAILED = "请输入一个正确的用户名和密码。注意，两者都区分大小写。"
REGISTER = {
    "username": "newstudent",
    "name": "李同学",
    "mobile": "13912345678",
    "password": "Zx9-campus-pass",
    "password2": "Zx9-campus-pass",
}


def login(client, username, password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password, **extra})


# Register


def test_register_creates_the_account_and_sends_to_the_login_page(client):
    response = client.post(reverse("register"), REGISTER, follow=True)
    assert response.redirect_chain == [(reverse("login"), 302)]
    assert "账号 newstudent 已创建，请用它登录。" in response.content.decode()
    user = UserProfile.objects.get(username="newstudent")
    assert not user.is_staff and not user.groups.exists()


def test_register_shows_a_password_mismatch_at_the_top_and_keeps_the_input(client):
    response = client.post(reverse("register"), {**REGISTER, "password2": "something-else-9"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["两次输入的密码不一致。"]
    html = response.content.decode()
    assert '<div class="errornote"><p>两次输入的密码不一致。</p></div>' in html
    assert 'value="newstudent"' in html and 'value="13912345678"' in html
    assert not UserProfile.objects.filter(username="newstudent").exists()


def test_register_shows_a_field_error_beside_its_field(client, make_user):
    make_user(username="newstudent")
    response = client.post(reverse("register"), REGISTER)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["username"]
    assert '<div class="form-row errors">' in response.content.decode()


def test_a_name_taken_in_another_case_by_a_concurrent_registration_is_a_form_error(
    client, make_user, monkeypatch
):
    # The other registration commits between this form's check and its insert: the check passes
    # (as if the name were still free) and the database's constraint refuses the insert.
    make_user(username="newstudent")
    monkeypatch.setattr(UserProfile, "validate_constraints", lambda self, exclude=None: None)
    response = client.post(reverse("register"), {**REGISTER, "username": "NewStudent"})
    assert response.status_code == 200
    assert response.context["form"].errors["username"] == ["这个用户名已被占用（大小写字母视为相同）。"]
    assert UserProfile.objects.filter(username__iexact="newstudent").count() == 1


def test_a_new_account_logs_in_to_its_own_page_but_not_to_the_admin(client):
    client.post(reverse("register"), REGISTER)
    response = login(client, "newstudent", REGISTER["password"])
    assert response["Location"] == reverse("me")
    assert "还没有关联到本校的学员" in client.get(reverse("me")).content.decode()
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))


def test_registration_is_limited_per_client_address_with_a_clear_message(client, settings):
    settings.REGISTER_RATE = 2
    for number in range(2):
        client.post(
            reverse("register"), {**REGISTER, "username": f"script{number}"}, REMOTE_ADDR="203.0.113.5"
        )
    response = client.post(reverse("register"), REGISTER, REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 429
    html = response.content.decode()
    assert "从您的地址注册的账号过多，请一小时后再试。" in html
    assert 'value="newstudent"' in html
    assert not UserProfile.objects.filter(username="newstudent").exists()
    # Another address is not affected.
    response = client.post(reverse("register"), REGISTER, REMOTE_ADDR="198.51.100.9")
    assert response["Location"] == reverse("login")


def test_the_registration_limit_counts_by_the_trusted_client_address(client, settings):
    settings.REGISTER_RATE = 1
    # What TRUSTED_PROXY_COUNT=1 sets (tests/test_settings.py checks the mapping).
    settings.AXES_IPWARE_PROXY_COUNT = 0
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    behind_proxy = {"REMOTE_ADDR": PROXY}
    client.post(
        reverse("register"),
        {**REGISTER, "username": "first"},
        HTTP_X_FORWARDED_FOR="203.0.113.5",
        **behind_proxy,
    )
    response = client.post(reverse("register"), REGISTER, HTTP_X_FORWARDED_FOR="198.51.100.9", **behind_proxy)
    assert response["Location"] == reverse("login")
    response = client.post(
        reverse("register"),
        {**REGISTER, "username": "third"},
        HTTP_X_FORWARDED_FOR="203.0.113.5",
        **behind_proxy,
    )
    assert response.status_code == 429


# Log in and out


def test_staff_land_in_the_admin_and_others_on_their_own_page(client, sales_user, student_user):
    assert login(client, "sales_a")["Location"] == reverse("admin:index")
    client.post(reverse("logout"))
    assert login(client, "student_a")["Location"] == reverse("me")


def test_login_rotates_the_session_key(client, student_user):
    client.get(reverse("login"))
    session = client.session
    session["before"] = True
    session.save()
    before = session.session_key
    login(client, "student_a")
    assert client.session.session_key != before
    assert client.session[SESSION_KEY] == str(student_user.pk)


def test_login_goes_to_a_safe_next(client, student_user):
    assert login(client, "student_a", next="/me/?tab=1")["Location"] == "/me/?tab=1"


@pytest.mark.parametrize(
    "unsafe", ["https://evil.example.com/", "//evil.example.com/", "javascript:alert(1)"]
)
def test_login_ignores_an_off_site_next(client, student_user, unsafe):
    assert login(client, "student_a", next=unsafe)["Location"] == reverse("me")


def test_the_login_page_keeps_only_a_safe_next_in_its_form(client):
    html = client.get(reverse("login"), {"next": "https://evil.example.com/"}).content.decode()
    assert "evil.example.com" not in html
    html = client.get(reverse("login"), {"next": "/me/"}).content.decode()
    assert '<input type="hidden" name="next" value="/me/">' in html


@pytest.mark.parametrize(
    ("username", "password"),
    [("student_a", "wrong-password"), ("nobody", PASSWORD), ("inactive_a", PASSWORD)],
    ids=["bad password", "unknown user", "inactive user"],
)
def test_a_failed_login_says_the_same_whether_or_not_the_user_exists(
    client, student_user, username, password
):
    UserFactory(username="inactive_a", is_active=False)
    response = login(client, username, password)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [LOGIN_FAILED]
    assert SESSION_KEY not in client.session


def test_logout_by_get_is_refused(client, student_user):
    client.force_login(student_user)
    assert client.get(reverse("logout")).status_code == 405
    assert SESSION_KEY in client.session


def test_logout_by_post_ends_the_session(client, student_user):
    client.force_login(student_user)
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert SESSION_KEY not in client.session
    assert client.get(reverse("me")).status_code == 302


def test_logout_needs_the_csrf_token(student_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(student_user)
    assert client.post(reverse("logout")).status_code == 403
    assert SESSION_KEY in client.session


# Lockout (django-axes)


@pytest.fixture
def lockout(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


def test_repeated_failures_for_one_username_lock_it_with_a_clear_message(client, student_user, lockout):
    for _attempt in range(lockout - 1):
        assert login(client, "student_a", "wrong").status_code == 200
    response = login(client, "student_a", "wrong")
    assert response.status_code == 429
    html = response.content.decode()
    assert "这台电脑或这个用户名的登录失败次数过多。" in html
    assert "请等待 30 分钟后再试" in html
    # Even the right password is refused while the lock lasts.
    assert login(client, "student_a").status_code == 429
    assert SESSION_KEY not in client.session


def test_failures_for_an_unknown_name_from_the_proxys_address_lock_out_nobody_else(
    client, boss_user, student_user
):
    # Behind the reverse proxy every visitor has its address (TRUSTED_PROXY_COUNT unset).
    for _attempt in range(5):
        login(client, "nobody", "wrong", REMOTE_ADDR=PROXY)
    assert login(client, "nobody", "wrong", REMOTE_ADDR=PROXY).status_code == 429
    assert login(client, "boss_a", REMOTE_ADDR=PROXY)["Location"] == reverse("admin:index")
    client.post(reverse("logout"))
    response = client.post(
        reverse("admin:login"), {"username": "boss_a", "password": PASSWORD}, REMOTE_ADDR=PROXY
    )
    assert response.status_code == 302
    assert login(client, "student_a", REMOTE_ADDR=PROXY).status_code == 302


def test_the_lock_of_one_username_leaves_the_other_usernames_of_that_client_free(
    client, student_user, boss_user, lockout
):
    for _attempt in range(lockout):
        login(client, "student_a", "wrong")
    assert login(client, "student_a").status_code == 429
    assert login(client, "boss_a")["Location"] == reverse("admin:index")


def test_a_username_is_locked_whichever_addresses_the_failures_come_from(client, student_user, lockout):
    for attempt in range(lockout):
        login(client, "student_a", "wrong", REMOTE_ADDR=f"203.0.113.{attempt + 1}")
    assert login(client, "student_a", REMOTE_ADDR="198.51.100.7").status_code == 429


def test_the_lockout_page_says_from_when_the_user_may_log_in_again(client, student_user, lockout):
    for _attempt in range(lockout):
        response = login(client, "student_a", "wrong")
    latest = AccessAttempt.objects.get(username="student_a").attempt_time
    until = timezone.localtime(latest + timedelta(minutes=30)).strftime("%H:%M")
    assert f"你可以在 {until} 之后再次登录。" in response.content.decode()


def test_the_boss_unlocks_a_user_from_the_admin(client, boss_client, student_user, lockout):
    from django.test import Client

    visitor = Client()
    for _attempt in range(lockout):
        login(visitor, "student_a", "wrong")
    assert login(visitor, "student_a").status_code == 429
    changelist = reverse("admin:axes_accessattempt_changelist")
    response = boss_client.get(changelist)
    assert response.status_code == 200
    html = response.content.decode()
    assert "student_a" in html and "登录尝试" in html
    attempt = AccessAttempt.objects.get(username="student_a")
    response = boss_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert login(visitor, "student_a")["Location"] == reverse("me")


def test_only_the_boss_may_see_the_failed_logins(client_for, sales_user):
    assert client_for(sales_user).get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


@pytest.mark.parametrize("url_name", ["login", "admin:login"])
def test_an_overlong_username_is_a_form_error_and_records_nothing(client, url_name):
    response = client.post(reverse(url_name), {"username": "x" * 300, "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors["username"] == ["确保该变量包含不超过 150 字符 (目前字符数 300)。"]
    assert not AccessAttempt.objects.exists()


def test_the_admin_login_shares_the_lockout(client, sales_user, lockout):
    for _attempt in range(lockout):
        client.post(reverse("admin:login"), {"username": "sales_a", "password": "wrong"})
    response = login(client, "sales_a")
    assert response.status_code == 429
    response = client.post(reverse("admin:login"), {"username": "sales_a", "password": PASSWORD})
    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()


# Home


def test_home_sends_staff_to_the_admin_and_others_to_their_page(client, sales_user, student_user):
    client.force_login(sales_user)
    assert client.get(reverse("home"))["Location"] == reverse("admin:index")
    client.force_login(student_user)
    assert client.get(reverse("home"))["Location"] == reverse("me")


# The student's own page


@pytest.fixture
def lessons(student_class, student_customer):
    """Two lessons of the student's class: the first with homework and a study record, the second not yet."""
    first = CourseRecordFactory(re_class=student_class, day_num=1, has_homework=True, homework_title="作业一")
    CourseRecordFactory(re_class=student_class, day_num=2, has_homework=False, course_title="第二课")
    record = StudyRecordFactory(
        course_record=first, student=student_customer, score=90, homework_note="写得不错"
    )
    PaymentRecordFactory(
        customer=student_customer, enrolment_class=student_class, paid_fee=5000, status="confirmed"
    )
    return record


@pytest.fixture
def other_record(student_class):
    """A classmate's study record, with a homework file."""
    classmate = CustomerFactory(
        name="王同学", user=UserFactory(username="classmate"), class_list=[student_class]
    )
    course = CourseRecordFactory(re_class=student_class, day_num=3, has_homework=True)
    PaymentRecordFactory(customer=classmate, enrolment_class=student_class, paid_fee=7777, status="confirmed")
    return StudyRecordFactory(course_record=course, student=classmate, homework_note="别人的批语")


def test_the_student_sees_their_classes_lessons_and_payments(student_client, lessons, student_class):
    response = student_client.get(reverse("me"))
    html = response.content.decode()
    assert response.status_code == 200
    assert str(student_class) in html
    assert "作业一" in html and "第二课" in html and "尚未记录" in html
    assert "写得不错" in html
    assert '<dd class="crm-attendance-rate">100%</dd>' in html
    assert '<dd class="crm-average-score">90.0</dd>' in html
    assert '<td class="crm-number crm-confirmed-total">¥5,000</td>' in html


def test_the_student_page_describes_the_homework_and_offers_an_upload_only_where_there_is_one(
    student_client, student_customer, student_class
):
    with_homework = CourseRecordFactory(
        re_class=student_class,
        day_num=1,
        has_homework=True,
        homework_title="作业一",
        homework_memo="写一个爬虫",
    )
    without = CourseRecordFactory(re_class=student_class, day_num=2, has_homework=False, homework_memo="不交")
    StudyRecordFactory(course_record=with_homework, student=student_customer)
    StudyRecordFactory(course_record=without, student=student_customer)

    html = student_client.get(reverse("me")).content.decode()

    assert "作业一" in html and "写一个爬虫" in html and "不交" not in html
    assert html.count('name="homework"') == 1


def test_the_student_page_shows_nothing_of_other_students(student_client, lessons, other_record):
    html = student_client.get(reverse("me")).content.decode()
    assert "王同学" not in html and "别人的批语" not in html and "7,777" not in html and "7777" not in html


def test_a_user_without_a_linked_customer_gets_a_friendly_page(client, make_user):
    client.force_login(make_user(None, username="nobody_linked"))
    response = client.get(reverse("me"))
    assert response.status_code == 200
    assert "您的账号 nobody_linked 可以正常使用，但还没有关联到本校的学员。" in response.content.decode()


def test_the_student_page_takes_a_constant_number_of_queries(
    student_client, lessons, student_class, student_customer, django_assert_max_num_queries
):
    for day in range(10, 20):
        StudyRecordFactory(
            course_record=CourseRecordFactory(re_class=student_class, day_num=day), student=student_customer
        )
    second = ClassListFactory()
    student_customer.class_list.add(second)
    CourseRecordFactory.create_batch(5, re_class=second)
    # Session, user, customer, classes, teachers, study records, course records, payments, their total.
    with django_assert_max_num_queries(9):
        assert student_client.get(reverse("me")).status_code == 200


# Homework


def upload(client, record_pk, name="day1.zip", content=b"PK homework"):
    return client.post(
        reverse("homework_upload", args=[record_pk]), {"homework": SimpleUploadedFile(name, content)}
    )


def test_the_student_hands_in_homework_to_their_own_record(student_client, lessons, private_media):
    response = upload(student_client, lessons.pk)
    assert response["Location"] == f"{reverse('me')}#lesson-{lessons.pk}"
    lessons.refresh_from_db()
    assert lessons.homework.name.startswith(f"homework/{lessons.course_record_id}/")
    assert (private_media / lessons.homework.name).read_bytes() == b"PK homework"
    html = student_client.get(reverse("me")).content.decode()
    assert f'href="{lessons.homework.url}"' in html


def test_a_refused_homework_file_shows_a_clear_error_beside_the_lesson(
    student_client, lessons, private_media, settings
):
    settings.HOMEWORK_ALLOWED_EXTENSIONS = ["zip"]
    response = upload(student_client, lessons.pk, name="day1.exe")
    assert response.status_code == 200
    assert "不接受这种类型的文件。允许的类型：zip。" in response.content.decode()
    lessons.refresh_from_db()
    assert not lessons.homework


def test_a_lesson_without_homework_takes_no_upload(student_client, student_customer, private_media):
    record = StudyRecordFactory(
        course_record=CourseRecordFactory(has_homework=False), student=student_customer
    )
    response = upload(student_client, record.pk)
    assert "这节课没有要交的作业。" in response.content.decode()
    record.refresh_from_db()
    assert not record.homework


def test_homework_is_served_to_the_student_the_class_teachers_and_the_boss_only(
    client, lessons, private_media, student_user, lecturer_user, make_user
):
    client.force_login(student_user)
    upload(client, lessons.pk)
    lessons.refresh_from_db()
    url = lessons.homework.url
    assert url.startswith("/files/") and not url.startswith("/media/")

    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"PK homework"
    assert "attachment" in response["Content-Disposition"]

    client.force_login(lecturer_user)
    assert client.get(url).status_code == 200
    client.force_login(make_user("lecturer", username="lecturer_elsewhere"))
    assert client.get(url).status_code == 404
    client.force_login(make_user("sales", username="sales_elsewhere"))
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url)["Location"].startswith(reverse("login"))


def test_the_homework_link_of_the_boss_s_study_record_page_opens(
    client, lessons, private_media, student_user, make_user
):
    # Finding 12: the boss saw the link on the study record's page, and the link answered 404.
    client.force_login(student_user)
    upload(client, lessons.pk)
    lessons.refresh_from_db()
    client.force_login(make_user("boss", username="boss_not_teaching"))
    page = client.get(reverse("admin:crm_studyrecord_change", args=[lessons.pk]))
    assert lessons.homework.url in page.content.decode()
    response = client.get(lessons.homework.url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"PK homework"


def test_other_students_data_is_unreachable_from_every_url(
    student_client, lessons, other_record, private_media
):
    other_record.homework.save("theirs.zip", SimpleUploadedFile("theirs.zip", b"theirs"))
    assert student_client.get(other_record.homework.url).status_code == 404
    assert upload(student_client, other_record.pk).status_code == 404
    assert student_client.get(reverse("homework_upload", args=[other_record.pk])).status_code == 405
    assert upload(student_client, 999_999).status_code == 404
    assert student_client.get(reverse("homework_file", args=["homework/1/guess.zip"])).status_code == 404
    other_record.refresh_from_db()
    assert other_record.homework.name.endswith(".zip")
    assert (private_media / other_record.homework.name).read_bytes() == b"theirs"
    assert StudyRecord.objects.get(pk=other_record.pk).homework == other_record.homework


# Error pages


def test_a_missing_page_says_so_in_chinese(client, student_user):
    client.force_login(student_user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html and "Not Found" not in html


def test_another_users_customer_answers_a_chinese_404(sales_client, other_sales_user):
    theirs = CustomerFactory(consultant=other_sales_user)
    response = sales_client.get(reverse("admin:crm_privatecustomer_change", args=[theirs.pk]))
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


def test_a_page_outside_the_role_answers_a_chinese_403(sales_client):
    response = sales_client.get(reverse("admin:crm_customer_changelist"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "没有权限" in html and "Forbidden" not in html


def test_a_server_error_says_so_in_chinese(student_client, monkeypatch):
    import crm.views

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(crm.views, "student_overview", broken)
    student_client.raise_request_exception = False
    response = student_client.get(reverse("me"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "服务器错误" in html and "Server Error" not in html


def test_an_upload_over_the_limit_is_refused_with_the_limit(student_client, lessons, private_media, settings):
    settings.HOMEWORK_MAX_UPLOAD_MB = 1
    response = upload(student_client, lessons.pk, content=b"x" * (3 * 1024 * 1024))
    assert response.status_code == 200
    assert "请选择要交的作业文件，不超过 1.0\xa0MB。" in response.content.decode()
    lessons.refresh_from_db()
    assert not lessons.homework


class CountingBody:
    """A request body of ``size`` bytes made up while it is read, which counts what was read."""

    def __init__(self, head: bytes, size: int):
        self.head, self.size, self.read_bytes = head, size, 0

    def read(self, amount=-1):
        left = self.size - self.read_bytes
        amount = left if amount is None or amount < 0 else min(amount, left)
        start = self.read_bytes
        self.read_bytes += amount
        head = self.head[start : start + amount]
        return head + b"x" * (amount - len(head))

    def readline(self, amount=-1):
        return self.read(amount)


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "the student"])
def test_a_100_mb_upload_is_not_read_in_full(client, student_user, lessons, private_media, logged_in):
    from django.core.handlers.wsgi import WSGIHandler

    cookies = {}
    if logged_in:
        client.force_login(student_user)
        cookies["HTTP_COOKIE"] = f"sessionid={client.cookies['sessionid'].value}"

    size = 100 * 1024 * 1024
    head = (
        b"--BOUNDARY\r\n"
        b'Content-Disposition: form-data; name="homework"; filename="big.zip"\r\n'
        b"Content-Type: application/zip\r\n\r\n"
    )
    body = CountingBody(head, size)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": reverse("homework_upload", args=[lessons.pk]),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "203.0.113.5",
        "CONTENT_TYPE": "multipart/form-data; boundary=BOUNDARY",
        "CONTENT_LENGTH": str(size),
        "wsgi.input": body,
        "wsgi.url_scheme": "http",
        **cookies,
    }
    statuses = []
    WSGIHandler()(environ, lambda status, headers, *args: statuses.append(status))
    assert statuses[0].split()[0] in {"302", "403"}
    assert body.read_bytes < 1024 * 1024
