"""manage.py aggregate_dashboard: store the dashboard's daily figures of closed days (every few minutes)."""

from django.core.management.base import BaseCommand

from crm.services.daily_figures import daily_figures_aggregate


class Command(BaseCommand):
    help = (
        "Store the dashboard's figures of every closed day that is not stored yet or changed since it "
        "was (the days the database triggers marked). The dashboard computes every other day live, so "
        "its figures are exact whenever this runs; it runs faster the more days are stored."
    )

    def handle(self, *args, **options):
        days = daily_figures_aggregate()
        self.stdout.write(f"{days} days aggregated.")
