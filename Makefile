# One entry point for people and CI. Everything installs into .venv and node_modules of this folder.
#
# Two sets, each with its own stamp, so neither reinstalls the other:
# - run (`make run`, `make install-run`): the services, the launcher and the embedded PostgreSQL, pinned
#   by requirements-run.lock. No npm, no developer tools.
# - dev (`make test`, `make check`, ..., `make install-dev`): the run set plus requirements.lock (test and
#   lint tools) and the Node packages (npm ci) that some tests drive.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# Extra arguments for the launcher: `make run RUN_ARGS=--check` starts everything, prints, and stops.
RUN_ARGS ?=

.PHONY: install install-run install-dev run test check lint format typecheck lock bench profile bench-model real-model fuzz clean

install: install-dev

install-run: $(RUN_STAMP)

install-dev: $(DEV_STAMP)

$(RUN_STAMP): requirements-run.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements-run.lock
	$(PIP) --no-deps -e .
	@touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements.lock package.json package-lock.json
	$(PIP) -r requirements.lock
	npm ci --silent --no-audit --no-fund
	@touch $@

run: install-run
	$(PY) -m devtools.stack $(RUN_ARGS)

test: install-dev
	$(PY) -m pytest

lint: install-dev
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: install-dev
	$(PY) -m mypy .

check: lint typecheck test

# schemathesis against the gateway's OpenAPI for longer than `make test` does, with fresh random inputs
# each run (FUZZ_EXAMPLES per operation and generation mode; the test suite uses 40, derandomized).
FUZZ_EXAMPLES ?= 1000
fuzz: install-dev
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 $(PY) -m pytest tests/chat_gateway/test_openapi_fuzz.py -q -s

# The hot paths against their floors on real services (BENCH_SECONDS sets the sustained-load length).
bench: install-dev
	$(PY) -m bench

# Where a chat turn's CPU goes in each service under load (py-spy; PROFILE_SECONDS, PROFILE_CONCURRENCY).
profile: install-dev
	$(PY) -m bench.profile

# The builtin model's accuracy on its corpus and its own time per turn.
bench-model: install-dev
	$(PY) -m bench.builtin_model

# A real local LLM (SmolLM2-135M via llama-cpp-python, in .venv-model) chatting through the gateway; not run in CI.
real-model: install-dev
	$(PY) -m devtools.real_model --chat

# Re-pin after changing pyproject.toml's dependencies. requirements.lock (the dev extra, which includes
# the local one) first; requirements-run.lock (the dependencies and the local extra) is then constrained
# by it, so each package the two share is pinned to the same version (tests/devtools/test_locks.py).
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --quiet
lock: install-run
	$(PIP) uv
	$(UV_COMPILE) --extra dev -o requirements.lock
	$(UV_COMPILE) --extra local --constraint requirements.lock --annotation-style line -o requirements-run.lock

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
