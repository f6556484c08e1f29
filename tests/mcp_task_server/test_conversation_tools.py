"""Conversation storage tools, as the gateway uses them, on real PostgreSQL."""

from __future__ import annotations

from typing import Any

import psycopg
from fastmcp import Client

from .helpers import call_error, call_ok

CONVERSATION_TOOLS = {"start_turn", "record_reply", "list_conversations", "get_conversation_messages"}


async def test_conversation_tools_are_tagged_so_clients_can_filter_them(alice: Client[Any]) -> None:
    tools = {t.name: t for t in await alice.list_tools()}
    assert set(tools) >= CONVERSATION_TOOLS
    for name in CONVERSATION_TOOLS:
        meta = tools[name].meta
        assert meta is not None
        assert meta["fastmcp"]["tags"] == ["conversation"]
        assert "user_id" not in tools[name].input_schema.get("properties", {})


async def test_a_turn_creates_a_conversation_then_resumes_it(alice: Client[Any]) -> None:
    first = await call_ok(alice, "start_turn", message="add buy milk")
    assert first["created"] is True
    assert [m["content"] for m in first["messages"]] == ["add buy milk"]
    conversation_id = first["conversation_id"]

    tool_calls = [
        {"name": "add_task", "arguments": {"title": "buy milk"}, "result": {"task_id": 1}, "is_error": False}
    ]
    reply = await call_ok(
        alice, "record_reply", conversation_id=conversation_id, content="Added.", tool_calls=tool_calls
    )
    assert reply["conversation_id"] == conversation_id

    second = await call_ok(alice, "start_turn", message="what's on my list?", conversation_id=conversation_id)
    assert second["created"] is False
    assert second["conversation_id"] == conversation_id
    window = second["messages"]
    assert [(m["role"], m["content"]) for m in window] == [
        ("user", "add buy milk"),
        ("assistant", "Added."),
        ("user", "what's on my list?"),
    ]
    assert window[1]["tool_calls"] == tool_calls
    assert window[-1]["id"] == second["user_message_id"]


async def test_the_window_is_bounded_to_the_latest_messages(alice: Client[Any]) -> None:
    turn = await call_ok(alice, "start_turn", message="m0")
    conversation_id = turn["conversation_id"]
    for n in range(1, 12):
        turn = await call_ok(
            alice, "start_turn", message=f"m{n}", conversation_id=conversation_id, history_limit=4
        )
    assert [m["content"] for m in turn["messages"]] == ["m8", "m9", "m10", "m11"]


async def test_conversations_list_most_recent_first_and_page(alice: Client[Any]) -> None:
    ids = [(await call_ok(alice, "start_turn", message=f"topic {n}"))["conversation_id"] for n in range(5)]
    # Touching the oldest conversation moves it to the top.
    await call_ok(alice, "start_turn", message="back to it", conversation_id=ids[0])
    expected = [ids[0], ids[4], ids[3], ids[2], ids[1]]
    seen: list[int] = []
    cursor = None
    while True:
        page = await call_ok(alice, "list_conversations", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    first = (await call_ok(alice, "list_conversations", limit=1))["conversations"][0]
    assert first["title"] == "topic 0"


async def test_messages_page_backwards_in_time(alice: Client[Any]) -> None:
    conversation_id = (await call_ok(alice, "start_turn", message="m0"))["conversation_id"]
    for n in range(1, 7):
        await call_ok(alice, "start_turn", message=f"m{n}", conversation_id=conversation_id)
    latest = await call_ok(alice, "get_conversation_messages", conversation_id=conversation_id, limit=4)
    assert [m["content"] for m in latest["messages"]] == ["m3", "m4", "m5", "m6"]
    older = await call_ok(
        alice,
        "get_conversation_messages",
        conversation_id=conversation_id,
        limit=4,
        cursor=latest["next_cursor"],
    )
    assert [m["content"] for m in older["messages"]] == ["m0", "m1", "m2"]
    assert older["next_cursor"] is None


async def test_a_long_first_message_gives_a_short_title(alice: Client[Any]) -> None:
    turn = await call_ok(alice, "start_turn", message="please " * 100)
    conversation = (await call_ok(alice, "list_conversations"))["conversations"][0]
    assert conversation["id"] == turn["conversation_id"]
    assert len(conversation["title"]) <= 80
    assert conversation["title"].endswith("…")


async def test_bad_conversation_input_is_rejected_and_stores_nothing(
    alice: Client[Any], database_url: str
) -> None:
    assert (await call_error(alice, "start_turn", message=""))[0] == "invalid_argument"
    assert (await call_error(alice, "start_turn", message="   "))[0] == "invalid_argument"
    assert (await call_error(alice, "start_turn", message="x" * 32_001))[0] == "invalid_argument"
    assert (await call_error(alice, "start_turn", message="hi", conversation_id=99999))[0] == "not_found"
    assert (await call_error(alice, "record_reply", conversation_id=99999, content="x"))[0] == "not_found"
    # Past MAX_TOOL_CALLS_BYTES (4 MiB); the gateway fits every turn under it before recording.
    huge = [{"name": "list_tasks", "arguments": {}, "result": "r" * 200_000, "is_error": False}] * 22
    conversation_id = (await call_ok(alice, "start_turn", message="hi"))["conversation_id"]
    code, message = await call_error(
        alice, "record_reply", conversation_id=conversation_id, content="x", tool_calls=huge
    )
    assert code == "invalid_argument"
    assert "tool_calls" in message
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM conversations").fetchone() == (1,)
