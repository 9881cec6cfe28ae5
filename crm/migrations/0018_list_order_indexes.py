"""The customer lists' order indexes: (date, id) for every list and a deep page read from the index alone,
the pool's (-date, -id) with the campus beside it in place of (campus, -date), which no list used."""

import django.utils.timezone
from django.db import migrations, models

from crm.triggers import around_table_rebuild


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0017_list_filter_indexes"),
    ]

    operations = around_table_rebuild(
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
    )
