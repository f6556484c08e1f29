"""Idempotency keys and versions: retries never duplicate, stale writes never overwrite."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from fastmcp import Client

from .conftest import ClientFactory
from .helpers import call_error, call_ok


async def test_a_retried_add_creates_one_task(alice: Client[Any], database_url: str) -> None:
    first = await call_ok(alice, "add_task", title="Buy milk", idempotency_key="turn-7:call-1")
    again = await call_ok(alice, "add_task", title="Buy milk", idempotency_key="turn-7:call-1")
    assert again == first
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM task_changes").fetchone() == (1,)
    code, message = await call_error(alice, "add_task", title="Buy eggs", idempotency_key="turn-7:call-1")
    assert code == "invalid_argument"
    assert "idempotency_key" in message
    # A new key is a new task, even with the same title.
    await call_ok(alice, "add_task", title="Buy milk", idempotency_key="turn-8:call-1")
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (2,)


async def test_concurrent_retries_with_one_key_create_one_task(
    client_as: ClientFactory, database_url: str
) -> None:
    async with client_as("alice") as alice:
        results = await asyncio.gather(
            *(call_ok(alice, "add_task", title="Once", idempotency_key="same-key") for _ in range(10))
        )
    assert len({r["task_id"] for r in results}) == 1
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM task_changes").fetchone() == (1,)


async def test_concurrent_retries_of_a_delete_all_get_its_result(
    client_as: ClientFactory, database_url: str
) -> None:
    # The key is claimed after the work: the retries that lose the race roll their work back, and those
    # whose work fails because the task is in the trash by then replay the first result all the same.
    async with client_as("alice") as alice:
        task_id = (await call_ok(alice, "add_task", title="Once"))["task_id"]
        results = await asyncio.gather(
            *(call_ok(alice, "delete_task", task_id=task_id, idempotency_key="del-1") for _ in range(10))
        )
    assert all(result == results[0] for result in results)
    assert results[0]["task_id"] == task_id
    with psycopg.connect(database_url) as conn:
        kinds = conn.execute("SELECT kind FROM task_changes ORDER BY id").fetchall()
    assert [kind for (kind,) in kinds] == ["create", "delete"]


async def test_keys_are_per_user_and_expire_after_a_day(client_as: ClientFactory, database_url: str) -> None:
    async with client_as("alice") as alice, client_as("bob") as bob:
        a = await call_ok(alice, "add_task", title="Alice's", idempotency_key="k1")
        b = await call_ok(bob, "add_task", title="Bob's", idempotency_key="k1")
        assert a["task_id"] != b["task_id"]
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        later = await call_ok(alice, "add_task", title="Alice's", idempotency_key="k1")
        assert later["task_id"] != a["task_id"]


async def test_every_write_replays_its_first_result(alice: Client[Any], database_url: str) -> None:
    task_id = (await call_ok(alice, "add_task", title="T"))["task_id"]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("update_task", {"task_id": task_id, "title": "T2"}),
        ("complete_task", {"task_id": task_id}),
        ("delete_task", {"task_id": task_id}),
        ("restore_task", {"task_id": task_id}),
        ("undo", {}),
    ]
    for n, (tool, arguments) in enumerate(calls):
        first = await call_ok(alice, tool, idempotency_key=f"k{n}", **arguments)
        assert await call_ok(alice, tool, idempotency_key=f"k{n}", **arguments) == first
    with psycopg.connect(database_url) as conn:
        # One create and the five changes above: the retries logged nothing.
        assert conn.execute("SELECT count(*) FROM task_changes").fetchone() == (6,)


async def test_a_failed_call_does_not_burn_its_key(alice: Client[Any]) -> None:
    code, _ = await call_error(alice, "complete_task", task_id=4242, idempotency_key="k")
    assert code == "not_found"
    code, _ = await call_error(alice, "complete_task", task_id=4242, idempotency_key="k")
    assert code == "not_found"


async def test_a_stale_expected_version_is_a_conflict_with_the_current_task(alice: Client[Any]) -> None:
    task = (await call_ok(alice, "add_task", title="Plan"))["task"]
    assert task["version"] == 1
    updated = await call_ok(alice, "update_task", task_id=task["id"], title="Plan A", expected_version=1)
    assert updated["task"]["version"] == 2
    result = await alice.call_tool(
        "update_task", {"task_id": task["id"], "title": "Plan B", "expected_version": 1}, raise_on_error=False
    )
    assert result.is_error
    assert result.meta is not None
    error = result.meta["todo-chat/error"]
    assert error["code"] == "conflict"
    assert error["task"]["title"] == "Plan A"
    assert error["task"]["version"] == 2
    for tool in ("complete_task", "delete_task"):
        code, _ = await call_error(alice, tool, task_id=task["id"], expected_version=1)
        assert code == "conflict"
    assert (await call_ok(alice, "list_tasks"))["tasks"][0]["title"] == "Plan A"


async def test_twenty_concurrent_writers_on_one_version_one_wins(
    client_as: ClientFactory, database_url: str
) -> None:
    async with client_as("alice") as setup:
        task_id = (await call_ok(setup, "add_task", title="Shared"))["task_id"]

    async def writer(n: int) -> tuple[str, Any]:
        async with client_as("alice") as client:
            result = await client.call_tool(
                "update_task",
                {"task_id": task_id, "title": f"writer {n}", "expected_version": 1},
                raise_on_error=False,
            )
        if result.is_error:
            assert result.meta is not None
            return "error", result.meta["todo-chat/error"]["code"]
        assert result.structured_content is not None
        return "ok", result.structured_content["title"]

    outcomes = await asyncio.gather(*(writer(n) for n in range(20)))
    winners = [value for kind, value in outcomes if kind == "ok"]
    assert len(winners) == 1
    assert sorted(value for kind, value in outcomes if kind == "error") == ["conflict"] * 19
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT title, version FROM tasks WHERE id = %s", (task_id,)).fetchone()
        logged = conn.execute("SELECT count(*) FROM task_changes WHERE kind = 'update'").fetchone()
    assert row == (winners[0], 2)
    assert logged == (1,)
