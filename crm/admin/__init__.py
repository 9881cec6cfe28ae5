"""Admin registrations, one module per area of the school's work."""

from crm.admin import customers, finance, followups, imports, teaching, users  # noqa: F401
