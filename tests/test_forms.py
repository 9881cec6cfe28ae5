"""The register form: labels from the model, Django's password validators, a mismatch for no field."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.text import capfirst

from crm.forms import HomeworkUploadForm, RegisterForm
from crm.models import UserProfile

pytestmark = pytest.mark.django_db

VALID = {
    "username": "newstudent",
    "name": "李同学",
    "mobile": "13912345678",
    "password": "Zx9-campus-pass",
    "password2": "Zx9-campus-pass",
}


def test_labels_come_from_the_verbose_names_of_the_user_model():
    form = RegisterForm()
    for name in ("username", "name", "mobile", "password"):
        assert form.fields[name].label == capfirst(UserProfile._meta.get_field(name).verbose_name)
    assert str(form.fields["password2"].label) == "再次输入密码"


def test_a_valid_form_creates_an_account_without_role_or_admin_access():
    form = RegisterForm(data=VALID)
    assert form.is_valid(), form.errors
    user = form.save()
    user.refresh_from_db()
    assert user.check_password(VALID["password"])
    assert user.password != VALID["password"]
    assert not user.is_staff and not user.is_superuser
    assert user.groups.count() == 0
    assert (user.name, user.mobile) == ("李同学", "13912345678")


def test_mismatched_passwords_are_an_error_of_no_field():
    form = RegisterForm(data={**VALID, "password2": "Zx9-campus-other"})
    assert not form.is_valid()
    assert form.non_field_errors() == ["两次输入的密码不一致。"]
    assert "password" not in form.errors and "password2" not in form.errors


def test_a_duplicate_username_is_refused(make_user):
    make_user(username="newstudent")
    form = RegisterForm(data=VALID)
    assert not form.is_valid()
    assert list(form.errors) == ["username"]


@pytest.mark.parametrize("weak", ["12345678", "abc", "password"])
def test_a_weak_password_is_refused_by_djangos_validators(weak):
    form = RegisterForm(data={**VALID, "password": weak, "password2": weak})
    assert not form.is_valid()
    assert list(form.errors) == ["password"]


def test_a_short_password_is_refused_in_chinese():
    form = RegisterForm(data={**VALID, "password": "Zx9-ab", "password2": "Zx9-ab"})
    assert form.errors["password"] == ["密码长度太短。密码必须包含至少 8 个字符。"]


def test_the_admin_password_forms_say_it_in_chinese_too():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as raised:
        validate_password("Zx9-ab")
    assert raised.value.messages == ["密码长度太短。密码必须包含至少 8 个字符。"]


def test_a_password_like_the_username_is_refused():
    form = RegisterForm(
        data={**VALID, "username": "zhangwei2026", "password": "zhangwei2026", "password2": "zhangwei2026"}
    )
    assert not form.is_valid()
    assert "password" in form.errors


def test_real_name_and_a_valid_mobile_are_required():
    form = RegisterForm(data={**VALID, "name": "", "mobile": "12345"})
    assert not form.is_valid()
    assert set(form.errors) == {"name", "mobile"}


def test_homework_of_an_allowed_type_and_size_is_accepted(settings):
    settings.HOMEWORK_ALLOWED_EXTENSIONS = ["zip", "py"]
    form = HomeworkUploadForm(files={"homework": SimpleUploadedFile("Day1.PY", b"print(1)")})
    assert form.is_valid(), form.errors


def test_homework_of_another_type_is_refused_with_the_allowed_types(settings):
    settings.HOMEWORK_ALLOWED_EXTENSIONS = ["zip", "py"]
    form = HomeworkUploadForm(files={"homework": SimpleUploadedFile("virus.exe", b"MZ")})
    assert not form.is_valid()
    assert form.errors["homework"] == ["不接受这种类型的文件。允许的类型：zip, py。"]


def test_homework_over_the_size_limit_is_refused_with_both_sizes(settings):
    settings.HOMEWORK_MAX_UPLOAD_MB = 1
    form = HomeworkUploadForm(files={"homework": SimpleUploadedFile("big.zip", b"x" * 3 * 1024 * 1024)})
    assert not form.is_valid()
    assert form.errors["homework"] == ["文件大小为 3.0\xa0MB，上限是 1.0\xa0MB。"]


# Usernames and passwords at registration


def test_a_username_differing_only_in_case_is_refused(make_user):
    make_user(username="sales1")
    form = RegisterForm(data={**VALID, "username": "SALES1"})
    assert not form.is_valid()
    assert form.errors["username"] == ["这个用户名已被占用（大小写字母视为相同）。"]


def test_a_full_width_username_is_normalised_and_then_compared(make_user):
    make_user(username="sales1")
    assert not RegisterForm(data={**VALID, "username": "ｓａｌｅｓ１"}).is_valid()
    form = RegisterForm(data={**VALID, "username": "ｓａｌｅｓ２"})
    assert form.is_valid(), form.errors
    assert form.save().username == "sales2"


@pytest.mark.parametrize("lookalike", ["s\u0430les1", "sale\u03c21"], ids=["cyrillic a", "greek s"])
def test_a_username_mixing_latin_with_cyrillic_or_greek_is_refused(lookalike):
    form = RegisterForm(data={**VALID, "username": lookalike})
    assert not form.is_valid()
    assert form.errors["username"] == ["用户名不能把拉丁字母和西里尔字母或希腊字母混在一起。"]


@pytest.mark.parametrize("username", ["张伟2026", "zhang_伟", "\u0438\u0432\u0430\u043d"])
def test_a_username_of_one_script_or_with_chinese_is_accepted(username):
    form = RegisterForm(data={**VALID, "username": username})
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("blank", [" " * 8, "\u3000" * 8, "\t" * 10])
def test_a_password_of_blanks_only_is_refused(blank):
    form = RegisterForm(data={**VALID, "password": blank, "password2": blank})
    assert not form.is_valid()
    assert "密码不能只由空格组成。" in form.errors["password"]
