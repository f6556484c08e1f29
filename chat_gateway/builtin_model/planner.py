"""The model's state machine: from intents and the results so far, the next tool calls or the outcomes.

Each model call re-derives the whole plan. Call ids are `<turn key>_<intent>_<n>`, so the results in
the input say exactly which steps are done. Independent steps (adds, actions on tasks named by id) go
out together in one response; a step that depends on others waits for their results: a list after a
change, "it" after the add it refers to, anything named by title after the task list was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .conversation import ToolResult, Turn
from .intents import Intent, Ref
from .references import TaskInfo, match_words, resolve
from .toolbox import ADD, COMPLETE, DELETE, LIST, UPDATE, Toolbox

_MAX_PAGES = 10
Problem = Literal["no_reference", "no_title", "unsupported", "lookup_failed", "nothing", "skipped", ""]


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
class _State:
    turn: Turn
    tools: Toolbox
    tasks: dict[int, TaskInfo]
    lookup_error: str = ""
    outcomes: list[Outcome] = field(default_factory=list)


def plan(intents: Sequence[Intent], turn: Turn, tools: Toolbox) -> list[Call] | list[Outcome]:
    """The calls to make next, or, when every call has its result, what happened for each intent."""
    needs_lookup = any(i.ref is not None and i.ref.needs_lookup and i.action != "list" for i in intents)
    state = _State(turn, tools, {})
    if needs_lookup and tools.has(LIST):
        pending = _read_all(state, f"{turn.key}_lookup", {"status": "all"})
        if pending:
            return pending
    batch: list[Call] = []
    batch_open = True
    in_flight: set[int] = set()
    for index, intent in enumerate(intents):
        independent = _independent(intent, in_flight)
        if batch and not (batch_open and independent):
            break
        outcome, calls = _outcome(index, intent, state)
        state.outcomes.append(outcome)
        waiting = [call for call in calls if call.call_id not in turn.results]
        if waiting:
            batch.extend(waiting)
            batch_open = batch_open and independent
            in_flight.update(call.arguments.get("task_id", 0) for call in waiting)
        _apply(state, outcome)
    return batch or state.outcomes


def _independent(intent: Intent, in_flight: set[int]) -> bool:
    """True when the intent can run alongside calls still in flight: an add, or an action by new ids."""
    if intent.action == "add":
        return True
    ref = intent.ref
    if intent.action == "list" or ref is None or not ref.ids or ref.needs_lookup or ref.pronoun:
        return False
    return not in_flight.intersection(ref.ids)


def _read_all(state: _State, key: str, arguments: dict[str, Any]) -> list[Call]:
    """Read every page of list_tasks into `state.tasks`; returns the call still needed, if any."""
    cursor: str | None = None
    for page in range(_MAX_PAGES):
        call = _call(
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
        state.tasks.update((task.id, task) for task in result.tasks())
        next_cursor = result.data.get("next_cursor")
        if not isinstance(next_cursor, str) or not next_cursor:
            return []
        cursor = next_cursor
    return []


def _call(state: _State, tool: str, suffix: str, values: dict[str, Any]) -> Call | None:
    arguments = state.tools.arguments(tool, values)
    return None if arguments is None else Call(f"{state.turn.key}_{suffix}", tool, arguments)


def _steps(
    state: _State, outcome: Outcome, calls: list[Call], befores: Sequence[TaskInfo | None]
) -> list[Call]:
    for call, before in zip(calls, befores, strict=True):
        result = state.turn.results.get(call.call_id)
        if result is not None:
            outcome.steps.append(Step(call, result, before))
    return calls


def _outcome(index: int, intent: Intent, state: _State) -> tuple[Outcome, list[Call]]:
    outcome = Outcome(intent)
    if intent.action == "add" and not intent.title:
        outcome.problem = "no_title"
        return outcome, []
    if intent.action == "add":
        values: dict[str, Any] = {"title": intent.title, "description": intent.description}
        values.update(_extras(state.tools, ADD, intent))
        call = _call(state, ADD, f"{index}_0", values)
        if call is None:
            outcome.problem = "unsupported"
            return outcome, []
        return outcome, _steps(state, outcome, [call], [None])
    if intent.action == "list":
        return outcome, _list_calls(index, intent, state, outcome)
    if intent.action not in ("complete", "reopen", "delete", "update"):
        return outcome, []
    targets = _targets(intent, state, outcome)
    if not targets:
        return outcome, []
    calls: list[Call] = []
    for n, target in enumerate(targets):
        call = _action_call(state, intent, target.id, f"{index}_{n}")
        if call is None:
            outcome.problem = "unsupported"
            return outcome, []
        calls.append(call)
    return outcome, _steps(
        state, outcome, calls, [state.tasks.get(t.id, t if t.title else None) for t in targets]
    )


def _action_call(state: _State, intent: Intent, task_id: int, suffix: str) -> Call | None:
    if intent.action == "complete":
        if state.tools.has(COMPLETE):
            return _call(state, COMPLETE, suffix, {"task_id": task_id})
        return _call(state, UPDATE, suffix, {"task_id": task_id, "completed": True})
    if intent.action == "reopen":
        if not state.tools.accepts(UPDATE, "completed"):
            return None
        return _call(state, UPDATE, suffix, {"task_id": task_id, "completed": False})
    if intent.action == "delete":
        return _call(state, DELETE, suffix, {"task_id": task_id})
    values: dict[str, Any] = {"task_id": task_id, "title": intent.title, "description": intent.description}
    values.update(_extras(state.tools, UPDATE, intent))
    call = _call(state, UPDATE, suffix, values)
    # An update that lost every change to the schema (say, a priority the server cannot store) is no update.
    return call if call is not None and len(call.arguments) > 1 else None


def _extras(tools: Toolbox, tool: str, intent: Intent) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for kind, value in intent.extras:
        name = tools.extra_argument(tool, kind)
        if name is not None:
            values[name] = list(value) if isinstance(value, tuple) else value
    return values


def _list_calls(index: int, intent: Intent, state: _State, outcome: Outcome) -> list[Call]:
    search = state.tools.search() if intent.query else None
    status_field = state.tools.field(LIST, "status")
    server_status = (
        intent.status if status_field is None or intent.status in (status_field.enum or ()) else "all"
    )
    tool, values = LIST, dict[str, Any](status=server_status)
    if search is not None:
        tool = search[0]
        values = {**values, search[1]: intent.query} if tool == LIST else {search[1]: intent.query}
    calls: list[Call] = []
    cursor: str | None = None
    tasks: list[TaskInfo] = []
    for page in range(_MAX_PAGES):
        call = _call(
            state, tool, f"{index}_{page}", {**values, "limit": state.tools.page_size(), "cursor": cursor}
        )
        if call is None:
            outcome.problem = "unsupported"
            return calls
        calls.append(call)
        result = state.turn.results.get(call.call_id)
        if result is None:
            return calls
        outcome.steps.append(Step(call, result))
        if not result.ok:
            outcome.error = result.error
            return calls
        tasks.extend(result.tasks())
        next_cursor = result.data.get("next_cursor")
        if not isinstance(next_cursor, str) or not next_cursor:
            break
        cursor = next_cursor
    else:
        outcome.more = True
    outcome.listed = _filter(tasks, intent, search is None)
    return calls


def _filter(tasks: list[TaskInfo], intent: Intent, locally: bool) -> list[TaskInfo]:
    if intent.status != "all":
        tasks = [t for t in tasks if t.completed is None or t.completed is (intent.status == "completed")]
    if intent.ref is not None and intent.ref.ids:
        tasks = [t for t in tasks if t.id in intent.ref.ids]
    if intent.query and locally:
        tasks = match_words(intent.query, tasks)
    return tasks


def _targets(intent: Intent, state: _State, outcome: Outcome) -> list[TaskInfo]:
    ref = intent.ref
    if ref is None:
        outcome.problem = "no_reference"
        return []
    if ref.ids:
        return [state.tasks.get(i) or _known(state, i) or TaskInfo(i, "") for i in ref.ids]
    if ref.pronoun is not None:
        return _pronoun_targets(ref, state, outcome)
    if state.lookup_error:
        outcome.problem, outcome.error = "lookup_failed", state.lookup_error
        return []
    if ref.ordinal is not None:
        # With nothing shown before, "the first task" counts through the whole list, oldest first.
        ordered = sorted(state.tasks.values(), key=lambda task: task.id)
        index = ref.ordinal - 1 if ref.ordinal > 0 else len(ordered) - 1
        if 0 <= index < len(ordered):
            return [ordered[index]]
        outcome.problem = "no_reference"
        return []
    found = resolve(ref, list(state.tasks.values()), intent.action)
    outcome.candidates, outcome.missing = found.candidates, found.missing
    targets = list(found.tasks)
    if ref.scope is not None and intent.action in ("complete", "reopen"):
        # "complete all" means the pending ones; a finished task needs no second completion.
        targets = [t for t in targets if t.completed is not (intent.action == "complete")]
    if ref.scope is not None and not targets:
        outcome.problem = "nothing"
    return [] if found.candidates else targets


def _pronoun_targets(ref: Ref, state: _State, outcome: Outcome) -> list[TaskInfo]:
    earlier = [o for o in state.outcomes if o.intent.mutates]
    if earlier:
        # "add milk and mark it done": "it" is what this message already worked on.
        source = earlier[-1:] if ref.pronoun == "it" else earlier
        produced = [task for o in source for task in o.produced()]
        if not produced:
            outcome.problem = "skipped"
            return []
    else:
        produced = list(state.turn.history.touched)
    if not produced:
        outcome.problem = "no_reference"
        return []
    if ref.pronoun == "it" and len(produced) > 1:
        outcome.candidates = tuple(produced)
        return []
    return produced


def _known(state: _State, task_id: int) -> TaskInfo | None:
    """The title an earlier turn showed for this id; its done state may be stale, so it is dropped."""
    known = next((t for t in state.turn.history.touched if t.id == task_id), None)
    return TaskInfo(known.id, known.title) if known is not None else None


def _apply(state: _State, outcome: Outcome) -> None:
    """Keep the looked-up list current with this turn's results, for references that come after."""
    for step in outcome.steps:
        task = step.result.task()
        if task is None:
            continue
        if step.call.name == DELETE:
            state.tasks.pop(task.id, None)
        elif step.call.name != LIST:
            state.tasks[task.id] = task
