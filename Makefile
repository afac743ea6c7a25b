# JourneyHub: `make demo` runs the local demo from nothing; `make test` runs the whole suite from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint setup browser gremlin-js clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo

browser:
	./scripts/install_chromium.sh

gremlin-js:
	./scripts/install_gremlin_js.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy journeyhub apps graph

test: setup browser gremlin-js lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var
