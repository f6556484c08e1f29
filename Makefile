# One entry point for people and CI. Everything installs into .venv and node_modules of this folder.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test check lint format typecheck lock bench bench-model real-model fuzz clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml package.json package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	npm ci --silent --no-audit --no-fund
	@touch $(STAMP)

run: install
	$(PY) -m devtools.stack

test: install
	$(PY) -m pytest

lint: install
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: install
	$(PY) -m mypy .

check: lint typecheck test

# schemathesis against the gateway's OpenAPI for longer than `make test` does, with fresh random inputs
# each run (FUZZ_EXAMPLES per operation and generation mode; the test suite uses 40, derandomized).
FUZZ_EXAMPLES ?= 1000
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 $(PY) -m pytest tests/chat_gateway/test_openapi_fuzz.py -q -s

# The hot paths against their floors on real services (BENCH_SECONDS sets the sustained-load length).
bench: install
	$(PY) -m bench

# The builtin model's accuracy on its corpus and its own time per turn.
bench-model: install
	$(PY) -m bench.builtin_model

# A real local LLM (SmolLM2-135M via llama-cpp-python, in .venv-model) chatting through the gateway; not run in CI.
real-model: install
	$(PY) -m devtools.real_model --chat

# Re-pin after changing pyproject.toml's dependencies.
lock: install
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
