import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.models import Customer, CustomerImport, Job
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_tmp_storage", "private_media")]

IMPORT_URL = reverse("admin:crm_customer_import")
PROCESS_URL = reverse("admin:crm_customer_process_import")
CHANGELIST_URL = reverse("admin:crm_customer_changelist")
HISTORY_URL = reverse("admin:crm_customerimport_changelist")


def upload(client, content: bytes, name="名单.csv", encoding="auto"):
    return client.post(IMPORT_URL, {"import_file": SimpleUploadedFile(name, content), "encoding": encoding})


def confirm(client, preview):
    form = preview.context["confirm_form"]
    return client.post(PROCESS_URL, {name: form.initial[name] for name in form.fields})


def test_the_import_page_links_the_templates_and_the_history(boss_client):
    response = boss_client.get(IMPORT_URL)

    assert response.status_code == 200
    content = response.content.decode()
    assert reverse("admin:crm_customer_import_template", args=["xlsx"]) in content
    assert reverse("admin:crm_customer_import_template", args=["csv"]) in content
    assert HISTORY_URL in content
    assert "自动检测" in content


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_template_files_download(boss_client, settings, file_format):
    response = boss_client.get(reverse("admin:crm_customer_import_template", args=[file_format]))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    fixture = settings.BASE_DIR / "fixtures" / f"customer_import_template.{file_format}"
    assert response.content == fixture.read_bytes()


def test_preview_then_confirm_imports_a_gbk_file(boss_client, boss_user, import_file, import_tmp_storage):
    preview = upload(boss_client, import_file("customers_gbk.csv"))

    assert preview.status_code == 200
    assert not Customer.objects.exists()
    outcome = preview.context["outcome"]
    assert (outcome.new, outcome.updated, outcome.skipped, outcome.error_count) == (3, 0, 0, 0)
    assert "GBK / GB18030" in preview.content.decode()
    # The file waits in the shared storage, not in one worker's temp folder.
    stored = preview.context["confirm_form"].initial["import_file_name"]
    assert (import_tmp_storage / "django-import-export" / stored).exists()

    response = confirm(boss_client, preview)

    assert response.status_code == 302 and response.url == CHANGELIST_URL
    assert Customer.objects.get(qq="10001001").name == "张三"
    entry = CustomerImport.objects.get()
    assert (entry.user, entry.file_name, entry.new_count) == (boss_user, "名单.csv", 3)
    assert not (import_tmp_storage / "django-import-export" / stored).exists()


def test_the_preview_and_the_confirmation_store_and_read_the_upload_as_a_file(
    boss_client, import_file, monkeypatch
):
    from import_export.tmp_storages import MediaStorage

    def whole(self, *args):
        raise AssertionError("the whole upload was held in memory")

    # django-import-export's storage takes and gives the file as bytes.
    monkeypatch.setattr(MediaStorage, "save", whole)
    monkeypatch.setattr(MediaStorage, "read", whole)

    preview = upload(boss_client, import_file("customers_gbk.csv"))
    response = confirm(boss_client, preview)

    assert response.status_code == 302 and response.url == CHANGELIST_URL
    assert Customer.objects.count() == 3


def test_a_file_with_a_bad_row_lists_it_offers_the_rejected_rows_and_no_confirm(boss_client, import_file):
    preview = upload(boss_client, import_file("customers_one_bad_row.csv"))

    assert preview.context["confirm_form"] is None
    content = preview.content.decode()
    assert "第 14 行" in content
    assert "QQ号必须是5到12位数字。" in content
    download = boss_client.get(preview.context["rejected_url"])
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.content.decode("gb18030"))))
    assert rows[0][-1] == "拒绝原因" and rows[1][1] == "12ab" and len(rows) == 2
    # The preview is a dry run: a rejected file leaves the database as it was, history included.
    assert not Customer.objects.exists()
    assert not CustomerImport.objects.exists()


@pytest.mark.parametrize("name", ["empty.csv", "garbage.bin", "no_contact_column.csv"])
def test_an_unreadable_file_gets_one_form_error_not_a_500(boss_client, import_file, name):
    response = upload(boss_client, import_file(name), name=name)

    assert response.status_code == 200
    assert len(response.context["form"].errors["import_file"]) == 1
    assert response.context["confirm_form"] is None


def test_confirm_rechecks_the_file_and_writes_nothing_when_it_became_wrong(boss_client, sales_user, settings):
    preview = upload(boss_client, "姓名,QQ,销售\n甲,10001,sales_a\n".encode())
    assert preview.context["confirm_form"] is not None
    settings.MAX_CUSTOMER_NUM = 0  # meanwhile the consultant reached the cap

    response = confirm(boss_client, preview)

    assert response.status_code == 200
    assert response.context["outcome"].error_count == 1
    assert not Customer.objects.exists()
    # The attempt that really ran is kept in the history, with nothing to revert.
    entry = CustomerImport.objects.get()
    assert (entry.error_count, entry.new_count, entry.created_ids) == (1, 0, [])


def test_a_stale_confirmation_asks_to_upload_again(boss_client):
    response = boss_client.post(
        PROCESS_URL, {"import_file_name": "deadbeef", "original_file_name": "a.csv", "encoding": "auto"}
    )

    assert response.status_code == 302 and response.url == IMPORT_URL


def test_without_the_import_permission_no_button_and_403(client_for, make_user, import_file):
    viewer = make_user(None, username="viewer", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_customer", "view_all_customers"])
    )
    client = client_for(viewer)

    changelist = client.get(CHANGELIST_URL)
    assert changelist.status_code == 200
    assert IMPORT_URL not in changelist.content.decode()
    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, import_file("customers_gbk.csv")).status_code == 403
    assert client.post(PROCESS_URL, {}).status_code == 403
    assert client.get(reverse("admin:crm_customer_import_template", args=["csv"])).status_code == 403
    assert not Customer.objects.exists()


def test_sales_get_403_on_the_import_url(sales_client):
    assert sales_client.get(IMPORT_URL).status_code == 403


def test_the_changelist_shows_the_import_button_to_the_boss(boss_client):
    assert IMPORT_URL in boss_client.get(CHANGELIST_URL).content.decode()


def test_revert_action_from_the_history(boss_client, boss_user, import_file):
    preview = upload(boss_client, import_file("customers_utf8.csv"))
    confirm(boss_client, preview)
    entry = CustomerImport.objects.get()

    history = boss_client.get(HISTORY_URL)
    assert "已导入" in history.content.decode()
    # First a confirmation page, which changes nothing; its POST carries post=yes.
    asked = boss_client.post(HISTORY_URL, {"action": "revert_imports", "_selected_action": [entry.pk]})
    assert asked.status_code == 200 and 'name="post" value="yes"' in asked.content.decode()
    assert Customer.objects.exists()
    response = boss_client.post(
        HISTORY_URL, {"action": "revert_imports", "_selected_action": [entry.pk], "post": "yes"}, follow=True
    )

    assert response.status_code == 200
    assert not Customer.objects.exists()
    entry.refresh_from_db()
    assert entry.reverted_by == boss_user
    assert "已撤销" in boss_client.get(HISTORY_URL).content.decode()


def test_the_history_is_not_for_sales(sales_client):
    assert sales_client.get(HISTORY_URL).status_code == 403


def test_a_file_with_nothing_new_offers_no_confirmation(boss_client, import_file):
    for qq in ("10001001", "10001002", "10001003"):
        CustomerFactory(qq=qq, customer_note="已有备注")

    preview = upload(boss_client, import_file("customers_gbk.csv"))

    outcome = preview.context["outcome"]
    assert (outcome.new, outcome.updated, outcome.skipped) == (0, 0, 3)
    assert preview.context["confirm_form"] is None
    assert "没有可导入的数据" in preview.content.decode()


def test_the_preview_lists_the_first_500_skipped_rows_and_counts_the_rest(boss_client):
    lines = ["姓名,QQ"] + [f"甲{index},{10000 + index}" for index in range(2)] + ["乙,10000"] * 600

    preview = upload(boss_client, "\n".join(lines).encode())

    content = preview.content.decode()
    assert preview.context["outcome"].skipped == 600
    assert content.count("与本文件第 2 行是同一客户") == 500
    assert "……另有 100 行被跳过。" in content


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"PK\x03\x04" + b"\x00" * 64, id="not-a-zip"),
        pytest.param("name,qq\nMüller,123456\nJürgen,234567\n".encode("latin-1"), id="latin-1"),
        pytest.param(b"name,qq\n" + b"x,1\n" * 300_000, id="too-many-rows"),
    ],
)
def test_a_hostile_file_is_a_translated_form_error_not_a_500(boss_client, content):
    response = upload(boss_client, content, name="名单.xlsx")

    assert response.status_code == 200
    errors = response.context["form"].errors["import_file"]
    assert len(errors) == 1
    assert any("\u4e00" <= char <= "\u9fff" for char in errors[0])  # in Chinese


def test_the_preview_of_a_yudao_export_lists_the_columns_kept_in_the_note_and_the_ignored_ones(
    boss_client, import_file
):
    rows = import_file("customers_yudao_gbk.csv").decode("gbk").splitlines()
    content = "\r\n".join([rows[0] + ",负责人", *(row + ",张三" for row in rows[1:])]).encode("gbk")

    preview = upload(boss_client, content)

    assert preview.status_code == 200
    outcome = preview.context["outcome"]
    assert (outcome.new, outcome.error_count) == (5, 0)
    page = preview.content.decode()
    assert "已忽略的列（无法识别）： 负责人" in page
    assert outcome.ignored_columns == ["负责人"]
    assert "电话、邮箱、地区、详细地址、所属行业、客户等级" in page
    assert not Customer.objects.exists()


# --- a large file: its check is a background job, the import page follows it ---
def start_check(client, content: bytes, capture, *, execute: bool):
    with capture(execute=execute):
        response = upload(client, content)
    job = Job.objects.get(kind=Job.Kind.PREVIEW)
    assert response.status_code == 302 and response.url == f"{IMPORT_URL}?job={job.pk}"
    return job


def test_a_large_file_is_checked_by_a_job_whose_result_the_import_page_shows_then_confirms(
    boss_client, boss_user, import_file, settings, django_capture_on_commit_callbacks
):
    settings.JOB_ROWS_THRESHOLD = 2
    job = start_check(
        boss_client, import_file("customers_gbk.csv"), django_capture_on_commit_callbacks, execute=True
    )

    job.refresh_from_db()
    assert (job.user, job.state, job.rows_done, job.rows_total) == (boss_user, Job.State.DONE, 3, 3)
    assert not Customer.objects.exists() and not CustomerImport.objects.exists()
    preview = boss_client.get(f"{IMPORT_URL}?job={job.pk}")
    outcome = preview.context["outcome"]
    assert (outcome.new, outcome.updated, outcome.error_count) == (3, 0, 0)
    assert "GBK / GB18030" in preview.content.decode()
    assert preview.context["confirm_form"].initial["import_file_name"] == job.params["stored_name"]
    jobs_page = boss_client.get(reverse("admin:crm_job_changelist")).content.decode()
    assert f"{IMPORT_URL}?job={job.pk}" in jobs_page and "检查结果" in jobs_page

    with django_capture_on_commit_callbacks(execute=True):
        confirm(boss_client, preview)

    assert Customer.objects.count() == 3
    assert Job.objects.get(kind=Job.Kind.IMPORT).state == Job.State.DONE


def test_a_running_check_shows_its_progress_refreshes_and_can_be_cancelled(
    boss_client, import_file, settings, django_capture_on_commit_callbacks
):
    settings.JOB_ROWS_THRESHOLD = 2
    job = start_check(
        boss_client, import_file("customers_utf8.csv"), django_capture_on_commit_callbacks, execute=False
    )

    page = boss_client.get(f"{IMPORT_URL}?job={job.pk}")
    content = page.content.decode()
    assert page.status_code == 200 and page.context["confirm_form"] is None
    assert "正在后台检查" in content and "已检查 0 / 3 行" in content
    assert '<meta http-equiv="refresh"' in content
    cancelled = boss_client.post(
        reverse("admin:crm_job_changelist"), {"action": "cancel_jobs", "_selected_action": [job.pk]}
    )

    assert cancelled.status_code == 302
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    page = boss_client.get(f"{IMPORT_URL}?job={job.pk}")
    assert "该文件的检查已取消" in page.content.decode()
    assert '<meta http-equiv="refresh"' not in page.content.decode()


def test_a_bad_file_checked_by_a_job_offers_its_rejected_rows_and_no_confirm(
    boss_client, import_file, settings, django_capture_on_commit_callbacks
):
    settings.JOB_ROWS_THRESHOLD = 2
    job = start_check(
        boss_client,
        import_file("customers_one_bad_row.csv"),
        django_capture_on_commit_callbacks,
        execute=True,
    )

    preview = boss_client.get(f"{IMPORT_URL}?job={job.pk}")

    assert preview.context["confirm_form"] is None
    assert "第 14 行" in preview.content.decode()
    download = boss_client.get(preview.context["rejected_url"])
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("gb18030"))))
    assert rows[0][-1] == "拒绝原因" and rows[1][1] == "12ab" and len(rows) == 2
    assert not Customer.objects.exists()


@pytest.mark.parametrize("job_id", ["other", "abc", "999999"])
def test_another_users_check_or_a_forged_id_is_a_404(
    client_for, make_user, boss_user, settings, django_capture_on_commit_callbacks, job_id
):
    importer = make_user(None, username="importer", is_staff=True)
    importer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_customer", "view_all_customers", "import_customer"])
    )
    job = Job.objects.create(user=boss_user, kind=Job.Kind.PREVIEW, subject="名单.csv", state=Job.State.DONE)

    response = client_for(importer).get(f"{IMPORT_URL}?job={job.pk if job_id == 'other' else job_id}")

    assert response.status_code == 404


def test_a_small_file_is_still_checked_in_the_request(boss_client, import_file):
    preview = upload(boss_client, import_file("customers_gbk.csv"))

    assert preview.status_code == 200 and preview.context["confirm_form"] is not None
    assert not Job.objects.exists()
