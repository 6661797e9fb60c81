# CD Lab: every target sets up .venv first (a fresh clone needs nothing else but Python 3.11).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## the main job: the whole flow offline on the local cloud, with a summary
	$(VENV)/bin/cdlab demo

test: $(STAMP)  ## lint, then the whole test suite
	$(VENV)/bin/ruff check source tests benchmarks
	$(VENV)/bin/ruff format --check source tests benchmarks
	$(PY) -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check source tests benchmarks
	$(VENV)/bin/ruff format --check source tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format source tests benchmarks
	$(VENV)/bin/ruff check --fix source tests benchmarks

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
