"""An in-memory stand-in for the task server's answers, for driving `BuiltinModel` directly.

It follows the tool contract of issue 9 (trash, restore, undo, the activity log, bulk previews with a
confirmation token) closely enough for the model's decisions; the real server is what the corpus and
the chat tests run against.
"""

from __future__ import annotations

import json
from typing import Any

from agents import FunctionTool, ModelSettings, Tool, TResponseInputItem
from agents.models.interface import ModelTracing
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from chat_gateway.builtin_model import BuiltinModel

TASK_ID = {"type": "integer", "exclusiveMinimum": 0}
OPTIONAL_TEXT = {"anyOf": [{"type": "string", "maxLength": 2000}, {"type": "null"}], "default": None}
KEY = {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}], "default": None}
VERSION = {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
BULK = {
    "properties": {
        "task_ids": {"anyOf": [{"type": "array", "items": TASK_ID, "maxItems": 500}, {"type": "null"}]},
        "status": {"anyOf": [{"enum": ["all", "pending", "completed"], "type": "string"}, {"type": "null"}]},
        "confirmation_token": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "idempotency_key": KEY,
    }
}
# The seed's five tools.
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
# Issue 9's surface: the seed's tools with their new arguments, plus trash, undo, the log and bulk.
SCHEMAS_V2: dict[str, dict[str, Any]] = json.loads(json.dumps(SCHEMAS))
SCHEMAS_V2["list_tasks"]["properties"]["status"]["enum"].append("trashed")
for _name in ("add_task", "complete_task", "delete_task", "update_task"):
    SCHEMAS_V2[_name]["properties"]["idempotency_key"] = KEY
    if _name != "add_task":
        SCHEMAS_V2[_name]["properties"]["expected_version"] = VERSION
SCHEMAS_V2.update(
    {
        "restore_task": {"properties": {"task_id": TASK_ID, "idempotency_key": KEY}, "required": ["task_id"]},
        "undo": {"properties": {"change_id": VERSION, "idempotency_key": KEY}},
        "list_activity": {
            "properties": {
                "task_id": VERSION,
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                "cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            }
        },
        "complete_tasks": BULK,
        "delete_tasks": BULK,
    }
)


class ToolError(Exception):
    pass


class FakeTasks:
    """Answers tool calls like the task server does: structured JSON, or the error text."""

    def __init__(self, *titles: str) -> None:
        self.tasks: dict[int, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []
        self.tokens: dict[str, tuple[str, dict[int, int]]] = {}
        self.issued = 0
        for title in titles:
            self.add(title)

    def add(self, title: str, description: str | None = None) -> dict[str, Any]:
        task_id = max(self.tasks, default=0) + 1
        self.tasks[task_id] = {
            "id": task_id, "title": title, "description": description, "completed": False, "version": 1,
            "trashed_at": None,
        }  # fmt: skip
        self._log(task_id, "create", None, {"title": title})
        return self.tasks[task_id]

    def on_list(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks.values() if t["trashed_at"] is None]

    def run(self, name: str, arguments: dict[str, Any]) -> str:
        try:
            return json.dumps(self._run(name, arguments))
        except ToolError as e:
            return str(e)

    def _run(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if name == "add_task":
            added = self.add(arguments["title"], arguments.get("description"))
            return {"task_id": added["id"], "status": "created", "title": added["title"], "task": added}
        if name in ("list_tasks", "search_tasks"):
            wanted = arguments.get("status", "all")
            if wanted == "trashed":
                return {"tasks": [t for t in self.tasks.values() if t["trashed_at"]], "next_cursor": None}
            listed = [
                t for t in self.on_list() if wanted == "all" or t["completed"] == (wanted == "completed")
            ]
            return {"tasks": listed, "next_cursor": None}
        if name in ("complete_tasks", "delete_tasks"):
            return self._bulk(name, arguments)
        if name == "undo":
            return self._undo(arguments.get("change_id"))
        if name == "list_activity":
            wanted_id = arguments.get("task_id")
            changes = [c for c in reversed(self.log) if wanted_id is None or c["task_id"] == wanted_id]
            return {"changes": changes[: arguments.get("limit", 20)], "next_cursor": None}
        task = self.tasks.get(arguments["task_id"])
        trashed = task is not None and task["trashed_at"] is not None
        if name == "restore_task":
            if task is None or not trashed:
                raise ToolError(f"Task {arguments['task_id']} is not in the trash.")
            self._change(task, "restore", trashed=False)
            return {"task_id": task["id"], "status": "restored", "title": task["title"], "task": task}
        if task is None or trashed:
            raise ToolError(
                f"Task {arguments['task_id']} was not found. Call list_tasks to see the user's tasks."
            )
        if name == "delete_task":
            self._change(task, "delete", trashed=True)
            return {"task_id": task["id"], "status": "deleted", "title": task["title"]}
        if name == "complete_task":
            self._change(task, "complete", completed=True)
        else:
            values = {k: v for k, v in arguments.items() if k in ("title", "description", "completed")}
            kind = "reopen" if values.get("completed") is False else "update"
            self._change(task, kind, **values)
        return {"task_id": task["id"], "status": "updated", "title": task["title"], "task": task}

    def _change(self, task: dict[str, Any], kind: str, batch: str | None = None, **values: Any) -> None:
        before = {k: (task["trashed_at"] is not None if k == "trashed" else task[k]) for k in values}
        for key, value in values.items():
            if key == "trashed":
                task["trashed_at"] = "2025-03-05T10:00:00Z" if value else None
            else:
                task[key] = value
        task["version"] += 1
        self._log(task["id"], kind, before, values, batch)

    def _log(
        self, task_id: int, kind: str, before: Any, after: Any, batch: str | None = None
    ) -> dict[str, Any]:
        entry = {
            "id": len(self.log) + 1, "task_id": task_id, "title": self.tasks[task_id]["title"], "kind": kind,
            "before": before, "after": after, "batch": batch, "reverts": None, "undone": False,
        }  # fmt: skip
        self.log.append(entry)
        return entry

    def _bulk(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        action = "complete" if name == "complete_tasks" else "delete"
        token = arguments.get("confirmation_token")
        if token is not None:
            return self._confirm(action, token)
        if "task_ids" in arguments:
            missing = [i for i in arguments["task_ids"] if i not in {t["id"] for t in self.on_list()}]
            if missing:
                raise ToolError(f"Not on the list: task {missing[0]}. Nothing was changed; call list_tasks.")
            chosen = [self.tasks[i] for i in arguments["task_ids"]]
        else:
            status = arguments.get("status", "all")
            chosen = [
                t for t in self.on_list() if status == "all" or t["completed"] == (status == "completed")
            ]
        if action == "complete":
            chosen = [t for t in chosen if not t["completed"]]
        result: dict[str, Any] = {"action": action, "count": len(chosen), "confirmation_token": None}
        result["tasks"] = [{"id": t["id"], "title": t["title"], "version": t["version"]} for t in chosen]
        if not chosen:
            return {**result, "status": "nothing_to_do"}
        self.issued += 1
        token = f"token-{self.issued}"
        self.tokens[token] = (action, {t["id"]: t["version"] for t in chosen})
        return {**result, "status": "confirmation_required", "confirmation_token": token}

    def _confirm(self, action: str, token: str) -> dict[str, Any]:
        if token not in self.tokens or self.tokens[token][0] != action:
            raise ToolError("This confirmation token is not valid. Nothing was changed.")
        _, versions = self.tokens.pop(token)
        if any(self.tasks[i]["version"] != v or self.tasks[i]["trashed_at"] for i, v in versions.items()):
            raise ToolError("1 of the tasks changed since the preview. Nothing was changed; preview again.")
        batch = f"batch-{token}"
        for task_id in versions:
            if action == "complete":
                self._change(self.tasks[task_id], "complete", batch, completed=True)
            else:
                self._change(self.tasks[task_id], "delete", batch, trashed=True)
        tasks = [
            {"id": i, "title": self.tasks[i]["title"], "version": self.tasks[i]["version"]} for i in versions
        ]
        status = "completed" if action == "complete" else "deleted"
        return {"status": status, "action": action, "count": len(tasks), "tasks": tasks, "batch": batch}

    def _undo(self, change_id: int | None) -> dict[str, Any]:
        live = [c for c in reversed(self.log) if not c["undone"] and c["kind"] != "undo"]
        target = next((c for c in live if change_id is None or c["id"] == change_id), None)
        if target is None:
            raise ToolError("There is nothing to undo.")
        group = [c for c in live if target["batch"] and c["batch"] == target["batch"]] or [target]
        names = []
        for change in group:
            task = self.tasks[change["task_id"]]
            back = {"create": {"trashed": True}}.get(change["kind"], change["before"] or {})
            self._change(task, "undo", **back)
            change["undone"] = True
            names.append(f"'{task['title']}' (task {task['id']})")
        tasks = [self.tasks[c["task_id"]] for c in group]
        summary = f"Reverted the last change of {', '.join(names)}."
        return {"status": "undone", "change_id": len(self.log), "reverted": [c["id"] for c in group],
                "tasks": tasks, "summary": summary}  # fmt: skip


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
    model: BuiltinModel | None = None,
) -> tuple[list[ResponseFunctionToolCall], str, list[TResponseInputItem]]:
    """One turn the way the SDK runs it: call the model, run its calls, feed the outputs back."""
    model = model or BuiltinModel()
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
