"""The task server behind a transaction-mode PgBouncer (what Neon's pooled endpoint is), as processes on
loopback: a server pool of 3 under 24 concurrent clients, so every transaction may land on a different
server connection. Migrations go over the direct URL; the statement timeout is the role's default."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chat_gateway.task_server import TaskServerClient
from devtools.postgres import create_database, drop_database
from mcp_task_server.pooling import keep_statement_timeout
from tests.support.gateway_fixtures import StartGateway, auth, task_server_env, user_token
from tests.support.pgbouncer import PgBouncer, run_pgbouncer
from tests.support.processes import Service, free_port, run_service
from tests.support.tokens import JwksServer

CLIENTS = 24


@pytest.fixture(scope="module")
def direct_url(admin_url: str) -> Iterator[str]:
    """A database of its own, not migrated: the pooled task server migrates it over the direct URL."""
    name = f"test_pooled_{uuid.uuid4().hex[:10]}"
    url = create_database(admin_url, name)
    try:
        yield url
    finally:
        drop_database(admin_url, name)


@pytest.fixture(scope="module")
def pooler(direct_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgBouncer]:
    with run_pgbouncer(direct_url, tmp_path_factory.mktemp("pgbouncer"), pool_size=3) as bouncer:
        yield bouncer


@pytest.fixture(scope="module")
def pooled_server(
    direct_url: str, pooler: PgBouncer, stack_jwks: JwksServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    port = free_port()
    env = task_server_env(pooler.url_for(direct_url), stack_jwks, port)
    env.update(DATABASE_DIRECT_URL=direct_url, DATABASE_POOLED="true", DB_STATEMENT_TIMEOUT_MS="4000")
    with run_service("mcp_task_server", env, port, tmp_path_factory.mktemp("pooled") / "ts.log") as server:
        yield server


def test_without_pooled_mode_pgbouncer_refuses_the_connection(
    direct_url: str, pooler: PgBouncer, pooled_server: Service
) -> None:
    """Why pooled mode exists: the direct connections' startup option is refused by PgBouncer."""
    url = pooler.url_for(direct_url)
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(url, options="-c statement_timeout=5000", connect_timeout=5)


def test_the_statement_timeout_reaches_pooled_connections(direct_url: str, pooler: PgBouncer) -> None:
    keep_statement_timeout(direct_url, 4000)
    with psycopg.connect(pooler.url_for(direct_url), prepare_threshold=None) as conn:
        row = conn.execute("SHOW statement_timeout").fetchone()
        assert row == ("4s",)
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SET LOCAL statement_timeout = 100; SELECT pg_sleep(2)")


def _result(outcome: Any) -> dict[str, Any]:
    assert not outcome.is_error, outcome.content
    data: dict[str, Any] = outcome.structured_content
    return data


async def _user_session(client: TaskServerClient, user: str) -> dict[str, int]:
    """One user's tool calls, every kind of transaction the server runs: single statements, a
    multi-statement unit of work, idempotent replays, the activity log and undo, conversations."""
    token = user_token(user)
    counts = {"calls": 0}

    async def call(tool: str, **arguments: Any) -> dict[str, Any]:
        counts["calls"] += 1
        return _result(await client.call_tool(token, tool, arguments, retry=False))

    ids = []
    for n in range(4):
        ids.append(
            (await call("add_task", title=f"task {n}", due="tomorrow at 9", tags=["pooled"]))["task_id"]
        )
    again = await call("add_task", title="once", idempotency_key=f"k-{user}")
    replay = await call("add_task", title="once", idempotency_key=f"k-{user}")
    assert again["task_id"] == replay["task_id"]
    await call("complete_task", task_id=ids[0])
    await call("update_task", task_id=ids[1], priority="high")
    deleted = await call("delete_task", task_id=ids[2])
    assert deleted["status"] == "deleted"
    await call("undo")
    listed = await call("list_tasks", tag="pooled", sort="due", limit=100)
    assert sorted(t["id"] for t in listed["tasks"]) == sorted(ids)
    assert (await call("list_tasks", query="task", limit=100))["tasks"]
    started = await call("start_turn", message="hello")
    await call(
        "record_reply", conversation_id=started["conversation_id"], content="hi", idempotency_key=f"r-{user}"
    )
    await call("list_activity", limit=50)
    return counts


async def test_concurrent_users_through_a_small_pool_lose_nothing(
    pooled_server: Service, pooler: PgBouncer, direct_url: str
) -> None:
    client = TaskServerClient(f"{pooled_server.base_url}/mcp", timeout=30)
    try:
        users = [f"pooled-{n}-{uuid.uuid4().hex[:4]}" for n in range(CLIENTS)]
        results = await asyncio.gather(
            *(_user_session(client, user) for user in users), return_exceptions=True
        )
    finally:
        await client.aclose()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], errors[:3]
    calls = sum(r["calls"] for r in results if isinstance(r, dict))
    assert calls == CLIENTS * 15
    with psycopg.connect(direct_url) as conn:
        [(tasks,)] = conn.execute("SELECT count(*) FROM tasks WHERE user_id LIKE 'pooled-%'").fetchall()
        [(version,)] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert tasks == CLIENTS * 5
    assert version >= "0005"
    assert "ERROR" not in pooled_server.log()
    # The pool really was smaller than the clients: PostgreSQL saw at most `pool_size` connections from
    # PgBouncer for 24 concurrent clients, so transactions did move between server connections.
    with psycopg.connect(direct_url) as conn:
        [(servers,)] = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    assert 1 <= servers <= pooler.pool_size


def test_a_chat_turn_and_a_chatkit_message_through_the_pooler(
    start_gateway: StartGateway, pooled_server: Service, tmp_path: Path
) -> None:
    import httpx2

    with (
        start_gateway(MCP_TASK_SERVER_URL=f"{pooled_server.base_url}/mcp") as gateway,
        httpx2.Client(timeout=30) as http,
    ):
        user = f"pooled-chat-{uuid.uuid4().hex[:4]}"
        turn = http.post(
            f"{gateway.base_url}/api/{user}/chat",
            headers=auth(user),
            json={"message": 'call add_task {"title": "Through the pooler"}'},
        )
        assert turn.status_code == 200, turn.text
        assert turn.json()["tool_calls"][0]["is_error"] is False
        said = {
            "content": [{"type": "input_text", "text": "hello pooler"}],
            "attachments": [],
            "inference_options": {},
        }
        created = http.post(
            f"{gateway.base_url}/chatkit",
            headers=auth(user),
            json={"type": "threads.create", "params": {"input": said}},
        )
        assert created.status_code == 200
        events = [json.loads(line[6:]) for line in created.text.splitlines() if line.startswith("data: ")]
        assert [e for e in events if e["type"] == "error"] == []
        assert any(
            e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message" for e in events
        )
