"""`make run` installs only what running needs, and `make test` the rest, each set behind its own stamp;
`make run` works with no npm on PATH, prints the web page, a token and the database URL, in that order.

A fresh virtual environment takes about a minute to install, so the chain is checked with `make -n`
(what each target would run from a fresh or a stamped environment), and `make run` itself runs from a
stamped environment on this interpreter, with every module its processes load checked against
requirements-run.lock: a dependency `make run` needs but the run lock lacks fails here, as it would on a
fresh clone.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.devtools.test_locks import RUN_LOCK, pins
from tests.support.processes import ROOT, free_port, service_env

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")

# Names that would let `make run` reach the Node toolchain.
NODE_TOOLS = frozenset({"npm", "npx", "node", "nodejs", "corepack", "yarn", "pnpm"})
OUR_PACKAGES = frozenset({"shared", "mcp_task_server", "chat_gateway", "devtools", "tests"})

_DUMP_IMPORTS = """\
import atexit, os, sys

def _dump():
    with open(os.path.join(os.environ["IMPORTS_LOG_DIR"], f"{os.getpid()}.txt"), "w") as out:
        out.write("\\n".join(sorted({name.split(".")[0] for name in sys.modules})))

atexit.register(_dump)
"""


def _make_env(**extra: str) -> dict[str, str]:
    # Only what a person's shell has: no MAKEFLAGS from the `make test` this may run under.
    return service_env(extra)


def _dry_run(target: str, venv: Path) -> str:
    assert MAKE is not None
    done = subprocess.run(
        [MAKE, "-n", "--no-print-directory", "-C", str(ROOT), target, f"VENV={venv}"],
        env=_make_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # The folder's own name (pytest's temporary folders) must not pass for a command.
    return done.stdout.replace(str(venv), "$VENV")


def _stamp(venv: Path, *, run: bool, dev: bool) -> None:
    """Stamps as `make run` (run) and `make test` (both) leave them, newer than what they depend on."""
    venv.mkdir(parents=True, exist_ok=True)
    newest = max(
        (ROOT / name).stat().st_mtime
        for name in (
            "requirements-run.lock",
            "requirements.lock",
            "pyproject.toml",
            "package.json",
            "package-lock.json",
        )
    )
    now = max(time.time(), newest + 1)
    for name, wanted, mtime in ((".installed-run", run, now), (".installed-dev", dev, now + 1)):
        if wanted:
            (venv / name).touch()
            os.utime(venv / name, (mtime, mtime))


def _installs(commands: str) -> dict[str, bool]:
    return {
        "run lock": "-r requirements-run.lock" in commands,
        "dev lock": "-r requirements.lock" in commands,
        "editable": "-e ." in commands,
        "npm": "npm" in commands,
    }


def test_make_run_from_nothing_installs_the_run_set_only(tmp_path: Path) -> None:
    commands = _dry_run("run", tmp_path / "venv")
    assert _installs(commands) == {"run lock": True, "dev lock": False, "editable": True, "npm": False}
    assert "-m devtools.stack" in commands
    for tool in ("pytest", "ruff", "mypy", "uv"):
        assert not re.search(rf"\b{tool}\b", commands), commands


def test_make_test_from_nothing_installs_both_sets_and_node_packages(tmp_path: Path) -> None:
    commands = _dry_run("test", tmp_path / "venv")
    assert _installs(commands) == {"run lock": True, "dev lock": True, "editable": True, "npm": True}
    assert "npm ci" in commands
    assert commands.index("-r requirements-run.lock") < commands.index("-r requirements.lock")
    assert "-m pytest" in commands


def test_make_test_after_make_run_installs_only_the_dev_part(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _stamp(venv, run=True, dev=False)
    assert _installs(_dry_run("test", venv)) == {
        "run lock": False,
        "dev lock": True,
        "editable": False,
        "npm": True,
    }
    assert "pip install" not in _dry_run("run", venv)


def test_make_run_after_make_test_installs_nothing(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _stamp(venv, run=True, dev=True)
    commands = _dry_run("run", venv)
    assert "pip install" not in commands
    assert "-m devtools.stack" in commands
    assert "pip install" not in _dry_run("check", venv)


def _path_without_node(bin_dir: Path) -> str:
    """A PATH with every command of this one except the Node toolchain (linked into one folder)."""
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not folder or not Path(folder).is_dir():
            continue
        for entry in Path(folder).iterdir():
            target = bin_dir / entry.name
            if entry.name in NODE_TOOLS or target.exists() or target.is_symlink():
                continue
            if entry.is_file() and os.access(entry, os.X_OK):
                target.symlink_to(entry)
    path = str(bin_dir)
    assert all(shutil.which(tool, path=path) is None for tool in NODE_TOOLS)
    assert shutil.which("make", path=path) is not None
    return path


def _distributions_outside(lock: Path, modules: set[str]) -> dict[str, list[str]]:
    """Top-level modules that come from a distribution the lock does not pin."""
    locked = set(pins(lock)) | {"todo-chat", "pip", "setuptools", "wheel"}
    owners = importlib.metadata.packages_distributions()
    stray = {}
    for module in modules:
        if module in sys.stdlib_module_names or module in sys.builtin_module_names or module in OUR_PACKAGES:
            continue
        distributions = [re.sub(r"[-_.]+", "-", name).lower() for name in owners.get(module, [])]
        if distributions and not set(distributions) & locked:
            stray[module] = distributions
    return stray


def test_make_run_works_without_npm_and_prints_the_page_the_token_and_the_database(tmp_path: Path) -> None:
    # The Makefile and what its run target depends on, in a folder of their own (no .env there), with the
    # stamps `make install-run` leaves; the interpreter is this one, whose venv holds the run set.
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("Makefile", "pyproject.toml", "requirements-run.lock"):
        shutil.copy2(ROOT / name, work / name)
    venv = tmp_path / "venv"
    _stamp(venv, run=True, dev=False)
    hook, imports = tmp_path / "hook", tmp_path / "imports"
    hook.mkdir()
    imports.mkdir()
    (hook / "sitecustomize.py").write_text(_DUMP_IMPORTS)
    task_port, gateway_port = free_port(), free_port()
    env = _make_env(
        PATH=_path_without_node(tmp_path / "bin"),
        PYTHONPATH=f"{hook}{os.pathsep}{ROOT}",
        IMPORTS_LOG_DIR=str(imports),
        DATA_DIR=str(tmp_path / "data"),
        TASK_SERVER_PORT=str(task_port),
        GATEWAY_PORT=str(gateway_port),
        SHUTDOWN_DRAIN_SECONDS="0",
    )
    assert MAKE is not None
    done = subprocess.run(
        [MAKE, "--no-print-directory", "run", f"VENV={venv}", f"PY={sys.executable}", "RUN_ARGS=--check"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Traceback" not in out + done.stderr
    assert "pip install" not in out
    page = out.index(f"The chat page: http://127.0.0.1:{gateway_port}/\n")
    token = out.index("export TOKEN=ey")
    database = re.search(r"^DATABASE_URL='(postgresql://postgres:@/todo\?host=(/\S+))'$", out, re.MULTILINE)
    assert database, out
    assert page < token < database.start()
    assert Path(database.group(2)).is_dir()
    root_note = "runs as the OS user 'pgserver'"
    assert out.count(root_note) == (1 if os.geteuid() == 0 else 0), out

    dumps = list(imports.glob("*.txt"))
    # The launcher and both services (make itself is no Python process).
    assert len(dumps) >= 3, [dump.name for dump in dumps]
    loaded = {name for dump in dumps for name in dump.read_text().split()}
    assert {"uvicorn", "fastmcp", "pgserver", "agents"} <= loaded
    assert not _distributions_outside(RUN_LOCK, loaded)


@pytest.mark.skipif(
    os.environ.get("FRESH_VENV_TEST") != "1",
    reason="installs a fresh virtual environment (about a minute); set FRESH_VENV_TEST=1 to run it",
)
def test_make_run_on_a_fresh_venv_without_npm(tmp_path: Path) -> None:
    """The real thing, as on a new machine: `make run` into an empty venv, no Node on PATH."""
    venv = tmp_path / "venv"
    assert MAKE is not None
    done = subprocess.run(
        [MAKE, "--no-print-directory", "run", f"VENV={venv}", "RUN_ARGS=--check"],
        cwd=ROOT,
        env=_make_env(
            PATH=_path_without_node(tmp_path / "bin"),
            DATA_DIR=str(tmp_path / "data"),
            TASK_SERVER_PORT=str(free_port()),
            GATEWAY_PORT=str(free_port()),
            SHUTDOWN_DRAIN_SECONDS="0",
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The chat page: http://127.0.0.1:" in done.stdout
    assert "export TOKEN=ey" in done.stdout
    assert "DATABASE_URL='postgresql://" in done.stdout
    installed = {
        path.name.split("-")[0].lower() for path in venv.glob("lib/python*/site-packages/*.dist-info")
    }
    assert "pgserver" in installed
    assert not {"pytest", "ruff", "mypy", "schemathesis", "hypothesis", "playwright"} & installed
