"""manage.py recycle_customers [--dry-run] [--days N]: run by cron, e.g. every night at 3:00."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from crm.services.customers import customers_recycle


class Command(BaseCommand):
    help = (
        "Put back in the public pool the private customers not followed up for CUSTOMER_RECYCLE_DAYS days, "
        "or without a deal CUSTOMER_DEAL_DAYS days after the claim, who have not signed up and are not "
        "locked, and print how many each salesperson lost."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be recycled, change nothing"
        )
        parser.add_argument(
            "--days",
            type=int,
            help="days without a follow-up (default: the CUSTOMER_RECYCLE_DAYS setting; 0: this rule off)",
        )
        parser.add_argument(
            "--deal-days",
            type=int,
            help="days after the claim without a deal (default: CUSTOMER_DEAL_DAYS; 0: this rule off)",
        )

    def handle(self, *args, **options):
        days = settings.CUSTOMER_RECYCLE_DAYS if options["days"] is None else options["days"]
        deal_days = settings.CUSTOMER_DEAL_DAYS if options["deal_days"] is None else options["deal_days"]
        if days < 0 or deal_days < 0:
            raise CommandError("--days and --deal-days must be 0 (off) or more.")
        if days == 0 and deal_days == 0:
            self.stdout.write("Recycling is off (0 days): nothing to do.")
            return
        dry_run = options["dry_run"]
        counts = customers_recycle(days=days, deal_days=deal_days, dry_run=dry_run)
        verb = "would be recycled" if dry_run else "recycled"
        users = get_user_model().objects.in_bulk(list(counts))
        for user_id, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            user = users.get(user_id)
            who = f"{user.username} ({user})" if user else f"user #{user_id}"
            self.stdout.write(f"{who}: {count} {verb}")
        total = sum(counts.values())
        rules = []
        if days:
            rules.append(f"no follow-up for {days} days or more")
        if deal_days:
            rules.append(f"no deal {deal_days} days after the claim")
        self.stdout.write(
            f"{total} customers {verb} to the public pool ({'; '.join(rules)})"
            + (" [dry run, nothing changed]" if dry_run else "")
        )
