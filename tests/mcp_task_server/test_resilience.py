"""What a database restart does to a running task server.

The server does not ping connections before use (a round trip on every tool call). Killing its backends
stands in for a restart: SQLAlchemy discards the whole pool on the first dead connection it meets. A read
that meets it is retried once and succeeds; a write reports the retryable `unavailable` error (it cannot
know whether the statement committed), and the calls after it work again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import psycopg
from fastmcp import Client

from .helpers import call_error, call_ok


def _database_clock(database_url: str) -> datetime:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _kill_task_server_connections(database_url: str, since: datetime) -> int:
    """Terminate the connections this test's server opened (other servers of the session keep theirs)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'mcp_task_server' AND datname = current_database() "
            "AND backend_start >= %s",
            (since,),
        ).fetchone()
    return int(row[0]) if row else 0


async def test_a_read_survives_a_database_restart(alice: Client[Any], database_url: str) -> None:
    started = _database_clock(database_url)
    await asyncio.gather(*(call_ok(alice, "add_task", title=f"before {n}") for n in range(3)))
    assert _kill_task_server_connections(database_url, started) >= 1

    page = await call_ok(alice, "list_tasks")
    assert sorted(t["title"] for t in page["tasks"]) == ["before 0", "before 1", "before 2"]
    added = await call_ok(alice, "add_task", title="after the restart")
    assert added["status"] == "created"


async def test_a_write_after_a_restart_is_one_retryable_error_then_recovers(
    alice: Client[Any], database_url: str
) -> None:
    started = _database_clock(database_url)
    await asyncio.gather(*(call_ok(alice, "add_task", title=f"before {n}") for n in range(3)))
    assert _kill_task_server_connections(database_url, started) >= 1

    code, message = await call_error(alice, "add_task", title="during the restart")
    assert code == "unavailable"
    assert "Try again" in message
    added = await call_ok(alice, "add_task", title="after the restart")
    assert added["status"] == "created"
    titles = [t["title"] for t in (await call_ok(alice, "list_tasks"))["tasks"]]
    assert sorted(titles) == ["after the restart", "before 0", "before 1", "before 2"]
