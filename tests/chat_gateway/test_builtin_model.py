"""The builtin model on its own: the `Model` contract, schema-driven features, history, robustness.

These drive `BuiltinModel` directly, the way the SDK does, with a small in-memory stand-in for the
task server's answers; the real agent loop against the real server is in test_builtin_corpus.py.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from agents import ModelSettings, Tool, TResponseInputItem
from agents.models.interface import ModelTracing
from openai.types.responses import ResponseFunctionToolCall

from chat_gateway.builtin_model import BuiltinModel
from chat_gateway.history import history_to_input
from shared.schemas import MessageOut, ToolCallRecord

from . import builtin_fakes as fakes
from .builtin_fakes import SCHEMAS, FakeTasks, arguments, respond, text_of, tools

TODAY = date(2025, 3, 5)  # A Wednesday.


def extended(tool: str, **properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The base schemas, with `tool` offering extra properties (a feature the server gained)."""
    schemas = json.loads(json.dumps(SCHEMAS))
    schemas[tool]["properties"].update(properties)
    return dict(schemas)


async def converse(
    message: str,
    store: FakeTasks,
    *,
    offered: list[Tool] | None = None,
    history: list[TResponseInputItem] | None = None,
) -> tuple[list[ResponseFunctionToolCall], str, list[TResponseInputItem]]:
    model = BuiltinModel(today=lambda: TODAY)
    return await fakes.converse(message, store, offered=offered, history=history, model=model)


async def test_the_same_input_always_gives_the_same_output() -> None:
    items: list[TResponseInputItem] = [{"role": "user", "content": "add eggs and bread and mark it done"}]
    first = await respond(BuiltinModel(), items, tools())
    second = await respond(BuiltinModel(), items, tools())
    assert [item.model_dump() for item in first] == [item.model_dump() for item in second]


async def test_call_ids_are_unique_and_non_empty_across_a_conversation() -> None:
    store = FakeTasks("Buy milk", "Call mom")
    history: list[TResponseInputItem] = []
    seen: list[str] = []
    for message in ["add eggs and bread", "mark them done", "delete the milk one", "add eggs and bread"]:
        calls, text, items = await converse(message, store, history=history)
        seen += [call.call_id for call in calls]
        history = [*items, {"role": "assistant", "content": text}]
    assert all(seen)
    assert len(seen) == len(set(seen)) == 8


async def test_fields_the_schema_offers_are_used() -> None:
    offered = tools(
        extended(
            "add_task",
            due_date={"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
            priority={"enum": ["low", "medium", "high"], "type": "string"},
            tags={"type": "array", "items": {"type": "string"}},
        )
    )
    calls, text, _ = await converse("add pay rent due friday urgent #home", FakeTasks(), offered=offered)
    assert [arguments(c) for c in calls] == [
        {"title": "Pay rent", "tags": ["home"], "priority": "high", "due_date": "2025-03-07"}
    ]
    assert "Pay rent" in text


async def test_fields_the_schema_lacks_are_never_sent() -> None:
    calls, _, _ = await converse("add pay rent due friday urgent #home", FakeTasks())
    assert [arguments(c) for c in calls] == [{"title": "Pay rent due friday urgent #home"}]


async def test_a_new_update_field_is_used_for_updates() -> None:
    offered = tools(extended("update_task", priority={"enum": ["low", "normal", "high"], "type": "string"}))
    calls, text, _ = await converse("make task 1 high priority", FakeTasks("Buy milk"), offered=offered)
    assert [(c.name, arguments(c)) for c in calls] == [("update_task", {"task_id": 1, "priority": "high"})]
    assert "Buy milk" in text


async def test_a_search_tool_is_used_when_offered() -> None:
    schemas = {
        **SCHEMAS,
        "search_tasks": {"properties": {"query": {"type": "string"}}, "required": ["query"]},
    }
    calls, text, _ = await converse("find tasks about milk", FakeTasks("Buy milk"), offered=tools(schemas))
    assert [(c.name, arguments(c)) for c in calls] == [("search_tasks", {"query": "milk"})]
    assert "Buy milk" in text


async def test_an_action_without_its_tool_is_explained_not_attempted() -> None:
    offered = tools({name: s for name, s in SCHEMAS.items() if name != "delete_task"})
    calls, text, _ = await converse("delete task 1", FakeTasks("Buy milk"), offered=offered)
    assert calls == []
    assert "can't delete" in text


async def test_reopening_needs_a_completed_field() -> None:
    schemas = json.loads(json.dumps(SCHEMAS))
    del schemas["update_task"]["properties"]["completed"]
    calls, text, _ = await converse("reopen task 1", FakeTasks("Buy milk"), offered=tools(schemas))
    assert calls == []
    assert "can't reopen" in text


async def test_it_refers_to_the_task_the_gateway_window_shows_was_last_touched() -> None:
    now = datetime.now(UTC)
    added = {"task_id": 12, "status": "created", "title": "Buy milk", "task": {"id": 12, "title": "Buy milk"}}
    window = [
        MessageOut(id=1, role="user", content="add buy milk", created_at=now),
        MessageOut(
            id=2,
            role="assistant",
            content="Added 'Buy milk' (task 12).",
            tool_calls=[ToolCallRecord(name="add_task", arguments={"title": "Buy milk"}, result=added)],
            created_at=now,
        ),
    ]
    items = [*history_to_input(window), {"role": "user", "content": "mark it done"}]
    output = await respond(BuiltinModel(), items, tools())
    assert [(c.name, arguments(c)) for c in output] == [("complete_task", {"task_id": 12})]


async def test_a_failed_call_is_reported_whatever_shape_the_output_has() -> None:
    items: list[Any] = [{"role": "user", "content": "complete task 9"}]
    (call,) = await respond(BuiltinModel(), items, tools())
    error = [{"type": "input_text", "text": "Task 9 was not found. Call list_tasks to see the user's tasks."}]
    items += [
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": error},
    ]
    (message,) = await respond(BuiltinModel(), items, tools())
    assert text_of(message) == "I couldn't complete task 9: Task 9 was not found."


async def test_a_plain_string_input_works() -> None:
    (call,) = await respond(BuiltinModel(), "add buy milk", tools())
    assert (call.name, arguments(call)) == ("add_task", {"title": "Buy milk"})


async def test_with_no_tools_it_says_it_cannot_reach_the_list() -> None:
    calls, text, _ = await converse("help", FakeTasks(), offered=[])
    assert calls == []
    assert "can't reach your task list" in text


async def test_the_stream_is_a_complete_responses_stream() -> None:
    model = BuiltinModel()
    items: list[TResponseInputItem] = [{"role": "user", "content": "hello"}]
    events = [
        event
        async for event in model.stream_response(
            None,
            items,
            ModelSettings(),
            tools(),
            None,
            [],
            ModelTracing.DISABLED,
            previous_response_id=None,
            conversation_id=None,
            prompt=None,
        )
    ]
    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(getattr(e, "delta", "") for e in events if e.type == "response.output_text.delta")
    final = events[-1].response.output  # type: ignore[union-attr]
    plain = await respond(model, items, tools())
    assert deltas == text_of(final[0]) == text_of(plain[0])
    assert kinds.count("response.output_text.delta") > 3


@pytest.mark.parametrize("seed", range(5))
async def test_arbitrary_text_always_gets_a_reply(seed: int) -> None:
    rng = random.Random(seed)
    vocabulary = [
        "add",
        "delete",
        "mark",
        "done",
        "it",
        "the",
        "milk",
        "one",
        "#",
        "3",
        "and",
        ",",
        "then",
        "show",
    ]
    vocabulary += ["list", "please", "'", '"', "?", "!", "task", "to", "rename", "x", "them", "first", "all"]
    for _ in range(60):
        message = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 12)))
        calls, text, _ = await converse(message, FakeTasks("Buy milk", "Milk the cow", "Call mom"))
        assert text.strip()
        assert all(call.call_id for call in calls)


async def test_a_long_title_is_cut_to_what_the_schema_allows() -> None:
    calls, _, _ = await converse("add " + "very " * 60 + "long task", FakeTasks())
    (call,) = calls
    assert 0 < len(arguments(call)["title"]) <= 200


async def test_due_dates_resolve_against_today() -> None:
    offered = tools(extended("add_task", due_date={"type": "string"}))
    calls, _, _ = await converse("add call mom tomorrow", FakeTasks(), offered=offered)
    assert [arguments(c) for c in calls] == [
        {"title": "Call mom", "due_date": str(TODAY + timedelta(days=1))}
    ]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("add call mom tomorrow at 9", {"title": "Call mom", "due": "tomorrow at 9"}),
        ("add pay rent every month on the 1st", {"title": "Pay rent", "due": "every month on the 1st"}),
        ("add water the plants, due friday", {"title": "Water the plants", "due": "friday"}),
        ("add read 1984", {"title": "Read 1984"}),
        ("add call may", {"title": "Call may"}),
        ("add file taxes normal priority", {"title": "File taxes", "priority": "medium"}),
        ("add fix the roof urgent", {"title": "Fix the roof", "priority": "high"}),
    ],
)
async def test_a_due_text_argument_gets_the_words_for_the_server_to_read(
    said: str, expected: dict[str, str]
) -> None:
    """The contract's `due` takes text: the task server reads it in the user's zone, so the words go as
    said (resolving them here, in the gateway's zone, could be a day off)."""
    offered = tools(extended("add_task", due={"type": "string"}, priority={"type": "string"}))
    calls, _, _ = await converse(said, FakeTasks(), offered=offered)
    assert [arguments(c) for c in calls] == [expected]
