# Campus CRM: `make run` serves the demo, `make test` runs every check on SQLite and PostgreSQL.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/crm
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: venv run test lint test-sqlite test-postgres soak messages bench clean

$(BIN)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

venv: $(BIN)/.installed

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check

test: lint test-sqlite test-postgres

test-sqlite: venv
	$(BIN)/python -m pytest -q

test-postgres: venv
	@if $(BIN)/python scripts/pg_available.py "$(PG_TEST_URL)"; then \
		DATABASE_URL="$(PG_TEST_URL)" $(BIN)/python -m pytest -q; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) is unreachable, and CI requires it." >&2; exit 1; \
	else \
		echo "" >&2; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2; \
		echo "!!  PostgreSQL at $(PG_TEST_URL) is unreachable:" >&2; \
		echo "!!  the PostgreSQL pass of the test suite was SKIPPED." >&2; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2; \
	fi

SOAK_SECONDS ?= 60
soak: venv  ## 20 threads of claims, follow-ups, payments, reassignments and recycling on PostgreSQL (SOAK_SECONDS, SOAK_SEED)
	DATABASE_URL="$(PG_TEST_URL)" SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest -q -s tests/services/test_soak.py

messages: venv  ## add new source strings to crm/locale's .po (then translate them there), compile both catalogues
	cd crm && ../$(BIN)/django-admin makemessages -l zh_Hans --no-obsolete --no-location
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
