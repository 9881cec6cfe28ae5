"""Forms of the pages outside the admin."""

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.models import UserProfile
from crm.models.customer import mobile_validator
from crm.services.students import validate_homework_file


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

    def clean(self):
        cleaned = super().clean()
        password, again = cleaned.get("password"), cleaned.get("password2")
        if password and again and password != again:
            # Belongs to neither field: the form shows it at the top, through non_field_errors.
            raise ValidationError(_("The two passwords do not match."), code="password_mismatch")
        return cleaned

    def _post_clean(self):
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

    def clean_homework(self):
        upload = self.cleaned_data["homework"]
        validate_homework_file(upload)
        return upload
