"""Choices shared by several models. Stored codes are a contract; labels are translated."""

import functools

from django.db import models
from django.utils.encoding import force_str
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Course(models.TextChoices):
    LINUX = "LinuxL", _("Linux advanced")
    PYTHON_FULLSTACK = "PythonFullStack", _("Python full-stack development")
    GO = "Go", _("Go development")
    FRONTEND = "FrontEnd", _("Web front-end")
    DATA = "DataAnalysis", _("Data analysis")


class ClassType(models.TextChoices):
    FULLTIME = "fulltime", _("Full-time class")
    ONLINE = "online", _("Online class")
    WEEKEND = "weekend", _("Weekend class")


class PayType(models.TextChoices):
    DEPOSIT = "deposit", _("Deposit / registration fee")
    TUITION = "tuition", _("Tuition")
    TRANSFER = "transfer", _("Class transfer")
    DROPOUT = "dropout", _("Drop-out")
    REFUND = "refund", _("Refund")


class PaymentStatus(models.TextChoices):
    UNCONFIRMED = "unconfirmed", _("Unconfirmed")
    CONFIRMED = "confirmed", _("Confirmed")
    REJECTED = "rejected", _("Rejected")


def choice_labels(source) -> dict:
    """The translated label of each code of ``source`` (a model field with choices, or a ``Choices``
    class), in the active language: worked out once per language and process. A list cell's or an
    export row's ``get_FOO_display()`` hashes and translates every choice of its field at each call."""
    return _labels(source, get_language())


def choice_label(instance, name: str):
    """``instance.get_<name>_display()`` through ``choice_labels``: the label of the field's code, the
    code itself when it is not one of the choices."""
    field = instance._meta.get_field(name)
    code = getattr(instance, field.attname)
    return choice_labels(field).get(code, code)


@functools.cache
def _labels(source, language: str | None) -> dict:
    choices = source.choices if isinstance(source, type) else source.flatchoices
    return {code: force_str(label) for code, label in choices}
