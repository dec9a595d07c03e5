# The two commands: `make run` (serve the built-in market) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
INSTALLED_DEV := $(VENV)/.installed-dev

.PHONY: install dev run test lint bench soak fuzz clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

dev: $(INSTALLED_DEV)

$(INSTALLED_DEV): $(INSTALLED) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: install
	$(BIN)/cutemarkets run

test: dev
	$(BIN)/ruff check src tests scripts
	$(BIN)/pytest

lint: dev
	$(BIN)/ruff check src tests scripts

bench: dev
	$(BIN)/cutemarkets bench

# A few minutes of mixed load on a real server process (not part of `make test`); results go to bench/RESULTS.md.
soak: dev
	$(BIN)/python scripts/soak.py --record

# Schemathesis with every check over /openapi.json, a long run (tests/test_openapi.py runs a short one).
fuzz: dev
	$(BIN)/python scripts/fuzz_openapi.py --max-examples $(or $(EXAMPLES),300)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
