# The two commands: `make run` and `make test`. Everything else is their set-up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
DATA_DIR ?= data
export HOST PORT DATA_DIR

.PHONY: run cluster test lint format bench drills clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,cli]'
	touch $@

# Serving prepares $(DATA_DIR) itself: the directory, the secret key, the schema (migrations).
# It is gunicorn (spaces/serve.py); `$(BIN)/flask --app app run --debug` is the development server.
run: $(VENV)/.installed
	$(BIN)/python -m spaces.serve

# A whole deployment on this machine: redis-server, the core and two edge nodes (README, "Edge nodes").
cluster: $(VENV)/.installed
	$(BIN)/python -m spaces.cluster_demo

# Four workers on two cores: most tests wait on sockets, browsers and real time. Measured on
# 2026-12-02: three workers 485 s, four 379-414 s, six 436 s with four pace-judging failures.
# Whole files, in xdist's order (most tests first, so the browser files run last): starting
# them first ran them beside the live files that judge pace, and fresh clones failed such tests.
# Tests marked solo judge real-time behaviour and run after, alone.
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 4 --dist loadfile -m "not solo"
	$(BIN)/python -m pytest -m solo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(VENV)/.installed-test
	$(BIN)/python bench/audio_fanout.py
	$(BIN)/python bench/captions.py

# Load and fault drills (bench/drills.py; docs/reliability.md). DRILLS="L2 F2 --quick" for some.
drills: $(VENV)/.installed-test
	$(BIN)/python bench/drills.py $(DRILLS)

clean:
	rm -rf $(VENV) .pytest_cache
