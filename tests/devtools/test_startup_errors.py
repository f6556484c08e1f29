"""Start-up failures, for both services and for `make run`'s launcher: one clear line on stderr (a few at
most), naming what to fix, never a traceback, never the password of the URL, and a non-zero exit."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.processes import free_port, service_env

FALLBACK_PASSWORD = "Pw-never-shown-4f2a"


@dataclass(frozen=True)
class Case:
    id: str
    env: dict[str, str]
    names: tuple[str, ...]  # What the message must say (case-insensitive).
    status: int | None = None  # None: any non-zero status.
    programs: tuple[str, ...] = ("mcp_task_server", "chat_gateway", "devtools.stack")
    held: tuple[str, ...] = field(default=())  # Settings whose port another process holds.


def _with_password(url: str) -> tuple[str, str]:
    """`url` with a password in it (its own, else one a trust-auth server ignores) and that password."""
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    address = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username or 'postgres'}:{FALLBACK_PASSWORD}@{address}"
    return urlunsplit(parts._replace(netloc=netloc)), FALLBACK_PASSWORD


@pytest.fixture(scope="module")
def held_port() -> Iterator[int]:
    """A port another process listens on, as a second `make run` would."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _cases(admin_url: str) -> list[Case]:
    missing = urlsplit(admin_url)._replace(path=f"/missing_{uuid.uuid4().hex[:8]}")
    refused = f"postgresql://postgres:{FALLBACK_PASSWORD}@127.0.0.1:{free_port()}/todo"
    return [
        Case(
            "database-url-that-does-not-parse",
            {"DATABASE_URL": f"mysql://app:{FALLBACK_PASSWORD}@db/app"},
            ("DATABASE_URL", "postgresql://"),
            status=2,
            programs=("mcp_task_server", "devtools.stack"),
        ),
        Case(
            "database-url-with-a-bad-port",
            {"DATABASE_URL": f"postgresql://app:{FALLBACK_PASSWORD}@127.0.0.1:notaport/app"},
            ("DATABASE_URL", "port"),
            status=2,
            programs=("mcp_task_server",),
        ),
        Case(
            "database-that-does-not-exist",
            {"DATABASE_URL": urlunsplit(missing)},
            (missing.path.strip("/"), "does not exist"),
            programs=("mcp_task_server", "devtools.stack"),
        ),
        Case(
            "database-host-that-does-not-answer",
            {"DATABASE_URL": refused},
            (f"127.0.0.1:{urlsplit(refused).port}", "refused"),
            programs=("mcp_task_server",),
        ),
        Case(
            "task-server-port-in-use",
            {},
            ("TASK_SERVER_PORT", "in use"),
            held=("TASK_SERVER_PORT",),
            programs=("mcp_task_server", "devtools.stack"),
        ),
        Case(
            "gateway-port-in-use",
            {},
            ("GATEWAY_PORT", "in use"),
            held=("GATEWAY_PORT",),
            programs=("chat_gateway", "devtools.stack"),
        ),
        Case(
            "jwks-url-that-is-not-a-url",
            {"AUTH_JWKS_URL": "auth.example.com/jwks"},
            ("AUTH_JWKS_URL", "http(s) URL"),
            status=2,
        ),
    ]


def _params() -> list[tuple[str, str]]:
    # The ids only; each case is built with the test's database server.
    return [
        (case.id, program)
        for case in _cases("postgresql://postgres@127.0.0.1:5432/postgres")
        for program in case.programs
    ]


@pytest.mark.parametrize(("case_id", "program"), _params(), ids=[f"{p}-{c}" for c, p in _params()])
def test_start_up_fails_in_one_clear_line(
    case_id: str, program: str, admin_url: str, database_url: str, held_port: int, tmp_path: Path
) -> None:
    case = next(case for case in _cases(admin_url) if case.id == case_id)
    env = {
        "DATA_DIR": str(tmp_path),
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "DATABASE_URL": database_url,
        "TASK_SERVER_PORT": str(free_port()),
        "GATEWAY_PORT": str(free_port()),
        **case.env,
    }
    env["DATABASE_URL"], password = _with_password(env["DATABASE_URL"])
    for setting in case.held:
        env[setting] = str(held_port)
    # Outside the checkout, so a developer's .env there plays no part.
    done = subprocess.run(
        [sys.executable, "-m", program],
        cwd=tmp_path,
        env=service_env(env),
        capture_output=True,
        text=True,
        timeout=90,
    )
    stderr = done.stderr
    assert done.returncode != 0, stderr
    if case.status is not None:
        assert done.returncode == case.status, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, stderr
    for expected in case.names:
        assert expected.lower() in stderr.lower(), stderr
    assert password not in stderr + done.stdout


def test_an_unreachable_jwks_is_one_warning_and_make_run_goes_on(database_url: str, tmp_path: Path) -> None:
    """At start-up an identity provider that does not answer is an outage, not a configuration error: the
    services start (and /readyz reports it), and `make run` warns in one line."""
    url, password = _with_password(database_url)
    env = {
        "DATA_DIR": str(tmp_path),
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "DATABASE_URL": url,
        "TASK_SERVER_PORT": str(free_port()),
        "GATEWAY_PORT": str(free_port()),
        "AUTH_JWKS_URL": f"http://127.0.0.1:{free_port()}/api/auth/jwks",
    }
    done = subprocess.run(
        [sys.executable, "-m", "devtools.stack", "--check"],
        cwd=tmp_path,
        env=service_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("make run:")]
    assert len(warnings) == 1, done.stderr
    assert "AUTH_JWKS_URL does not answer" in warnings[0]
    assert "Traceback" not in done.stderr
    assert password not in done.stdout + done.stderr
    assert "Tokens come from your identity provider" in done.stdout
