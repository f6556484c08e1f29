"""What the offered tools can do, read from their JSON schemas on every call.

The model never assumes an argument exists: a field is passed only when the tool's schema has it, which
is how the model picks up a new feature (a due date, a priority, tags, a search tool) the day the task
server starts offering it, and why it keeps working if a deployment offers fewer tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agents import FunctionTool, Tool

ADD, LIST, COMPLETE, DELETE, UPDATE = "add_task", "list_tasks", "complete_task", "delete_task", "update_task"
RESTORE, UNDO, ACTIVITY = "restore_task", "undo", "list_activity"
# The bulk tools preview first and act only with the confirmation token of that preview.
COMPLETE_MANY, DELETE_MANY = "complete_tasks", "delete_tasks"
BULK_TOOLS = {"complete": COMPLETE_MANY, "delete": DELETE_MANY}
_EXTRA_NAMES: Mapping[str, tuple[str, ...]] = {
    "due": ("due_date", "due", "due_at", "due_on", "deadline"),
    "priority": ("priority",),
    "tags": ("tags", "labels"),
}
_KIND_OF = {name: kind for kind, names in _EXTRA_NAMES.items() for name in names}
_QUERY_NAMES = ("query", "search", "q", "text", "contains")
_SEARCH_TOOLS = ("search_tasks", "find_tasks")
_PRIORITY_RANK = {"low": 0, "normal": 1, "medium": 1, "high": 2, "urgent": 3}


@dataclass(frozen=True)
class Field:
    """The parts of one property's schema the model uses; `anyOf` with null is unwrapped."""

    types: frozenset[str]
    enum: tuple[Any, ...] | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    format: str | None = None

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any]) -> Field:
        branches = [schema, *schema.get("anyOf", ()), *schema.get("oneOf", ())]
        types: set[str] = set()
        enum: tuple[Any, ...] | None = None
        max_length = minimum = maximum = None
        format_: str | None = None
        for branch in branches:
            format_ = format_ or branch.get("format")
            kind = branch.get("type")
            types.update(kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else [])
            enum = enum or (tuple(branch["enum"]) if "enum" in branch else None)
            max_length = max_length or branch.get("maxLength")
            minimum = minimum if minimum is not None else branch.get("minimum")
            maximum = maximum if maximum is not None else branch.get("maximum")
        return cls(frozenset(types), enum, max_length, minimum, maximum, format_)


class Toolbox:
    """Built on every model call, so it parses a property's schema only when an argument needs it."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._properties: dict[str, Mapping[str, Any]] = {}
        self._required: dict[str, Any] = {}
        self._parsed: dict[tuple[str, str], Field] = {}
        for tool in tools:
            if isinstance(tool, FunctionTool):
                schema = tool.params_json_schema or {}
                self._properties[tool.name] = schema.get("properties") or {}
                self._required[tool.name] = schema.get("required") or ()

    def has(self, tool: str) -> bool:
        return tool in self._properties

    def accepts(self, tool: str, argument: str) -> bool:
        return argument in self._properties.get(tool, {})

    def field(self, tool: str, argument: str) -> Field | None:
        key = (tool, argument)
        if key not in self._parsed:
            schema = self._properties.get(tool, {}).get(argument)
            if not isinstance(schema, Mapping):
                return None
            self._parsed[key] = Field.from_schema(schema)
        return self._parsed[key]

    def extra_argument(self, tool: str, kind: str) -> str | None:
        """The name `tool` uses for an optional feature such as "due", or None if it has none."""
        return next((name for name in _EXTRA_NAMES.get(kind, ()) if self.accepts(tool, name)), None)

    def features(self, tool: str) -> frozenset[str]:
        return frozenset(_KIND_OF[name] for name in self._properties.get(tool, ()) if name in _KIND_OF)

    def search(self) -> tuple[str, str] | None:
        """(tool, argument) that filters tasks by text on the server, if any tool offers that."""
        for tool in (*_SEARCH_TOOLS, LIST):
            for name in _QUERY_NAMES:
                if self.accepts(tool, name):
                    return tool, name
        return None

    def page_size(self) -> int | None:
        limit = self.field(LIST, "limit")
        return int(limit.maximum) if limit is not None and limit.maximum is not None else None

    def arguments(self, tool: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """Keep only what `tool` accepts, fitted to its limits; None when a required value is missing."""
        if tool not in self._properties:
            return None
        arguments: dict[str, Any] = {}
        for name, value in values.items():
            spec = self.field(tool, name) if value is not None else None
            fitted = _fit(spec, value) if spec is not None else None
            if fitted is not None:
                arguments[name] = fitted
        if not all(name in arguments for name in self._required[tool]):
            return None
        return arguments


def _fit(spec: Field, value: Any) -> Any:
    if spec.enum is not None and value not in spec.enum:
        return _closest_enum(spec.enum, value)
    if isinstance(value, str) and spec.max_length is not None and len(value) > spec.max_length:
        cut = value[: spec.max_length]
        return cut.rsplit(" ", 1)[0] if " " in cut else cut
    if isinstance(value, str) and "integer" in spec.types and value in _PRIORITY_RANK:
        return _scaled_priority(spec, value)
    return value


def _closest_enum(choices: tuple[Any, ...], value: Any) -> Any:
    """Map a spoken priority ("urgent") onto whatever scale the schema uses ("high")."""
    if not isinstance(value, str):
        return None
    lowered = {str(choice).lower(): choice for choice in choices}
    if value.lower() in lowered:
        return lowered[value.lower()]
    rank = _PRIORITY_RANK.get(value.lower())
    ranked = sorted((r, c) for name, c in lowered.items() if (r := _PRIORITY_RANK.get(name)) is not None)
    if rank is None or not ranked:
        return None
    return min(ranked, key=lambda pair: (abs(pair[0] - rank), -pair[0]))[1]


def _scaled_priority(spec: Field, value: str) -> int | None:
    if spec.minimum is None or spec.maximum is None:
        return None
    low, high = int(spec.minimum), int(spec.maximum)
    return low + round((high - low) * _PRIORITY_RANK[value] / 3)
