"""The customer lists' order indexes: (date, id) for every list and a deep page read from the index alone,
the pool's (-date, -id) with the campus beside it in place of (campus, -date), which no list used."""

import django.utils.timezone
from django.db import migrations, models


def install_triggers(apps, schema_editor):
    from crm.triggers import trigger_statements

    for statement in trigger_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    # SQLite rebuilds crm_customer for the altered field, and refuses while other tables' triggers
    # name it; they are put back at the end (and by post_migrate).
    from crm.triggers import drop_statements

    for statement in drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0017_list_filter_indexes"),
    ]

    operations = [
        migrations.RunPython(drop_triggers, install_triggers),
        migrations.RemoveIndex(
            model_name="customer",
            name="crm_customer_pool_campus",
        ),
        migrations.AlterField(
            model_name="customer",
            name="date",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="created"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["date", "id"], name="crm_customer_date_id"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("consultant__isnull", True)),
                fields=["-date", "-id"],
                include=("campus",),
                name="crm_customer_pool_date",
            ),
        ),
        migrations.RunPython(install_triggers, drop_triggers),
    ]
