"""manage.py aggregate_dashboard: store the dashboard's daily figures of closed days (every few minutes)."""

from django.core.management.base import BaseCommand

from crm.services.daily_figures import daily_figures_aggregate


class Command(BaseCommand):
    help = (
        "Store the dashboard's figures of every closed day that is not stored yet or changed since it "
        "was (the days the database triggers marked); a day is registered by one run and stored by the "
        "next. The dashboard computes every other day live, so its figures are exact whenever this "
        "runs; it is faster the more days are stored."
    )

    def handle(self, *args, **options):
        registered, stored = daily_figures_aggregate()
        self.stdout.write(f"{registered} days registered (stored by the next run), {stored} days stored.")
