"""Choices shared by several models. Stored codes are a contract; labels are translated."""

from django.db import models
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
