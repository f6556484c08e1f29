"""Configuration: the URL forms providers hand out, and start-up errors that name the problem only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError

from mcp_task_server.db import normalize_database_url
from mcp_task_server.settings import TaskServerSettings
from tests.support.processes import ROOT, service_env


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://u:p@ep-x.neon.tech/db?sslmode=require&channel_binding=require",
            "postgresql+psycopg://u:p@ep-x.neon.tech/db?sslmode=require&channel_binding=require",
        ),
        ("postgres://u@localhost:5433/app", "postgresql+psycopg://u@localhost:5433/app"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        (
            "postgresql://postgres:@/postgres?host=/tmp/sock",
            "postgresql+psycopg://postgres:@/postgres?host=/tmp/sock",
        ),
    ],
)
def test_provider_urls_are_normalised_for_psycopg(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize(
    "bad", ["mysql://u:secret@h/db", "postgresql+asyncpg://u:secret@h/db", "postgresql://u:secret@h"]
)
def test_unsupported_urls_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL") as caught:
        normalize_database_url(bad)
    assert "secret" not in str(caught.value)


def test_local_auth_refuses_a_public_address(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="non-loopback"):
        TaskServerSettings(_env_file=None, task_server_host="0.0.0.0", data_dir=tmp_path)  # noqa: S104
    settings = TaskServerSettings(
        _env_file=None,
        task_server_host="0.0.0.0",  # noqa: S104
        auth_jwks_url="https://auth.example/api/auth/jwks",
    )
    assert settings.resolved_issuer() == "https://auth.example"
    assert settings.accepted_audience == ["https://auth.example"]


def test_audience_is_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_AUDIENCE", "https://tasks.example, https://chat.example")
    monkeypatch.setenv("AUTH_JWKS_URL", "https://auth.example/api/auth/jwks")
    assert TaskServerSettings(_env_file=None).accepted_audience == [
        "https://tasks.example",
        "https://chat.example",
    ]


def test_a_bad_database_url_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    env = service_env({"DATABASE_URL": "mysql://root:hunter2@db/app", "DATA_DIR": str(tmp_path)})
    done = subprocess.run(
        [sys.executable, "-m", "mcp_task_server", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    stderr = done.stderr.decode()
    assert "DATABASE_URL" in stderr
    assert "postgresql://" in stderr
    assert "hunter2" not in stderr + done.stdout.decode()
    assert "Traceback" not in stderr


def test_token_command_prints_a_token_the_server_accepts(tmp_path: Path) -> None:
    env = service_env({"DATA_DIR": str(tmp_path)})
    done = subprocess.run(
        [sys.executable, "-m", "mcp_task_server", "token", "--user", "zoe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.decode().strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "zoe"
    assert "urn:todo-chat:mcp-task-server" in claims["aud"]
