"""ChatKit thread storage, as the gateway's POST /chatkit uses it, on real PostgreSQL.

A thread is a conversation and its items are messages: one history that /chat and /chatkit share.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import psycopg
import pytest
from fastmcp import Client
from pydantic import TypeAdapter

from .helpers import call_error, call_ok

THREAD_TOOLS = {
    *("save_thread", "get_thread", "list_threads", "delete_thread"),
    *("save_thread_item", "list_thread_items", "delete_thread_item"),
}
GENERATED_THREAD_ID = re.compile(r"thr_[0-9a-f]{32}")
CREATED_AT = "2026-12-03T10:00:00Z"


def user_item(item_id: str, text: str, thread_id: str = "thr_a", **extra: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "user_message",
        "thread_id": thread_id,
        "created_at": CREATED_AT,
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
        **extra,
    }


def assistant_item(item_id: str, text: str, thread_id: str = "thr_a") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "assistant_message",
        "thread_id": thread_id,
        "created_at": CREATED_AT,
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def widget_item(item_id: str, thread_id: str = "thr_a") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "widget",
        "thread_id": thread_id,
        "created_at": CREATED_AT,
        "widget": {"type": "Card", "children": [{"type": "Text", "value": "3 tasks"}]},
    }


async def thread_with_items(client: Client[Any], thread_id: str, *items: dict[str, Any]) -> list[int]:
    """Create the thread and save the items in order; their message ids."""
    await call_ok(client, "save_thread", thread_id=thread_id)
    return [
        (await call_ok(client, "save_thread_item", thread_id=thread_id, item=item))["message_id"]
        for item in items
    ]


def count(database_url: str, sql: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


async def test_thread_tools_are_tagged_conversation_and_take_no_user(alice: Client[Any]) -> None:
    tools = {t.name: t for t in await alice.list_tools()}
    assert set(tools) >= THREAD_TOOLS
    for name in THREAD_TOOLS:
        meta = tools[name].meta
        assert meta is not None
        assert meta["fastmcp"]["tags"] == ["conversation"]
        assert "user_id" not in tools[name].input_schema.get("properties", {})
        annotations = tools[name].annotations
        assert annotations is not None
        assert annotations.read_only_hint is name.startswith(("get_", "list_"))


async def test_every_conversation_has_a_generated_thread_id(alice: Client[Any]) -> None:
    first = await call_ok(alice, "start_turn", message="first")
    second = await call_ok(alice, "start_turn", message="second")
    listed = (await call_ok(alice, "list_conversations"))["conversations"]
    by_id = {c["id"]: c["thread_id"] for c in listed}
    ids = [by_id[first["conversation_id"]], by_id[second["conversation_id"]]]
    assert all(GENERATED_THREAD_ID.fullmatch(thread_id) for thread_id in ids), ids
    assert ids[0] != ids[1]


async def test_save_thread_creates_then_updates_only_the_fields_given(alice: Client[Any]) -> None:
    created = await call_ok(alice, "save_thread", thread_id="thr_a")
    assert created["thread_id"] == "thr_a"
    assert created["title"] is None
    assert created["status"] == {"type": "active"}
    assert created["metadata"] == {}

    titled = await call_ok(alice, "save_thread", thread_id="thr_a", title="Groceries", metadata={"k": [1]})
    assert titled["conversation_id"] == created["conversation_id"]
    assert (titled["title"], titled["metadata"]) == ("Groceries", {"k": [1]})

    locked = {"type": "locked", "reason": "archived"}
    status = await call_ok(alice, "save_thread", thread_id="thr_a", status=locked)
    assert (status["title"], status["status"], status["metadata"]) == ("Groceries", locked, {"k": [1]})

    renamed = await call_ok(alice, "save_thread", thread_id="thr_a", title="Shopping", metadata={})
    assert (renamed["title"], renamed["status"], renamed["metadata"]) == ("Shopping", locked, {})
    assert renamed["created_at"] == created["created_at"]

    window = await call_ok(alice, "get_thread", thread_id="thr_a")
    assert window["thread"] == renamed
    assert window["messages"] == []


async def test_a_chat_conversation_is_a_thread_with_its_messages(alice: Client[Any]) -> None:
    turn = await call_ok(alice, "start_turn", message="add buy milk")
    conversation_id = turn["conversation_id"]
    await call_ok(alice, "record_reply", conversation_id=conversation_id, content="Added.")
    thread_id = (await call_ok(alice, "list_conversations"))["conversations"][0]["thread_id"]

    listed = (await call_ok(alice, "list_threads"))["threads"]
    assert [(t["thread_id"], t["conversation_id"], t["title"]) for t in listed] == [
        (thread_id, conversation_id, "add buy milk")
    ]
    window = await call_ok(alice, "get_thread", thread_id=thread_id, history_limit=10)
    assert [(m["role"], m["content"]) for m in window["messages"]] == [
        ("user", "add buy milk"),
        ("assistant", "Added."),
    ]
    assert (await call_ok(alice, "get_thread", thread_id=thread_id, history_limit=1))["messages"][0][
        "content"
    ] == "Added."

    # /chat's messages have no item id of their own: they are chat_<message id>.
    items = (await call_ok(alice, "list_thread_items", thread_id=thread_id))["items"]
    message_ids = [m["id"] for m in window["messages"]]
    assert [(i["item_id"], i["role"], i["kind"], i["item"]) for i in items] == [
        (f"chat_{message_ids[0]}", "user", None, None),
        (f"chat_{message_ids[1]}", "assistant", None, None),
    ]
    one = await call_ok(alice, "list_thread_items", thread_id=thread_id, item_id=f"chat_{message_ids[1]}")
    assert [i["content"] for i in one["items"]] == ["Added."]
    after = await call_ok(alice, "list_thread_items", thread_id=thread_id, after=f"chat_{message_ids[0]}")
    assert [i["message_id"] for i in after["items"]] == [message_ids[1]]


async def test_a_chatkit_thread_is_a_conversation_that_chat_continues(alice: Client[Any]) -> None:
    await thread_with_items(
        alice,
        "thr_a",
        user_item("msg_1", "plan my week"),
        widget_item("wdg_1"),
        assistant_item("msg_2", "Sure."),
    )
    listed = (await call_ok(alice, "list_conversations"))["conversations"]
    assert [(c["thread_id"], c["title"]) for c in listed] == [("thr_a", "plan my week")]

    turn = await call_ok(alice, "start_turn", message="and next week?", conversation_id=listed[0]["id"])
    assert [(m["role"], m["content"]) for m in turn["messages"]] == [
        ("user", "plan my week"),
        ("assistant", "Sure."),
        ("user", "and next week?"),
    ]
    await call_ok(alice, "record_reply", conversation_id=listed[0]["id"], content="Also.")
    items = (await call_ok(alice, "list_thread_items", thread_id="thr_a"))["items"]
    assert [(i["role"], i["item_id"].split("_")[0]) for i in items] == [
        ("user", "msg"),
        ("item", "wdg"),
        ("assistant", "msg"),
        ("user", "chat"),
        ("assistant", "chat"),
    ]


async def test_item_rows_never_reach_chat(alice: Client[Any]) -> None:
    await thread_with_items(
        alice, "thr_a", user_item("msg_1", "hello"), widget_item("wdg_1"), widget_item("wdg_2")
    )
    window = await call_ok(alice, "get_thread", thread_id="thr_a", history_limit=50)
    conversation_id = window["thread"]["conversation_id"]
    assert [m["content"] for m in window["messages"]] == ["hello"]

    turn = await call_ok(
        alice, "start_turn", message="again", conversation_id=conversation_id, history_limit=2
    )
    assert [(m["role"], m["content"]) for m in turn["messages"]] == [("user", "hello"), ("user", "again")]
    page = await call_ok(alice, "get_conversation_messages", conversation_id=conversation_id, limit=1)
    older = await call_ok(
        alice, "get_conversation_messages", conversation_id=conversation_id, cursor=page["next_cursor"]
    )
    assert [m["content"] for m in page["messages"] + older["messages"]] == ["again", "hello"]
    assert older["next_cursor"] is None


async def test_saved_items_derive_role_text_and_title(alice: Client[Any], database_url: str) -> None:
    await call_ok(alice, "save_thread", thread_id="thr_a")
    parts = [
        {"type": "input_text", "text": "buy "},
        {"type": "input_tag", "id": "t", "text": "milk", "data": {}},
    ]
    quoted = user_item("msg_1", "", content=[*parts, {"type": "image"}], quoted_text="the list")
    saved = await call_ok(alice, "save_thread_item", thread_id="thr_a", item=quoted, history_limit=5)
    assert saved["created"] is True
    assert saved["title"] == "buy milk"
    assert [(m["role"], m["content"]) for m in saved["messages"]] == [("user", "> the list\n\nbuy milk")]

    # The first user message gave the title; later ones do not change it.
    later = await call_ok(alice, "save_thread_item", thread_id="thr_a", item=user_item("msg_2", "other"))
    assert later["title"] == "buy milk"
    calls = [
        {"name": "add_task", "arguments": {"title": "milk"}, "result": {"task_id": 1}, "is_error": False}
    ]
    reply = await call_ok(
        alice,
        "save_thread_item",
        thread_id="thr_a",
        item=assistant_item("msg_3", "Added."),
        tool_calls=calls,
        history_limit=2,
    )
    assert [(m["content"], m["tool_calls"]) for m in reply["messages"]] == [
        ("other", None),
        ("Added.", calls),
    ]
    widget = await call_ok(
        alice, "save_thread_item", thread_id="thr_a", item=widget_item("wdg_1"), history_limit=2
    )
    assert [m["content"] for m in widget["messages"]] == ["other", "Added."]

    items = (await call_ok(alice, "list_thread_items", thread_id="thr_a"))["items"]
    assert [(i["item_id"], i["role"], i["kind"], i["content"]) for i in items] == [
        ("msg_1", "user", "user_message", "> the list\n\nbuy milk"),
        ("msg_2", "user", "user_message", "other"),
        ("msg_3", "assistant", "assistant_message", "Added."),
        ("wdg_1", "item", "widget", ""),
    ]
    assert items[0]["item"] == quoted
    assert items[2]["tool_calls"] == calls
    assert items[3]["item"] == widget_item("wdg_1")
    assert count(database_url, "SELECT count(*) FROM messages WHERE role = 'item'") == 1


async def test_a_title_is_set_once_and_kept_by_save_thread(alice: Client[Any]) -> None:
    await call_ok(alice, "save_thread", thread_id="thr_a", title="Mine")
    saved = await call_ok(alice, "save_thread_item", thread_id="thr_a", item=user_item("msg_1", "hello"))
    assert saved["title"] == "Mine"
    long = await call_ok(alice, "save_thread", thread_id="thr_b")
    assert long["title"] is None
    saved = await call_ok(
        alice, "save_thread_item", thread_id="thr_b", item=user_item("msg_1", "word " * 100)
    )
    assert len(saved["title"]) <= 80
    assert saved["title"].endswith("…")


async def test_saving_an_item_again_replaces_it_in_place(alice: Client[Any], database_url: str) -> None:
    ids = await thread_with_items(
        alice,
        "thr_a",
        user_item("msg_1", "first"),
        assistant_item("msg_2", "draft"),
        user_item("msg_3", "next"),
    )
    replaced = await call_ok(
        alice, "save_thread_item", thread_id="thr_a", item=assistant_item("msg_2", "final"), history_limit=3
    )
    assert replaced["created"] is False
    assert replaced["message_id"] == ids[1]
    assert [m["content"] for m in replaced["messages"]] == ["first", "final", "next"]
    items = (await call_ok(alice, "list_thread_items", thread_id="thr_a"))["items"]
    assert [(i["item_id"], i["message_id"], i["content"]) for i in items] == [
        ("msg_1", ids[0], "first"),
        ("msg_2", ids[1], "final"),
        ("msg_3", ids[2], "next"),
    ]
    assert items[1]["item"] == assistant_item("msg_2", "final")

    # An item that changes type changes role with it, still in place (and leaves /chat's window).
    as_widget = await call_ok(
        alice, "save_thread_item", thread_id="thr_a", item=widget_item("msg_2"), history_limit=3
    )
    assert (as_widget["created"], as_widget["message_id"]) == (False, ids[1])
    assert [m["content"] for m in as_widget["messages"]] == ["first", "next"]
    assert count(database_url, "SELECT count(*) FROM messages") == 3

    # The same item id in another thread is another item.
    other = await call_ok(alice, "save_thread", thread_id="thr_b")
    again = await call_ok(alice, "save_thread_item", thread_id="thr_b", item=user_item("msg_1", "first"))
    assert again["created"] is True
    assert again["conversation_id"] == other["conversation_id"]


async def test_an_idempotent_save_stores_once(alice: Client[Any], database_url: str) -> None:
    await call_ok(alice, "save_thread", thread_id="thr_a")
    arguments: dict[str, Any] = {
        "thread_id": "thr_a",
        "item": user_item("msg_1", "hi"),
        "idempotency_key": "k-1",
    }
    first = await call_ok(alice, "save_thread_item", **arguments)
    second = await call_ok(alice, "save_thread_item", **arguments)
    assert second == first
    assert first["created"] is True
    assert count(database_url, "SELECT count(*) FROM messages") == 1
    code, message = await call_error(
        alice, "save_thread_item", **{**arguments, "item": user_item("msg_1", "changed")}
    )
    assert code == "invalid_argument"
    assert "idempotency_key" in message


async def test_threads_list_by_creation_and_page_both_ways(alice: Client[Any]) -> None:
    ids = [f"thr_{n}" for n in range(5)]
    for thread_id in ids:
        await call_ok(alice, "save_thread", thread_id=thread_id)
    # Activity does not reorder threads: they are listed by creation.
    await call_ok(alice, "save_thread_item", thread_id="thr_0", item=user_item("msg_1", "hi"))

    for order, expected in (("desc", ids[::-1]), ("asc", ids)):
        seen: list[str] = []
        after = None
        while True:
            page = await call_ok(
                alice, "list_threads", limit=2, order=order, **({"after": after} if after else {})
            )
            seen += [t["thread_id"] for t in page["threads"]]
            assert page["has_more"] is (len(seen) < 5)
            after = page["after"]
            if not page["has_more"]:
                break
        assert seen == expected, order
    assert (await call_ok(alice, "list_threads", after="thr_4", order="asc")) == {
        "threads": [],
        "has_more": False,
        "after": None,
    }
    assert [t["thread_id"] for t in (await call_ok(alice, "list_threads", limit=100))["threads"]] == ids[::-1]
    code, message = await call_error(alice, "list_threads", after="thr_missing")
    assert (code, message) == ("invalid_argument", "after: thr_missing is not one of your threads.")


async def test_items_page_both_ways_and_by_id(alice: Client[Any]) -> None:
    names = [f"msg_{n}" for n in range(5)]
    await thread_with_items(alice, "thr_a", *(user_item(name, name) for name in names))
    for order, expected in (("asc", names), ("desc", names[::-1])):
        seen: list[str] = []
        after = None
        while True:
            page = await call_ok(
                alice,
                "list_thread_items",
                thread_id="thr_a",
                limit=2,
                order=order,
                **({"after": after} if after else {}),
            )
            seen += [i["item_id"] for i in page["items"]]
            after = page["after"]
            if not page["has_more"]:
                break
        assert seen == expected, order
    last = await call_ok(alice, "list_thread_items", thread_id="thr_a", after="msg_4")
    assert (last["items"], last["has_more"], last["after"]) == ([], False, None)

    one = await call_ok(alice, "list_thread_items", thread_id="thr_a", item_id="msg_2")
    assert [i["item_id"] for i in one["items"]] == ["msg_2"]
    assert one["has_more"] is False
    for absent in ("msg_9", "chat_1", "chat_99999999999999999999"):
        empty = await call_ok(alice, "list_thread_items", thread_id="thr_a", item_id=absent)
        assert empty["items"] == [], absent
    for absent in ("msg_9", "chat_1"):
        code, message = await call_error(alice, "list_thread_items", thread_id="thr_a", after=absent)
        assert (code, message) == ("invalid_argument", f"after: {absent} is not an item of this thread.")


async def test_a_stored_item_is_not_found_by_its_chat_id(alice: Client[Any]) -> None:
    """chat_<n> names a message from /chat only: a saved item keeps the id ChatKit gave it."""
    [message_id] = await thread_with_items(alice, "thr_a", user_item("msg_1", "hi"))
    page = await call_ok(alice, "list_thread_items", thread_id="thr_a", item_id=f"chat_{message_id}")
    assert page["items"] == []
    deleted = await call_ok(alice, "delete_thread_item", thread_id="thr_a", item_id=f"chat_{message_id}")
    assert deleted["deleted"] is False


async def test_items_are_deleted_by_id_or_chat_id(alice: Client[Any]) -> None:
    await thread_with_items(alice, "thr_a", user_item("msg_1", "one"), assistant_item("msg_2", "two"))
    assert await call_ok(alice, "delete_thread_item", thread_id="thr_a", item_id="msg_1") == {
        "thread_id": "thr_a",
        "item_id": "msg_1",
        "deleted": True,
    }
    again = await call_ok(alice, "delete_thread_item", thread_id="thr_a", item_id="msg_1")
    assert again["deleted"] is False

    conversation_id = (await call_ok(alice, "get_thread", thread_id="thr_a"))["thread"]["conversation_id"]
    turn = await call_ok(alice, "start_turn", message="from chat", conversation_id=conversation_id)
    chat_id = f"chat_{turn['user_message_id']}"
    assert (await call_ok(alice, "delete_thread_item", thread_id="thr_a", item_id=chat_id))["deleted"] is True
    items = (await call_ok(alice, "list_thread_items", thread_id="thr_a"))["items"]
    assert [i["item_id"] for i in items] == ["msg_2"]


async def test_deleting_a_thread_deletes_its_conversation_and_items(
    alice: Client[Any], database_url: str
) -> None:
    await thread_with_items(alice, "thr_a", user_item("msg_1", "one"), widget_item("wdg_1"))
    await thread_with_items(alice, "thr_b", user_item("msg_1", "kept"))
    assert await call_ok(alice, "delete_thread", thread_id="thr_a") == {"thread_id": "thr_a", "deleted": True}
    assert count(database_url, "SELECT count(*) FROM messages") == 1
    assert [c["thread_id"] for c in (await call_ok(alice, "list_conversations"))["conversations"]] == [
        "thr_b"
    ]
    for tool in ("delete_thread", "get_thread", "list_thread_items"):
        code, message = await call_error(alice, tool, thread_id="thr_a")
        assert (code, message) == ("not_found", "Thread thr_a was not found."), tool
    # A deleted thread's id can name a new thread.
    assert (await call_ok(alice, "save_thread", thread_id="thr_a"))["title"] is None


async def test_users_cannot_touch_each_others_threads(
    alice: Client[Any], bob: Client[Any], database_url: str
) -> None:
    await thread_with_items(alice, "thr_a", user_item("msg_1", "private"))
    await call_ok(alice, "save_thread", thread_id="thr_a", title="Alice's")
    # Saving creates a missing thread, so someone else's answers as a missing one does to every other tool.
    for arguments in ({"title": "Bob's"}, {"status": {"type": "closed"}}, {"metadata": {"x": 1}}):
        foreign = await call_error(bob, "save_thread", thread_id="thr_a", **arguments)
        assert foreign == ("not_found", "Thread thr_a was not found.")
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("get_thread", {"history_limit": 10}),
        ("delete_thread", {}),
        ("save_thread_item", {"item": user_item("msg_2", "sneak in")}),
        ("save_thread_item", {"item": user_item("msg_1", "overwrite")}),
        ("list_thread_items", {}),
        ("list_thread_items", {"item_id": "msg_1"}),
        ("delete_thread_item", {"item_id": "msg_1"}),
    ]
    for tool, arguments in attempts:
        foreign = await call_error(bob, tool, thread_id="thr_a", **arguments)
        missing = await call_error(bob, tool, thread_id="thr_nobody", **arguments)
        assert foreign == ("not_found", "Thread thr_a was not found."), tool
        assert missing == ("not_found", "Thread thr_nobody was not found."), tool
    assert (await call_ok(bob, "list_threads"))["threads"] == []
    assert await call_error(bob, "list_threads", after="thr_a") == (
        "invalid_argument",
        "after: thr_a is not one of your threads.",
    )

    window = await call_ok(alice, "get_thread", thread_id="thr_a", history_limit=10)
    assert window["thread"]["title"] == "Alice's"
    assert window["thread"]["status"] == {"type": "active"}
    assert [m["content"] for m in window["messages"]] == ["private"]
    assert count(database_url, "SELECT count(*) FROM messages") == 1
    assert count(database_url, "SELECT count(*) FROM conversations WHERE user_id = 'bob'") == 0


ON_A: dict[str, Any] = {"thread_id": "thr_a"}
BAD_ITEMS: list[dict[str, Any]] = [
    {"type": "widget"},
    {"id": "bad id", "type": "widget"},
    {"id": 1, "type": "widget"},
    {"id": "chat_12", "type": "widget"},  # Reserved: the id of a message from /chat.
    {"id": "w_1"},
    {"id": "w_1", "type": "x" * 41},
    {"id": "w_1", "type": "a b"},
    {"id": "w_1", "type": "w", "v": "\x00"},
    {"id": "w_1", "type": "w", "v": "x" * 262_144},
    user_item("m_1", "   "),
    user_item("m_1", "x", content="text"),
    user_item("m_1", "x" * 32_001),
    assistant_item("m_1", "x" * 32_001),
]
BAD_ARGUMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("save_thread", {"thread_id": "thr a"}, "thread_id"),
    ("save_thread", {"thread_id": ""}, "thread_id"),
    ("save_thread", {"thread_id": "t" * 65}, "thread_id"),
    ("save_thread", {**ON_A, "title": "x" * 201}, "title"),
    ("save_thread", {**ON_A, "title": "a\x00b"}, "title"),
    ("save_thread", {**ON_A, "status": {"type": "paused"}}, "status"),
    ("save_thread", {**ON_A, "status": {}}, "status"),
    ("save_thread", {**ON_A, "status": "active"}, "status"),
    ("save_thread", {**ON_A, "metadata": {"k": "a\x00"}}, "metadata"),
    ("save_thread", {**ON_A, "metadata": {"k": "x" * 16_400}}, "metadata"),
    ("save_thread", {**ON_A, "metadata": {"n": 2**64}}, "metadata"),
    ("get_thread", {**ON_A, "history_limit": 201}, "history_limit"),
    ("get_thread", {**ON_A, "history_limit": True}, "history_limit"),
    ("list_threads", {"limit": 0}, "limit"),
    ("list_threads", {"after": "thr/../x"}, "after"),
    ("list_threads", {"order": "newest"}, "order"),
    ("delete_thread", {"thread_id": "a\x00b"}, "thread_id"),
    ("list_thread_items", {**ON_A, "limit": 201}, "limit"),
    ("list_thread_items", {**ON_A, "after": "é"}, "after"),
    ("list_thread_items", {**ON_A, "item_id": ""}, "item_id"),
    ("delete_thread_item", {**ON_A, "item_id": "x" * 65}, "item_id"),
    *(("save_thread_item", {**ON_A, "item": item}, "item") for item in BAD_ITEMS),
    ("save_thread_item", {**ON_A, "item": widget_item("w_1"), "history_limit": -1}, "history_limit"),
    ("save_thread_item", {**ON_A, "item": widget_item("w_1"), "tool_calls": [{"name": ""}]}, "tool_calls"),
]


@pytest.mark.parametrize(("tool", "arguments", "field"), BAD_ARGUMENTS)
async def test_bad_thread_arguments_are_invalid_and_store_nothing(
    alice: Client[Any], database_url: str, tool: str, arguments: dict[str, Any], field: str
) -> None:
    await call_ok(alice, "save_thread", thread_id="thr_a")
    code, message = await call_error(alice, tool, **arguments)
    assert code == "invalid_argument", message
    assert field in message
    assert count(database_url, "SELECT count(*) FROM messages") == 0
    thread = (await call_ok(alice, "get_thread", thread_id="thr_a"))["thread"]
    assert (thread["title"], thread["status"], thread["metadata"]) == (None, {"type": "active"}, {})


async def test_limits_are_inclusive(alice: Client[Any]) -> None:
    await call_ok(alice, "save_thread", thread_id="t" * 64, title="x" * 200, metadata={"k": "x" * 16_000})
    await call_ok(alice, "save_thread_item", thread_id="t" * 64, item=user_item("m" * 64, "x" * 32_000))
    quoted = user_item("m_2", "x" * 31_990, quoted_text="q" * 6)  # "> " + 6 + "\n\n" + 31,990 = 32,000
    saved = await call_ok(alice, "save_thread_item", thread_id="t" * 64, item=quoted, history_limit=1)
    assert len(saved["messages"][0]["content"]) == 32_000


async def test_real_chatkit_items_round_trip(alice: Client[Any]) -> None:
    """What the gateway stores is ChatKit's own JSON; what it reads back validates as ChatKit items."""
    with warnings.catch_warnings():
        # chatkit.widgets warns about its own widget classes as it is imported.
        warnings.simplefilter("ignore", DeprecationWarning)
        from chatkit.types import AssistantMessageItem, InferenceOptions, ThreadItem, UserMessageItem
    await call_ok(alice, "save_thread", thread_id="thr_a")
    items: list[Any] = [
        UserMessageItem(
            id="msg_1",
            thread_id="thr_a",
            created_at=CREATED_AT,
            content=[{"type": "input_text", "text": "add milk"}],
            inference_options=InferenceOptions(),
        ),
        AssistantMessageItem(
            id="msg_2", thread_id="thr_a", created_at=CREATED_AT, content=[{"text": "Added milk."}]
        ),
    ]
    for item in items:
        await call_ok(alice, "save_thread_item", thread_id="thr_a", item=item.model_dump(mode="json"))
    page = await call_ok(alice, "list_thread_items", thread_id="thr_a")
    loaded = [TypeAdapter(ThreadItem).validate_python(i["item"]) for i in page["items"]]
    assert loaded == items
    assert [i["content"] for i in page["items"]] == ["add milk", "Added milk."]
