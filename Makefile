# dlserve — the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian packages the test suite drives: the seed documents' example clients (curl, Node, Ruby,
# Go), openssl for the test HTTPS certificate, ffmpeg/jq/wget for the media API and its seed
# script, chromium for the dashboard's browser tests. Checked one by one, installed only when missing.
APT_PACKAGES ?= curl openssl nodejs ruby golang-go ffmpeg jq wget chromium
DEMO_RECORDS ?= 100000

.PHONY: install run test test-unit test-integration test-cluster test-acceptance lint sdk-sync bench apt-deps services clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: install
	$(BIN)/dlserve migrate
	$(BIN)/dlserve demo --records $(DEMO_RECORDS) --if-empty
	$(BIN)/dlserve accounts demo
	$(BIN)/dlserve serve

apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

services:
	@bash scripts/ensure-services.sh

# Unit and integration tests in two processes; the integration suite again on PostgreSQL + S3;
# then the acceptance tests (real server and worker processes) one at a time.
test: install apt-deps services
	$(BIN)/python -m pytest -q -n 2 tests/unit tests/integration
	DLSERVE_TEST_STORAGE=s3 DLSERVE_TEST_DATABASES=postgresql $(BIN)/python -m pytest -q -n 2 tests/integration
	$(BIN)/python -m pytest -q tests/acceptance

test-unit: install
	$(BIN)/python -m pytest -q tests/unit

test-integration: install services
	$(BIN)/python -m pytest -q tests/integration

# The integration suite again on the production topology: PostgreSQL and a real S3 server.
test-cluster: install services
	DLSERVE_TEST_STORAGE=s3 DLSERVE_TEST_DATABASES=postgresql $(BIN)/python -m pytest -q tests/integration

test-acceptance: install apt-deps services
	$(BIN)/python -m pytest -q tests/acceptance

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict
	$(BIN)/python -m dlserve.client._generate_sync --check

# The blocking SDK client (client/_sync.py) is generated from the async one (client/_async.py).
sdk-sync: install
	$(BIN)/python -m dlserve.client._generate_sync

bench: install apt-deps
	@dpkg -s wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/search_index.py
	$(BIN)/python bench/fingerprints.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
