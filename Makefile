# Every target bootstraps what it needs from nothing but python3 and the package registries.
# .venv      : Airflow 3.3.2 (newest tested), pinned by constraints/airflow-3.3.2.txt
# .venv-3.2  : Airflow 3.2.2 (newest 3.2),     pinned by constraints/airflow-3.2.2.txt
# .venv-3.1  : Airflow 3.1.8 (our floor),      pinned by constraints/airflow-3.1.8.txt
PYTHON ?= python3
VENV := .venv
VENV32 := .venv-3.2
VENV31 := .venv-3.1
UV := .tools/bin/uv
# Throwaway Airflow homes with their SQLite metadata DBs, one per Airflow version.
AIRFLOW_HOME_33 := $(CURDIR)/.airflow/3.3
AIRFLOW_HOME_32 := $(CURDIR)/.airflow/3.2
AIRFLOW_HOME_31 := $(CURDIR)/.airflow/3.1
TEST_ENV = AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__UNIT_TEST_MODE=False

.PHONY: test test-3.3 test-3.2 test-3.1 dist venv32 lint demo bench reliability venv venv31 clean airflow airflow-stop airflow-status e2e failover worker-failover live-check docs

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml emulator/pyproject.toml constraints/airflow-3.3.2.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(VENV)/bin/python -c constraints/airflow-3.3.2.txt -e '.[dev]' -e ./emulator
	touch $@

$(VENV32)/.installed: pyproject.toml emulator/pyproject.toml constraints/airflow-3.2.2.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV32)
	$(UV) pip install --quiet --python $(VENV32)/bin/python -c constraints/airflow-3.2.2.txt -e '.[dev]' -e ./emulator
	touch $@

$(VENV31)/.installed: pyproject.toml emulator/pyproject.toml constraints/airflow-3.1.8.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV31)
	$(UV) pip install --quiet --python $(VENV31)/bin/python -c constraints/airflow-3.1.8.txt -e '.[dev]' -e ./emulator
	touch $@

$(AIRFLOW_HOME_33)/airflow.db: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME_33)
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/airflow db migrate > $(AIRFLOW_HOME_33)/migrate.log 2>&1

$(AIRFLOW_HOME_32)/airflow.db: $(VENV32)/.installed
	mkdir -p $(AIRFLOW_HOME_32)
	AIRFLOW_HOME=$(AIRFLOW_HOME_32) $(TEST_ENV) $(VENV32)/bin/airflow db migrate > $(AIRFLOW_HOME_32)/migrate.log 2>&1

$(AIRFLOW_HOME_31)/airflow.db: $(VENV31)/.installed
	mkdir -p $(AIRFLOW_HOME_31)
	AIRFLOW_HOME=$(AIRFLOW_HOME_31) $(TEST_ENV) $(VENV31)/bin/airflow db migrate > $(AIRFLOW_HOME_31)/migrate.log 2>&1

venv: $(VENV)/.installed
venv32: $(VENV32)/.installed
venv31: $(VENV31)/.installed

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check airflow_provider_oos emulator tests benchmarks example_dags scripts
	$(VENV)/bin/ruff format --check airflow_provider_oos emulator tests benchmarks example_dags scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

test-3.3: $(AIRFLOW_HOME_33)/airflow.db
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

test-3.2: $(AIRFLOW_HOME_32)/airflow.db
	AIRFLOW_HOME=$(AIRFLOW_HOME_32) $(TEST_ENV) $(VENV32)/bin/python -m pytest -q $(PYTEST_ARGS)

test-3.1: $(AIRFLOW_HOME_31)/airflow.db
	AIRFLOW_HOME=$(AIRFLOW_HOME_31) $(TEST_ENV) $(VENV31)/bin/python -m pytest -q $(PYTEST_ARGS)

# The README's test command: lint, then the whole suite on Airflow 3.3.2, 3.2.2 and 3.1.8.
test: lint test-3.3 test-3.2 test-3.1

# The release artifacts in dist/: sdist + wheel of the provider and of the emulator, checked
# (twine --strict, check-wheel-contents), then the provider wheel installed into a clean venv
# per tested Airflow line (constraints/airflow-*.txt) importing all its provider info names.
dist: $(VENV)/.installed
	rm -rf dist
	$(VENV)/bin/python -m build --outdir dist .
	$(VENV)/bin/python -m build --outdir dist ./emulator
	$(VENV)/bin/twine check --strict dist/*
	$(VENV)/bin/check-wheel-contents dist/*.whl
	$(VENV)/bin/python scripts/dist_check.py dist --uv $(UV)

demo: $(AIRFLOW_HOME_33)/airflow.db
	$(VENV)/bin/python scripts/demo.py

bench: $(AIRFLOW_HOME_33)/airflow.db
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/python -m benchmarks

reliability: $(AIRFLOW_HOME_33)/airflow.db
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/python -m pytest -q -m reliability tests

# Conformance run against a real OOS endpoint: OOS_ENDPOINT, OOS_ACCESS_KEY, OOS_SECRET_KEY (optional
# OOS_SESSION_TOKEN, OOS_REGION) from the environment; read-only unless LIVE_CHECK_ARGS="--create-from NAME".
# Writes .artifacts/live-check/report.json and report.md (no secrets) to attach to an issue.
# Builds .venv only when missing: a pyproject edit does not reinstall it first.
live-check:
	@test -x $(VENV)/bin/python || $(MAKE) venv
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/python -m airflow_provider_oos.live_check --report $(CURDIR)/.artifacts/live-check/report.json $(LIVE_CHECK_ARGS)

# The docs site (docs/, Sphinx): warnings are errors. The API reference imports the package, so
# it builds in .venv (Airflow 3.3.2); the docs extra is installed there only.
$(VENV)/.docs-installed: pyproject.toml | $(VENV)/.installed
	$(UV) pip install --quiet --python $(VENV)/bin/python -c constraints/airflow-3.3.2.txt -e '.[docs]'
	touch $@

docs: $(VENV)/.docs-installed
	mkdir -p $(AIRFLOW_HOME_33)
	AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

# --- A real local deployment (scripts/deploy): `make airflow`, `make e2e`, `make airflow-stop` ---
# PostgreSQL drivers (psycopg2 + asyncpg: Airflow 3.3's async engine needs asyncpg) and the
# Playwright package, pinned; order-only on .venv so a pyproject edit does not rebuild it.
DEPLOY_REQS := scripts/deploy/requirements.txt
CHROMIUM := /usr/bin/chromium
REDIS_SERVER := /usr/bin/redis-server
E2E_ARTIFACTS := $(CURDIR)/.artifacts/e2e
# `make airflow EXECUTOR=celery`: CeleryExecutor, Redis and two Celery workers; default LocalExecutor.
EXECUTOR ?= local

$(VENV)/.deploy-installed: $(DEPLOY_REQS) constraints/airflow-3.3.2.txt | $(VENV)/.installed
	$(UV) pip install --quiet --python $(VENV)/bin/python -c constraints/airflow-3.3.2.txt -r $(DEPLOY_REQS)
	touch $@

# Debian's Chromium for the browser tests; nothing else ever downloads a browser.
$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

# Debian's Redis, the Celery broker (EXECUTOR=celery only); Celery also needs PostgreSQL's server.
$(REDIS_SERVER):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql

# Starts in the background and returns: emulator, PostgreSQL, api-server, scheduler,
# dag-processor, two triggerers (with EXECUTOR=celery also Redis and two Celery workers);
# prints the URL, the login and how to stop it.
airflow: $(VENV)/.deploy-installed $(if $(filter celery,$(EXECUTOR)),$(REDIS_SERVER))
	$(VENV)/bin/python -m scripts.deploy start --executor $(EXECUTOR)

airflow-stop:
	@if [ -x $(VENV)/bin/python ]; then $(VENV)/bin/python -m scripts.deploy stop; fi

# Every process of the running deployment (Celery workers by name), its health, the URLs.
airflow-status:
	$(VENV)/bin/python -m scripts.deploy status

# Browser end-to-end tests against the running deployment (start it with `make airflow`).
e2e: $(VENV)/.deploy-installed $(CHROMIUM)
	E2E_ARTIFACTS=$(E2E_ARTIFACTS) AIRFLOW_HOME=$(AIRFLOW_HOME_33) $(TEST_ENV) $(VENV)/bin/python -m pytest -q -m e2e tests/e2e $(PYTEST_ARGS)

# 200 deferred waits over the two triggerers of the running deployment; one triggerer SIGKILLed.
failover: $(VENV)/.deploy-installed
	$(VENV)/bin/python -m scripts.deploy.failover $(FAILOVER_ARGS)

# Non-deferrable waits over the two Celery workers of a running `make airflow EXECUTOR=celery`;
# one worker SIGKILLed with its task processes; the retries reattach on the other one.
worker-failover: $(VENV)/.deploy-installed
	$(VENV)/bin/python -m scripts.deploy.worker_failover $(FAILOVER_ARGS)

clean:
	rm -rf $(VENV) $(VENV32) $(VENV31) .tools .airflow .mypy_cache .pytest_cache .ruff_cache dist build
