# Gridwork: `make run` serves the demo, `make test` runs every check. Both bootstrap everything.
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV ?= .venv
PY := $(VENV)/bin/python
# The distribution's python3.11 before any other on PATH: Debian builds it with profile-guided and
# link-time optimisation, which a push's Python time shows (docs/operations.md, "The interpreter").
PATH_PYTHON := $(shell command -v python3.11 || command -v python3)
PYTHON ?= $(or $(wildcard /usr/bin/python3.11),$(PATH_PYTHON))
PGPORT ?= 55432
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

# Without DATABASE_URL we run a project-local cluster (scripts/localdb.sh): migrations run as the
# owner role, the service as a runtime role that cannot change the schema.
ifeq ($(strip $(DATABASE_URL)),)
LOCALDB := 1
export DATABASE_URL := postgresql+psycopg://gridwork_app@127.0.0.1:$(PGPORT)/gridwork
export MIGRATION_DATABASE_URL := postgresql+psycopg://gridwork@127.0.0.1:$(PGPORT)/gridwork
export TEST_ADMIN_DATABASE_URL := postgresql+psycopg://postgres@127.0.0.1:$(PGPORT)/postgres
endif

.PHONY: run test bench db stop venv lint migrate demo

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || $(PATH_PYTHON) -m venv --clear $(VENV) \
		|| { echo "python3-venv is missing: apt-get install -y python3-venv"; exit 1; }
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

db:
ifdef LOCALDB
	@GRIDWORK_PGPORT=$(PGPORT) scripts/localdb.sh start
endif

stop:
	@GRIDWORK_PGPORT=$(PGPORT) scripts/localdb.sh stop

migrate: venv db
	$(VENV)/bin/flask --app server db upgrade heads
	$(VENV)/bin/flask --app server codes load

demo: migrate
	$(VENV)/bin/flask --app server demo load
	$(VENV)/bin/flask --app server demo base-data

run: demo
	@$(VENV)/bin/flask --app server demo logins --host $(HOST) --port $(PORT)
	$(VENV)/bin/gunicorn --bind $(HOST):$(PORT) --workers $(WORKERS) 'server:create_app()'

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: venv db lint
	$(VENV)/bin/pytest

bench: venv db
	$(PY) -m bench
