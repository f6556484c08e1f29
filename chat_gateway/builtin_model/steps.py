"""The plan's vocabulary: calls, their results, what each intent came to, and the state of one plan.

Shared by planner.py (the order of steps) and changes.py (bulk changes, undo and restore).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .conversation import ToolResult, Turn
from .intents import Intent
from .references import TaskInfo
from .toolbox import LIST, Toolbox

MAX_PAGES = 10
# What one message may change without a confirmation (the gateway enforces the same limits): one task
# trashed with delete_task, and three existing tasks changed by single-task tools in all.
MAX_DELETES = 1
MAX_CHANGES = 3
Problem = Literal[
    "no_reference",
    "no_title",
    "unsupported",
    "lookup_failed",
    "nothing",
    "skipped",
    "too_many",
    "nothing_pending",
    "nothing_deleted",
    "nothing_changed",
    "",
]


@dataclass(frozen=True)
class Call:
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Step:
    """One call made for an intent, its result, and the task as it was before (when known)."""

    call: Call
    result: ToolResult
    before: TaskInfo | None = None


@dataclass
class Outcome:
    intent: Intent
    steps: list[Step] = field(default_factory=list)
    candidates: tuple[TaskInfo, ...] = ()
    missing: tuple[str, ...] = ()
    problem: Problem = ""
    error: str = ""
    listed: list[TaskInfo] | None = None
    more: bool = False

    def produced(self) -> list[TaskInfo]:
        """Tasks this intent created or changed, for "it" later in the same message."""
        return [task for step in self.steps if (task := step.result.task()) is not None]


@dataclass
class State:
    turn: Turn
    tools: Toolbox
    tasks: dict[int, TaskInfo]
    trash: dict[int, TaskInfo] = field(default_factory=dict)
    lookup_error: str = ""
    outcomes: list[Outcome] = field(default_factory=list)
    # The limits' bookkeeping: tasks this turn created (they do not count), trashed and changed.
    created: set[int] = field(default_factory=set)
    delete_requests: int = 0
    deleted: set[int] = field(default_factory=set)
    changed: set[Hashable] = field(default_factory=set)


def make_call(state: State, tool: str, suffix: str, values: dict[str, Any]) -> Call | None:
    arguments = state.tools.arguments(tool, values)
    return None if arguments is None else Call(f"{state.turn.key}_{suffix}", tool, arguments)


def record(
    state: State, outcome: Outcome, calls: list[Call], befores: Sequence[TaskInfo | None]
) -> list[Call]:
    """Note the results the calls already have on the outcome; returns the calls."""
    for call, before in zip(calls, befores, strict=True):
        result = state.turn.results.get(call.call_id)
        if result is not None:
            outcome.steps.append(Step(call, result, before))
    return calls


def read_all(state: State, key: str, arguments: dict[str, Any], into: dict[int, TaskInfo]) -> list[Call]:
    """Read every page of list_tasks into `into`; returns the call still needed, if any."""
    cursor: str | None = None
    for page in range(MAX_PAGES):
        call = make_call(
            state, LIST, f"{key}{page}", {**arguments, "limit": state.tools.page_size(), "cursor": cursor}
        )
        if call is None:
            state.lookup_error = "The task list cannot be read here."
            return []
        result = state.turn.results.get(call.call_id)
        if result is None:
            return [call]
        if not result.ok:
            state.lookup_error = result.error
            return []
        into.update((task.id, task) for task in result.tasks())
        next_cursor = result.data.get("next_cursor")
        if not isinstance(next_cursor, str) or not next_cursor:
            return []
        cursor = next_cursor
    return []
