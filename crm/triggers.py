"""The database triggers that mark an aggregated day of the dashboard's figures stale (DashboardDirtyDay).

Why triggers and not a call in each service: a stored day goes stale on any write of a row it sums —
a follow-up deleted from the recycle bin, a payment confirmed, a status corrected, a merge moving
follow-ups with ``QuerySet.update()``, an import reverted, an edit in the admin, a shell session. A trigger
runs in the writer's transaction on every one of those paths, present and future, at the cost of one
index probe per written row (none for a write of today: no aggregated day holds it); on PostgreSQL an
INSERT is one statement trigger over its new rows, one probe per distinct instant. A claim, a release
or a recycling run changes no column the figures read and fires nothing.

Installed after every ``migrate`` (``post_migrate``, like the roles), idempotently: SQLite drops a
table's triggers when a migration rebuilds the table.
"""

# Each table: the columns whose change matters, and the instants whose day goes stale (``{row}`` is
# OLD or NEW). A follow-up, enrollment or payment also changes the funnel of its customer's creation day.
CUSTOMER_DAY = "(SELECT date FROM crm_customer WHERE id = {row}.customer_id)"
# The customers followed per salesperson are stored by the day of the pair's previous follow-up
# (DailyFollowedCustomers): a follow-up that comes or goes changes the previous day of the pair's next
# follow-up, whose day goes stale too (the next one after the row's instant in the table as written).
NEXT_FOLLOW_UP = (
    "(SELECT MIN(later.date) FROM crm_consultrecord AS later WHERE later.customer_id = {row}.customer_id"
    " AND later.consultant_id = {row}.consultant_id AND later.date > {row}.date AND NOT later.delete_status)"
)
TABLES = {
    "crm_customer": (("date", "source", "status"), ("{row}.date",)),
    "crm_consultrecord": (
        ("date", "consultant_id", "delete_status", "customer_id"),
        ("{row}.date", CUSTOMER_DAY, NEXT_FOLLOW_UP),
    ),
    "crm_enrollment": (
        ("enrolled_date", "consultant_id", "contract_approved", "delete_status", "customer_id"),
        ("{row}.enrolled_date", CUSTOMER_DAY),
    ),
    "crm_paymentrecord": (
        (
            "date",
            "consultant_id",
            "enrolment_class_id",
            "status",
            "paid_fee",
            "pay_type",
            "delete_status",
            "customer_id",
        ),
        ("{row}.date", CUSTOMER_DAY),
    ),
}

# The aggregated day holding an instant: the last day starting at or before it, if it ends after it
# (one step of a backward index scan on start_at).
MARK = (
    "INSERT INTO crm_dashboarddirtyday (day) SELECT d.day FROM (SELECT day, end_at FROM crm_dashboardday"
    " WHERE start_at <= {moment} ORDER BY start_at DESC LIMIT 1) AS d WHERE d.end_at > {moment}"
)


def _marks(moments, row: str) -> list[str]:
    return [MARK.format(moment=moment.format(row=row)) for moment in moments]


def _changed(columns, different: str) -> str:
    return " OR ".join(f"OLD.{column} {different} NEW.{column}" for column in columns)


def _postgresql(table: str, columns, moments) -> list[str]:
    name = f"crm_dashboard_{table}"
    old = "".join(f"{mark}; " for mark in _marks(moments, "OLD"))
    new = "".join(f"{mark}; " for mark in _marks(moments, "NEW"))
    # An INSERT marks once per statement, from its transition table: each distinct instant of the new
    # rows probes the registry once (an import's COPY of 5,000 customers of one instant: one probe, where
    # a row trigger cost about a quarter of the COPY). The days marked are the row trigger's.
    inserted = "".join(
        f"INSERT INTO crm_dashboarddirtyday (day) SELECT DISTINCT d.day FROM (SELECT DISTINCT"
        f" {moment.format(row='n')} AS moment FROM new_rows AS n) AS m CROSS JOIN LATERAL (SELECT day, end_at"
        " FROM crm_dashboardday WHERE start_at <= m.moment ORDER BY start_at DESC LIMIT 1) AS d"
        " WHERE d.end_at > m.moment; "
        for moment in moments
    )
    return [
        # The row trigger of INSERT and DELETE of the databases migrated before 0021.
        f"DROP TRIGGER IF EXISTS {name}_write ON {table}",
        f"DROP TRIGGER IF EXISTS {name}_insert ON {table}",
        f"DROP TRIGGER IF EXISTS {name}_delete ON {table}",
        f"DROP TRIGGER IF EXISTS {name}_update ON {table}",
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF TG_OP <> 'INSERT' THEN {old}END IF;"
        f" IF TG_OP <> 'DELETE' THEN {new}END IF;"
        " RETURN NULL; END $$",
        f"CREATE OR REPLACE FUNCTION {name}_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" {inserted}RETURN NULL; END $$",
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {name}_inserted()",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {', '.join(columns)} ON {table} FOR EACH ROW"
        f" WHEN ({_changed(columns, 'IS DISTINCT FROM')}) EXECUTE FUNCTION {name}()",
    ]


def _sqlite(table: str, columns, moments) -> list[str]:
    name = f"crm_dashboard_{table}"
    old = "".join(f"{mark}; " for mark in _marks(moments, "OLD"))
    new = "".join(f"{mark}; " for mark in _marks(moments, "NEW"))
    return [
        f"DROP TRIGGER IF EXISTS {name}_insert",
        f"DROP TRIGGER IF EXISTS {name}_delete",
        f"DROP TRIGGER IF EXISTS {name}_update",
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} FOR EACH ROW BEGIN {new}END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} FOR EACH ROW BEGIN {old}END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {', '.join(columns)} ON {table} FOR EACH ROW"
        f" WHEN {_changed(columns, 'IS NOT')} BEGIN {old}{new}END",
    ]


def trigger_statements(vendor: str) -> list[str]:
    build = {"postgresql": _postgresql, "sqlite": _sqlite}.get(vendor)
    if build is None:
        raise NotImplementedError(f"the dashboard's triggers exist for PostgreSQL and SQLite, not {vendor}")
    return [
        statement
        for table, (columns, moments) in TABLES.items()
        for statement in build(table, columns, moments)
    ]


def drop_statements(vendor: str) -> list[str]:
    return [statement for statement in trigger_statements(vendor) if statement.startswith("DROP")]


def install_triggers(using: str = "default", **kwargs) -> None:
    """(Re)create the triggers; a ``post_migrate`` receiver (nothing before 0011 made the tables)."""
    from django.db import connections

    connection = connections[using]
    if "crm_dashboardday" not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        for statement in trigger_statements(connection.vendor):
            cursor.execute(statement)


def migration_install_triggers(apps, schema_editor) -> None:
    """``install_triggers`` as a migration's RunPython step, on the migration's own connection."""
    for statement in trigger_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def migration_drop_triggers(apps, schema_editor) -> None:
    for statement in drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def around_table_rebuild(*operations) -> list:
    """A migration's ``operations`` with the triggers dropped before them and put back after: SQLite
    rebuilds a table for most altered fields, and refuses while a trigger names it (the follow-ups',
    enrollments' and payments' triggers name crm_customer); post_migrate reinstalls them too."""
    from django.db import migrations

    return [
        migrations.RunPython(migration_drop_triggers, migration_install_triggers, elidable=False),
        *operations,
        migrations.RunPython(migration_install_triggers, migration_drop_triggers, elidable=False),
    ]
