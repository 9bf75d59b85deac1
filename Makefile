# ShopFlow tasks. The two set-up commands in the README are `make demo` and `make test`.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# The same Dagster instance `shopflow demo` and `shopflow run` record their runs in.
DAGSTER_HOME ?= $(or $(SHOPFLOW_HOME),$(CURDIR)/.shopflow)/dagster
export DAGSTER_HOME

.PHONY: demo test test-fast setup lint format services-up services-down services-status dev bench clean

## demo: install, then run the shop daily batch end to end on the embedded defaults (no services needed)
demo: setup
	$(UV) run shopflow demo --days 3

## test: lint + the whole suite against real Kafka, MinIO, PostgreSQL and Spark (starts and stops them),
## tier by tier (unit, stack, slow: docs/testing.md), with the wall time of each
test:
	bash scripts/test.sh

## test-fast: the unit tier only (no services), after the set-up it needs
test-fast:
	bash scripts/test.sh fast

## setup: install uv if missing, then the locked Python environment
setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.9,<1"
	$(UV) sync --frozen

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: setup
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

services-up: setup
	$(UV) run shopflow services up

services-down:
	$(UV) run shopflow services down

services-status:
	$(UV) run shopflow services status

## dev: the Dagster UI on http://127.0.0.1:3000
dev: setup
	mkdir -p $(DAGSTER_HOME)
	test -f $(DAGSTER_HOME)/dagster.yaml || cp shopflow_assets/dagster_instance.yaml $(DAGSTER_HOME)/dagster.yaml
	$(UV) run shopflow dbt-prepare
	$(UV) run dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: setup
	for script in bench/bench_*.py; do echo "== $$script"; $(UV) run python $$script || exit 1; done

## clean: stop the services and DELETE every local database and object (asks; `make clean YES=1` does not)
STATE := $(or $(SHOPFLOW_HOME),$(CURDIR)/.shopflow)
clean:
	@echo "make clean DELETES $(STATE): the raw data (lake and MinIO objects, raw-data included), the ERP"
	@echo "source (PostgreSQL totesys) and rainforest, the warehouse (DuckDB warehouse.duckdb and PostgreSQL"
	@echo "warehouse), the Kafka topics, Dagster's run history and the generated credentials."
	@# read fails without a terminal: no answer deletes nothing
	@if [ "$(YES)" != 1 ]; then \
		read -r -p "Delete all of it? [y/N] " answer || true; \
		case "$$answer" in y|Y|yes|YES) ;; *) echo "nothing deleted"; exit 1 ;; esac; \
	fi
	$(UV) run shopflow services down || true
	rm -rf $(STATE) dbt_project/target
