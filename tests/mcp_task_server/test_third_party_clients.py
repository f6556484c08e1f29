"""Real third-party MCP clients against the real server process, run the way their users run them.

- The MCP Inspector CLI over streamable HTTP with a bearer token, and launching the stdio server.
- The mcp-remote bridge Claude Desktop uses for a remote server, driven as a stdio MCP server.

Each test checks what the user sees (the tool list, the created task) and the row in PostgreSQL,
owned by the token's subject or by MCP_STDIO_USER_ID.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastmcp import Client
from mcp.shared.exceptions import MCPError

from shared.local_auth import LocalSigner
from tests.support.node_clients import (
    CLIENT_TIMEOUT,
    INSPECTOR,
    MCP_REMOTE,
    inspect_http,
    inspect_stdio,
    mcp_remote_transport,
    requires,
)
from tests.support.processes import ROOT, Service, free_port, run_service

TASK_TOOLS = {
    *("add_task", "list_tasks", "complete_task", "delete_task", "update_task"),
    *("restore_task", "complete_tasks", "delete_tasks", "undo", "list_activity"),
}
CONVERSATION_TOOLS = {
    *("start_turn", "record_reply", "list_conversations", "get_conversation_messages"),
    *("save_thread", "get_thread", "list_threads", "delete_thread"),
    *("save_thread_item", "list_thread_items", "delete_thread_item"),
}
STDIO_SERVER = [sys.executable, "-m", "mcp_task_server", "--stdio"]


@pytest.fixture(scope="module")
def server_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("task-server-data")


@pytest.fixture(scope="module")
def signer(server_data_dir: Path) -> LocalSigner:
    """The local development key the server trusts, as `python -m mcp_task_server token` would use."""
    return LocalSigner.load_or_create(server_data_dir)


@pytest.fixture(scope="module")
def server(
    database_url: str, server_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "DATA_DIR": str(server_data_dir),
        "TASK_SERVER_PORT": str(port),
        "LOG_LEVEL": "INFO",
    }
    log_path = tmp_path_factory.mktemp("logs") / "task_server.log"
    with run_service("mcp_task_server", env, port, log_path) as service:
        yield service


@pytest.fixture
def mcp_url(server: Service, clean_db: str) -> str:
    """The server's MCP endpoint, with the tables emptied for this test (the server outlives it)."""
    return f"{server.base_url}/mcp"


def stored_tasks(database_url: str) -> list[tuple[int, str, str, str | None]]:
    """(id, user_id, title, description) of every task, straight from PostgreSQL."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id, user_id, title, description FROM tasks ORDER BY id").fetchall()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def assert_created(result: dict[str, Any], title: str, description: str | None) -> int:
    """Check a successful add_task result as a client shows it; return the new task's id."""
    assert result["isError"] is False
    structured = result["structuredContent"]
    assert structured["status"] == "created"
    assert structured["title"] == title
    assert structured["task"]["title"] == title
    assert structured["task"]["description"] == description
    assert structured["task"]["completed"] is False
    # Clients without structured-content support show the text block, so it must carry the same task.
    assert json.loads(result["content"][0]["text"]) == structured
    task_id = structured["task_id"]
    assert isinstance(task_id, int)
    assert structured["task"]["id"] == task_id
    return task_id


@requires(INSPECTOR)
def test_inspector_over_http_lists_the_tools(mcp_url: str, signer: LocalSigner, tmp_path: Path) -> None:
    run = inspect_http(mcp_url, signer.mint("inspector-user"), "--method", "tools/list", home=tmp_path)

    names = {tool["name"] for tool in run.result()["tools"]}
    assert names == TASK_TOOLS | CONVERSATION_TOOLS


@requires(INSPECTOR)
def test_inspector_over_http_adds_a_task_for_the_tokens_subject(
    mcp_url: str, signer: LocalSigner, clean_db: str, tmp_path: Path
) -> None:
    token = signer.mint("inspector-user")
    run = inspect_http(
        mcp_url,
        token,
        *("--method", "tools/call", "--tool-name", "add_task"),
        *("--tool-arg", "title=buy oat milk", "description=two cartons"),
        home=tmp_path,
    )

    task_id = assert_created(run.result(), "buy oat milk", "two cartons")
    assert stored_tasks(clean_db) == [(task_id, "inspector-user", "buy oat milk", "two cartons")]


def bad_token(kind: str, signer: LocalSigner, tmp_path: Path) -> str:
    if kind == "unknown key":
        # Well formed and properly signed, but by a key the server has never seen (another data dir).
        return LocalSigner.load_or_create(tmp_path / "other-data-dir").mint("inspector-user")
    if kind == "expired":
        # The verifier allows 30 s of clock skew, so this expires well beyond that.
        return signer.mint("inspector-user", ttl=timedelta(minutes=-5))
    return "not-a-jwt"


@requires(INSPECTOR)
@pytest.mark.parametrize("kind", ["not a JWT", "unknown key", "expired"])
def test_inspector_with_a_bad_token_fails_at_once_and_writes_nothing(
    kind: str, mcp_url: str, signer: LocalSigner, clean_db: str, tmp_path: Path
) -> None:
    token = bad_token(kind, signer, tmp_path)
    home = tmp_path / "home"
    home.mkdir()

    # A hang (an interactive OAuth flow waiting for a browser) would fail inside inspect_http's timeout.
    run = inspect_http(
        mcp_url,
        token,
        *("--method", "tools/call", "--tool-name", "add_task", "--tool-arg", "title=should not exist"),
        home=home,
    )

    error = run.error()
    assert error["code"] == "auth_required"
    assert "invalid_token" in error["message"]
    assert stored_tasks(clean_db) == []


@requires(INSPECTOR)
def test_inspector_shows_the_servers_message_for_a_tool_error(
    mcp_url: str, signer: LocalSigner, tmp_path: Path
) -> None:
    run = inspect_http(
        mcp_url,
        signer.mint("inspector-user"),
        *("--method", "tools/call", "--tool-name", "complete_task", "--tool-arg", "task_id=999"),
        home=tmp_path,
    )

    # The code travels in `_meta`, not `structuredContent`, which the Inspector would check against the
    # tool's output schema and report as a schema mismatch instead of the server's message.
    result = run.result(tool_error=True)
    assert result["isError"] is True
    assert "tool_is_error" in run.stderr
    assert "Task 999 was not found" in result["content"][0]["text"]
    assert result["_meta"]["todo-chat/error"]["code"] == "not_found"


@requires(INSPECTOR)
def test_inspector_over_stdio_acts_as_the_configured_user(clean_db: str, tmp_path: Path) -> None:
    # What a Claude Desktop stdio entry holds: a command, its arguments and an `env`. The Inspector gives
    # the server only PATH, HOME, SHELL and TERM besides `-e`, and runs it outside the checkout here (as
    # Claude Desktop does, having no working-directory setting). The checkout is not pip-installed, so
    # PYTHONPATH is how `-m mcp_task_server` finds the package.
    env = {
        "DATABASE_URL": clean_db,
        "DATA_DIR": str(tmp_path / "data"),
        "MCP_STDIO_USER_ID": "someone",
        "PYTHONPATH": str(ROOT),
    }

    listed = inspect_stdio(STDIO_SERVER, env, "--method", "tools/list", home=tmp_path)
    added = inspect_stdio(
        STDIO_SERVER,
        env,
        *("--method", "tools/call", "--tool-name", "add_task", "--tool-arg", "title=water the plants"),
        home=tmp_path,
    )

    names = {tool["name"] for tool in listed.result()["tools"]}
    assert names == TASK_TOOLS | CONVERSATION_TOOLS
    task_id = assert_created(added.result(), "water the plants", None)
    assert stored_tasks(clean_db) == [(task_id, "someone", "water the plants", None)]


@requires(MCP_REMOTE)
async def test_mcp_remote_bridge_adds_and_lists_tasks_for_the_tokens_subject(
    mcp_url: str, signer: LocalSigner, clean_db: str, tmp_path: Path
) -> None:
    log_file = tmp_path / "mcp-remote.log"
    transport = mcp_remote_transport(mcp_url, signer.mint("desktop-user"), home=tmp_path, log_file=log_file)
    client: Client[Any] = Client(transport, timeout=CLIENT_TIMEOUT, init_timeout=CLIENT_TIMEOUT)

    async with client:
        names = {tool.name for tool in await client.list_tools()}
        added = await client.call_tool("add_task", {"title": "renew passport"})
        listed = await client.call_tool("list_tasks", {"status": "pending"})

    assert names == TASK_TOOLS | CONVERSATION_TOOLS, log_file.read_text()
    assert added.structured_content is not None
    task_id = added.structured_content["task_id"]
    assert added.structured_content["task"]["title"] == "renew passport"
    assert listed.structured_content is not None
    pending = [(task["id"], task["title"]) for task in listed.structured_content["tasks"]]
    assert pending == [(task_id, "renew passport")]
    assert stored_tasks(clean_db) == [(task_id, "desktop-user", "renew passport", None)]


@requires(MCP_REMOTE)
async def test_mcp_remote_with_a_bad_token_exits_instead_of_waiting_for_a_login(
    mcp_url: str, clean_db: str, tmp_path: Path
) -> None:
    # A rejected token sends mcp-remote into OAuth discovery. The local development server names itself
    # as its authorization server but offers no client registration, so the bridge gives up and exits;
    # Claude Desktop then shows the server as disconnected instead of hanging on a browser login.
    log_file = tmp_path / "mcp-remote.log"
    transport = mcp_remote_transport(mcp_url, "not-a-jwt", home=tmp_path, log_file=log_file)
    client: Client[Any] = Client(transport, timeout=CLIENT_TIMEOUT, init_timeout=CLIENT_TIMEOUT)

    with pytest.raises(MCPError, match="Connection closed"):
        async with client:
            await client.call_tool("add_task", {"title": "should not exist"})

    assert "Fatal error" in log_file.read_text()
    assert stored_tasks(clean_db) == []
