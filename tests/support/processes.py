"""Start the project's services as real processes on loopback, the way an operator would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[2]

# Only what the contract names reaches a service: the operator's variables, not the test runner's.
_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def service_env(env: Mapping[str, str]) -> dict[str, str]:
    base = {key: os.environ[key] for key in _PASSTHROUGH if key in os.environ}
    return {**base, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), **env}


@contextmanager
def run_service(
    module: str, env: Mapping[str, str], port: int, log_path: Path, *, ready_path: str = "/healthz"
) -> Iterator[Service]:
    """Run `python -m module` with exactly `env`, wait until it answers, stop it (SIGTERM) afterwards."""
    # Tests stop their services when done with them, and a drain would only add its 10 s to each stop;
    # the shutdown tests ask for one.
    env = {"SHUTDOWN_DRAIN_SECONDS": "0", **env}
    with log_path.open("wb") as log_file:
        # Run outside the checkout so a developer's own .env there cannot change what the test configured.
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=log_path.parent,
            env=service_env(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    service = Service(process, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(service, ready_path)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(service: Service, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"service exited with {service.process.returncode}:\n{service.log()}")
        try:
            if httpx2.get(service.base_url + path, timeout=1.0).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"service did not become ready in {timeout}s:\n{service.log()}")


def post_tool_call(
    base_url: str, headers: dict[str, str], tool: str, arguments: dict[str, Any]
) -> httpx2.Response:
    """One MCP `tools/call` as a single JSON-RPC POST (the server is stateless: no handshake needed)."""
    return httpx2.post(
        f"{base_url}/mcp",
        headers={"Accept": "application/json, text/event-stream", **headers},
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        },
        timeout=10,
    )
