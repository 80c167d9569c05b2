PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,distributed,docs,dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check weavr_async tests benchmarks examples spec
	$(BIN)/ruff format --check weavr_async tests benchmarks examples spec

typecheck: $(STAMP)
	$(BIN)/mypy weavr_async examples benchmarks

test: lint typecheck
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/weavr-async demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
