"""Property: whatever JSON a client sends as a tool's arguments, the answer is a result or a tool error
with a stable code other than `internal`, and nothing logs a traceback at INFO or above.

Arguments mix plausible values (ids that exist, cursors the server made, valid titles) with hostile ones:
NUL and lone surrogates, integers past bigint, bools where ints go, strings where bools go, deep nesting
and forged cursors. The budget is bounded so the whole file runs in well under 30 seconds.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from fastmcp import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_task_server.server import create_server
from mcp_task_server.settings import TaskServerSettings
from shared.schemas import ERROR_META_KEY

from .helpers import call_ok

HOSTILE_CHARACTERS = st.sampled_from(["\x00", "\ud800", "\udfff", "\ufffe", "é", "𝄞", " ", "\n", "\\", '"'])
HOSTILE_TEXT = st.text(alphabet=st.one_of(HOSTILE_CHARACTERS, st.characters(codec=None)), max_size=40)
# Mostly ordinary text, often with one hostile character in it.
TEXT = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(min_size=1, max_size=15),
    st.one_of(st.just(""), HOSTILE_CHARACTERS),
    st.text(max_size=15),
)
# A lone surrogate in an object key cannot even be sent (the client cannot encode the request, and the
# server's JSON-RPC parser refuses it, as test_hostile_inputs shows over HTTP); in values it is tried.
KEYS = st.text(
    alphabet=st.one_of(st.sampled_from(["\x00", "é", "𝄞", '"']), st.characters(codec="utf-8")), max_size=10
)
# Hypothesis favours the first entries: the ones past bigint come first.
EDGE_INTEGERS = st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, 0, -1, 2**63 - 1, 2**31, -(2**63)])
INTEGERS = st.one_of(st.integers(min_value=-5, max_value=5), EDGE_INTEGERS, st.integers())
SCALARS = st.one_of(st.none(), st.booleans(), INTEGERS, st.floats(allow_nan=False), HOSTILE_TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=12,
)


def _nested(depth: int, leaf: Any) -> Any:
    for n in range(depth):
        leaf = {"a": leaf} if n % 2 else [leaf]
    return leaf


DEEP = st.builds(_nested, st.integers(min_value=20, max_value=120), SCALARS)


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


# Cursors of the right kind and shape whose values are hostile, and cursors of any shape at all.
CURSOR_VALUES = st.one_of(EDGE_INTEGERS, EDGE_INTEGERS, INTEGERS, JSON_VALUES)
FORGED_CURSORS = st.one_of(
    st.builds(lambda v: _cursor({"k": "tasks", "s": "all", "after": v}), CURSOR_VALUES),
    st.builds(lambda s, v: _cursor({"k": "tasks", "s": s, "after": v}), CURSOR_VALUES, CURSOR_VALUES),
    st.builds(
        lambda t, v: _cursor({"k": "activity", "t": t, "before": v}), st.none() | INTEGERS, CURSOR_VALUES
    ),
    st.builds(
        lambda u, v: _cursor({"k": "conversations", "u": u, "id": v}),
        st.sampled_from(
            [
                "2026-01-01T00:00:00+00:00",
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "2026-01-01T00:00:00",
                "x",
            ]
        )
        | CURSOR_VALUES,
        CURSOR_VALUES,
    ),
    st.builds(
        lambda c, v: _cursor({"k": "messages", "c": c, "before": v}),
        st.just(1) | CURSOR_VALUES,
        CURSOR_VALUES,
    ),
    st.builds(_cursor, JSON_VALUES),
    HOSTILE_TEXT,
)
TOOL_CALL_RECORDS = st.lists(
    st.fixed_dictionaries(
        {"name": st.one_of(st.just("add_task"), HOSTILE_TEXT)},
        optional={"arguments": st.one_of(JSON_VALUES, DEEP), "result": st.one_of(JSON_VALUES, DEEP),
                  "is_error": st.one_of(st.booleans(), JSON_VALUES)},
    ),
    max_size=3,
)  # fmt: skip
# Thread and item ids the fuzz user has (see fuzz_client), ones it has not, and not ids at all.
THREAD_IDS = st.sampled_from(["thr_fuzz", "thr_fuzz", "thr_other", "t" * 64, "t" * 65, "thr a", ""]) | TEXT
ITEM_IDS = (
    st.sampled_from(["msg_1", "msg_1", "wdg_1", "chat_1", "chat_2", "chat_99999999999999999999", "msg x"])
    | TEXT
)
CHATKIT_ITEMS = st.fixed_dictionaries(
    {
        "id": ITEM_IDS,
        "type": st.sampled_from(["user_message", "assistant_message", "widget", "x" * 41, ""]) | TEXT,
    },
    optional={
        "content": st.lists(st.fixed_dictionaries({"text": TEXT}) | JSON_VALUES, max_size=3) | JSON_VALUES,
        "quoted_text": TEXT | JSON_VALUES,
        "widget": JSON_VALUES | DEEP,
    },
)
THREAD_STATUSES = (
    st.fixed_dictionaries(
        {"type": st.sampled_from(["active", "locked", "closed", "open"])}, optional={"reason": TEXT}
    )
    | JSON_VALUES
    | DEEP
)

# Per parameter: something plausible, or anything at all.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "task_id": st.integers(min_value=1, max_value=4) | EDGE_INTEGERS,
    "change_id": st.integers(min_value=1, max_value=4) | EDGE_INTEGERS,
    "conversation_id": st.integers(min_value=1, max_value=3) | EDGE_INTEGERS,
    "expected_version": st.integers(min_value=1, max_value=3),
    "task_ids": st.lists(st.integers(min_value=1, max_value=4) | EDGE_INTEGERS, max_size=3),
    "title": TEXT,
    "description": TEXT,
    "message": TEXT,
    "content": TEXT,
    "completed": st.booleans(),
    "status": st.sampled_from(["all", "all", "pending", "completed", "trashed", "done"]),
    "limit": st.integers(min_value=0, max_value=201),
    "history_limit": st.integers(min_value=0, max_value=201),
    "cursor": FORGED_CURSORS,
    "confirmation_token": TEXT,
    "idempotency_key": st.from_regex(r"[A-Za-z0-9._:-]{1,20}", fullmatch=True),
    "tool_calls": TOOL_CALL_RECORDS,
    "due": st.one_of(
        TEXT,
        st.sampled_from(["tomorrow at 9", "every monday", "every 31st", "2026-02-29", "in 99999 days", ""]),
    ),
    "priority": st.sampled_from(["none", "low", "medium", "high", "p1", ""]),
    "tags": st.lists(TEXT, max_size=22),
    "tag": TEXT,
    "timezone": st.sampled_from(["UTC", "Europe/Berlin", "Asia/Tokyo", "Mars/Base", "", "../x", "UTC\x00"]),
    "forever": st.booleans(),
    "query": TEXT,
    "sort": st.sampled_from(["created", "due", "priority", "random"]),
    "due_filter": st.sampled_from(
        ["overdue", "today", "tomorrow", "next_7_days", "no_date", "any_date", "x"]
    ),
    "day": st.one_of(
        st.sampled_from(["2026-12-24", "2026-02-30", "0000-01-01", "9999-12-31", "2026-1-1"]), TEXT
    ),
    "thread_id": THREAD_IDS,
    "item_id": ITEM_IDS,
    "item": CHATKIT_ITEMS,
    "thread_status": THREAD_STATUSES,
    "metadata": st.dictionaries(KEYS, JSON_VALUES, max_size=4) | DEEP,
    "order": st.sampled_from(["asc", "desc", "newest"]),
}
# Parameters whose plausible values another's strategy gives.
ALIASES = {"due_from": "day", "due_to": "day", "completed_from": "day", "completed_to": "day"}
# The same, where a name means something else to one tool.
TOOL_ALIASES = {
    ("list_tasks", "due"): "due_filter",
    ("save_thread", "status"): "thread_status",
    ("list_threads", "after"): "thread_id",
    ("list_thread_items", "after"): "item_id",
}
TOOLS = {
    "add_task": ["title", "description", "due", "priority", "tags", "timezone", "idempotency_key"],
    "list_tasks": [
        *("status", "due", "due_from", "due_to", "tag", "priority", "query", "completed_from"),
        *("completed_to", "sort", "timezone", "limit", "cursor"),
    ],
    "complete_task": ["task_id", "forever", "expected_version", "idempotency_key"],
    "delete_task": ["task_id", "expected_version", "idempotency_key"],
    "update_task": [
        *("task_id", "title", "description", "completed", "due", "priority", "tags", "timezone"),
        *("expected_version", "idempotency_key"),
    ],
    "restore_task": ["task_id", "idempotency_key"],
    "complete_tasks": ["task_ids", "status", "confirmation_token", "idempotency_key"],
    "delete_tasks": ["task_ids", "status", "confirmation_token", "idempotency_key"],
    "undo": ["change_id", "idempotency_key"],
    "list_activity": ["task_id", "limit", "cursor"],
    "start_turn": ["message", "conversation_id", "history_limit"],
    "record_reply": ["conversation_id", "content", "tool_calls", "idempotency_key"],
    "list_conversations": ["limit", "cursor"],
    "get_conversation_messages": ["conversation_id", "limit", "cursor"],
    "save_thread": ["thread_id", "title", "status", "metadata"],
    "get_thread": ["thread_id", "history_limit"],
    "list_threads": ["limit", "after", "order"],
    "delete_thread": ["thread_id"],
    "save_thread_item": ["thread_id", "item", "tool_calls", "history_limit", "idempotency_key"],
    "list_thread_items": ["thread_id", "after", "limit", "order", "item_id"],
    "delete_thread_item": ["thread_id", "item_id"],
}


@st.composite
def arguments_for(draw: st.DrawFn, tool: str) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for name in TOOLS[tool]:
        choice = draw(st.sampled_from(["omit", "plausible", "plausible", "hostile"]))
        if choice == "plausible":
            key = TOOL_ALIASES.get((tool, name)) or ALIASES.get(name, name)
            arguments[name] = draw(PLAUSIBLE[key])
        elif choice == "hostile":
            arguments[name] = draw(st.one_of(JSON_VALUES, DEEP))
    if draw(st.booleans()) and draw(st.booleans()):
        arguments[draw(KEYS)] = draw(JSON_VALUES)  # An unknown argument.
    return arguments


@pytest.fixture
async def fuzz_client(settings: TaskServerSettings) -> Any:
    server, _ = create_server(settings.model_copy(update={"mcp_stdio_user_id": "fuzz"}), stdio=True)
    async with Client(server) as client:
        for n in range(3):
            await call_ok(client, "add_task", title=f"task {n}")
        await call_ok(client, "start_turn", message="hello")
        await call_ok(client, "save_thread", thread_id="thr_fuzz")
        widget = {"id": "wdg_1", "type": "widget", "widget": {"type": "Card"}}
        for item in ({"id": "msg_1", "type": "user_message", "content": [{"text": "hi"}]}, widget):
            await call_ok(client, "save_thread_item", thread_id="thr_fuzz", item=item)
        yield client


async def test_every_tool_is_fuzzed(fuzz_client: Client[Any]) -> None:
    assert {
        tool.name: sorted(tool.input_schema["properties"]) for tool in await fuzz_client.list_tools()
    } == {tool: sorted(names) for tool, names in TOOLS.items()}


@pytest.mark.parametrize("tool", sorted(TOOLS))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_no_argument_reaches_an_internal_error(
    fuzz_client: Client[Any], caplog: pytest.LogCaptureFixture, tool: str, data: st.DataObject
) -> None:
    arguments = data.draw(arguments_for(tool), label="arguments")
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result = await fuzz_client.call_tool(tool, arguments, raise_on_error=False)
    if result.is_error:
        assert result.meta is not None, result.content
        code = result.meta[ERROR_META_KEY]["code"]
        assert code not in ("internal", "unavailable"), result.content
    loud = [
        r
        for r in caplog.records
        if r.levelno >= logging.INFO and (r.exc_info or "Traceback" in r.getMessage())
    ]
    assert not loud, [r.getMessage() for r in loud]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records
    ]


CURSOR_TOOLS: dict[str, tuple[dict[str, Any], st.SearchStrategy[str]]] = {
    "list_tasks": ({}, FORGED_CURSORS),
    "list_activity": ({}, FORGED_CURSORS),
    "list_conversations": ({}, FORGED_CURSORS),
    "get_conversation_messages": ({"conversation_id": 1}, FORGED_CURSORS),
}


@pytest.mark.parametrize("tool", sorted(CURSOR_TOOLS))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_no_cursor_reaches_an_internal_error(
    fuzz_client: Client[Any], tool: str, data: st.DataObject
) -> None:
    """Every position a cursor holds goes into SQL, so forged ones get a budget of their own."""
    fixed, cursors = CURSOR_TOOLS[tool]
    kind = {"list_tasks": "tasks", "list_activity": "activity", "list_conversations": "conversations"}.get(
        tool, "messages"
    )
    field = {"tasks": "after", "activity": "before", "conversations": "id", "messages": "before"}[kind]
    shaped = st.builds(
        lambda value: _cursor(
            {"k": kind, "s": "all", "t": None, "c": 1, "u": "2026-01-01T00:00:00+00:00", field: value}
        ),
        CURSOR_VALUES,
    )
    cursor = data.draw(st.one_of(shaped, cursors), label="cursor")
    result = await fuzz_client.call_tool(tool, {**fixed, "cursor": cursor}, raise_on_error=False)
    if result.is_error:
        assert result.meta is not None, result.content
        assert result.meta[ERROR_META_KEY]["code"] == "invalid_argument", result.content
