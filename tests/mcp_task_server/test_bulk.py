"""Bulk complete and delete: preview first, act only with the token, all or nothing, undo as one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastmcp import Client

from mcp_task_server.tasks.bulk import BULK_LIMIT

from .conftest import ClientFactory
from .helpers import call_error, call_ok


async def add(client: Client[Any], *titles: str) -> list[int]:
    return [(await call_ok(client, "add_task", title=title))["task_id"] for title in titles]


async def titles(client: Client[Any], status: str = "all") -> list[str]:
    return [t["title"] for t in (await call_ok(client, "list_tasks", status=status))["tasks"]]


async def test_delete_by_filter_previews_then_acts_only_with_the_token(alice: Client[Any]) -> None:
    await add(alice, "A", "B", "C")
    preview = await call_ok(alice, "delete_tasks", status="all")
    assert preview["status"] == "confirmation_required"
    assert preview["count"] == 3
    assert [t["title"] for t in preview["tasks"]] == ["A", "B", "C"]
    expires = datetime.fromisoformat(preview["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(expires.tzinfo) <= timedelta(minutes=10)
    assert await titles(alice) == ["A", "B", "C"]  # The preview changed nothing.

    done = await call_ok(alice, "delete_tasks", confirmation_token=preview["confirmation_token"])
    assert (done["status"], done["count"], done["batch"] is not None) == ("deleted", 3, True)
    assert await titles(alice) == []
    assert await titles(alice, "trashed") == ["A", "B", "C"]

    # A token works once.
    code, _ = await call_error(alice, "delete_tasks", confirmation_token=preview["confirmation_token"])
    assert code == "confirmation_required"

    # One undo brings the whole set back, in one step.
    undone = await call_ok(alice, "undo")
    assert len(undone["reverted"]) == 3
    assert "3 tasks" in undone["summary"]
    assert await titles(alice) == ["A", "B", "C"]
    # Redoing it would trash the set again without a preview: refused, delete_tasks must be used.
    code, message = await call_error(alice, "undo", change_id=undone["change_id"])
    assert code == "confirmation_required"
    assert "delete_tasks" in message
    assert await titles(alice) == ["A", "B", "C"]


async def test_complete_by_ids_skips_done_tasks_and_undo_reopens_the_set(alice: Client[Any]) -> None:
    a, b, c = await add(alice, "A", "B", "C")
    await call_ok(alice, "complete_task", task_id=b)
    preview = await call_ok(alice, "complete_tasks", task_ids=[a, b, c])
    assert [t["id"] for t in preview["tasks"]] == [a, c]
    done = await call_ok(alice, "complete_tasks", confirmation_token=preview["confirmation_token"])
    assert done["status"] == "completed"
    assert await titles(alice, "pending") == []
    reopened = await call_ok(alice, "undo")
    assert await titles(alice, "pending") == ["A", "C"]
    assert await titles(alice, "completed") == ["B"]
    # Redoing a bulk completion destroys nothing, so it needs no new preview.
    await call_ok(alice, "undo", change_id=reopened["change_id"])
    assert await titles(alice, "pending") == []


async def test_a_changed_set_is_a_conflict_and_nothing_changes(alice: Client[Any]) -> None:
    a, b = await add(alice, "A", "B")
    preview = await call_ok(alice, "delete_tasks", task_ids=[a, b])
    await call_ok(alice, "update_task", task_id=b, title="B renamed")
    code, message = await call_error(alice, "delete_tasks", confirmation_token=preview["confirmation_token"])
    assert code == "conflict"
    assert "B renamed" in message
    assert await titles(alice) == ["A", "B renamed"]


async def test_an_expired_or_foreign_or_mismatched_token_is_refused(
    client_as: ClientFactory, database_url: str
) -> None:
    async with client_as("alice") as alice, client_as("bob") as bob:
        await add(alice, "A")
        await add(bob, "Bob's")
        preview = await call_ok(alice, "delete_tasks", status="all")
        token = preview["confirmation_token"]
        code, _ = await call_error(bob, "delete_tasks", confirmation_token=token)
        assert code == "confirmation_required"
        code, message = await call_error(alice, "complete_tasks", confirmation_token=token)
        assert code == "confirmation_required"
        assert "delete_tasks" in message
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE bulk_confirmations SET expires_at = now() - interval '1 second'")
        code, _ = await call_error(alice, "delete_tasks", confirmation_token=token)
        assert code == "confirmation_required"
        code, _ = await call_error(alice, "delete_tasks", confirmation_token="made-up")
        assert code == "confirmation_required"
        assert await titles(alice) == ["A"]
        assert await titles(bob) == ["Bob's"]


async def test_bad_bulk_requests_are_clear_errors(alice: Client[Any]) -> None:
    (a,) = await add(alice, "A")
    code, _ = await call_error(alice, "delete_tasks")
    assert code == "invalid_argument"
    code, _ = await call_error(alice, "delete_tasks", task_ids=[a], status="all")
    assert code == "invalid_argument"
    code, message = await call_error(alice, "delete_tasks", task_ids=[a, 987654])
    assert code == "not_found"
    assert "987654" in message
    code, _ = await call_error(alice, "delete_tasks", task_ids=list(range(1, BULK_LIMIT + 2)))
    assert code == "invalid_argument"
    nothing = await call_ok(alice, "complete_tasks", status="completed")
    assert (nothing["status"], nothing["count"], nothing["confirmation_token"]) == ("nothing_to_do", 0, None)


async def test_more_than_the_limit_is_refused_with_a_clear_error(
    alice: Client[Any], database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tasks (user_id, title) SELECT 'alice', 't' || n FROM generate_series(1, %s) n",
            (BULK_LIMIT + 1,),
        )
    code, message = await call_error(alice, "delete_tasks", status="all")
    assert code == "invalid_argument"
    assert str(BULK_LIMIT) in message
    assert len((await call_ok(alice, "list_tasks", limit=100))["tasks"]) == 100


@pytest.mark.parametrize("action", ["complete", "delete"])
async def test_bulk_confirm_is_all_or_nothing_when_a_task_vanishes(
    alice: Client[Any], database_url: str, action: str
) -> None:
    ids = await add(alice, "A", "B", "C")
    preview = await call_ok(alice, f"{action}_tasks", task_ids=ids)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM tasks WHERE id = %s", (ids[1],))
    code, message = await call_error(
        alice, f"{action}_tasks", confirmation_token=preview["confirmation_token"]
    )
    assert code == "conflict"
    assert "gone" in message
    assert await titles(alice, "pending") == ["A", "C"]
