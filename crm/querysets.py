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


# --- teaching ---
# Who sees classes, course records and study records. A class's staff are its ``teachers`` (its
# lecturers, its class teacher and its TAs). The boss sees everything. Sales enroll customers
# into any class and finance takes payments for any class, so whoever handles enrollments or
# payments sees every class too (their role gives them only the view permission on classes).
SEES_EVERY_RECORD = "crm.view_all_customers"
SEES_EVERY_CLASS = (SEES_EVERY_RECORD, "crm.add_enrollment", "crm.view_paymentrecord")


class ClassListQuerySet(models.QuerySet):
    def taught_by(self, user):
        return self.filter(teachers=user)

    def managed_by(self, user):
        """The classes whose students, course records and study records the user works with."""
        if user.has_perm(SEES_EVERY_RECORD):
            return self
        return self.taught_by(user)

    def visible_to(self, user):
        if any(user.has_perm(perm) for perm in SEES_EVERY_CLASS):
            return self
        return self.taught_by(user)


class CourseRecordQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user.has_perm(SEES_EVERY_RECORD):
            return self
        return self.filter(re_class__teachers=user)


class StudyRecordQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user.has_perm(SEES_EVERY_RECORD):
            return self
        return self.filter(course_record__re_class__teachers=user)
