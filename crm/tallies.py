"""The tallies of long lists (CustomerTally, PaymentTally, ConsultRecordTally, StudyRecordTally): the
PostgreSQL statement triggers that keep each exact, and the fold of their rows.

A tally holds, per group of its table's columns, how many rows the group has and its sums. The triggers'
SQL is generated from the model's own rules (the payments' net amount and money-out test), compiled by
the ORM over each statement's transition tables: a figure read from the tally and the same figure
computed row by row cannot disagree. Installed after every ``migrate`` (``post_migrate``); when the
generated function differs from the installed one (a rule changed), the tally is rebuilt from its table
in the same transaction, the table locked against writes meanwhile.

The triggers only insert: each statement adds one row per group it changed, with the differences, so
that concurrent writers never wait on one counter row; the reader folds them back into one row per group
once there are many (``fold_sql``). The customer tally's triggers were first written by hand (migration
0014); the next ``migrate`` replaces them with the generated ones, under the same names.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db import connections, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, Sum

# Past this many rows the tally's differences are folded into one row per group (a few milliseconds,
# once in a few thousand writes): the sums read stay sums of a few hundred rows.
TALLY_FOLD_ROWS = 5_000


def _payment_annotations():
    from crm.querysets import PaymentRecordQuerySet as Money

    return {"outgoing": ExpressionWrapper(Money.outgoing_q(), output_field=BooleanField())}


def _payment_sums():
    from crm.querysets import PaymentRecordQuerySet as Money

    return {"n": Count("pk"), "net": Sum(Money.net_amount())}


@dataclass(frozen=True)
class Tally:
    function: str  # the trigger function's name, and its triggers' prefix
    model: str  # the tallied model's label
    tally: str  # the tally model's label
    group: tuple[str, ...]  # the tallied columns, under the same names in the tally
    annotations: Callable[[], dict] = dict  # computed group columns (a rule of the model)
    sums: Callable[[], dict] = lambda: {"n": Count("pk")}  # noqa: E731

    @property
    def table(self) -> str:
        return apps.get_model(self.model)._meta.db_table

    @property
    def tally_table(self) -> str:
        return apps.get_model(self.tally)._meta.db_table

    @property
    def group_columns(self) -> str:
        return ", ".join([*self.group, *self.annotations()])

    @property
    def sum_columns(self) -> list[str]:
        return list(self.sums())

    @property
    def columns(self) -> str:
        return ", ".join([self.group_columns, *self.sum_columns])

    def groups_sql(self, connection, source: str) -> str:
        """The rows of the table ``source`` (a transition table, or the model's own) grouped as the
        tally's rows: SELECT {columns}, every value a literal."""
        rows = (
            apps.get_model(self.model)
            .objects.using(connection.alias)
            .order_by()
            .annotate(**self.annotations())
            .values(*self.group, *self.annotations())
            .annotate(**self.sums())
        )
        sql, params = rows.query.sql_with_params()
        table = f' FROM "{self.table}"'
        if sql.count(table) != 1:
            raise RuntimeError(f"the groups of {self.model} no longer read one {table!r}: {sql}")
        sql = sql.replace(table, f' FROM {source} AS "{self.table}"')
        with connection.cursor() as cursor:
            # psycopg2's documented mogrify: the parameters as literals, for a function's body.
            literal = cursor.mogrify(sql, params).decode()
        return f"SELECT {self.columns} FROM ({literal}) AS groups"

    def function_body(self, connection) -> str:
        new, old = self.groups_sql(connection, "new_rows"), self.groups_sql(connection, "old_rows")
        negated = ", ".join(f"-{name}" for name in self.sum_columns)
        negated = f"SELECT {self.group_columns}, {negated} FROM ({old}) AS old_groups"
        summed = ", ".join(f"sum({name})" for name in self.sum_columns)
        changed = " OR ".join(f"sum({name}) <> 0" for name in self.sum_columns)
        # An update that moves nothing between groups adds nothing.
        return f"""
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {self.tally_table};
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO {self.tally_table} ({self.columns}) {new};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {self.tally_table} ({self.columns}) {negated};
    ELSE
        INSERT INTO {self.tally_table} ({self.columns})
        SELECT {self.group_columns}, {summed} FROM ({new} UNION ALL {negated}) AS moved
        GROUP BY {self.group_columns} HAVING {changed};
    END IF;
    RETURN NULL;
END
"""

    def fold_sql(self) -> str:
        summed = ", ".join(f"sum({name})" for name in self.sum_columns)
        changed = " OR ".join(f"sum({name}) <> 0" for name in self.sum_columns)
        return (
            f"WITH folded AS (DELETE FROM {self.tally_table} RETURNING {self.columns})"
            f" INSERT INTO {self.tally_table} ({self.columns})"
            f" SELECT {self.group_columns}, {summed} FROM folded"
            f" GROUP BY {self.group_columns} HAVING {changed}"
        )

    def triggers(self) -> dict[str, str]:
        table = self.table
        return {
            "insert": f"AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
            "delete": f"AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
            "update": f"AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
            " FOR EACH STATEMENT",
            "truncate": f"AFTER TRUNCATE ON {table} FOR EACH STATEMENT",
        }

    def install(self, connection) -> None:
        if self.tally_table not in connection.introspection.table_names():
            return
        body = self.function_body(connection)
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [self.function])
            installed = cursor.fetchone()
            if installed and installed[0] == body:
                return
            cursor.execute(f"LOCK TABLE {self.table} IN SHARE MODE")  # no write between refill and triggers
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {self.function}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$"
            )
            for name, when in self.triggers().items():
                cursor.execute(f"DROP TRIGGER IF EXISTS {self.function}_{name} ON {self.table}")
                cursor.execute(
                    f"CREATE TRIGGER {self.function}_{name} {when} EXECUTE FUNCTION {self.function}()"
                )
            cursor.execute(f"DELETE FROM {self.tally_table}")
            cursor.execute(
                f"INSERT INTO {self.tally_table} ({self.columns}) {self.groups_sql(connection, self.table)}"
            )

    def drop(self, connection) -> None:
        with connection.cursor() as cursor:
            for name in self.triggers():
                cursor.execute(f"DROP TRIGGER IF EXISTS {self.function}_{name} ON {self.table}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {self.function}()")


CUSTOMERS = Tally(
    # The function and trigger names of migration 0014, which wrote the same triggers by hand.
    function="crm_customer_tally",
    model="crm.Customer",
    tally="crm.CustomerTally",
    group=("consultant_id", "campus_id", "status", "source"),
)
PAYMENTS = Tally(
    function="crm_payment_tally",
    model="crm.PaymentRecord",
    tally="crm.PaymentTally",
    # Not the class: a recorder's payments per class are thousands of groups, too many to sum quickly.
    group=("consultant_id", "status", "pay_type", "delete_status"),
    annotations=_payment_annotations,
    sums=_payment_sums,
)
FOLLOW_UPS = Tally(
    function="crm_consult_record_tally",
    model="crm.ConsultRecord",
    tally="crm.ConsultRecordTally",
    group=("consultant_id", "status", "delete_status"),
)
STUDY_RECORDS = Tally(
    function="crm_study_record_tally",
    model="crm.StudyRecord",
    tally="crm.StudyRecordTally",
    # Not the lesson: 10,000 lessons would make more groups than a sum reads quickly (StudyRecordTally).
    group=("attendance",),
)
TALLIES = (CUSTOMERS, PAYMENTS, FOLLOW_UPS, STUDY_RECORDS)


def install_tallies(using: str = "default", **kwargs) -> None:
    """(Re)create each tally's function and triggers when they differ from the code's, refilling the
    tally then; a ``post_migrate`` receiver. Nothing on another database than PostgreSQL."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    for tally in TALLIES:
        tally.install(connection)


def drop_tally(tally: Tally, using: str = "default") -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        tally.drop(connection)


def tally_sums(tally: Tally, groups, *, by: tuple[str, ...] = (), **aggregates) -> list[dict] | None:
    """``groups.values(*by).annotate(**aggregates)`` over the tally's rows ``groups`` (scoped and
    filtered with the tallied model's own queryset methods), the values without rows left out; one
    row, ``groups.aggregate(**aggregates)``, when ``by`` is empty. None on another database than
    PostgreSQL, whose triggers keep the tally.

    The same pass counts every row of the tally and folds it past TALLY_FOLD_ROWS: the whole tally's,
    not the groups read, because a tally has no index, so that each read scans all of its rows."""
    connection = connections[groups.db]
    if connection.vendor != "postgresql":
        return None
    selected = ExpressionWrapper(Q(pk__in=groups.order_by().values("pk")), output_field=BooleanField())
    every_row = groups.model._default_manager.using(groups.db).order_by().annotate(tally_selected=selected)
    rows = list(every_row.values(*by, "tally_selected").annotate(**aggregates, tally_rows=Count("pk")))
    if sum(row.pop("tally_rows") for row in rows) > TALLY_FOLD_ROWS:
        # Rows inserted meanwhile by other transactions are not deleted: they stay, and still count.
        with connection.cursor() as cursor:
            cursor.execute(tally.fold_sql())
    read = [row for row in rows if row.pop("tally_selected")]
    # No row selected: the aggregates' values over no rows (their defaults), without a query.
    return read or ([] if by else [groups.none().aggregate(**aggregates)])


def tally_count(tally: Tally, groups) -> int | None:
    """How many rows of the tallied table the tally's rows ``groups`` hold (the sum of their ``n``),
    in one small query; None on another database than PostgreSQL, which counts the rows themselves."""
    rows = tally_sums(tally, groups, total=Sum("n", default=0))
    return None if rows is None else rows[0]["total"]


def tally_counts(tally: Tally, groups, *, by: tuple[str, ...]) -> dict[tuple, int] | None:
    """``tally_count`` per value of the tally's columns ``by`` (e.g. ``("consultant",)``): {values:
    count}, the values without rows left out; None on another database than PostgreSQL."""
    rows = tally_sums(tally, groups, by=by, total=Sum("n", default=0))
    if rows is None:
        return None
    return {tuple(row[name] for name in by): row["total"] for row in rows if row["total"]}
