# Quick start: `make demo` runs the product, `make test` runs every test. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test check lint format typecheck contracts migrations-check schema schema-update messages bench clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "OpenVend needs Python 3.11, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/openvend demo

# The suite runs twice: on SQLite, then on PostgreSQL (required when CI=true, skipped with a note otherwise).
test: $(STAMP) check
	$(BIN)/python -m pytest
	$(BIN)/python tests/run_on_postgres.py

check: lint typecheck contracts migrations-check schema

lint: $(STAMP)
	$(BIN)/ruff check openvend tests
	$(BIN)/ruff format --check openvend tests

format: $(STAMP)
	$(BIN)/ruff format openvend tests
	$(BIN)/ruff check --fix openvend tests

typecheck: $(STAMP)
	$(BIN)/mypy openvend

contracts: $(STAMP)
	$(BIN)/lint-imports

migrations-check: $(STAMP)
	DJANGO_SETTINGS_MODULE=openvend.config.settings.test $(BIN)/python -m django makemigrations --check --dry-run

# The OpenAPI schema is committed; a change to the API must update docs/openapi.yaml on purpose.
schema: $(STAMP)
	DJANGO_SETTINGS_MODULE=openvend.config.settings.test $(BIN)/python -m django spectacular --lang en --validate --fail-on-warn --file $(VENV)/openapi.yaml
	diff -u docs/openapi.yaml $(VENV)/openapi.yaml

schema-update: $(STAMP)
	DJANGO_SETTINGS_MODULE=openvend.config.settings.test $(BIN)/python -m django spectacular --lang en --validate --fail-on-warn --file docs/openapi.yaml

messages: $(STAMP)
	cd openvend && ../$(BIN)/python -m django makemessages -l zh_Hans -l en --settings=openvend.config.settings.test --ignore='migrations/*' --ignore='static/*' --ignore='consoles/locale/*'
	cd openvend && ../$(BIN)/python -m django compilemessages --settings=openvend.config.settings.test

bench: $(STAMP)
	$(BIN)/openvend bench tenancy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
