# Two commands do everything on a fresh machine with Python 3:
#   make demo   - create .venv, install, run the main job on the built-in default scenario
#   make test   - create .venv, install, run the quality gate and the default test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo app test check lint format typecheck pytest test-slow bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/winback demo

app: $(STAMP)  # the strategists' web app on http://127.0.0.1:8501 (Ctrl-C stops it)
	$(BIN)/winback app

test: $(STAMP)
	$(MAKE) --no-print-directory check

check: lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	command -v chromium >/dev/null || apt-get install -y chromium  # the report's browser test
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'  # the Ray launcher test
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/winback perf sim

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache .mypy_cache .ruff_cache
