# Two commands set everything up on a fresh machine (README):
#   make run    the main job: the service on SQLite with demo data (installs into .venv on first use)
#   make test   the test suite, on SQLite and PostgreSQL, and the console in Chromium (installs likewise)
# `make bench` runs the benchmarks, which stay out of `make test`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(INSTALLED)

# An existing demo.db is kept; `make run FRESH=1` makes it anew.
run: $(INSTALLED)
	$(BIN)/claims demo --db demo.db $(if $(FRESH),--fresh)

test: $(INSTALLED)
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-redis.sh
	bash scripts/ensure-browser.sh
	$(BIN)/python -m pytest

bench: $(INSTALLED)
	$(BIN)/python -m pytest benchmarks -p no:randomly --benchmark-only --benchmark-columns=min,mean,median,ops,rounds

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks .hypothesis
