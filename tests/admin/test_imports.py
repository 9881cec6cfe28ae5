import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.models import Customer, CustomerImport
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_tmp_storage")]

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
