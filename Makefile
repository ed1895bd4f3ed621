# Two commands for a newcomer: `make demo` and `make test`. Each sets up everything it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(CURDIR)/data
export CREDIT_DATA_DIR ?= $(DATA_DIR)

INSTALLED := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests dbt_project/seeds -type f 2>/dev/null) dbt_project/dbt_project.yml dbt_project/profiles.yml

.PHONY: setup demo test bench ui docs clean

setup: $(INSTALLED) $(MANIFEST)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# dagster-dbt reads the manifest when the definitions load.
$(MANIFEST): $(INSTALLED) $(DBT_SOURCES)
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir .
	touch $@

demo: setup
	$(BIN)/credit demo

test: setup
	$(BIN)/pytest

# Not a test: the original notebook method against this project's month run (see README).
bench: setup
	$(BIN)/python scripts/bench.py

ui: setup
	mkdir -p $(CREDIT_DATA_DIR)/dagster_home
	cp assets/dagster.yaml $(CREDIT_DATA_DIR)/dagster_home/dagster.yaml
	# dagster-dbt re-parses the project under `dagster dev` and looks for dbt on PATH.
	PATH="$(CURDIR)/$(BIN):$$PATH" DAGSTER_HOME=$(CREDIT_DATA_DIR)/dagster_home $(BIN)/dagster dev -w workspace.yaml

docs: setup
	cd dbt_project && ../$(BIN)/dbt docs generate --profiles-dir .

clean:
	rm -rf dbt_project/target dbt_project/logs .pytest_cache
