"""Run an image target's command the way a container would, from the venv the builder stage installed.

The process gets the image's ENV (from the Dockerfile), then the compose service's environment (from
Docker Compose's own resolution of docker-compose.yml), then the few overrides a machine without Docker
needs: loopback addresses and free ports instead of service names. It runs in an empty working folder
with an empty HOME, as in the image, where WORKDIR is empty and the user's home does not exist.
Readiness is the target's HEALTHCHECK command itself, run with the same environment.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.deploy.dockerfile_model import Dockerfile
from tests.deploy.image_build import BASE_IMAGE_ENV

HEALTHY_WITHIN = 45.0


@dataclass
class Container:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def container_env(
    dockerfile: Dockerfile,
    target: str,
    venv: Path,
    compose_service: Mapping[str, Any],
    overrides: Mapping[str, str],
    home: Path,
) -> dict[str, str]:
    image = dockerfile.env(target, {**BASE_IMAGE_ENV, "HOME": str(home)}, {"VIRTUAL_ENV": str(venv)})
    # A pass-through variable that is set nowhere stays unset in the container: Compose gives it null.
    compose = {
        name: value for name, value in compose_service.get("environment", {}).items() if value is not None
    }
    return {**image, **compose, **overrides}


@contextmanager
def run_target(
    dockerfile: Dockerfile, target: str, env: dict[str, str], workdir: Path, log_path: Path
) -> Iterator[Container]:
    """Start the target's ENTRYPOINT/CMD, wait until its HEALTHCHECK passes, and stop it with SIGTERM
    (what `docker stop` sends) when done."""
    command = dockerfile.command(target)
    probe = dockerfile.healthcheck(target)
    assert command, f"{target} has no ENTRYPOINT or CMD"
    assert probe, f"{target} has no HEALTHCHECK"
    with log_path.open("wb") as log_file:
        # Popen looks the program up on the PATH of `env`, so `python` is the venv's, as in the image.
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    container = Container(process, env, log_path)
    try:
        _wait_healthy(container, probe, workdir)
        yield container
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(container: Container, probe: list[str], workdir: Path) -> None:
    deadline = time.monotonic() + HEALTHY_WITHIN
    last = ""
    while time.monotonic() < deadline:
        if container.process.poll() is not None:
            raise AssertionError(f"exited with {container.process.returncode}:\n{container.log()}")
        result = subprocess.run(
            probe, cwd=workdir, env=container.env, capture_output=True, text=True, timeout=10, check=False
        )
        if result.returncode == 0:
            return
        lines = result.stderr.strip().splitlines()
        last = lines[-1] if lines else f"exit status {result.returncode}"
        time.sleep(0.25)
    raise AssertionError(f"HEALTHCHECK never passed (last: {last}):\n{container.log()}")
