import io

import pytest
from django.core.management import CommandError, call_command

from crm.models import Customer, CustomerImport

pytestmark = pytest.mark.django_db


def import_customers(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_imports_a_file_with_a_progress_bar(settings, boss_user):
    path = settings.BASE_DIR / "tests" / "data" / "customers_gbk.csv"
    out, err = import_customers(str(path), "--user", boss_user.username)

    assert "new 3, updated 0, skipped 0, errors 0" in out
    assert "[########################################] 3/3" in err
    assert Customer.objects.get(qq="10001001").name == "张三"
    assert CustomerImport.objects.get().user == boss_user


def test_the_command_imports_nothing_from_a_file_with_a_bad_row_and_writes_the_rejected_rows(
    settings, tmp_path
):
    path = settings.BASE_DIR / "tests" / "data" / "customers_one_bad_row.csv"
    rejected = tmp_path / "rejected.csv"

    with pytest.raises(CommandError, match="1 rows have errors: nothing was imported"):
        import_customers(str(path), "--rejected", str(rejected), "--no-progress")

    assert not Customer.objects.exists()
    assert "12ab" in rejected.read_bytes().decode("gb18030")


def test_dry_run_writes_nothing_and_keeps_no_history(settings):
    path = settings.BASE_DIR / "tests" / "data" / "customers.xlsx"
    out, _err = import_customers(str(path), "--dry-run", "--no-progress")

    assert "would be imported" in out
    assert not Customer.objects.exists() and not CustomerImport.objects.exists()


def test_an_unreadable_file_is_a_command_error(settings):
    with pytest.raises(CommandError):
        import_customers(str(settings.BASE_DIR / "tests" / "data" / "garbage.bin"))
    with pytest.raises(CommandError):
        import_customers("/no/such/file.csv")


def test_the_command_stores_contacts_canonical_and_imports_customers_without_qq(settings, boss_user):
    path = settings.BASE_DIR / "tests" / "data" / "customers_yudao_gbk.csv"
    out, _err = import_customers(str(path), "--user", boss_user.username, "--no-progress")

    assert "new 5, updated 0, skipped 0, errors 0" in out
    assert "kept in the customer note: 电话, 邮箱, 地区, 详细地址, 所属行业, 客户等级" in out
    assert set(Customer.objects.values_list("phone", flat=True)) == {
        "13800138000",
        "13900139000",
        "13700137000",
        "13600136000",
        None,
    }
    assert Customer.objects.get(name="周杰").qq is None
