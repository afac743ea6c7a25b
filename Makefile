# JourneyHub: `make demo` runs the local demo from nothing; `make test` runs the whole suite from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test faults lint setup browser gremlin-js jemalloc postgres clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo

# The production stack on this machine (graphserver, granian and the job worker under honcho): see docs/OPERATIONS.md.
serve: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" ./scripts/serve.sh

browser:
	./scripts/install_chromium.sh

jemalloc:
	./scripts/install_jemalloc.sh

gremlin-js:
	./scripts/install_gremlin_js.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy journeyhub apps graph

postgres:
	./scripts/start_postgres.sh >/dev/null

# The whole suite on SQLite (with the browser, Spark and fault tests), then again on PostgreSQL every
# other test that can reach the database (the fault tests start their own databases and servers, so
# they run once; a test pytest-django keeps from the database would only run the same code again). The
# PostgreSQL server is stopped afterwards, whatever the outcome.
test: setup browser gremlin-js jemalloc lint postgres
	status=0; $(BIN)/python -m pytest || status=$$?; \
	if [ $$status -eq 0 ]; then \
		url=$$(./scripts/start_postgres.sh) && DATABASE_URL=$$url $(BIN)/python -m pytest \
			-m "not browser and not spark and not fault" -p no:cacheprovider --database-tests-only || status=$$?; \
	fi; \
	./scripts/stop_postgres.sh; exit $$status

# Only the fault tests (tests/faults: graphserver, job worker and PostgreSQL broken under load; a few minutes).
faults: setup
	$(BIN)/python -m pytest -m fault -p no:cacheprovider

clean:
	rm -rf $(VENV) var
