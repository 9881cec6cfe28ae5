"""manage.py import_customers FILE: the admin's import, from the command line, with a progress bar."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.services.imports import (
    ENCODING_CHOICES,
    customer_imports_rejected_file,
    customers_import,
    file_size_check,
)


class ProgressBar:
    """``[#####-----] 5000/10000`` on one line of the terminal."""

    def __init__(self, stream, label: str, width: int = 40):
        self.stream, self.label, self.width = stream, label, width
        self.done = None

    def __call__(self, done: int, total: int) -> None:
        if done == self.done:
            return
        self.done = done
        total = max(total, 1)
        filled = self.width * min(done, total) // total
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'-' * (self.width - filled)}] {done}/{total}", ending=""
        )
        if done >= total:
            self.stream.write("")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import a customer list (CSV in GBK or UTF-8, or xlsx) like the admin Import page: all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV or xlsx file")
        parser.add_argument("--encoding", choices=[code for code, _label in ENCODING_CHOICES], default="auto")
        parser.add_argument("--user", help="username recorded as the importer in the import history")
        parser.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
        parser.add_argument("--rejected", help="write the rejected rows, with the reasons, to this file")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user called {options['user']!r}.")
        label = "check" if options["dry_run"] else "import"
        try:
            file_size_check(path.stat().st_size)
            # Read from the disk a chunk at a time, as the admin's jobs read the stored upload.
            with path.open("rb") as file:
                outcome = customers_import(
                    file=file,
                    file_name=path.name,
                    user=user,
                    encoding=options["encoding"],
                    dry_run=options["dry_run"],
                    keep_rejected=not options["dry_run"],
                    progress=None if options["no_progress"] else ProgressBar(self.stderr, label),
                )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error

        self.stdout.write(
            f"{path.name}: {outcome.total} rows — new {outcome.new}, updated {outcome.updated}, "
            f"skipped {outcome.skipped}, errors {outcome.error_count}"
        )
        if outcome.ignored_columns:
            self.stdout.write(f"ignored columns: {', '.join(outcome.ignored_columns)}")
        if outcome.noted_columns:
            self.stdout.write(f"kept in the customer note: {', '.join(outcome.noted_columns)}")
        self.list_rows(self.stdout, "skipped", outcome.skipped_rows, limit=20, total=outcome.skipped)
        if outcome.ok:
            verb = "would be imported (dry run)" if options["dry_run"] else "imported"
            self.stdout.write(self.style.SUCCESS(f"{outcome.new + outcome.updated} customers {verb}."))
            return
        self.list_rows(self.stderr, "rejected", outcome.problems, limit=200, total=outcome.error_count)
        if options["rejected"]:
            content, _name, _content_type = customer_imports_rejected_file(outcome=outcome)
            Path(options["rejected"]).write_bytes(content)
            self.stderr.write(f"rejected rows written to {options['rejected']}")
        raise CommandError(f"{outcome.error_count} rows have errors: nothing was imported.")

    @staticmethod
    def list_rows(stream, verb: str, rows, limit: int, total: int) -> None:
        # ``rows`` are the first ones the import kept; ``total`` counts them all.
        for row in rows[:limit]:
            stream.write(f"row {row.line} {verb}: {'; '.join(row.reasons)}")
        if total > min(len(rows), limit):
            stream.write(f"… and {total - min(len(rows), limit)} more rows {verb}.")
