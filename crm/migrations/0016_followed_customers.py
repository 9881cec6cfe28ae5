"""The dashboard's customers followed per salesperson, stored per day (DailyFollowedCustomers), and every
day already stored marked stale, so that the next ``aggregate_dashboard`` stores the new figure for it
too (until then those days are computed live, exactly as before)."""

from django.db import migrations, models


def mark_stored_days_stale(apps, schema_editor):
    DashboardDay = apps.get_model("crm", "DashboardDay")
    DashboardDirtyDay = apps.get_model("crm", "DashboardDirtyDay")
    days = DashboardDay.objects.values_list("day", flat=True).iterator()
    DashboardDirtyDay.objects.bulk_create((DashboardDirtyDay(day=day) for day in days), batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0015_job_preview"),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyFollowedCustomers",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("consultant", models.BigIntegerField()),
                ("previous_day", models.DateField(null=True)),
                ("customers", models.PositiveIntegerField()),
            ],
            options={
                "default_permissions": (),
                "indexes": [models.Index(fields=["day"], name="crm_dailyfollowed_day")],
            },
        ),
        migrations.RunPython(mark_stored_days_stale, migrations.RunPython.noop, elidable=False),
    ]
