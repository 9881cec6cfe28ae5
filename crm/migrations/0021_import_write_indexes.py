"""Fewer index entries for an import to write into crm_customer (issue 15: the database's share of a
1,000,000-row import, bench/README.md); every list, search, filter and foreign key keeps an index it uses:

- the consultant's own index goes: crm_customer_owner_status (consultant_id, status) leads with it;
- the referrer's, the online consultant's and the next follow-up's index only the rows where they are
  set (most customers, an import's new ones always, have none; a lookup of a value, a foreign key's
  check or SET NULL, and the 下次跟进 filter's dates all imply NOT NULL);
- on PostgreSQL, the ``varchar_pattern_ops`` twins Django adds to the unique QQ and phone for
  ``LIKE 'x%'``: no query looks them up by prefix (exact lookups use the unique indexes, the admin's
  search the trigram indexes of 0003).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from crm.triggers import around_table_rebuild


# Django's names for them (``_create_index_name(table, [column], suffix="_like")``).
PATTERN_INDEXES = {"crm_customer_qq_fa4c5eab_like": "qq", "crm_customer_phone_ca391b62_like": "phone"}


def drop_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in PATTERN_INDEXES:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, column in PATTERN_INDEXES.items():
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "crm_customer" ("{column}" varchar_pattern_ops)'
            )


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0020_record_order_indexes'),
    ]

    operations = around_table_rebuild(
        # SQLite rebuilds crm_customer below, which the triggers of the follow-ups, enrollments and
        # payments name: off during the rebuild. PostgreSQL gets the triggers of this version
        # (an INSERT marks the dashboard's days from its new rows, crm/triggers.py).
        migrations.AlterField(
            model_name='customer',
            name='consultant',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='customers', to=settings.AUTH_USER_MODEL, verbose_name='sales consultant'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='introduce_from',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='referrals', to='crm.customer', verbose_name='referred by'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='network_consultant',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='network_consulted_customers', to=settings.AUTH_USER_MODEL, verbose_name='online consultant'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(condition=models.Q(('introduce_from__isnull', False)), fields=['introduce_from'], name='crm_customer_referred'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(condition=models.Q(('network_consultant__isnull', False)), fields=['network_consultant'], name='crm_customer_net_consultant'),
        ),
        migrations.RemoveIndex(
            model_name='customer',
            name='crm_customer_next_date',
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(condition=models.Q(('next_date__isnull', False)), fields=['next_date'], name='crm_customer_next_date'),
        ),
        migrations.RunPython(drop_pattern_indexes, create_pattern_indexes, elidable=False),
    )
