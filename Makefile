# Relais — two commands: `make run` serves everything, `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
HOST ?= 127.0.0.1
PORT ?= 8000
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_LINK_MODE := copy
# Compiled once here, not at every command: where PYTHONDONTWRITEBYTECODE is set (containers,
# CI) Python would otherwise compile each imported module again at every `relais` run.
export UV_COMPILE_BYTECODE := 1

.PHONY: run install migrate seed test lint typecheck contracts pytest bench openapi docs screenshots clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(BIN)/python
	$(BIN)/python -m compileall -q services > /dev/null
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/relais migrate

# Demo data is loaded once: the marker file records that this RELAIS_HOME has it.
seed: migrate
	@home=$${RELAIS_HOME:-var}; if [ ! -f "$$home/.demo-loaded" ]; then \
		$(BIN)/relais seed-demo && $(BIN)/relais demo-accounts && touch "$$home/.demo-loaded"; fi

run: seed
	$(BIN)/relais serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest -q -rs

test: lint typecheck contracts pytest

bench: install
	$(BIN)/python -m bench

openapi: install
	$(BIN)/relais openapi

# README's configuration table, generated from services/kernel/settings.py; new variables are
# also appended (with their defaults) to deploy/.env.example and the base ConfigMap.
docs: install
	$(BIN)/relais config-table --write README.md --sync-deploy deploy

# A full-page PNG of every web page (desktop and phone width) under docs/screenshots/, taken by
# Debian's Chromium on a temporary RELAIS_HOME with the demo territory (SCREENSHOTS_PORT is free).
SCREENSHOTS_PORT ?= 8240
screenshots: install
	nice -n 10 $(BIN)/python -m tests.web.screenshots --port $(SCREENSHOTS_PORT) --out docs/screenshots

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
