# Quick start: `make run` serves the portal on http://127.0.0.1:8000 with demo data;
# `make test` runs the test suite. Both set everything up first and may be re-run.
# `make serve` runs it as production does (README, "Deploying").

VENV := .venv
PY := $(VENV)/bin/python
# Development defaults; production sets its own environment (see README).
export DEBUG ?= 1
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs on every core (pytest-xdist); PYTEST_ARGS= runs it in one process.
PYTEST_ARGS ?= -n auto

.PHONY: run serve test test-postgres check lint setup db units demo bench bench-pages clean

# The task worker (background report exports) runs beside the server and stops with it.
run: db
	$(PY) manage.py run_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# Production mode on this machine (README, "Deploying"): DEBUG off, gunicorn serving
# static files through WhiteNoise, and the task workers (moderation reports in a
# queue of their own); all stop together.
# Needs the production environment; nothing insecure is made up for it.
serve: export DEBUG := 0
serve: export WEB_BIND ?= $(HOST):$(PORT)
serve: setup
	@if [ -z "$$SECRET_KEY" ] || [ -z "$$ALLOWED_HOSTS" ]; then \
	  echo "make serve runs in production mode and needs SECRET_KEY and ALLOWED_HOSTS, e.g." >&2; \
	  echo "  export SECRET_KEY=\"\$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')\"" >&2; \
	  echo "  export ALLOWED_HOSTS=portal.example.ac.nz" >&2; \
	  echo "To try it over plain HTTP on this machine: ALLOWED_HOSTS=127.0.0.1,localhost HTTPS=0." >&2; \
	  echo "See README.md, Deploying." >&2; \
	  exit 1; fi
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py run_worker --exclude-queues exports & worker=$$!; \
	$(PY) manage.py run_worker --queue-name exports & reports=$$!; \
	trap 'kill $$worker $$reports 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/gunicorn --config assessment_portal/gunicorn.conf.py

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The suite against the local PostgreSQL server (CI runs this after `make test`).
test-postgres: setup
	DATABASE_URL=$${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test} $(VENV)/bin/pytest $(PYTEST_ARGS)

check: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

setup: $(VENV)/.installed

# Finds Python >= 3.12 (PATH first, then pyenv's versions), makes the virtualenv
# and installs the hashed lock file, then checks WeasyPrint's system libraries.
$(VENV)/.installed: requirements.lock
	@python=$$(for candidate in $$PYTHON python3.13 python3.12 python3 \
	    $$HOME/.pyenv/versions/3.13*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3; do \
	  if "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	    echo "$$candidate"; break; fi; done); \
	if [ -z "$$python" ]; then \
	  echo "Python 3.12 or newer is needed. Install it (e.g. 'pyenv install 3.12' or" \
	       "'apt-get install python3.12 python3.12-venv'), or set PYTHON=/path/to/python3.12." >&2; \
	  exit 1; fi; \
	echo "Using $$python ($$("$$python" --version))"; \
	"$$python" -m venv $(VENV) && \
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	@$(PY) -c 'import weasyprint' 2>/dev/null || { \
	  echo "WeasyPrint cannot load its system libraries (Pango)." >&2; \
	  echo "Install them: apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0" \
	       "(Debian/Ubuntu) or see https://doc.courtbouillon.org/weasyprint/stable/first_steps.html" >&2; \
	  exit 1; }
	@touch $@

# Migrates, loads the three units and the demo accounts (DEBUG only); safe to repeat.
db: setup
	$(PY) manage.py migrate --no-input
	$(PY) manage.py import_unit fixtures/units/*.json
	$(PY) manage.py seed_demo

# Times the assessment record PDF against WeasyPrint alone; goals in benchmarks/render_record.py.
bench: setup
	$(PY) benchmarks/render_record.py

# Every main page per role at demo size and with BENCH_CANDIDATES (10,000) on a PostgreSQL
# database of its own (dropped after); bounds and figures in benchmarks/pages.py.
bench-pages: setup
	$(PY) benchmarks/pages.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
