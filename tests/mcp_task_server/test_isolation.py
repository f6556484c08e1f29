"""Two users share a database and can neither see nor touch each other's data."""

from __future__ import annotations

from typing import Any

import psycopg
from fastmcp import Client

from .helpers import call_error, call_ok


async def test_users_see_only_their_own_tasks(alice: Client[Any], bob: Client[Any]) -> None:
    await call_ok(alice, "add_task", title="alice's secret")
    await call_ok(bob, "add_task", title="bob's errand")
    alice_titles = [t["title"] for t in (await call_ok(alice, "list_tasks"))["tasks"]]
    bob_titles = [t["title"] for t in (await call_ok(bob, "list_tasks"))["tasks"]]
    assert alice_titles == ["alice's secret"]
    assert bob_titles == ["bob's errand"]


async def test_another_users_task_answers_exactly_like_a_missing_one(
    alice: Client[Any], bob: Client[Any], database_url: str
) -> None:
    task_id = (await call_ok(alice, "add_task", title="mine"))["task_id"]
    missing_id = task_id + 1000
    for tool, extra in [("complete_task", {}), ("delete_task", {}), ("update_task", {"title": "hijacked"})]:
        theirs = await call_error(bob, tool, task_id=task_id, **extra)
        missing = await call_error(bob, tool, task_id=missing_id, **extra)
        assert theirs[0] == missing[0] == "not_found"
        assert theirs[1].replace(str(task_id), "N") == missing[1].replace(str(missing_id), "N")
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT title, completed FROM tasks WHERE id = %s", (task_id,)).fetchone()
    assert row == ("mine", False)


async def test_users_see_only_their_own_conversations(alice: Client[Any], bob: Client[Any]) -> None:
    turn = await call_ok(alice, "start_turn", message="plan my week")
    conversation_id = turn["conversation_id"]
    assert (await call_ok(bob, "list_conversations"))["conversations"] == []
    code, _ = await call_error(bob, "get_conversation_messages", conversation_id=conversation_id)
    assert code == "not_found"
    code, _ = await call_error(bob, "start_turn", message="sneak in", conversation_id=conversation_id)
    assert code == "not_found"
    code, _ = await call_error(bob, "record_reply", conversation_id=conversation_id, content="spoofed")
    assert code == "not_found"
    page = await call_ok(alice, "get_conversation_messages", conversation_id=conversation_id)
    assert [m["content"] for m in page["messages"]] == ["plan my week"]
