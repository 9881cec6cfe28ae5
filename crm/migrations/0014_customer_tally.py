"""The customer tally (CustomerTally): its table, and on PostgreSQL the statement triggers that keep it
exact and its first rows, counted from the customers already there. Other databases get the empty table
and count the customers themselves. And the trigram index of the follow-ups' notes (PostgreSQL)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

GROUP = "consultant_id, campus_id, status, source"

# Each statement on crm_customer adds the difference it made to each group, as new rows only: no
# statement ever waits on another's counter row (concurrent claims move customers out of the same
# pool group). An update that moves no customer between groups adds nothing.
FUNCTION = f"""
CREATE OR REPLACE FUNCTION crm_customer_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM crm_customertally;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO crm_customertally ({GROUP}, n)
        SELECT {GROUP}, count(*) FROM new_rows GROUP BY {GROUP};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO crm_customertally ({GROUP}, n)
        SELECT {GROUP}, -count(*) FROM old_rows GROUP BY {GROUP};
    ELSE
        INSERT INTO crm_customertally ({GROUP}, n)
        SELECT {GROUP}, sum(d) FROM (
            SELECT {GROUP}, 1 AS d FROM new_rows UNION ALL SELECT {GROUP}, -1 FROM old_rows
        ) AS moved GROUP BY {GROUP} HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END $$;
"""
TRIGGERS = [
    "CREATE TRIGGER crm_customer_tally_insert AFTER INSERT ON crm_customer"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_customer_tally()",
    "CREATE TRIGGER crm_customer_tally_delete AFTER DELETE ON crm_customer"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_customer_tally()",
    "CREATE TRIGGER crm_customer_tally_update AFTER UPDATE ON crm_customer"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION crm_customer_tally()",
    "CREATE TRIGGER crm_customer_tally_truncate AFTER TRUNCATE ON crm_customer"
    " FOR EACH STATEMENT EXECUTE FUNCTION crm_customer_tally()",
]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "LOCK TABLE crm_customer IN SHARE MODE"
    )  # no write between the fill and the triggers
    schema_editor.execute(FUNCTION)
    for trigger in TRIGGERS:
        schema_editor.execute(trigger)
    schema_editor.execute(
        f"INSERT INTO crm_customertally ({GROUP}, n) SELECT {GROUP}, count(*) FROM crm_customer GROUP BY {GROUP}"
    )


# A follow-up's note is searched beside its customer's name and QQ (RelatedSearchAdminMixin): a trigram
# index on what the admin's case-insensitive search compares, as for the customers (0003).
NOTE_INDEX = "crm_consultrecord_note_upper_trgm"


def create_note_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{NOTE_INDEX}" ON "crm_consultrecord" USING gin (UPPER("note"::text) gin_trgm_ops)'
    )


def drop_note_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{NOTE_INDEX}"')


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("insert", "delete", "update", "truncate"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS crm_customer_tally_{name} ON crm_customer")
    schema_editor.execute("DROP FUNCTION IF EXISTS crm_customer_tally()")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0013_dashboard_days"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("status", models.CharField(max_length=16)),
                ("source", models.CharField(max_length=64)),
                ("n", models.BigIntegerField()),
                (
                    "campus",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="crm.campus",
                    ),
                ),
                (
                    "consultant",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"default_permissions": ()},
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
        migrations.RunPython(create_note_index, drop_note_index, elidable=False),
    ]
