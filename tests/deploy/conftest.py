"""Fixtures for the deployment checks: the parsed Dockerfile, the compose file as written and as Docker
Compose resolves it, and the environment variable names the contract (.env.example) allows."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.dockerfile_model import Dockerfile
from tests.deploy.tools import COMPOSE_FILE, DOCKERFILE, REQUIRED_VARIABLES, resolved_compose
from tests.support.processes import ROOT

# The contract lists every variable as a `NAME=` line, most of them commented out (`# NAME=value`).
_CONTRACT_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    return Dockerfile(DOCKERFILE)


@pytest.fixture(scope="session")
def compose_source() -> dict[str, Any]:
    """docker-compose.yml as written (YAML anchors and merge keys resolved, nothing interpolated)."""
    # PyYAML comes with the locked dependencies but without type stubs; importing it by name keeps mypy
    # strict without an ignore that would turn stale once stubs are installed.
    yaml = importlib.import_module("yaml")
    source: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return source


@pytest.fixture(scope="session")
def compose_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The model Docker Compose builds from the file with only the required variables set."""
    return resolved_compose(REQUIRED_VARIABLES, tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="session")
def contract_names() -> set[str]:
    return set(_CONTRACT_LINE.findall((ROOT / ".env.example").read_text()))


def app_services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from this repository's Dockerfile (the others are official images)."""
    return {name: service for name, service in model["services"].items() if "build" in service}


def build_target(service: dict[str, Any]) -> str:
    target = service["build"].get("target")
    assert isinstance(target, str), "an app service must name its Dockerfile target"
    assert Path(service["build"]["context"]).resolve() == ROOT
    return target
