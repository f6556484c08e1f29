"""`make run`'s launcher on a machine with no DATABASE_URL: embedded PostgreSQL, a token, a working curl
line, a clean stop on Ctrl-C, and the data still there on the next run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import psycopg

from tests.support.processes import ROOT, free_port, post_tool_call, service_env


def _start(data_dir: Path, port: int, log: Path, gateway_port: int) -> subprocess.Popen[bytes]:
    env = service_env(
        {
            "DATA_DIR": str(data_dir),
            "TASK_SERVER_PORT": str(port),
            "GATEWAY_PORT": str(gateway_port),
            "PYTHONPATH": str(ROOT),
        }
    )
    with log.open("wb") as out:
        # Its own process group, so the test can deliver Ctrl-C the way a terminal does: to every process.
        return subprocess.Popen(
            [sys.executable, "-m", "devtools.stack"],
            cwd=data_dir.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for(
    log: Path, pattern: str, process: subprocess.Popen[bytes], timeout: float = 60
) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"))
        if match:
            return match
        assert process.poll() is None, log.read_text(errors="replace")
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} did not appear:\n{log.read_text(errors='replace')}")


def _call(port: int, token: str, tool: str, arguments: dict[str, object]) -> dict[str, object]:
    response = post_tool_call(
        f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}, tool, arguments
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()["result"]
    return result


def _ctrl_c(process: subprocess.Popen[bytes]) -> int:
    os.killpg(process.pid, signal.SIGINT)
    return process.wait(timeout=30)


def test_make_run_starts_everything_prints_a_token_and_keeps_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port, gateway_port = free_port(), free_port()

    first = _start(data_dir, port, tmp_path / "first.log", gateway_port)
    try:
        token = _wait_for(tmp_path / "first.log", r"export TOKEN=(\S+)", first).group(1)
        _wait_for(tmp_path / "first.log", r"Press Ctrl-C to stop", first)
        printed = (tmp_path / "first.log").read_text()
        assert f"curl -s http://127.0.0.1:{port}/mcp" in printed
        assert f"curl -s http://127.0.0.1:{gateway_port}/api/demo-user/chat" in printed
        # First the web page, then the token, then the database, whose URL works as printed (for the stdio
        # set-up, Claude Desktop, the Inspector) while `make run` runs.
        page = printed.index(f"The chat page: http://127.0.0.1:{gateway_port}/\n")
        database = re.search(r"^DATABASE_URL='(postgresql://\S+)'$", printed, re.MULTILINE)
        assert database, printed
        assert page < printed.index("export TOKEN=") < database.start()
        with psycopg.connect(database.group(1)) as conn:
            assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (0,)
        added = _call(port, token, "add_task", {"title": "Survive a restart"})
        assert added["isError"] is False
        # The printed chat line, as a newcomer would paste it: the builtin model answers offline.
        chat = httpx2.post(
            f"http://127.0.0.1:{gateway_port}/api/demo-user/chat",
            headers={"Authorization": f"Bearer {token}"},
            json={"message": "add buy milk"},
            timeout=30,
        )
        assert chat.status_code == 200, chat.text
        assert "Buy milk" in chat.json()["response"]
    finally:
        code = _ctrl_c(first)
    log = (tmp_path / "first.log").read_text()
    assert code == 0, log
    assert "embedded PostgreSQL" in log
    assert "Traceback" not in log
    assert (data_dir / "postgres").is_dir()

    second = _start(data_dir, port, tmp_path / "second.log", gateway_port)
    try:
        token = _wait_for(tmp_path / "second.log", r"export TOKEN=(\S+)", second).group(1)
        listed = _call(port, token, "list_tasks", {})
        structured = listed["structuredContent"]
        assert isinstance(structured, dict)
        assert [task["title"] for task in structured["tasks"]] == ["Survive a restart", "Buy milk"]
    finally:
        assert _ctrl_c(second) == 0
