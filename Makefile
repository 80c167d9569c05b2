PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint typecheck docs matrix clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,distributed,docs,dev,otel]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check weavr_async tests benchmarks examples spec noxfile.py docs
	$(BIN)/ruff format --check weavr_async tests benchmarks examples spec noxfile.py docs

typecheck: $(STAMP)
	$(BIN)/mypy weavr_async tests examples benchmarks noxfile.py docs/_hooks

test: lint typecheck docs
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/weavr-async demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The API reference, generated from the docstrings, into site/; --strict: a warning fails it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The test suite on each Python of the matrix (noxfile.py); CI runs MATRIX="3.12 3.13" after
# make test, which is the 3.11 run.
MATRIX ?= 3.11 3.12 3.13
matrix: $(STAMP)
	$(BIN)/nox --sessions $(addprefix tests-,$(MATRIX))

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .nox site
