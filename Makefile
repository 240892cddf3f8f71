# Crowd Safety Manager: the two commands are `make run` (demo) and `make test` (lint + whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PORT ?= 8000
export DJANGO_SETTINGS_MODULE := config.settings
export PATH := $(BIN):$(PATH)
# Outside DEBUG the platform refuses to start without a secret key: make's commands keep one in var/.
export SECRET_KEY_FILE ?= $(CURDIR)/var/secret_key

.PHONY: run test lint format test-only migrate seed requirements clean help assets messages

help:
	@echo "make run    set up and start the demo (web on 127.0.0.1:$(PORT), Celery worker and beat)"
	@echo "make test   set up, lint and run the whole test suite"
	@echo "make lint   ruff, manage.py check, makemigrations --check"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.deps: requirements.txt | $(BIN)/python $(SECRET_KEY_FILE)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(SECRET_KEY_FILE):
	mkdir -p "$(dir $@)"
	umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > "$@"

$(VENV)/.deps-dev: $(VENV)/.deps requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

# Front-end assets: npm ci installs the exact versions of package-lock.json, the files the pages load are
# copied into frontend/static/vendor/ (generated, not committed). The compiled Dutch messages (.mo) are
# committed, so no gettext is needed to run; translators run `make messages` after editing the .po file.
VENDOR := frontend/static/vendor
MAPLIBRE := node_modules/maplibre-gl/dist
LOCALE_MO := frontend/locale/nl/LC_MESSAGES/django.mo

assets: $(VENDOR)/.stamp

$(VENDOR)/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/maplibre-gl
	cp $(MAPLIBRE)/maplibre-gl.css $(MAPLIBRE)/maplibre-gl-csp.js $(MAPLIBRE)/maplibre-gl-csp.js.map \
	   $(MAPLIBRE)/maplibre-gl-csp-worker.js $(MAPLIBRE)/maplibre-gl-csp-worker.js.map \
	   $(MAPLIBRE)/LICENSE.txt $(VENDOR)/maplibre-gl/
	touch $@

messages:
	msgfmt --check-format -o $(LOCALE_MO) frontend/locale/nl/LC_MESSAGES/django.po

migrate: $(VENV)/.deps
	$(BIN)/python manage.py migrate --noinput

run: export DEBUG ?= true
run: $(VENV)/.deps assets migrate
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Crowd Safety Manager: http://127.0.0.1:$(PORT)/   (API docs: /api/v1/docs/, health: /healthz)"
	@echo "  Log in as den-haag-operator / demo (or any <tenant>-<role> shown above). Admins also need a code:"
	@echo "  DEBUG=true $(BIN)/python manage.py demo_otp den-haag-admin   Ctrl-C stops web, worker and beat."
	@echo ""
	PORT=$(PORT) $(BIN)/honcho start --port $(PORT) -f Procfile

lint: $(VENV)/.deps-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

test: lint test-only

# Tests keep their queue, cache and results apart from a running demo, so a demo worker never takes them.
# They run in parallel processes (pytest-xdist, one per core; PYTEST_WORKERS=0 runs them in this one), each
# with its own test database, Redis database and VAR_DIR. PYTEST_ARGS='-m "not slow"' is the quick loop.
PYTEST_WORKERS ?= auto
test-only: $(VENV)/.deps-dev assets
	VAR_DIR=$${VAR_DIR:-$(CURDIR)/var/test} $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

format: $(VENV)/.deps-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

requirements: $(VENV)/.deps-dev
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache node_modules $(VENDOR) $(LOCALE_MO)
