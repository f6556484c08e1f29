"""The five task tools through an MCP client, on real PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastmcp import Client

from .helpers import call_error, call_ok

TASK_TOOLS = {"add_task", "list_tasks", "complete_task", "delete_task", "update_task"}


async def test_tools_are_listed_with_annotations_schemas_and_tags(alice: Client[Any]) -> None:
    tools = {t.name: t for t in await alice.list_tools()}
    assert set(tools) >= TASK_TOOLS
    hints = {name: tools[name].annotations for name in TASK_TOOLS}
    assert hints["list_tasks"] is not None
    assert hints["list_tasks"].read_only_hint is True
    assert hints["delete_task"] is not None
    assert hints["delete_task"].destructive_hint is True
    assert hints["add_task"] is not None
    assert hints["add_task"].read_only_hint is False
    assert hints["complete_task"] is not None
    assert hints["complete_task"].idempotent_hint is True
    for name in TASK_TOOLS:
        tool = tools[name]
        assert tool.description
        assert len(tool.description) > 30
        assert tool.output_schema is not None
        assert "user_id" not in tool.input_schema.get("properties", {})
        assert tool.meta is not None
        assert tool.meta["fastmcp"]["tags"] == ["tasks"]
    title = tools["add_task"].input_schema["properties"]["title"]
    assert title["maxLength"] == 200
    assert title["minLength"] == 1


async def test_add_task_returns_the_seed_shape_and_the_task(alice: Client[Any], database_url: str) -> None:
    out = await call_ok(alice, "add_task", title="  Buy   milk ", description="2 litres")
    assert out["status"] == "created"
    assert out["title"] == "Buy milk"
    assert out["task"]["description"] == "2 litres"
    assert out["task"]["completed"] is False
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT user_id, title, description FROM tasks WHERE id = %s", (out["task_id"],)
        ).fetchone()
    assert row == ("alice", "Buy milk", "2 litres")


async def test_list_tasks_filters_by_status(alice: Client[Any]) -> None:
    ids = [(await call_ok(alice, "add_task", title=f"task {n}"))["task_id"] for n in range(3)]
    await call_ok(alice, "complete_task", task_id=ids[1])

    def titles(page: dict[str, Any]) -> list[str]:
        return [t["title"] for t in page["tasks"]]

    assert titles(await call_ok(alice, "list_tasks")) == ["task 0", "task 1", "task 2"]
    assert titles(await call_ok(alice, "list_tasks", status="pending")) == ["task 0", "task 2"]
    assert titles(await call_ok(alice, "list_tasks", status="completed")) == ["task 1"]


async def test_list_tasks_pages_with_a_cursor(alice: Client[Any]) -> None:
    for n in range(7):
        await call_ok(alice, "add_task", title=f"t{n}")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        args: dict[str, Any] = {"limit": 3}
        if cursor:
            args["cursor"] = cursor
        page = await call_ok(alice, "list_tasks", **args)
        seen += [t["title"] for t in page["tasks"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"t{n}" for n in range(7)]
    assert pages == 3


async def test_a_cursor_is_bound_to_its_filter_and_garbage_is_rejected(alice: Client[Any]) -> None:
    for n in range(3):
        await call_ok(alice, "add_task", title=f"t{n}")
    page = await call_ok(alice, "list_tasks", limit=1)
    code, message = await call_error(alice, "list_tasks", status="pending", cursor=page["next_cursor"])
    assert code == "invalid_argument"
    assert "cursor" in message
    for bad in ["not-a-cursor", "eyJrIjoidGFza3MifQ", "e30"]:
        code, _ = await call_error(alice, "list_tasks", cursor=bad)
        assert code == "invalid_argument"


async def test_complete_task_is_idempotent(alice: Client[Any]) -> None:
    added = await call_ok(alice, "add_task", title="Pay rent")
    first = await call_ok(alice, "complete_task", task_id=added["task_id"])
    second = await call_ok(alice, "complete_task", task_id=added["task_id"])
    assert first["status"] == second["status"] == "completed"
    assert first["title"] == "Pay rent"
    assert first["task"]["completed"] is True
    assert second["task"]["updated_at"] == first["task"]["updated_at"]


async def test_update_task_changes_only_what_is_given(alice: Client[Any]) -> None:
    added = await call_ok(alice, "add_task", title="Call mom", description="Sunday")
    renamed = await call_ok(alice, "update_task", task_id=added["task_id"], title="Call dad tonight")
    assert renamed["status"] == "updated"
    assert renamed["title"] == "Call dad tonight"
    assert renamed["task"]["description"] == "Sunday"
    cleared = await call_ok(alice, "update_task", task_id=added["task_id"], description="")
    assert cleared["task"]["description"] is None
    assert cleared["title"] == "Call dad tonight"
    done = await call_ok(alice, "update_task", task_id=added["task_id"], completed=True)
    assert done["task"]["completed"] is True
    reopened = await call_ok(alice, "update_task", task_id=added["task_id"], completed=False)
    assert reopened["task"]["completed"] is False


async def test_update_task_with_nothing_to_change_is_an_error(alice: Client[Any]) -> None:
    added = await call_ok(alice, "add_task", title="x")
    code, message = await call_error(alice, "update_task", task_id=added["task_id"])
    assert code == "invalid_argument"
    assert "Nothing to change" in message


async def test_delete_task_keeps_the_seed_shape_and_moves_the_task_to_the_trash(
    alice: Client[Any], database_url: str
) -> None:
    added = await call_ok(alice, "add_task", title="Old meeting")
    out = await call_ok(alice, "delete_task", task_id=added["task_id"])
    restorable_until = datetime.fromisoformat(out.pop("restorable_until"))
    assert out == {"task_id": added["task_id"], "status": "deleted", "title": "Old meeting"}
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT trashed_at FROM tasks WHERE id = %s", (added["task_id"],)).fetchone()
    assert row is not None
    assert row[0] is not None
    assert restorable_until - row[0] == timedelta(days=30)
    assert (await call_ok(alice, "list_tasks"))["tasks"] == []
    code, message = await call_error(alice, "delete_task", task_id=added["task_id"])
    assert code == "not_found"
    assert "trash" in message


@pytest.mark.parametrize("tool", ["complete_task", "delete_task", "update_task"])
async def test_missing_task_is_not_found(alice: Client[Any], tool: str) -> None:
    extra = {"title": "x"} if tool == "update_task" else {}
    code, message = await call_error(alice, tool, task_id=424242, **extra)
    assert code == "not_found"
    assert "424242" in message
    assert "list_tasks" in message


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("add_task", {"title": ""}, "title"),
        ("add_task", {"title": "x" * 201}, "title"),
        ("add_task", {"title": "ok", "description": "d" * 2001}, "description"),
        ("add_task", {}, "title"),
        ("add_task", {"title": 5}, "title"),
        ("list_tasks", {"status": "done"}, "status"),
        ("list_tasks", {"limit": 0}, "limit"),
        ("list_tasks", {"limit": 101}, "limit"),
        ("complete_task", {"task_id": 0}, "task_id"),
        ("complete_task", {"task_id": -3}, "task_id"),
        ("complete_task", {"task_id": "abc"}, "task_id"),
        ("delete_task", {}, "task_id"),
        ("update_task", {"task_id": 1, "title": "y" * 201}, "title"),
        ("update_task", {"task_id": 1, "user_id": "bob", "title": "x"}, "user_id"),
    ],
)
async def test_bounds_are_validated_with_a_clear_error(
    alice: Client[Any], tool: str, arguments: dict[str, Any], field: str
) -> None:
    code, message = await call_error(alice, tool, **arguments)
    assert code == "invalid_argument"
    assert message.startswith("Invalid arguments.")
    assert field in message
    # The offending value is never echoed back.
    assert "x" * 201 not in message
    assert "d" * 2001 not in message


async def test_title_of_only_spaces_is_rejected(alice: Client[Any]) -> None:
    code, message = await call_error(alice, "add_task", title="   ")
    assert code == "invalid_argument"
    assert "blank" in message


async def test_boundary_lengths_are_accepted(alice: Client[Any]) -> None:
    out = await call_ok(alice, "add_task", title="t" * 200, description="d" * 2000)
    assert len(out["task"]["title"]) == 200
    assert len(out["task"]["description"]) == 2000
