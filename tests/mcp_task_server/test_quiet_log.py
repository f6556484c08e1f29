"""Quiet by default: a request leaves one line in the task server's log (uvicorn's access line), not the
MCP SDK's per-request session chatter, which LOG_LEVEL=DEBUG brings back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.local_auth import LocalSigner
from tests.support.processes import Service, free_port, post_tool_call, run_service


def _new_lines(service: Service, before: int, *, until: str, settle: float = 0.5) -> list[str]:
    """The log lines written after `before` characters, once `until` has appeared and a moment passed."""
    deadline = time.monotonic() + 10
    while until not in service.log()[before:]:
        assert time.monotonic() < deadline, service.log()
        time.sleep(0.05)
    time.sleep(settle)
    return service.log()[before:].splitlines()


@pytest.mark.parametrize("level", [None, "DEBUG"])
def test_one_tool_call_is_one_access_line(clean_db: str, tmp_path: Path, level: str | None) -> None:
    port = free_port()
    env = {"DATABASE_URL": clean_db, "TASK_SERVER_PORT": str(port), "DATA_DIR": str(tmp_path)}
    if level:
        env["LOG_LEVEL"] = level
    token = LocalSigner.load_or_create(tmp_path).mint("quiet-user")
    with run_service("mcp_task_server", env, port, tmp_path / "task_server.log") as service:
        before = len(service.log())
        response = post_tool_call(
            service.base_url, {"Authorization": f"Bearer {token}"}, "add_task", {"title": "Say it once"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"]["isError"] is False
        lines = _new_lines(service, before, until='"POST /mcp HTTP/1.1" 200')
    if level is None:
        assert len(lines) == 1, lines
        assert "uvicorn.access" in lines[0]
        assert "Terminating session" not in service.log()
        assert "StreamableHTTP session manager" not in service.log()
    else:
        # The chatter is held back, not lost: an operator debugging sees it.
        assert any("Terminating session" in line for line in lines), lines
