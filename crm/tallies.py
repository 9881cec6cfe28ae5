"""The payments' tally (PaymentTally): the PostgreSQL statement triggers that keep it exact.

The triggers' SQL is generated from the payments' own money rules (PaymentRecordQuerySet.net_amount and
outgoing_q), compiled by the ORM over each statement's transition tables: a total read from the tally
and the same total summed row by row cannot disagree. Installed after every ``migrate`` (``post_migrate``);
when the generated function differs from the installed one (a rule changed), the tally is rebuilt from
the payments in the same transaction, the payments locked against writes meanwhile.
"""

from django.db import connections, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Sum

FUNCTION = "crm_payment_tally"
TABLE = "crm_paymentrecord"
TALLY = "crm_paymenttally"
# PaymentTally's group columns, in the order of the generated SELECT, then its sums.
GROUP = "consultant_id, enrolment_class_id, status, pay_type, delete_status, outgoing"
COLUMNS = f"{GROUP}, n, net"


def groups_sql(connection, source: str) -> str:
    """The payments of the table ``source`` (a transition table, or the payments' own), grouped as
    PaymentTally's rows: SELECT {COLUMNS}, every value a literal."""
    from crm.models import PaymentRecord
    from crm.querysets import PaymentRecordQuerySet as Money

    rows = (
        PaymentRecord.objects.using(connection.alias)
        .order_by()
        .annotate(outgoing=ExpressionWrapper(Money.outgoing_q(), output_field=BooleanField()))
        .values("consultant_id", "enrolment_class_id", "status", "pay_type", "delete_status", "outgoing")
        .annotate(n=Count("pk"), net=Sum(Money.net_amount()))
    )
    sql, params = rows.query.sql_with_params()
    table = f' FROM "{TABLE}"'
    if sql.count(table) != 1:
        raise RuntimeError(f"the payments' groups no longer read one {table!r}: {sql}")
    sql = sql.replace(table, f' FROM {source} AS "{TABLE}"')
    with connection.cursor() as cursor:
        # psycopg2's documented mogrify: the parameters as literals, for a function's body.
        literal = cursor.mogrify(sql, params).decode()
    return f"SELECT {COLUMNS} FROM ({literal}) AS groups"


def function_body(connection) -> str:
    new, old = groups_sql(connection, "new_rows"), groups_sql(connection, "old_rows")
    negated = f"SELECT {GROUP}, -n, -net FROM ({old}) AS old_groups"
    # Each statement adds the differences it made to each group as new rows only: no statement ever
    # waits on another's counter row. An update that moves nothing between groups adds nothing.
    return f"""
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {TALLY};
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO {TALLY} ({COLUMNS}) {new};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {TALLY} ({COLUMNS}) {negated};
    ELSE
        INSERT INTO {TALLY} ({COLUMNS})
        SELECT {GROUP}, sum(n), sum(net) FROM ({new} UNION ALL {negated}) AS moved
        GROUP BY {GROUP} HAVING sum(n) <> 0 OR sum(net) <> 0;
    END IF;
    RETURN NULL;
END
"""


TRIGGERS = {
    "insert": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
    "delete": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
    "update": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT",
    "truncate": "AFTER TRUNCATE ON {table} FOR EACH STATEMENT",
}


def install_payment_tally(using: str = "default", **kwargs) -> None:
    """(Re)create the tally's function and triggers when they differ from the code's, and refill the
    tally then; a ``post_migrate`` receiver. Nothing on another database than PostgreSQL."""
    connection = connections[using]
    if connection.vendor != "postgresql" or TALLY not in connection.introspection.table_names():
        return
    body = function_body(connection)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [FUNCTION])
        installed = cursor.fetchone()
        if installed and installed[0] == body:
            return
        cursor.execute(f"LOCK TABLE {TABLE} IN SHARE MODE")  # no write between the refill and the triggers
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$"
        )
        for name, when in TRIGGERS.items():
            cursor.execute(f"DROP TRIGGER IF EXISTS {FUNCTION}_{name} ON {TABLE}")
            cursor.execute(
                f"CREATE TRIGGER {FUNCTION}_{name} {when.format(table=TABLE)} EXECUTE FUNCTION {FUNCTION}()"
            )
        cursor.execute(f"DELETE FROM {TALLY}")
        cursor.execute(f"INSERT INTO {TALLY} ({COLUMNS}) {groups_sql(connection, TABLE)}")


def drop_payment_tally(using: str = "default") -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {FUNCTION}_{name} ON {TABLE}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
