"""Read vocabulary of the models: who sees which rows. Never writes."""

from django.db import models


class CustomerQuerySet(models.QuerySet):
    def public(self):
        return self.filter(consultant__isnull=True)

    def owned_by(self, user):
        return self.filter(consultant=user)

    def visible_to(self, user):
        if user.has_perm("crm.view_all_customers"):
            return self
        return self.owned_by(user)

    def students(self):
        return self.filter(status="studying")


class ConsultRecordQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(delete_status=False)

    def visible_to(self, user):
        if user.has_perm("crm.view_all_customers"):
            return self
        return self.filter(consultant=user)


class CustomerTransferQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The history of the user's own customers and every change the user took part in."""
        if user.has_perm("crm.view_all_customers"):
            return self
        return self.filter(
            models.Q(customer__consultant=user)
            | models.Q(from_consultant=user)
            | models.Q(to_consultant=user)
            | models.Q(by=user)
        )
