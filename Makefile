# The README's quickstart: `make demo` (set up + run the main job), `make test` (set up + run the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint format typecheck bench clean

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

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/csv_loading.py
	$(BIN)/python benchmarks/command_speed.py
	$(BIN)/python benchmarks/tabular_accuracy.py
	$(BIN)/python benchmarks/forecast_accuracy.py

clean:
	rm -rf $(VENV) nncli-demo .pytest_cache .ruff_cache .mypy_cache
