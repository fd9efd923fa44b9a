# The two commands the README opens with.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test screenshots bench-startup

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

demo: install
	$(BIN)/cbconsole --demo

test: install-test
	$(BIN)/python -m pytest -q

screenshots: install
	$(BIN)/python screenshots/generate.py

bench-startup: install
	$(BIN)/python tests/bench/startup.py
