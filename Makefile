# CD Lab: every target sets up .venv first (a fresh clone needs nothing else but Python 3.11).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The tests start hundreds of Python processes (clouds, instances, CLI calls), each compiling the
# kit's modules afresh where an environment says not to keep bytecode (PYTHONDONTWRITEBYTECODE, as
# some CI images do): make keeps it, in the git-ignored __pycache__ folders (test-fast: 77 -> 66 s)
export PYTHONDONTWRITEBYTECODE :=

.PHONY: help install run test test-fast test-sdkv2 test-iam-mutations test-aws-profile test-ui lint format bench clean notebooks lab

# a plain `make` lists the targets; it installs nothing
.DEFAULT_GOAL := help

help:  ## this list: each target and what it does (every target but help and clean sets up .venv first)
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-z0-9-]+:[^=]*## / { printf "  make %-20s %s\n", $$1, $$2 }' $(firstword $(MAKEFILE_LIST))

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,notebooks]'
	touch $(STAMP)

install: $(STAMP)  ## only set up .venv: the kit and its dev and notebook extras, installed editable

run: $(STAMP)  ## the main job: the pipeline stack (cloudformation/pipeline.yml) deployed on the local cloud, a commit through it, approved, with a summary
	CDLAB_TIME_SCALE=$${CDLAB_TIME_SCALE:-$(WORKSHOP_TIME_SCALE)} $(VENV)/bin/cdlab pipeline run --approve

# pytest-xdist workers: each its own local clouds (ports, homes, processes), a test module or a
# notebook whole on one worker; most of the suite waits on processes and cloud time, not on CPU
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP)  ## lint, then the whole test suite, then every notebook with nbval, each on TEST_WORKERS workers (default 2)
	$(VENV)/bin/ruff check source tests benchmarks notebooks labs
	$(VENV)/bin/ruff format --check source tests benchmarks notebooks labs
	$(PY) -m pytest -q -p no:cacheprovider $(XDIST) -m "not sdkv2 and not iam_mutations and not ui"
	$(PY) -m pytest -q -p no:cacheprovider $(XDIST) -p tests.notebooks.plugin --nbval-lax --nbval-current-env notebooks labs

test-fast: lint  ## the inner loop, under 90 s on 2 cores: lint, the unit and integration tests not marked slow
	$(PY) -m pytest -q -p no:cacheprovider $(XDIST) -m "not slow and not sdkv2 and not iam_mutations" tests/unit tests/integration

test-sdkv2: $(STAMP)  ## the SageMaker SDK v2 flow against the local cloud, from a venv built once with pip (.ci/run runs it after test)
	$(PY) -m pytest -q -p no:cacheprovider -m sdkv2 tests/integration

test-iam-mutations: $(STAMP)  ## every statement of pipeline.yml's roles (the stages' and SagemakerRole) removed in turn, a new execution of the pipeline, whose stage must fail with AccessDenied naming it (.ci/run runs it after test)
	$(PY) -m pytest -q -p no:cacheprovider -m iam_mutations tests/integration/test_pipeline_roles.py

test-aws-profile: $(STAMP)  ## every notebook and Lab 3 with nbval on a local cloud that takes AWS's time (CDLAB_LATENCY=aws), at CDLAB_TIME_SCALE=60 (about 7 min); 09_cleanup last, after Lab 3
	CDLAB_LATENCY=aws $(PY) -m pytest -q -p no:cacheprovider -p tests.notebooks.plugin --nbval-lax --nbval-current-env notebooks labs

UI_STAMP := $(VENV)/.ui-installed-stamp
$(UI_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,notebooks,ui]'
	touch $(UI_STAMP)

test-ui: $(UI_STAMP)  ## real-browser tests (Playwright driving Debian's chromium: apt-get install -y chromium): JupyterLab as participants use it, the local console
	$(PY) -m pytest -q -p no:cacheprovider -m ui tests/ui

lint: $(STAMP)  ## ruff check and ruff format --check on the sources, tests, benchmarks and notebooks
	$(VENV)/bin/ruff check source tests benchmarks notebooks labs
	$(VENV)/bin/ruff format --check source tests benchmarks notebooks labs

format: $(STAMP)  ## ruff format, then ruff check --fix, in place
	$(VENV)/bin/ruff format source tests benchmarks notebooks labs
	$(VENV)/bin/ruff check --fix source tests benchmarks notebooks labs

bench: $(STAMP)  ## every benchmarks/bench_*.py in turn
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

NOTEBOOK_TARGET ?= local
NOTEBOOK_ARGS ?=
WORKSHOP_TIME_SCALE ?= 60
notebooks: $(STAMP)  ## every notebook headless with papermill into output/notebooks/ (.ipynb, .html, index.html, junit.xml), Lab 3 before 09_cleanup (NOTEBOOK_TARGET=aws NOTEBOOK_ARGS='-p role ARN -p bucket NAME')
	CDLAB_TIME_SCALE=$${CDLAB_TIME_SCALE:-$(WORKSHOP_TIME_SCALE)} $(PY) -m cdlab.notebook_runs \
	  --output output/notebooks -p target $(NOTEBOOK_TARGET) $(NOTEBOOK_ARGS)

lab: $(STAMP)  ## JupyterLab on the notebooks, with the local cloud up and the kernels' AWS clients pointed at it
	export CDLAB_TIME_SCALE=$${CDLAB_TIME_SCALE:-$(WORKSHOP_TIME_SCALE)} PATH="$(abspath $(VENV))/bin:$$PATH" && \
	  cdlab local up && eval "$$(cdlab local env)" && \
	  jupyter lab --notebook-dir=. $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
	    notebooks/00_devops_and_infrastructure_as_code.ipynb

clean:  ## delete .venv, the build files, output/ and every __pycache__
	rm -rf $(VENV) build *.egg-info output
	find source tests benchmarks notebooks labs -name __pycache__ -prune -exec rm -rf {} +
