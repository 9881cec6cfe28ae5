"""manage.py cleanup_jobs: delete old jobs' result files and never-confirmed import uploads (run daily)."""

from django.core.management.base import BaseCommand

from crm.services.jobs import jobs_cleanup


class Command(BaseCommand):
    help = (
        "Delete the result files of background jobs finished more than JOB_RESULT_DAYS ago, and the "
        "uploads of import previews that were never confirmed within as long."
    )

    def handle(self, *args, **options):
        results, uploads = jobs_cleanup()
        self.stdout.write(f"{results} result files and {uploads} unconfirmed uploads deleted.")
