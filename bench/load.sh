#!/usr/bin/env bash
# Load test: gunicorn with 4 workers on 127.0.0.1, 8 concurrent sales users for SECONDS (default 30) on
# the 公户 list, a search of it and a customer's page, beside the admin index as the baseline.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench bench/load.sh [SECONDS] [CUSTOMERS]
#
# Use a scratch database: it is migrated, and gets 8 users load_sales_N and public customers up to
# CUSTOMERS (default 20000; the issue's figure is at 1,000,000). Prints requests/s, median and p99
# latency and the error count (non-200 answers), which must be 0.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?set DATABASE_URL to a scratch PostgreSQL database}"
SECONDS_OF_LOAD=${1:-30}
CUSTOMERS=${2:-20000}
PY=${PY:-.venv/bin/python}
# A free port unless PORT is given: another server on a fixed one would be measured instead.
PORT=${PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

export DJANGO_SETTINGS_MODULE=config.settings.production
export SECRET_KEY=${SECRET_KEY:-load-bench-only-not-a-secret-$$}
# Plain HTTP on 127.0.0.1 (the README's intranet setting): with the production default every request
# would be redirected to HTTPS, and counted as an error.
export SECURE_SSL_REDIRECT=0 SECURE_HSTS_SECONDS=0 SECURE_COOKIES=0 ALLOWED_HOSTS=127.0.0.1
export CONN_MAX_AGE=${CONN_MAX_AGE:-60} LOG_LEVEL=WARNING
STATIC_ROOT=$(mktemp -d)
export STATIC_ROOT
LOG=$(mktemp)

"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py collectstatic --noinput -v 0
LOAD_CUSTOMER=$("$PY" bench/load.py setup "$CUSTOMERS" | tail -n 1)
export LOAD_CUSTOMER

"$PY" -m gunicorn config.wsgi --workers 4 --bind "127.0.0.1:$PORT" --access-logfile /dev/null \
    --error-logfile "$LOG" &
GUNICORN=$!
trap 'kill "$GUNICORN" 2>/dev/null; wait "$GUNICORN" 2>/dev/null; rm -rf "$STATIC_ROOT" "$LOG"' EXIT
for _ in $(seq 1 50); do
    "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
    sleep 0.2
done
kill -0 "$GUNICORN" 2>/dev/null || { echo "gunicorn did not start:" >&2; cat "$LOG" >&2; exit 1; }

"$PY" bench/load.py run "http://127.0.0.1:$PORT" "$SECONDS_OF_LOAD"
if grep -q "Traceback" "$LOG"; then
    echo "gunicorn logged errors:" >&2
    cat "$LOG" >&2
fi
