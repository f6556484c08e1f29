"""Run the Dockerfile's builder stage on this machine, so the image's venv can be tried without Docker.

Each instruction of the stage is carried out as a build would: ENV extends the environment, WORKDIR
moves into a staging folder standing in for the container's, COPY copies from the build context that
.dockerignore leaves (so a file the ignore list drops is missing here too), and RUN runs its command
with /bin/sh -c. The one liberty: VIRTUAL_ENV, where the image keeps its venv, points at a folder of the
test's, and everything derived from it (PATH) follows. An instruction this runner does not know fails
the test rather than being skipped.

Installing from scratch takes ~30 s, so the result is kept in pytest's cache, keyed by the stage's
instructions and the files its dependency step reads (pyproject.toml and requirements.lock). Later runs
re-run every instruction on top of it, as a warm Docker layer cache would: pip finds the dependencies
satisfied and reinstalls only the project (~6 s).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tests.deploy.dockerfile_model import Dockerfile, expand
from tests.deploy.dockerignore import context_files
from tests.support.processes import ROOT

BUILDER_STAGE = "builder"
# What the python image's own ENV sets before the Dockerfile's: Debian's PATH and a UTF-8 locale.
BASE_IMAGE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
KEYED_FILES = ("pyproject.toml", "requirements.lock")
_NETWORK_SETTINGS = {"HOME", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"}


@dataclass(frozen=True)
class BuiltImage:
    venv: Path
    log: Path


def cache_key(dockerfile: Dockerfile) -> str:
    digest = hashlib.sha256()
    for instruction in dockerfile.instructions(BUILDER_STAGE):
        # Line numbers stay out, so that editing a comment does not throw the venv away.
        digest.update(
            repr((instruction.cmd, instruction.flags, instruction.value, instruction.json)).encode()
        )
    for name in KEYED_FILES:
        digest.update((ROOT / name).read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


@contextmanager
def built_image(dockerfile: Dockerfile, cache_root: Path) -> Iterator[BuiltImage]:
    """The builder stage's venv, held under an exclusive lock while the caller uses it: other test runs
    in the same checkout wait rather than reinstall the project under a running service."""
    cache_root.mkdir(parents=True, exist_ok=True)
    key = cache_key(dockerfile)
    with (cache_root / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_stale(cache_root, keep=key)
        root = cache_root / key
        venv = root / "venv"
        log = root / "build.log"
        # A first install that never finished leaves nothing worth building on.
        if not (root / "installed").exists():
            shutil.rmtree(root, ignore_errors=True)
        root.mkdir(exist_ok=True)
        _run_stage(dockerfile, staging=root / "workdir", venv=venv, log=log)
        (root / "installed").touch()
        yield BuiltImage(venv, log)


def _remove_stale(cache_root: Path, keep: str) -> None:
    """Drop venvs of earlier keys that no other run is using (their lock is free)."""
    for lock_path in cache_root.glob("*.lock"):
        key = lock_path.stem
        if key == keep:
            continue
        with lock_path.open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(cache_root / key, ignore_errors=True)
            lock_path.unlink(missing_ok=True)


def _run_stage(dockerfile: Dockerfile, *, staging: Path, venv: Path, log: Path) -> None:
    context = set(context_files(ROOT))
    # The host's network set-up for pip (index, certificates, proxies) plays the part of the build
    # machine's; nothing else of the test runner's environment (PYTHONPATH, say) reaches the build.
    env = {name: value for name, value in os.environ.items() if _is_network_setting(name)}
    env.update(BASE_IMAGE_ENV)
    # `python` before the venv exists is the base image's interpreter; here, the one running the tests.
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    workdir: Path | None = None
    with log.open("w") as out:
        for instruction in dockerfile.instructions(BUILDER_STAGE):
            if instruction.cmd == "ENV":
                pairs = instruction.value
                for key, raw in zip(pairs[::2], pairs[1::2], strict=True):
                    env[key] = str(venv) if key == "VIRTUAL_ENV" else expand(raw, env)
            elif instruction.cmd == "WORKDIR":
                workdir = staging / PurePosixPath(expand(instruction.value[0], env)).relative_to("/")
                workdir.mkdir(parents=True, exist_ok=True)
            elif instruction.cmd == "COPY":
                assert workdir is not None, "COPY before WORKDIR"
                assert not instruction.flags, f"line {instruction.line}: COPY flags are not emulated"
                *sources, destination = instruction.value
                into_folder = destination.endswith("/") or len(sources) > 1
                for source in sources:
                    _copy(source, workdir / destination, context, into_folder=into_folder)
            elif instruction.cmd == "RUN":
                assert workdir is not None, "RUN before WORKDIR"
                assert not instruction.json, f"line {instruction.line}: exec-form RUN is not emulated"
                command = " ".join(instruction.value)
                out.write(f"\n$ {command}\n")
                out.flush()
                result = subprocess.run(
                    ["/bin/sh", "-c", command], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
                )
                assert result.returncode == 0, f"line {instruction.line} failed:\n{log.read_text()[-4000:]}"
            else:
                raise AssertionError(f"line {instruction.line}: {instruction.cmd} is not emulated")


def _is_network_setting(name: str) -> bool:
    upper = name.upper()
    return upper.startswith("PIP_") or upper.endswith("_PROXY") or upper in _NETWORK_SETTINGS


def _copy(source: str, destination: Path, context: set[str], *, into_folder: bool) -> None:
    """COPY from the build context: a folder's files land inside `destination`, a file at it (or in it,
    when the destination names a folder), and only what .dockerignore lets into the context."""
    source = source.rstrip("/")
    if source in context:
        target = destination / PurePosixPath(source).name if into_folder else destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / source, target)
        return
    inside = sorted(path for path in context if path.startswith(source + "/"))
    assert inside, f"COPY {source}: not in the build context (missing, or excluded by .dockerignore)"
    # A warm Docker cache rebuilds a changed COPY from the layer before it, which never held the folder.
    shutil.rmtree(destination, ignore_errors=True)
    for path in inside:
        target = destination / path[len(source) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, target)
