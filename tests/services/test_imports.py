import csv
import datetime
import io
import tracemalloc
import zipfile

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from crm.models import ConsultRecord, Customer, CustomerImport, CustomerTransfer
from crm.resources.customers import CustomerResource
from crm.services import imports
from crm.services.customers import customers_claim
from crm.services.imports import (
    customer_files_read,
    customer_imports_rejected_file,
    customer_imports_revert,
    customers_import,
)
from tests.factories import ConsultRecordFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def csv_bytes(rows, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def run(data: bytes, user=None, **kwargs):
    return customers_import(file=data, file_name="list.csv", user=user, **kwargs)


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("customers_gbk.csv", "gb18030"),
        ("customers_utf8.csv", "utf-8"),
        ("customers_utf8_bom.csv", "utf-8-sig"),
    ],
)
def test_csv_in_gbk_utf8_and_utf8_with_bom_imports_chinese_text(import_file, boss_user, name, encoding):
    outcome = run(import_file(name), user=boss_user)

    assert outcome.source.encoding == encoding
    assert (outcome.new, outcome.updated, outcome.skipped, outcome.error_count) == (3, 0, 0, 0)
    zhang = Customer.objects.get(qq="10001001")
    assert (zhang.name, zhang.phone, zhang.sex, zhang.source) == ("张三", "13800000001", "male", "qq")
    assert zhang.customer_note == "想学爬虫"
    li = Customer.objects.get(qq="10001002")
    assert (li.source, li.class_type, list(li.course)) == ("baidu_ads", "weekend", ["LinuxL", "Go"])
    assert Customer.objects.get(qq="10001003").phone is None
    assert Customer.objects.filter(consultant__isnull=True).count() == 3


def test_xlsx_with_chinese_text_numbers_and_dates_imports(import_file, boss_user):
    outcome = run(import_file("customers.xlsx"), user=boss_user)

    assert outcome.source.file_format == "xlsx"
    assert (outcome.new, outcome.error_count) == (3, 0)
    zhang = Customer.objects.get(qq="10001001")
    assert (zhang.name, zhang.phone, zhang.birthday) == ("张三", "13800000001", datetime.date(1999, 1, 2))
    assert Customer.objects.get(qq="10001002").birthday == datetime.date(2001, 2, 3)


def test_english_field_names_and_choice_codes_are_accepted(import_file):
    outcome = run(import_file("customers_english_headers.csv"))

    assert (outcome.new, outcome.error_count) == (3, 0)
    li = Customer.objects.get(qq="10001002")
    assert (li.sex, li.source, list(li.course)) == ("female", "baidu_ads", ["LinuxL", "Go"])


def test_encoding_chosen_in_the_form_is_used_and_a_wrong_one_says_so(import_file):
    with pytest.raises(ValidationError) as error:
        customer_files_read(file=import_file("customers_gbk.csv"), encoding="utf-8")
    assert error.value.code == "encoding"

    assert (
        customer_files_read(file=import_file("customers_gbk.csv"), encoding="gb18030").encoding == "gb18030"
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [("empty.csv", "empty"), ("garbage.bin", "not_a_table"), ("no_contact_column.csv", "missing_columns")],
)
def test_an_empty_garbage_or_incomplete_file_gets_one_clear_error(import_file, name, code):
    with pytest.raises(ValidationError) as error:
        run(import_file(name))

    assert error.value.code == code
    assert len(error.value.messages) == 1
    assert not Customer.objects.exists()


def test_headers_only_and_a_broken_xlsx_get_one_clear_error():
    with pytest.raises(ValidationError) as error:
        run(csv_bytes([["姓名", "QQ"]]))
    assert error.value.code == "no_rows"

    with pytest.raises(ValidationError) as error:
        run(b"PK\x03\x04 not really a zip")
    assert error.value.code == "not_a_table"


def test_one_bad_row_among_many_imports_nothing_and_names_the_row(import_file, boss_user):
    outcome = run(import_file("customers_one_bad_row.csv"), user=boss_user)

    assert not Customer.objects.exists()
    assert outcome.error_count == 1
    [problem] = outcome.problems
    # The header is row 1 of the spreadsheet, so the 13th customer is row 14.
    assert problem.line == 14
    assert problem.reasons == ["QQ: QQ号必须是5到12位数字。"]
    assert outcome.new == 19
    # The rejected attempt is in the history, with its error count and nothing to revert.
    entry = CustomerImport.objects.get()
    assert (entry.user, entry.error_count, entry.new_count, entry.created_ids) == (boss_user, 1, 0, [])


def test_reasons_are_translated_in_the_users_language(import_file):
    with translation.override("en"):
        outcome = run(import_file("customers_one_bad_row.csv"), keep_rejected=False)

    assert outcome.problems[0].reasons == ["QQ: A QQ number has 5 to 12 digits."]
    assert not CustomerImport.objects.exists()


def test_every_kind_of_bad_value_is_reported_per_column():
    rows = [
        ["姓名", "QQ", "手机", "性别", "来源", "咨询课程", "班级类型", "出生日期", "销售"],
        ["甲", "", "", "", "", "", "", "", ""],
        ["乙", "10001", "12345", "未知", "报纸", "烹饪", "夜班", "昨天", "nobody"],
        ["丙" * 40, "10002", "", "", "", "", "", "", ""],
    ]
    with translation.override("en"):
        outcome = run(csv_bytes(rows))

    by_line = {problem.line: problem.reasons for problem in outcome.problems}
    assert by_line[2] == ["QQ: Enter at least one of QQ, phone and WeChat id."]
    # A source we do not know is no error: it is 其它, the label kept in the note.
    assert [reason.split(":")[0] for reason in by_line[3]] == [
        "手机",
        "性别",
        "咨询课程",
        "班级类型",
        "出生日期",
        "销售",
    ]
    assert "“未知” is not one of: Male、Female." in by_line[3][1]
    assert by_line[4] == ["姓名: At most 32 characters (it has 40)."]
    assert not Customer.objects.exists()


def test_extra_columns_are_ignored_with_a_note_and_blank_rows_skipped():
    outcome = run(
        csv_bytes([["姓名", "QQ", "兴趣"], ["甲", "10001", "wx1"], ["", "", ""], ["乙", "10002", ""]])
    )

    assert outcome.ignored_columns == ["兴趣"]
    assert (outcome.new, outcome.skipped) == (2, 1)


def test_existing_customer_gets_only_its_empty_fields_filled_and_keeps_its_owner(sales_user, boss_user):
    owned = CustomerFactory(qq="10001", name="老客户", phone=None, customer_note="", consultant=sales_user)
    by_phone = CustomerFactory(qq="20002", name="", phone="13900000002", customer_note="原备注")
    rows = [
        ["姓名", "QQ", "手机", "客户备注", "销售"],
        ["新名字", "10001", "13900000001", "新备注", boss_user.username],
        ["乙", "99999", "13900000002", "新备注", ""],
    ]
    outcome = run(csv_bytes(rows), user=boss_user)

    assert (outcome.new, outcome.updated, outcome.skipped) == (0, 2, 0)
    owned.refresh_from_db()
    assert (owned.name, owned.phone, owned.customer_note, owned.consultant) == (
        "老客户",
        "13900000001",
        "新备注",
        sales_user,
    )
    by_phone.refresh_from_db()
    assert (by_phone.qq, by_phone.name, by_phone.customer_note) == ("20002", "乙", "原备注")
    entry = outcome.customer_import
    assert entry.filled_fields == {
        str(owned.pk): {"phone": "13900000001", "customer_note": "新备注"},
        str(by_phone.pk): {"name": "乙"},
    }


def test_existing_customer_with_nothing_to_fill_is_skipped_with_a_note():
    CustomerFactory(qq="10001", name="老客户")
    outcome = run(csv_bytes([["姓名", "QQ"], ["别名", "10001"]]))

    assert (outcome.new, outcome.updated, outcome.skipped) == (0, 0, 1)
    assert outcome.skipped_rows[0].reasons == ["系统中已有该客户 老客户 (1****1)，没有可补充的字段。"]


def test_a_phone_of_another_customer_is_not_copied_onto_the_matched_one():
    CustomerFactory(qq="10001", phone=None)
    CustomerFactory(qq="20002", phone="13900000002")
    outcome = run(csv_bytes([["姓名", "QQ", "手机"], ["甲", "10001", "13900000002"]]))

    assert outcome.error_count == 0
    assert Customer.objects.get(qq="10001").phone is None


def test_duplicates_inside_the_file_are_reported_and_imported_once():
    rows = [
        ["姓名", "QQ", "手机"],
        ["甲", "10001", "13900000001"],
        ["甲again", "10001", ""],
        ["乙", "10002", "13900000001"],
    ]
    with translation.override("en"):
        outcome = run(csv_bytes(rows))

    assert (outcome.new, outcome.skipped) == (1, 2)
    assert [(row.line, row.reasons) for row in outcome.skipped_rows] == [
        (3, ["Same customer as row 2 of this file."]),
        (4, ["Same customer as row 2 of this file."]),
    ]
    assert Customer.objects.get().name == "甲"


def test_deduplication_reads_the_database_in_a_fixed_number_of_queries(django_assert_max_num_queries):
    CustomerFactory.create_batch(5)
    rows = [["姓名", "QQ", "手机"]] + [[f"客户{i}", str(300000 + i), f"137{i:08d}"] for i in range(300)]
    # Savepoints, the existing customers, the inserts (one per batch of SQLite's parameter limit; a
    # single one on PostgreSQL) and the history entry: 300 rows, far fewer queries.
    with django_assert_max_num_queries(19):
        outcome = run(csv_bytes(rows), keep_rejected=False)
    assert outcome.new == 300


def test_a_consultant_column_assigns_new_customers_to_that_staff_user(sales_user, boss_user):
    rows = [
        ["姓名", "QQ", "销售"],
        ["甲", "10001", "sales_a"],
        ["乙", "10002", "销售甲"],
        ["丙", "10003", ""],
    ]
    outcome = run(csv_bytes(rows), user=boss_user)

    assert outcome.error_count == 0
    assert set(Customer.objects.filter(consultant=sales_user).values_list("qq", flat=True)) == {
        "10001",
        "10002",
    }
    assert Customer.objects.get(qq="10003").consultant is None
    transfers = CustomerTransfer.objects.filter(reason=CustomerTransfer.Reason.IMPORT)
    assert set(transfers.values_list("to_consultant", "by")) == {(sales_user.pk, boss_user.pk)}
    assert transfers.count() == 2


def test_a_consultant_over_the_customer_cap_rejects_the_file(settings, sales_user):
    settings.MAX_CUSTOMER_NUM = 2
    CustomerFactory(consultant=sales_user)
    rows = [["姓名", "QQ", "销售"], ["甲", "10001", "sales_a"], ["乙", "10002", "sales_a"]]
    with translation.override("en"):
        outcome = run(csv_bytes(rows))

    # The claim's own check and message, on the first row that gives them a customer.
    assert [problem.line for problem in outcome.problems] == [2]
    assert (
        "may own at most 2 customers: they own 1, and 2 more would exceed" in outcome.problems[0].reasons[0]
    )
    assert Customer.objects.count() == 1


def test_rejected_rows_file_is_in_the_same_format_with_a_reason_column(import_file):
    outcome = run(import_file("customers_one_bad_row.csv"), keep_rejected=False)
    content, name, content_type = customer_imports_rejected_file(outcome=outcome)

    assert (name, content_type) == ("list-rejected.csv", "text/csv; charset=gb18030")
    rows = list(csv.reader(io.StringIO(content.decode("gb18030"))))
    assert rows[0] == ["姓名", "QQ", "手机", "性别", "来源", "咨询课程", "班级类型", "客户备注", "拒绝原因"]
    assert rows[1] == [
        "坏行",
        "12ab",
        "13900000012",
        "男",
        "官方网站",
        "数据分析",
        "网络班",
        "",
        "QQ: QQ号必须是5到12位数字。",
    ]
    assert len(rows) == 2


def test_rejected_rows_of_an_xlsx_file_come_back_as_xlsx():
    workbook = openpyxl.Workbook()
    workbook.active.append(["姓名", "QQ"])
    workbook.active.append(["甲", "bad"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    outcome = customers_import(file=buffer.getvalue(), file_name="名单.xlsx", user=None, keep_rejected=False)

    content, name, _content_type = customer_imports_rejected_file(outcome=outcome)
    assert name == "名单-rejected.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert [cell.value for cell in sheet[2]][:2] == ["甲", "bad"]


FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)"]


def test_formula_like_cells_of_rejected_xlsx_rows_stay_text_and_dates_stay_dates():
    workbook = openpyxl.Workbook()
    workbook.active.append(["姓名", "QQ", "出生日期"])
    for name in FORMULAS:
        workbook.active.append([name, "bad", datetime.datetime(2001, 2, 3)])
    for row in workbook.active.iter_rows(min_row=2, max_col=1):
        row[0].data_type = "s"  # text, as a list saved by Excel holds it
    buffer = io.BytesIO()
    workbook.save(buffer)
    outcome = customers_import(file=buffer.getvalue(), file_name="名单.xlsx", user=None, keep_rejected=False)

    content, _name, _content_type = customer_imports_rejected_file(outcome=outcome)

    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    names = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [cell.value for cell in names] == FORMULAS
    assert {cell.data_type for cell in names} == {"s"}
    assert [row[2].value for row in sheet.iter_rows(min_row=2)] == ["2001-02-03"] * len(FORMULAS)


def test_formula_like_cells_of_rejected_csv_rows_are_inert_and_import_as_written():
    rows = [["姓名", "QQ"], *[[name, "bad"] for name in FORMULAS]]
    outcome = run(csv_bytes(rows), keep_rejected=False)

    content, _name, _content_type = customer_imports_rejected_file(outcome=outcome)

    header, *rejected = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert [row[0] for row in rejected] == ["'" + name for name in FORMULAS]
    fixed = [header[:2], *[[row[0], f"1000{index}1"] for index, row in enumerate(rejected)]]
    assert run(csv_bytes(fixed)).new == len(FORMULAS)
    assert sorted(Customer.objects.values_list("name", flat=True)) == sorted(FORMULAS)


def test_the_fixture_templates_import_cleanly(settings):
    for name in ("customer_import_template.csv", "customer_import_template.xlsx"):
        data = (settings.BASE_DIR / "fixtures" / name).read_bytes()
        outcome = customers_import(file=data, file_name=name, user=None, dry_run=True)
        assert (outcome.new, outcome.error_count, outcome.ignored_columns) == (2, 0, [])
    assert not Customer.objects.exists()


def test_dry_run_writes_nothing(import_file):
    outcome = run(import_file("customers_gbk.csv"), dry_run=True)

    assert outcome.new == 3
    assert not Customer.objects.exists()
    assert not CustomerImport.objects.exists()


def test_revert_deletes_unreferenced_new_customers_and_empties_filled_fields(boss_user, sales_user):
    existing = CustomerFactory(qq="10001", phone=None, customer_note="")
    rows = [
        ["姓名", "QQ", "手机", "客户备注"],
        ["甲", "10001", "13900000001", "补充"],
        ["乙", "10002", "", ""],
        ["丙", "10003", "", ""],
        ["丁", "10004", "", ""],
    ]
    entry = run(csv_bytes(rows), user=boss_user).customer_import
    followed = Customer.objects.get(qq="10003")
    ConsultRecordFactory(customer=followed, consultant=sales_user)
    edited = Customer.objects.get(qq="10001")
    edited.customer_note = "销售改过"
    edited.save()

    outcome = customer_imports_revert(customer_import=entry, user=boss_user)

    assert (outcome.deleted, outcome.emptied) == (2, 1)
    assert set(Customer.objects.values_list("qq", flat=True)) == {"10001", "10003"}
    existing.refresh_from_db()
    assert (existing.phone, existing.customer_note) == (None, "销售改过")
    assert len(outcome.kept) == 2
    entry.refresh_from_db()
    assert entry.reverted_by == boss_user and entry.reverted_on
    assert ConsultRecord.objects.count() == 1
    with pytest.raises(ValidationError):
        customer_imports_revert(customer_import=entry, user=boss_user)


def test_a_rejected_import_has_nothing_to_revert(import_file):
    run(import_file("customers_one_bad_row.csv"))

    with pytest.raises(ValidationError):
        customer_imports_revert(customer_import=CustomerImport.objects.get(), user=None)


def test_excel_unicode_text_utf16_with_tabs_and_date_variants_import():
    text = "姓名\tQQ\t出生日期\n甲\t10001\t2001/9/30\n乙\t10002\t2002年1月2日\n"
    outcome = run(text.encode("utf-16"))

    assert (outcome.source.encoding, outcome.new, outcome.error_count) == ("utf-16", 2, 0)
    assert Customer.objects.get(qq="10001").birthday == datetime.date(2001, 9, 30)
    assert Customer.objects.get(qq="10002").birthday == datetime.date(2002, 1, 2)


def test_an_old_xls_file_is_refused_with_a_clear_message():
    with pytest.raises(ValidationError) as error:
        run(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert error.value.code == "xls"


def test_text_with_tabs_newlines_and_backslashes_is_stored_as_written():
    note = "第一行\n第二行\t制表\\反斜杠 \\N"
    outcome = run(csv_bytes([["姓名", "QQ", "客户备注", "出生日期"], ["甲", "10001", note, "2000-01-02"]]))

    assert outcome.error_count == 0
    customer = Customer.objects.get(qq="10001")
    assert (customer.customer_note, customer.birthday) == (note, datetime.date(2000, 1, 2))
    assert customer.pk == outcome.customer_import.created_ids[0]


def test_a_customer_created_meanwhile_makes_the_import_fail_cleanly(monkeypatch, boss_user):
    # Another import (or a salesperson) inserts the same QQ between the up-front read and the insert.
    CustomerFactory(qq="10001", phone="13900000001")
    monkeypatch.setattr(CustomerResource, "existing_customers", staticmethod(lambda qqs, phones, wechats: []))
    rows = [["姓名", "QQ"], ["甲", "10001"], ["乙", "10002"]] + [
        [f"丙{i}", str(20000 + i)] for i in range(1200)
    ]

    outcome = run(csv_bytes(rows), user=boss_user)

    assert outcome.error_count == 1
    assert outcome.problems[0].line == 0
    assert Customer.objects.count() == 1
    assert CustomerImport.objects.get().error_count == 1


def test_a_phone_written_with_country_code_and_dashes_matches_the_stored_one():
    existing = CustomerFactory(qq="10001", phone="13900000001", customer_note="")
    outcome = run(
        csv_bytes([["姓名", "QQ", "手机", "客户备注"], ["甲", "99999", "+86 139-0000-0001", "补充"]])
    )

    assert (outcome.new, outcome.updated) == (0, 1)
    existing.refresh_from_db()
    assert existing.customer_note == "补充"


def test_a_bad_row_after_the_first_written_batch_leaves_the_database_as_it_was(boss_user):
    known = CustomerFactory(qq="20000000", phone=None, customer_note="")
    rows = [["姓名", "QQ", "手机", "客户备注"], ["已知", "20000000", "13800009999", "补充"]]
    rows += [[f"客户{index}", str(30000000 + index), "", ""] for index in range(1500)]
    rows.insert(1400, ["坏行", "12ab", "", ""])

    outcome = run(csv_bytes(rows), user=boss_user)

    assert [problem.line for problem in outcome.problems] == [1401]  # the header is row 1
    assert list(Customer.objects.all()) == [known]
    known.refresh_from_db()
    assert (known.phone, known.customer_note) == (None, "")
    assert not CustomerTransfer.objects.exists()
    assert not CustomerImport.objects.filter(new_count__gt=0).exists()


def test_a_dry_run_of_a_file_with_bad_rows_writes_nothing_not_even_history(import_file, boss_user):
    known = CustomerFactory(qq="10001001", phone=None)

    outcome = run(import_file("customers_one_bad_row.csv"), user=boss_user, dry_run=True)

    assert outcome.error_count == 1
    assert list(Customer.objects.all()) == [known]
    assert not CustomerImport.objects.exists()


# --- The consultant column: only the sales staff, under the claim's own locked cap check ---


def test_a_consultant_without_own_customers_is_a_row_error(ta_user, sales_user, boss_user):
    rows = [["姓名", "QQ", "销售"], ["甲", "10001", "sales_a"], ["乙", "10002", "ta_a"]]

    outcome = run(csv_bytes(rows), user=boss_user)

    assert [problem.line for problem in outcome.problems] == [3]
    assert "助教甲 不能拥有客户" in outcome.problems[0].reasons[0]
    assert not Customer.objects.exists()


def test_a_dry_run_reports_the_cap_too(settings, sales_user, boss_user):
    settings.MAX_CUSTOMER_NUM = 1
    rows = [["姓名", "QQ", "销售"], ["甲", "10001", "sales_a"], ["乙", "10002", "sales_a"]]

    outcome = run(csv_bytes(rows), user=boss_user, dry_run=True)

    assert [problem.line for problem in outcome.problems] == [2]
    assert "销售甲 最多拥有 1 个客户" in outcome.problems[0].reasons[0]


def claim_while_importing(monkeypatch, customer_ids, user):
    """The salesperson claims customers after the import read the file, just before its rows are written."""
    write = CustomerResource.write
    claimed = []

    def claim_then_write(self, *args, **kwargs):
        if not claimed:
            claimed.append(customers_claim(user=user, customer_ids=customer_ids))
        return write(self, *args, **kwargs)

    monkeypatch.setattr(CustomerResource, "write", claim_then_write)


def test_a_claim_while_the_import_runs_counts_against_the_cap(monkeypatch, settings, sales_user, boss_user):
    settings.MAX_CUSTOMER_NUM = 2
    CustomerFactory(consultant=sales_user)
    free = CustomerFactory()
    claim_while_importing(monkeypatch, [free.pk], sales_user)

    outcome = run(csv_bytes([["姓名", "QQ", "销售"], ["甲", "10001", "sales_a"]]), user=boss_user)

    assert outcome.error_count == 1
    assert Customer.objects.owned_by(sales_user).count() <= 2
    assert not Customer.objects.filter(qq="10001").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_racing_a_claim_never_takes_the_salesperson_past_the_cap(settings, make_user, pause_before):
    import threading

    from django.db import connections

    settings.MAX_CUSTOMER_NUM = 2
    seller = make_user("sales", username="sales_race", name="抢单销售")
    importer = make_user("boss", username="boss_race")
    CustomerFactory(consultant=seller)
    free = CustomerFactory()
    # The import has read the file and its counts, and is about to write its rows.
    reached, go_on = pause_before(CustomerResource, "write", "import")
    outcome = {}

    def import_file():
        try:
            outcome["import"] = run(
                csv_bytes([["姓名", "QQ", "销售"], ["甲", "10001", "sales_race"]]), user=importer
            )
        finally:
            connections.close_all()

    thread = threading.Thread(target=import_file, name="import")
    thread.start()
    try:
        assert reached.wait(timeout=30)
        customers_claim(user=seller, customer_ids=[free.pk])  # the last place is taken meanwhile
    finally:
        go_on.set()
        thread.join(timeout=60)

    assert outcome["import"].error_count == 1
    assert "最多拥有 2 个客户" in outcome["import"].problems[0].reasons[0]
    assert Customer.objects.owned_by(seller).count() == 2
    assert not Customer.objects.filter(qq="10001").exists()


def test_a_new_customer_of_the_import_is_a_customer_as_django_makes_it():
    # init_instance copies a fresh Customer's __dict__ instead of calling Model.__init__ (checked
    # against Django 5.2): the copy must hold the same values and a fresh ModelState.
    resource = CustomerResource()
    resource.begin(["name", "qq"], {})
    made = resource.init_instance()
    fresh = Customer()

    assert {
        f.attname: getattr(made, f.attname) for f in Customer._meta.concrete_fields if f.name != "date"
    } == {f.attname: getattr(fresh, f.attname) for f in Customer._meta.concrete_fields if f.name != "date"}
    assert (made._state.adding, made._state.db) == (True, None)
    assert made._state is not resource.init_instance()._state


# --- bounds: hostile files are refused before their rows are built ---
def xlsx_with_sheet(sheet_xml, *, drop=()) -> bytes:
    """A real workbook whose first sheet's XML is replaced by ``sheet_xml`` (bytes, or an iterable
    of byte chunks written as they come), without the parts named in ``drop``."""
    buffer = io.BytesIO()
    openpyxl.Workbook().save(buffer)
    hostile = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as original,
        zipfile.ZipFile(hostile, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for member in original.infolist():
            if member.filename in drop:
                continue
            if member.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(member, original.read(member))
                continue
            with archive.open(member.filename, "w") as sheet:
                for chunk in [sheet_xml] if isinstance(sheet_xml, bytes) else sheet_xml:
                    sheet.write(chunk)
    return hostile.getvalue()


SHEET_START = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
HEADER_ROW = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>qq</t></is></c></row>'
)
ONE_ROW = b'<row r="2"><c r="A2" t="inlineStr"><is><t>Li</t></is></c><c r="B2"><v>123456</v></c></row>'


def sheet(*rows: bytes, dimension: bytes = b"") -> bytes:
    return SHEET_START + dimension + b"<sheetData>" + b"".join(rows) + b"</sheetData></worksheet>"


def test_an_xlsx_of_a_million_empty_rows_is_refused_without_building_them():
    def million_empty_rows():
        yield SHEET_START + b"<sheetData>" + HEADER_ROW
        for _chunk in range(100):
            yield b"<row/>" * 10_000
        yield b"</sheetData></worksheet>"

    data = xlsx_with_sheet(million_empty_rows())
    assert len(data) < 200_000  # the 147 KB file of the review

    tracemalloc.start()
    try:
        with pytest.raises(ValidationError) as error:
            customer_files_read(file=data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert error.value.code == "too_many_rows"
    assert "200000" in error.value.messages[0]
    assert peak < 30 * 1024 * 1024


def test_an_xlsx_whose_dimension_claims_the_whole_sheet_makes_only_its_rows():
    data = xlsx_with_sheet(sheet(HEADER_ROW, ONE_ROW, dimension=b'<dimension ref="A1:XFD1048576"/>'))

    dataset = customer_files_read(file=data).dataset

    assert dataset.headers == ["name", "qq"]
    assert dataset.rows == [("Li", 123456)]


def test_a_cell_far_to_the_right_does_not_widen_every_row():
    far = b'<row r="2"><c r="A2" t="inlineStr"><is><t>Li</t></is></c><c r="XFD2"><v>1</v></c></row>'

    dataset = customer_files_read(file=xlsx_with_sheet(sheet(HEADER_ROW, far))).dataset

    assert dataset.rows == [("Li", None)]


def test_a_gap_of_a_million_row_numbers_counts_as_rows(settings):
    settings.IMPORT_MAX_ROWS = 1000
    gap = b'<row r="1000000"><c r="A1000000" t="inlineStr"><is><t>Li</t></is></c></row>'

    with pytest.raises(ValidationError) as error:
        customer_files_read(file=xlsx_with_sheet(sheet(HEADER_ROW, gap)))

    assert error.value.code == "too_many_rows"


def test_an_xlsx_that_unpacks_past_twenty_times_the_size_limit_is_refused_unread(settings, monkeypatch):
    settings.IMPORT_MAX_FILE_MB = 1
    padding = b"<!--" + b" " * (21 * 1024 * 1024) + b"-->"
    data = xlsx_with_sheet(sheet(HEADER_ROW, ONE_ROW) + padding)
    monkeypatch.setattr(openpyxl, "load_workbook", None)  # never reached

    with pytest.raises(ValidationError) as error:
        customer_files_read(file=data)

    assert error.value.code == "too_large"
    assert "20 MB" in error.value.messages[0]


def test_a_csv_of_a_million_rows_is_refused():
    data = b"name,qq\n" + b"x,1\n" * 1_000_000

    with pytest.raises(ValidationError) as error:
        customer_files_read(file=data)

    assert error.value.code == "too_many_rows"


def test_a_file_of_exactly_the_row_cap_is_read(settings):
    settings.IMPORT_MAX_ROWS = 3
    data = csv_bytes([["姓名", "QQ"], *[[f"学生{i}", f"12345{i}"] for i in range(3)]])

    assert len(customer_files_read(file=data).dataset) == 3
    with pytest.raises(ValidationError):
        customer_files_read(file=data + "学生9,123459\r\n".encode())


def test_a_file_over_the_size_limit_is_refused(settings):
    settings.IMPORT_MAX_FILE_MB = 1

    with pytest.raises(ValidationError) as error:
        customer_files_read(file=b"name,qq\n" + b"x" * (1024 * 1024))

    assert error.value.code == "too_large"


@pytest.mark.parametrize(
    "text",
    [
        "name,qq\nJosé García,123456\nZoë,234567\n",  # not GB18030 either
        "name,qq\nMüller,123456\nJürgen Fürst,234567\n",  # GB18030 reads it, as mojibake
    ],
)
def test_a_latin1_file_is_refused_naming_the_encodings_accepted(text):
    with pytest.raises(ValidationError) as error:
        customer_files_read(file=text.encode("latin-1"))

    assert error.value.code == "encoding"
    message = error.value.messages[0]
    assert "UTF-8" in message
    assert "GB18030" in message
    assert not Customer.objects.exists()


def test_gbk_text_with_a_rare_character_is_still_gbk():
    data = "姓名,QQ\n朱镕基,123456\n王小明,234567\n".encode("gbk")

    assert customer_files_read(file=data).encoding == "gb18030"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"PK\x03\x04" + b"\x00" * 100, id="not-a-zip"),
        pytest.param(xlsx_with_sheet(b"", drop={"xl/worksheets/sheet1.xml"}), id="no-sheet"),
        pytest.param(xlsx_with_sheet(b"", drop={"xl/workbook.xml"}), id="no-workbook"),
        pytest.param(xlsx_with_sheet(SHEET_START + b"<sheetData><row r='1'><c"), id="broken-sheet-xml"),
        pytest.param(xlsx_with_sheet(sheet(b'<row r="x"><c r="??"><v>1</v></c></row>')), id="bad-references"),
    ],
)
def test_a_malformed_xlsx_gets_one_clear_error(data):
    with pytest.raises(ValidationError) as error:
        customer_files_read(file=data)

    assert error.value.code in {"not_a_table", "empty", "no_headers"}
    assert len(error.value.messages) == 1


def test_row_tags_are_counted_once_across_read_boundaries(monkeypatch):
    monkeypatch.setattr(imports, "DECODE_CHUNK", 5)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "xl/worksheets/sheet1.xml", b"<sheetData><row/><x:row r='2'></x:row><rowBreaks/>" * 3
        )
    with zipfile.ZipFile(buffer) as archive:
        assert imports.count_row_tags(archive, archive.getinfo("xl/worksheets/sheet1.xml")) == 6


def test_a_yudao_gbk_export_imports_with_its_phones_wechat_ids_sources_and_notes(import_file, boss_user):
    outcome = run(import_file("customers_yudao_gbk.csv"), user=boss_user)

    assert outcome.source.encoding == "gb18030"
    assert (outcome.new, outcome.error_count) == (5, 0)
    assert outcome.ignored_columns == []
    assert outcome.noted_columns == ["电话", "邮箱", "地区", "详细地址", "所属行业", "客户等级"]
    wang = Customer.objects.get(name="王小明")
    assert (wang.phone, wang.qq, wang.wechat, wang.source) == (
        "13800138000",
        "123456789",
        "WangXM_88",
        Customer.Source.REFERRAL,
    )
    assert wang.customer_note.splitlines() == [
        "想学 Python",
        "电话: 010-62345678",
        "邮箱: wxm@example.com",
        "地区: 北京市/海淀区",
        "详细地址: 中关村大街1号",
        "所属行业: 互联网",
        "客户等级: A (重点客户)",
    ]
    # 电话 is the phone when 手机 is empty and it is a mobile number; a label we do not know is 其它.
    zhao = Customer.objects.get(name="赵敏")
    assert (zhao.phone, zhao.qq, zhao.wechat, zhao.source) == (
        "13900139000",
        None,
        "zhaomin2024",
        Customer.Source.OTHERS,
    )
    assert zhao.customer_note.splitlines() == [
        "客户来源: 线上咨询",
        "地区: 上海市",
        "所属行业: 教育",
        "客户等级: B (普通客户)",
    ]
    sun = Customer.objects.get(name="孙丽")
    assert (sun.phone, sun.qq, sun.wechat, sun.source) == (
        "13700137000",
        None,
        None,
        Customer.Source.BAIDU_ADS,
    )
    zhou = Customer.objects.get(name="周杰")
    assert (zhou.phone, zhou.qq, zhou.wechat, zhou.customer_note) == (
        None,
        None,
        "ZhouJie_wx",
        "客户来源: 促销活动",
    )
    qian = Customer.objects.get(name="钱多多")
    assert (qian.phone, qian.qq) == ("13600136000", "987654321")


def test_a_customer_with_only_a_phone_or_only_a_wechat_id_is_imported():
    outcome = run(
        csv_bytes([["姓名", "手机号码", "微信号"], ["甲", "13800000001", ""], ["乙", "", "wx_only"]])
    )

    assert (outcome.new, outcome.error_count) == (2, 0)
    assert Customer.objects.get(name="甲").qq is None
    assert Customer.objects.get(name="乙").wechat == "wx_only"


def test_a_row_without_any_contact_is_refused_and_a_file_without_a_contact_column_too():
    outcome = run(csv_bytes([["姓名", "手机", "微信"], ["甲", "", ""], ["乙", "13800000001", ""]]))

    assert outcome.problems[0].line == 2
    assert "手机" in outcome.problems[0].reasons[0]
    assert not Customer.objects.exists()
    with pytest.raises(ValidationError) as error:
        run(csv_bytes([["姓名", "性别"], ["甲", "男"]]))
    assert error.value.code == "missing_columns"
    assert "QQ / 手机 / 微信号" in error.value.messages[0]


def test_contacts_are_stored_canonical_as_the_form_stores_them():
    rows = [["姓名", "QQ", "联系电话", "微信"], ["甲", "１２３４５６７", "0086 138 0013 8000", " Wx Id "]]
    outcome = run(csv_bytes(rows))

    assert outcome.error_count == 0
    customer = Customer.objects.get()
    assert (customer.qq, customer.phone, customer.wechat) == ("1234567", "13800138000", "WxId")


@pytest.mark.parametrize(
    ("column", "cell"),
    [("QQ", "1234 567"), ("手机", "+86 138-0013-8000"), ("微信", "WANGXM_88")],
)
def test_an_existing_customer_is_found_by_any_contact_wechat_without_case(column, cell):
    existing = CustomerFactory(qq="1234567", phone="13800138000", wechat="WangXM_88", customer_note="")

    outcome = run(csv_bytes([["姓名", column, "备注"], ["甲", cell, "补充"]]))

    assert (outcome.new, outcome.updated, outcome.error_count) == (0, 1, 0)
    existing.refresh_from_db()
    assert existing.customer_note == "补充"
    assert Customer.objects.count() == 1


def test_rows_of_the_file_with_the_same_wechat_id_in_another_case_are_one_customer():
    outcome = run(csv_bytes([["姓名", "微信"], ["甲", "WxSame"], ["乙", "wxsame"]]))

    assert (outcome.new, outcome.skipped) == (1, 1)
    assert outcome.skipped_rows[0].line == 3


def test_a_wechat_id_of_another_customer_is_not_copied_onto_the_matched_one():
    CustomerFactory(qq="20001", wechat="taken")
    matched = CustomerFactory(qq="20002", wechat=None, name="")

    outcome = run(csv_bytes([["姓名", "QQ", "微信"], ["乙", "20002", "TAKEN"]]))

    assert outcome.error_count == 0
    matched.refresh_from_db()
    assert (matched.name, matched.wechat) == ("乙", None)


def test_a_campus_column_sets_the_campus_by_name_and_an_unknown_one_is_a_row_error():
    from crm.models import Campus

    north = Campus.objects.create(name="北校区")
    outcome = run(csv_bytes([["姓名", "QQ", "校区"], ["甲", "10001", "北校区"], ["乙", "10002", ""]]))

    assert outcome.error_count == 0
    assert Customer.objects.get(qq="10001").campus == north
    assert Customer.objects.get(qq="10002").campus is None
    with translation.override("en"):
        outcome = run(csv_bytes([["姓名", "QQ", "校区"], ["丙", "10003", "南校区"]]))
    assert outcome.problems[0].reasons == ["校区: No campus is called “南校区”."]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"name,qq" + b"," * 3_000_000 + b"\n", id="header"),
        pytest.param(b"name,qq\nLi,123456" + b"," * 3_000_000 + b"\n", id="row"),
    ],
)
def test_a_csv_line_of_millions_of_commas_is_refused_before_its_row_is_built(data):
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError) as error, translation.override("zh-hans"):
            customer_files_read(file=data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert error.value.code == "too_many_columns"
    assert "200" in error.value.messages[0] and "列" in error.value.messages[0]
    # The line itself (3 MB of text) is read; a row of three million cells (24 MB of pointers) is not.
    assert peak < 20 * 1024 * 1024


def test_commas_inside_quoted_cells_are_not_columns():
    note = "," * 500
    data = csv_bytes([["姓名", "QQ", "客户备注"], ["甲", "10001", note]])

    outcome = run(data)

    assert (outcome.new, outcome.error_count) == (1, 0)
    assert Customer.objects.get().customer_note == note


def test_a_file_with_more_bad_rows_than_are_kept_counts_them_all_and_lists_the_first(monkeypatch):
    from crm.resources import customers

    monkeypatch.setattr(customers, "PROBLEMS_KEPT", 3)
    monkeypatch.setattr(customers, "CHUNK_ROWS", 4)  # several chunks
    data = csv_bytes([["姓名", "QQ"], *[[f"客户{i}", "12ab"] for i in range(10)], ["好", "10001"]])

    outcome = run(data)

    assert (outcome.error_count, outcome.problems_more) == (10, 7)
    assert [problem.line for problem in outcome.problems] == [2, 3, 4]
    content, _name, _type = customer_imports_rejected_file(outcome=outcome)
    assert len(list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))) == 4
    assert not Customer.objects.exists()


def test_duplicates_and_existing_customers_are_found_across_chunks(monkeypatch):
    from crm.resources import customers

    monkeypatch.setattr(customers, "CHUNK_ROWS", 2)
    known = CustomerFactory(qq="20001", phone=None, customer_note="")
    rows = [["姓名", "QQ", "手机", "客户备注"], ["甲", "10001", "13800000001", ""], ["乙", "10002", "", ""]]
    rows += [
        ["甲again", "", "13800000001", ""],
        ["已知", "20001", "13800000002", "补充"],
        ["已知2", "20001", "", ""],
    ]

    outcome = run(csv_bytes(rows))

    assert (outcome.new, outcome.updated, outcome.skipped, outcome.error_count) == (2, 1, 2, 0)
    assert [(row.line, row.reasons) for row in outcome.skipped_rows] == [
        (4, ["与本文件第 2 行是同一客户。"]),
        (6, ["与本文件第 5 行是同一客户。"]),
    ]
    known.refresh_from_db()
    assert (known.phone, known.customer_note) == ("13800000002", "补充")


def test_the_duplicate_check_is_exact_when_every_key_shares_one_bit_of_its_bitmap(monkeypatch):
    from crm.resources import customers

    monkeypatch.setattr(customers, "CHUNK_ROWS", 2)
    # Every key "may have been seen": each is looked up, and only those an earlier chunk had are found.
    monkeypatch.setattr(customers.SeenContacts, "bits", lambda self, keys: [(0, 1)] * len(keys))
    rows = [["姓名", "QQ", "手机"], ["甲", "10001", "13800000001"], ["乙", "10002", ""]]
    rows += [["丙", "10003", ""], ["甲again", "", "13800000001"]]
    rows += [["丁", "10004", ""], ["乙again", "10002", ""]]

    outcome = run(csv_bytes(rows))

    assert (outcome.new, outcome.skipped, outcome.error_count) == (4, 2, 0)
    assert [(row.line, row.reasons) for row in outcome.skipped_rows] == [
        (5, ["与本文件第 2 行是同一客户。"]),
        (7, ["与本文件第 3 行是同一客户。"]),
    ]


def test_the_duplicate_check_hashes_each_key_of_a_chunk_once(monkeypatch):
    from crm.resources import customers

    monkeypatch.setattr(customers, "CHUNK_ROWS", 2)
    bits, hashed = customers.SeenContacts.bits, []

    def bits_noted(self, keys):
        hashed.extend(keys)
        return bits(self, keys)

    monkeypatch.setattr(customers.SeenContacts, "bits", bits_noted)
    rows = [
        ["姓名", "QQ", "手机"],
        ["甲", "10001", "13800000001"],
        ["乙", "10002", ""],
        ["甲again", "", "13800000001"],
    ]

    outcome = run(csv_bytes(rows))

    assert (outcome.new, outcome.skipped) == (2, 1)
    # Each chunk's contacts, and in the second the customer the first one wrote (its key, "#" and pk).
    first = Customer.objects.get(qq="10001").pk
    assert sorted(hashed) == sorted(["q10001", "p13800000001", "q10002", "p13800000001", f"#{first}"])


def test_the_resource_has_one_way_in_not_import_exports_own_loop():
    from crm.resources.customers import Table

    with pytest.raises(NotImplementedError):
        CustomerResource().import_data(Table(headers=["name", "qq"], rows=[["甲", "10001"]]))


def test_a_file_is_read_from_the_disk_a_chunk_at_a_time_never_whole(tmp_path, monkeypatch):
    from crm.resources import customers

    monkeypatch.setattr(customers, "CHUNK_ROWS", 10)
    note = "备注" * 25_000  # 100 KB of GBK a row
    path = tmp_path / "名单.csv"
    with path.open("w", encoding="gb18030", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["姓名", "QQ", "客户备注"])
        writer.writerows([f"客户{i}", str(10000 + i), note] for i in range(160))
    assert path.stat().st_size > 15 * 1024 * 1024

    tracemalloc.start()
    try:
        with path.open("rb") as file:
            outcome = customers_import(file=file, file_name=path.name, user=None, dry_run=True)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (outcome.new, outcome.error_count, outcome.source.encoding) == (160, 0, "gb18030")
    # A megabyte of the file and ten rows at a time (their notes: 1 MB of text), not its 16 MB.
    assert peak < 6 * 1024 * 1024


def chunk_queries(qqs: list[str]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    data = csv_bytes([["姓名", "QQ"], *[[f"客户{i}", qq] for i, qq in enumerate(qqs)]])
    with CaptureQueriesContext(connection) as queries:
        outcome = run(data)
    assert (outcome.new, outcome.error_count) == (len(set(qqs)), 0)
    Customer.objects.all().delete()
    return len(queries)


def test_an_import_takes_the_same_queries_for_every_chunk(monkeypatch):
    from django.db import connection

    from crm.resources import customers

    monkeypatch.setattr(customers, "CHUNK_ROWS", 2)
    one_chunk = chunk_queries(["30000", "30001"])
    three_chunks = chunk_queries([str(30000 + i) for i in range(6)])
    # Each later chunk repeats the first row's QQ number: it looks up the row that had it.
    repeating = chunk_queries(["30000", "30001", "30000", "30003", "30000", "30005"])

    # A chunk: its existing customers, the insert in a savepoint (its ids drawn first on PostgreSQL),
    # its contacts kept for the next chunks (PostgreSQL's COPY goes through psycopg2's cursor, which
    # Django does not count).
    per_chunk = 4 if connection.vendor == "postgresql" else 5
    assert three_chunks - one_chunk == 2 * per_chunk
    assert repeating - one_chunk == 2 * (per_chunk + 1)
    # The temporary table's drop and create, its drop at the end, the history entry, written and read
    # back without its JSON columns, and the transaction's savepoint.
    assert one_chunk == per_chunk + 7


@pytest.mark.postgres
@pytest.mark.parametrize("wechats", [{"wx_1", "wx_2"}, set()])
def test_a_chunks_existing_customers_are_found_by_the_unique_indexes_not_a_scan_of_the_table(wechats):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with connection.cursor() as cursor:
        # A third of them with a WeChat id.
        cursor.execute(
            "INSERT INTO crm_customer (qq, qq_name, name, sex, phone, wechat, source, course, class_type,"
            " customer_note, status, network_consult_note, date, locked)"
            " SELECT (10000000 + n)::text, '', '', '', '13' || lpad(n::text, 9, '0'),"
            " CASE WHEN n % 3 = 0 THEN 'wechat_' || n END, 'qq', '', '', '',"
            " 'unregistered', '', now(), false FROM generate_series(1, 30000) AS n"
        )
        cursor.execute("ANALYZE crm_customer")
    qqs = {str(20000000 + n) for n in range(5000)}
    phones = {f"14{n:09d}" for n in range(5000)}
    with CaptureQueriesContext(connection) as queries:
        assert list(CustomerResource.existing_customers(qqs, phones, wechats)) == []
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {query['sql']}")
        plan = "\n".join(row for (row,) in cursor.fetchall())

    # Seeing the 10,000 values of a chunk, the planner expected as many rows and scanned the table.
    assert "Seq Scan" not in plan, plan
    assert "crm_customer_qq_key" in plan and "crm_customer_phone_key" in plan, plan
    # The WeChat ids by their unique index; a chunk without any asks nothing of the column.
    assert ("crm_customer_unique_wechat" in plan) is bool(wechats), plan
    assert ("wechat" in query["sql"]) is bool(wechats)
