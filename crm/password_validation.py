"""Django's password validators, where one needs a fix to speak Chinese."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# Django's own wording, which its Chinese catalogue translates. Django 5.2 asks for a "%d" variant of it
# that the catalogue lacks, so the error showed in English on a Chinese screen. Passed to ngettext as a
# variable on purpose: makemessages must not copy it, untranslated, into our catalogue.
TOO_SHORT = (
    "This password is too short. It must contain at least %(min_length)d character.",
    "This password is too short. It must contain at least %(min_length)d characters.",
)


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    def get_error_message(self):
        return ngettext(*TOO_SHORT, self.min_length) % {"min_length": self.min_length}


class NotBlankValidator:
    """Refuse a password of spaces (or other blanks) only: eight spaces pass every length check."""

    def validate(self, password, user=None):
        if not password.strip():
            raise ValidationError(_("The password may not consist of spaces only."), code="password_blank")

    def get_help_text(self):
        return _("Your password may not consist of spaces only.")
