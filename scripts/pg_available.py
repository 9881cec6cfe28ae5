"""Exit 0 when the PostgreSQL server of the given URL accepts connections, 1 otherwise."""

import sys
from urllib.parse import urlsplit

import psycopg2


def main(url: str) -> int:
    parts = urlsplit(url)
    try:
        # Connect to the maintenance database: the test database need not exist yet.
        psycopg2.connect(
            host=parts.hostname,
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg2.OperationalError as error:
        print(f"PostgreSQL unreachable: {error}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
