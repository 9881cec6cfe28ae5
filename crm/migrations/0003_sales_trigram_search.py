"""Trigram indexes for the customer search, on PostgreSQL only.

The admin's case-insensitive search is ``UPPER(col::text) LIKE UPPER('%q%')``: a trigram index on the
plain column is never used for it, one on ``UPPER(col::text)`` is (a sequential scan of 300-700 ms at
1M customers becomes an index scan of a few ms). Other databases get no index.
"""

from django.db import migrations

SEARCH_COLUMNS = ["name", "qq", "qq_name", "phone"]


def index_name(column: str) -> str:
    return f"crm_customer_{column}_upper_trgm"


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCH_COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{index_name(column)}" ON "crm_customer" '
            f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCH_COLUMNS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{index_name(column)}"')


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_imports_customerimport_reverted_by"),
    ]

    operations = [
        # Backwards drops the indexes but keeps the extension, which other code may use.
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
