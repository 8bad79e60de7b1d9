# Two commands for people (`make run`, `make test`); the rest are their building blocks.
# Everything installs from the repo's own files: a .venv from requirements-dev.txt, Azurite
# from package-lock.json, and (on Debian, for the board's browser tests) Chromium with its
# chromedriver. Re-running is quick: stamps skip what is up to date.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=
# make run RUN_ARGS=--verbose: each request's lines on the console, not in .logs/

.PHONY: install run test lint format clean

CHROMEDRIVER := /usr/bin/chromedriver
SHELLCHECK   := /usr/bin/shellcheck

install: $(VENV)/.installed node_modules/.installed $(CHROMEDRIVER) $(SHELLCHECK)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium and chromedriver drive the board's browser tests (Playwright's own browser
# download is not needed). apt needs root: CI runs as root; elsewhere, run this once with sudo
# (or set CHROMIUM and CHROMEDRIVER to a browser of your own for the tests).
$(CHROMEDRIVER):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver >/dev/null; \
	else \
		echo "Chromium and chromedriver are needed for the browser tests: apt-get install chromium chromium-driver (as root)"; \
	fi

# Debian's shellcheck checks the infra scripts (tests/unit/test_infra.py).
$(SHELLCHECK):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends shellcheck >/dev/null; \
	else \
		echo "shellcheck checks the infra scripts: apt-get install shellcheck (as root)"; \
	fi

RUN_ARGS ?=

run: install
	$(PY) -m tools.run_local $(RUN_ARGS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) node_modules .azurite .pytest_cache .ruff_cache
