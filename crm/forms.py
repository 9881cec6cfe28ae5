"""Forms of the pages outside the admin, and the admin's login form."""

import unicodedata

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from crm.models import UserProfile
from crm.models.customer import mobile_validator
from crm.services.students import validate_homework_file

# Scripts whose letters pass for Latin ones: "sаles1" with a Cyrillic "а" would look like "sales1".
LOOKALIKE_SCRIPTS = {"CYRILLIC", "GREEK"}


def letter_scripts(text: str) -> set[str]:
    """The scripts of the letters of ``text`` by their Unicode names ("LATIN SMALL LETTER A")."""
    return {unicodedata.name(char, "").split(" ", 1)[0] for char in text if char.isalpha()}


class LengthCheckedLoginMixin:
    """Django's AuthenticationForm sets the username's max_length after the field is built, so nothing
    checks it, and the overlong name reaches django-axes, whose log column is shorter (a 500 on
    PostgreSQL). The check turns it into a form error; authenticate() is then not called."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))


class LoginForm(LengthCheckedLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(LengthCheckedLoginMixin, AdminAuthenticationForm):
    pass


class RegisterForm(forms.ModelForm):
    """A new login account: no role and no admin access until a boss gives it one."""

    password2 = forms.CharField(label=_("Password again"), strip=False, widget=forms.PasswordInput)

    class Meta:
        model = UserProfile
        fields = ["username", "name", "mobile", "password"]
        widgets = {"password": forms.PasswordInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("name", "mobile"):
            self.fields[name].required = True
        self.fields["mobile"].validators.append(mobile_validator)
        self.fields["password"].strip = False
        self.fields["password"].help_text = password_validation.password_validators_help_text_html()
        self.fields["username"].widget.attrs["autofocus"] = True

    def clean_username(self):
        # NFKC first, as Django's own user forms do: "ｓａｌｅｓ１" (full width) is "sales1".
        username = unicodedata.normalize("NFKC", self.cleaned_data["username"])
        scripts = letter_scripts(username)
        if "LATIN" in scripts and scripts & LOOKALIKE_SCRIPTS:
            raise ValidationError(
                _("A username may not mix Latin letters with Cyrillic or Greek ones."), code="mixed_scripts"
            )
        # Taken names, without regard to case, are refused by the model's constraint (crm/models/user.py).
        return username

    def clean(self):
        cleaned = super().clean()
        password, again = cleaned.get("password"), cleaned.get("password2")
        if password and again and password != again:
            # Belongs to neither field: the form shows it at the top, through non_field_errors.
            raise ValidationError(_("The two passwords do not match."), code="password_mismatch")
        return cleaned

    def _post_clean(self):
        # The hook Django 5.2's own BaseUserCreationForm validates the password in (checked against
        # that version); tests/test_forms.py pins the similarity check against the username.
        super()._post_clean()
        # After the instance has the username and name, so that the similarity validator sees them.
        password = self.cleaned_data.get("password")
        if password:
            try:
                password_validation.validate_password(password, self.instance)
            except ValidationError as error:
                self.add_error("password", error)

    def save(self, commit=True):
        user = super().save(commit=False)
        user.set_password(self.cleaned_data["password"])
        user.is_staff = False
        user.is_superuser = False
        if commit:
            user.save()
        return user


class HomeworkUploadForm(forms.Form):
    homework = forms.FileField(label=_("homework file"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Also what a refused upload shows: crm.uploads stops reading a file over the limit, so the
        # form receives none.
        limit = filesizeformat(settings.HOMEWORK_MAX_UPLOAD_MB * 1024 * 1024)
        self.fields["homework"].error_messages["required"] = _(
            "Choose a file to hand in, of at most %(limit)s."
        ) % {"limit": limit}

    def clean_homework(self):
        upload = self.cleaned_data["homework"]
        validate_homework_file(upload)
        return upload
