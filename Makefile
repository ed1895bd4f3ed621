# Two commands for a newcomer: `make demo` and `make test`. Each sets up everything it needs.
# Any Python from 3.11 to 3.13: `make test PYTHON=python3.13`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(CURDIR)/data
export CREDIT_DATA_DIR ?= $(DATA_DIR)

INSTALLED := $(VENV)/.installed
# The linters in a venv of their own (pyproject.toml's `lint` extra): pip installs the project on one
# core for about 17 s, and the linters, installed beside it, lint on the other meanwhile.
LINT_VENV := .venv-lint
LINT_INSTALLED := $(LINT_VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
SPARK_MANIFEST := dbt_project/target/spark/manifest.json
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests dbt_project/seeds -type f 2>/dev/null) dbt_project/dbt_project.yml dbt_project/profiles.yml

.PHONY: setup demo test check lint bench bench-scale bench-spark ui docs clean python-version

setup: $(INSTALLED) $(MANIFEST) $(SPARK_MANIFEST)

# The stack (dagster, dbt-core 1.11, lightgbm) supports Python 3.11 to 3.13.
python-version:
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null || { \
	  echo "this project needs Python 3.11, 3.12 or 3.13, and $(PYTHON) is: $$($(PYTHON) --version 2>&1 | head -n 1)"; \
	  echo "run make with another one, e.g. make PYTHON=python3.12 $(MAKECMDGOALS)"; exit 1; }

# pip byte-compiles what it installs one file at a time (73 s in all on 2 cores); installing
# without it, then compiling on every core, takes 47 s. The compiled files matter: with
# PYTHONDONTWRITEBYTECODE set, as on CI, every process would compile its imports again. The
# packages' own test folders are never imported here: a fifth of the files, 3 s not spent.
$(INSTALLED): pyproject.toml | python-version
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile -e '.[dev,spark]'
	$(BIN)/python -m compileall -q -j 0 -x '/tests/' $(VENV)/lib
	touch $@

# The versions pyproject.toml names, read by the Python that makes the venv (3.11 and later read TOML).
LINTERS = $(shell $(PYTHON) -c 'import shlex, tomllib; print(" ".join(shlex.quote(r) for r in tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["lint"]))')

$(LINT_INSTALLED): pyproject.toml | python-version
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet --disable-pip-version-check $(LINTERS)
	touch $@

# dagster-dbt reads the manifest when the definitions load.
# Parsed for each engine (CREDIT_ENGINE=spark reads target/spark): a model's config differs by engine.
$(MANIFEST): $(INSTALLED) $(DBT_SOURCES)
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir . --target duckdb
	touch $@

$(SPARK_MANIFEST): $(INSTALLED) $(DBT_SOURCES)
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir . --target spark --target-path target/spark --log-path target/spark
	touch $@

demo: setup
	$(BIN)/credit demo

# Everything: lint, then every test, whole-system ones included, in one process more than there
# are cores; the tests that share an expensive fixture run in one process (tests/conftest.py).
# One more: the whole-system groups spend much of their time waiting on other processes (dagster
# dev's daemon, a service, a browser), and on 2 cores a third process took the suite from 6 min
# 25 s to 5 min 8 s. At most four: three groups are heavy, and more would build their fixtures again.
CORES := $(shell nproc 2>/dev/null || echo 2)
WORKERS := $(shell echo $$(( $(CORES) + 1 < 4 ? $(CORES) + 1 : 4 )))
PARALLEL := -n $(WORKERS) --dist loadgroup
# Before the tests, side by side: the project's venv and the linters' (which lint as soon as they
# are in, while pip installs the project on one core), then the two dbt parses, one process each
# (one after another they left a core idle). Each parse logs in its own target folder.
test:
	$(MAKE) --jobs=3 setup lint
	$(BIN)/pytest $(PARALLEL)

# The quick loop while editing: lint and the tests not marked slow.
check:
	$(MAKE) --jobs=3 setup lint
	$(BIN)/pytest $(PARALLEL) -m "not slow"

# ruff for Python (lint and format), sqlfluff for the dbt SQL; both configured in the repository.
lint: $(LINT_INSTALLED)
	$(LINT_VENV)/bin/ruff check .
	$(LINT_VENV)/bin/ruff format --check .
	$(LINT_VENV)/bin/sqlfluff lint --processes 0 dbt_project

# Not a test: the original notebook method against this project's month run (see README).
bench: setup
	$(BIN)/python scripts/bench.py

# 1, 3 and 10 times Home Credit's size: load, training and month run, time and peak memory per step (about an hour).
bench-scale: setup
	$(BIN)/python scripts/bench_scale.py

# One month on DuckDB and on local Spark, through the same engine interface: seconds per step (a few minutes).
bench-spark: setup
	$(BIN)/python scripts/bench_spark.py

ui: setup
	mkdir -p $(CREDIT_DATA_DIR)/dagster_home
	cp assets/dagster.yaml $(CREDIT_DATA_DIR)/dagster_home/dagster.yaml
	# dagster-dbt re-parses the project under `dagster dev` and looks for dbt on PATH.
	PATH="$(CURDIR)/$(BIN):$$PATH" DAGSTER_HOME=$(CREDIT_DATA_DIR)/dagster_home $(BIN)/dagster dev -w workspace.yaml

docs: setup
	cd dbt_project && ../$(BIN)/dbt docs generate --profiles-dir .

clean:
	rm -rf dbt_project/target dbt_project/logs .pytest_cache
