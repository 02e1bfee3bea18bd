# Every target bootstraps what it needs from nothing but python3 and the package registries.
# .venv      : Airflow 3.3.2 (newest tested), pinned by constraints/airflow-3.3.2.txt
# .venv-3.1  : Airflow 3.1.8 (our floor),      pinned by constraints/airflow-3.1.8.txt
PYTHON ?= python3
VENV := .venv
VENV31 := .venv-3.1
UV := .tools/bin/uv
# Throwaway Airflow homes with their SQLite metadata DBs, one per Airflow version.
AIRFLOW_HOME_33 := $(CURDIR)/.airflow/3.3
AIRFLOW_HOME_31 := $(CURDIR)/.airflow/3.1
TEST_ENV = AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__UNIT_TEST_MODE=False

.PHONY: test test-3.3 test-3.1 lint demo bench reliability venv venv31 clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml constraints/airflow-3.3.2.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(VENV)/bin/python -c constraints/airflow-3.3.2.txt -e '.[dev]'
	touch $@

$(VENV31)/.installed: pyproject.toml constraints/airflow-3.1.8.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV31)
	$(UV) pip install --quiet --python $(VENV31)/bin/python -c constraints/airflow-3.1.8.txt -e '.[dev]'
	touch $@

$(AIRFLOW_HOME_33)/airflow.db: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME_33)
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/airflow db migrate > $(AIRFLOW_HOME_33)/migrate.log 2>&1

$(AIRFLOW_HOME_31)/airflow.db: $(VENV31)/.installed
	mkdir -p $(AIRFLOW_HOME_31)
	AIRFLOW_HOME=$(AIRFLOW_HOME_31) $(TEST_ENV) $(VENV31)/bin/airflow db migrate > $(AIRFLOW_HOME_31)/migrate.log 2>&1

venv: $(VENV)/.installed
venv31: $(VENV31)/.installed

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check airflow_provider_oos tests benchmarks example_dags scripts
	$(VENV)/bin/ruff format --check airflow_provider_oos tests benchmarks example_dags scripts
	$(VENV)/bin/mypy

test-3.3: $(AIRFLOW_HOME_33)/airflow.db
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

test-3.1: $(AIRFLOW_HOME_31)/airflow.db
	AIRFLOW_HOME=$(AIRFLOW_HOME_31) $(TEST_ENV) $(VENV31)/bin/python -m pytest -q $(PYTEST_ARGS)

# The README's test command: lint, then the whole suite on Airflow 3.3.2 and on 3.1.8.
test: lint test-3.3 test-3.1

demo: $(AIRFLOW_HOME_33)/airflow.db
	$(VENV)/bin/python scripts/demo.py

bench: $(AIRFLOW_HOME_33)/airflow.db
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/python -m benchmarks

reliability: $(AIRFLOW_HOME_33)/airflow.db
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/python -m pytest -q -m reliability tests

clean:
	rm -rf $(VENV) $(VENV31) .tools .airflow .mypy_cache .pytest_cache .ruff_cache
