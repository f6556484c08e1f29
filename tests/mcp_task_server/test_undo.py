"""Trash, restore, the activity log and undo, through an MCP client on real PostgreSQL."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastmcp import Client

from .conftest import ClientFactory
from .helpers import call_error, call_ok


async def titles(client: Client[Any], status: str = "all") -> list[str]:
    return [t["title"] for t in (await call_ok(client, "list_tasks", status=status))["tasks"]]


async def test_trash_hides_a_task_until_it_is_restored(alice: Client[Any]) -> None:
    keep = await call_ok(alice, "add_task", title="Keep")
    gone = await call_ok(alice, "add_task", title="Gone", description="details")
    await call_ok(alice, "complete_task", task_id=gone["task_id"])
    await call_ok(alice, "delete_task", task_id=gone["task_id"])
    assert await titles(alice) == ["Keep"]
    assert await titles(alice, "completed") == []
    trashed = (await call_ok(alice, "list_tasks", status="trashed"))["tasks"]
    assert [(t["title"], t["trashed_at"] is not None) for t in trashed] == [("Gone", True)]
    for tool, extra in [("complete_task", {}), ("update_task", {"title": "x"}), ("delete_task", {})]:
        code, message = await call_error(alice, tool, task_id=gone["task_id"], **extra)
        assert code == "not_found"
        assert "restore_task" in message
    restored = await call_ok(alice, "restore_task", task_id=gone["task_id"])
    assert restored["status"] == "restored"
    # Back exactly as it was: title, description and completed state.
    task = restored["task"]
    assert (task["title"], task["description"], task["completed"], task["trashed_at"]) == (
        "Gone", "details", True, None
    )  # fmt: skip
    assert await titles(alice) == ["Keep", "Gone"]
    code, _ = await call_error(alice, "restore_task", task_id=keep["task_id"])
    assert code == "not_found"


async def test_every_change_is_logged_with_before_after_client_and_time(alice: Client[Any]) -> None:
    task_id = (await call_ok(alice, "add_task", title="Draft"))["task_id"]
    await call_ok(alice, "update_task", task_id=task_id, title="Final", description="v2")
    await call_ok(alice, "complete_task", task_id=task_id)
    await call_ok(alice, "complete_task", task_id=task_id)  # A no-op: not a change, not logged.
    await call_ok(alice, "update_task", task_id=task_id, completed=False)
    await call_ok(alice, "delete_task", task_id=task_id)
    await call_ok(alice, "restore_task", task_id=task_id)
    changes = (await call_ok(alice, "list_activity", task_id=task_id))["changes"]
    kinds = [c["kind"] for c in reversed(changes)]
    assert kinds == ["create", "update", "complete", "reopen", "delete", "restore"]
    update = changes[-2]
    assert update["before"] == {"title": "Draft", "description": None}
    assert update["after"] == {"title": "Final", "description": "v2"}
    assert changes[-1]["before"] is None
    assert changes[-1]["after"] == {
        "title": "Draft",
        "description": None,
        "completed": False,
        "trashed": False,
        "priority": 0,
        "tags": [],
        "due_date": None,
        "due_datetime": None,
        "due_timezone": None,
        "due_string": None,
        "due_recurrence": None,
    }
    assert changes[1]["before"] == {"trashed": False}
    assert changes[1]["after"] == {"trashed": True}
    assert all(c["client"] and c["at"] for c in changes)
    assert [c["id"] for c in changes] == sorted((c["id"] for c in changes), reverse=True)
    task = (await call_ok(alice, "list_tasks"))["tasks"][0]
    assert task["version"] == 6  # Created at 1, then five changes.


async def test_activity_pages_newest_first_and_is_per_user(alice: Client[Any], bob: Client[Any]) -> None:
    for n in range(5):
        await call_ok(alice, "add_task", title=f"a{n}")
    await call_ok(bob, "add_task", title="bob's")
    first = await call_ok(alice, "list_activity", limit=3)
    second = await call_ok(alice, "list_activity", limit=3, cursor=first["next_cursor"])
    seen = [c["title"] for c in first["changes"] + second["changes"]]
    assert seen == ["a4", "a3", "a2", "a1", "a0"]
    assert second["next_cursor"] is None
    assert [c["title"] for c in (await call_ok(bob, "list_activity"))["changes"]] == ["bob's"]


async def test_undo_reverts_each_kind_of_change(alice: Client[Any]) -> None:
    task_id = (await call_ok(alice, "add_task", title="Milk", description="2 litres"))["task_id"]

    await call_ok(alice, "update_task", task_id=task_id, title="Oat milk", description="")
    undone = await call_ok(alice, "undo")
    assert undone["tasks"][0]["title"] == "Milk"
    assert undone["tasks"][0]["description"] == "2 litres"
    assert "Milk" in undone["summary"]

    await call_ok(alice, "complete_task", task_id=task_id)
    undone = await call_ok(alice, "undo")
    assert undone["tasks"][0]["completed"] is False
    assert "Reopened" in undone["summary"]

    await call_ok(alice, "delete_task", task_id=task_id)
    undone = await call_ok(alice, "undo")
    assert undone["tasks"][0]["trashed_at"] is None
    assert await titles(alice) == ["Milk"]
    assert "Restored 'Milk'" in undone["summary"]

    # Undos are skipped: the next undo reverts the oldest change still in effect, the add itself.
    undone = await call_ok(alice, "undo")
    assert await titles(alice) == []
    assert await titles(alice, "trashed") == ["Milk"]
    code, message = await call_error(alice, "undo")
    assert code == "not_found"
    assert "nothing to undo" in message.lower()


async def test_undo_of_an_undo_redoes_it(alice: Client[Any]) -> None:
    task_id = (await call_ok(alice, "add_task", title="Call mom"))["task_id"]
    deleted = await call_ok(alice, "delete_task", task_id=task_id)
    assert deleted["status"] == "deleted"
    undo = await call_ok(alice, "undo")
    assert await titles(alice) == ["Call mom"]
    redo = await call_ok(alice, "undo", change_id=undo["change_id"])
    assert await titles(alice) == []
    assert "trash" in redo["summary"]
    # After the redo the delete is in effect again, so a plain undo reverts it once more.
    await call_ok(alice, "undo")
    assert await titles(alice) == ["Call mom"]
    kinds = [c["kind"] for c in (await call_ok(alice, "list_activity"))["changes"]]
    assert kinds == ["undo", "undo", "undo", "delete", "create"]


async def test_undo_refuses_when_a_later_change_is_in_the_way(alice: Client[Any]) -> None:
    task_id = (await call_ok(alice, "add_task", title="Report"))["task_id"]
    await call_ok(alice, "update_task", task_id=task_id, title="Report v2")
    rename = (await call_ok(alice, "list_activity", limit=1))["changes"][0]
    await call_ok(alice, "update_task", task_id=task_id, title="Report v3")
    code, message = await call_error(alice, "undo", change_id=rename["id"])
    assert code == "conflict"
    assert "Report v3" in message
    assert await titles(alice) == ["Report v3"]  # Nothing was reverted.
    # A change to another field is not in the way: completing does not block reverting the title.
    await call_ok(alice, "complete_task", task_id=task_id)
    latest_rename = (await call_ok(alice, "list_activity", limit=2))["changes"][1]
    assert latest_rename["kind"] == "update"
    undone = await call_ok(alice, "undo", change_id=latest_rename["id"])
    assert undone["tasks"][0]["title"] == "Report v2"
    assert undone["tasks"][0]["completed"] is True
    # A task in the trash must be restored before its edits are undone.
    await call_ok(alice, "delete_task", task_id=task_id)
    code, message = await call_error(alice, "undo", change_id=rename["id"])
    assert code == "conflict"
    assert "trash" in message


async def test_undo_of_a_purged_task_is_a_conflict(alice: Client[Any], database_url: str) -> None:
    task_id = (await call_ok(alice, "add_task", title="Old"))["task_id"]
    await call_ok(alice, "delete_task", task_id=task_id)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM tasks WHERE id = %s", (task_id,))
    code, message = await call_error(alice, "undo")
    assert code == "conflict"
    assert "purged" in message


async def test_undo_never_reaches_another_users_changes(client_as: ClientFactory) -> None:
    async with client_as("alice") as alice, client_as("bob") as bob:
        task_id = (await call_ok(alice, "add_task", title="Alice's"))["task_id"]
        await call_ok(alice, "delete_task", task_id=task_id)
        alices_delete = (await call_ok(alice, "list_activity", limit=1))["changes"][0]["id"]
        code, _ = await call_error(bob, "undo")
        assert code == "not_found"
        code, _ = await call_error(bob, "undo", change_id=alices_delete)
        assert code == "not_found"
        code, _ = await call_error(bob, "restore_task", task_id=task_id)
        assert code == "not_found"
        assert (await call_ok(bob, "list_activity", task_id=task_id))["changes"] == []
        assert await titles(alice, "trashed") == ["Alice's"]


@pytest.mark.parametrize("field", ["title", "description"])
async def test_undo_puts_back_a_cleared_or_renamed_field(alice: Client[Any], field: str) -> None:
    task_id = (await call_ok(alice, "add_task", title="T", description="D"))["task_id"]
    new = {"title": "New title"} if field == "title" else {"description": ""}
    await call_ok(alice, "update_task", task_id=task_id, **new)
    undone = await call_ok(alice, "undo")
    assert (undone["tasks"][0]["title"], undone["tasks"][0]["description"]) == ("T", "D")
