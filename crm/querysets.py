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
