# The README's quickstart: `make demo` (set up + run the main job), `make test` (set up + run the tests).
# `make test-fast`: the tests not marked slow (the inner loop); `make test`: lint and every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast lint format typecheck check-benchmarks bench clean

# A virtualenv with the pinned, tested versions (torch 2.13.0 CPU: no CUDA downloads).
$(BIN)/nncli: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/nncli

demo: install
	$(BIN)/nncli demo

test: install lint
	$(BIN)/python -m pytest

# The inner loop, under 90 s on two cores: every test not marked slow (learning floors, real
# processes, searches, scale, every README and help example: `pytest -m slow`).
test-fast: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

# Every benchmarks/*.py still imports what it names from nncli (and from its sibling scripts).
check-benchmarks: install
	$(BIN)/python benchmarks/check_imports.py

bench: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/csv_loading.py
	$(BIN)/python benchmarks/command_speed.py
	$(BIN)/python benchmarks/tabular_accuracy.py
	$(BIN)/python benchmarks/forecast_accuracy.py

clean:
	rm -rf $(VENV) nncli-demo .pytest_cache .ruff_cache .mypy_cache
