# Set-up and everyday commands. `make demo` and `make test` create the
# virtual environment and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "zwbus needs Python 3.11 or newer; set PYTHON=python3.11 (or newer) and run make again")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/zwbus demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

# pytest exits with 5 when it collected no test at all; that is a failure too.
pytest: install
	@$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

test: lint typecheck pytest

bench: install
	$(BIN)/zwbus bench ingest $(BENCH_ARGS)

clean:
	rm -rf .zwbus .pytest_cache .mypy_cache .ruff_cache
