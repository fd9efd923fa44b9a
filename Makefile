# The two commands the README opens with.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast install install-test servers screenshots bench-startup bench-poll \
	bench-memory bench-keys bench-load bench-soak bench-creds-soak bench-compare bench-sites

# The tests start a real Prometheus, VictoriaMetrics and Alertmanager (Debian packages).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# An editable install leaves the bytecode to the first run, which never
# writes it under PYTHONDONTWRITEBYTECODE: compile it as a wheel install would.
install: $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/python -m compileall -q console widgets

install-test: $(BIN)/python servers tests/opossum/node_modules
	$(BIN)/pip install -q -e '.[test]'

# The opossum tests' Node.js service: the npm packages of its lock file.
tests/opossum/node_modules: tests/opossum/package-lock.json
	cd tests/opossum && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

servers:
	@command -v prometheus >/dev/null && command -v victoria-metrics >/dev/null \
	  && command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null \
	  && command -v node >/dev/null && command -v npm >/dev/null \
	  && command -v tmux >/dev/null || { \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends \
	    prometheus victoria-metrics prometheus-alertmanager $$(command -v node >/dev/null || echo nodejs) \
	    $$(command -v npm >/dev/null || echo npm) $$(command -v tmux >/dev/null || echo tmux); }

demo: install
	$(BIN)/cbconsole --demo

# The import contracts first (pyproject.toml, [tool.importlinter]): seconds.
test: install-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The edit-test loop: no server, no subprocess, nothing slow (under a minute;
# the unit tests and the Pilot tests on scripted or demo sources). make test
# still runs everything.
test-fast: $(VENV)/.test-deps
	$(BIN)/python -m pytest -q -x -m "not slow and not integration"

# The test dependencies, installed again only when pyproject.toml changes.
$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

screenshots: install
	$(BIN)/python screenshots/generate.py

bench-startup: install
	$(BIN)/python tests/bench/startup.py

bench-poll: install-test
	$(BIN)/python tests/bench/poll.py

# Benchmarks print figures; none of them is part of `make test`.
bench-memory: install
	$(BIN)/python tests/bench/memory.py

bench-keys: install
	$(BIN)/python tests/bench/keystrokes.py

bench-load: install-test
	$(BIN)/python tests/bench/load.py

# 20,000 breakers across four sites, each its own Prometheus: the multi-site
# poll against the slowest site's raw queries, and key -> frame.
bench-sites: install-test
	$(BIN)/python tests/bench/sites.py

# 15 min, growth measured after the 8 min the history takes to fill;
# MINUTES=30 make bench-soak for a longer one.
MINUTES ?= 15
bench-soak: install-test
	$(BIN)/python tests/bench/soak.py --minutes $(MINUTES)

# 30 min per variant at a 1 s poll with 60 s exec-plugin tokens (expiry, then
# revocation) and the diagnosis every 10 s; CREDS_MINUTES=1 for a trial.
CREDS_MINUTES ?= 30
bench-creds-soak: install-test
	$(BIN)/python tests/bench/creds_soak.py --minutes $(CREDS_MINUTES) --variant expiry
	$(BIN)/python tests/bench/creds_soak.py --minutes $(CREDS_MINUTES) --variant revocation

# Two revisions side by side in one sitting (bench-load's key -> frame,
# bench-startup's ratio), ROUNDS rounds interleaved, each revision in a
# temporary worktree with its own venv: make bench-compare BEFORE=main AFTER=HEAD
AFTER ?= HEAD
ROUNDS ?= 5
bench-compare: $(BIN)/python
	$(BIN)/python tests/bench/compare.py --before $(BEFORE) --after $(AFTER) --rounds $(ROUNDS) \
	  $(if $(LOAD_ARGS),--load-args "$(LOAD_ARGS)") $(if $(STARTUP_ARGS),--startup-args "$(STARTUP_ARGS)")
