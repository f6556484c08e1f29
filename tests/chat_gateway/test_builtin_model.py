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
from agents import FunctionTool, ModelSettings, Tool, TResponseInputItem
from agents.models.interface import ModelTracing
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from chat_gateway.builtin_model import BuiltinModel
from chat_gateway.history import history_to_input
from shared.schemas import MessageOut, ToolCallRecord

TODAY = date(2025, 3, 5)  # A Wednesday.
TASK_ID = {"type": "integer", "exclusiveMinimum": 0}
OPTIONAL_TEXT = {"anyOf": [{"type": "string", "maxLength": 2000}, {"type": "null"}], "default": None}
SCHEMAS: dict[str, dict[str, Any]] = {
    "add_task": {
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": OPTIONAL_TEXT,
        },
        "required": ["title"],
    },
    "list_tasks": {
        "properties": {
            "status": {"enum": ["all", "pending", "completed"], "type": "string", "default": "all"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        }
    },
    "complete_task": {"properties": {"task_id": TASK_ID}, "required": ["task_id"]},
    "delete_task": {"properties": {"task_id": TASK_ID}, "required": ["task_id"]},
    "update_task": {
        "properties": {
            "task_id": TASK_ID,
            "title": {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}]},
            "description": OPTIONAL_TEXT,
            "completed": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
        },
        "required": ["task_id"],
    },
}


async def _unused(context: Any, arguments: str) -> str:
    raise AssertionError("the model never runs tools itself")


def tools(schemas: dict[str, dict[str, Any]] = SCHEMAS) -> list[Tool]:
    return [
        FunctionTool(
            name=name,
            description=name,
            params_json_schema={"type": "object", **schema},
            on_invoke_tool=_unused,
            strict_json_schema=False,
        )
        for name, schema in schemas.items()
    ]


def extended(tool: str, **properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The base schemas, with `tool` offering extra properties (a feature the server gained)."""
    schemas = json.loads(json.dumps(SCHEMAS))
    schemas[tool]["properties"].update(properties)
    return dict(schemas)


class FakeTasks:
    """Answers tool calls like the task server does: structured JSON, or the error text."""

    def __init__(self, *titles: str) -> None:
        self.tasks: dict[int, dict[str, Any]] = {}
        for title in titles:
            self.add(title)

    def add(self, title: str, description: str | None = None) -> dict[str, Any]:
        task_id = max(self.tasks, default=0) + 1
        self.tasks[task_id] = {"id": task_id, "title": title, "description": description, "completed": False}
        return self.tasks[task_id]

    def run(self, name: str, arguments: dict[str, Any]) -> str:
        if name == "add_task":
            task = self.add(arguments["title"], arguments.get("description"))
            return json.dumps(
                {"task_id": task["id"], "status": "created", "title": task["title"], "task": task}
            )
        if name in ("list_tasks", "search_tasks"):
            wanted = arguments.get("status", "all")
            listed = [
                t for t in self.tasks.values() if wanted == "all" or t["completed"] == (wanted == "completed")
            ]
            return json.dumps({"tasks": listed, "next_cursor": None})
        found = self.tasks.get(arguments["task_id"])
        if found is None:
            return f"Task {arguments['task_id']} was not found. Call list_tasks to see the user's tasks."
        task = found
        if name == "delete_task":
            del self.tasks[task["id"]]
            return json.dumps({"task_id": task["id"], "status": "deleted", "title": task["title"]})
        task.update({k: v for k, v in arguments.items() if k != "task_id"})
        if name == "complete_task":
            task["completed"] = True
        return json.dumps({"task_id": task["id"], "status": "updated", "title": task["title"], "task": task})


async def respond(model: BuiltinModel, items: str | list[Any], offered: list[Tool]) -> list[Any]:
    response = await model.get_response(
        None,
        items,
        ModelSettings(),
        offered,
        None,
        [],
        ModelTracing.DISABLED,
        previous_response_id=None,
        conversation_id=None,
        prompt=None,
    )
    return list(response.output)


async def converse(
    message: str,
    store: FakeTasks,
    *,
    offered: list[Tool] | None = None,
    history: list[TResponseInputItem] | None = None,
) -> tuple[list[ResponseFunctionToolCall], str, list[TResponseInputItem]]:
    """One turn the way the SDK runs it: call the model, run its calls, feed the outputs back."""
    model = BuiltinModel(today=lambda: TODAY)
    items: list[TResponseInputItem] = [*(history or []), {"role": "user", "content": message}]
    calls: list[ResponseFunctionToolCall] = []
    for _ in range(10):
        output = await respond(model, items, tools() if offered is None else offered)
        if isinstance(output[0], ResponseOutputMessage):
            return calls, text_of(output[0]), items
        for call in output:
            assert isinstance(call, ResponseFunctionToolCall)
            calls.append(call)
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
            result = store.run(call.name, json.loads(call.arguments))
            items.append({"type": "function_call_output", "call_id": call.call_id, "output": result})
    raise AssertionError("the model never finished the turn")


def arguments(call: Any) -> dict[str, Any]:
    assert isinstance(call, ResponseFunctionToolCall)
    return dict(json.loads(call.arguments))


def text_of(item: Any) -> str:
    assert isinstance(item, ResponseOutputMessage)
    part = item.content[0]
    assert isinstance(part, ResponseOutputText)
    return part.text


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
