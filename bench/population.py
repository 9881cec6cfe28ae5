"""Rows the benchmarks add to a scratch database, with one INSERT ... SELECT each: a million customers
in about a minute, where bulk_create takes ten."""

from django.db import connection

POOL_CUSTOMERS_SQL = """
INSERT INTO crm_customer (qq, qq_name, name, sex, phone, source, course, class_type,
    customer_note, status, network_consult_note, date, locked)
SELECT (%(base)s + i)::text, '', %(name)s || i, '', %(phone)s || lpad(i::text, 8, '0'), 'qq',
    'PythonFullStack', 'fulltime', '', 'unregistered', '', now() - make_interval(secs => i), false
FROM generate_series(%(start)s, %(stop)s - 1) AS i
"""


def add_pool_customers(*, base_qq: int, start: int, stop: int, name: str, phone: str) -> None:
    """Customers ``start`` to ``stop - 1`` in the public pool: QQ ``base_qq + i``, named ``name`` and
    ``i``, phone ``phone`` (three digits) and ``i`` on eight, each created ``i`` seconds ago."""
    with connection.cursor() as cursor:
        cursor.execute(
            POOL_CUSTOMERS_SQL,
            {"base": base_qq, "start": start, "stop": stop, "name": name, "phone": phone},
        )
