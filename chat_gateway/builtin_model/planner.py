"""The model's state machine: from intents and the results so far, the next tool calls or the outcomes.

Each model call re-derives the whole plan. Call ids are `<turn key>_<intent>_<n>`, so the results in
the input say exactly which steps are done. Independent steps (adds, actions on tasks named by id) go
out together in one response; a step that depends on others waits for their results: a list after a
change, "it" after the add it refers to, anything named by title after the task list was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import changes
from .conversation import Turn
from .extras import SpokenDate
from .intents import Intent, Ref
from .references import TaskInfo, match_words, resolve
from .steps import MAX_PAGES, Call, Outcome, State, Step, make_call, read_all, record
from .toolbox import ADD, COMPLETE, DELETE, LIST, UNDO, UPDATE, Toolbox

__all__ = ["Call", "Outcome", "Step", "plan"]
_CHANGE_TOOLS = frozenset({COMPLETE, UPDATE, DELETE})


def plan(intents: Sequence[Intent], turn: Turn, tools: Toolbox) -> list[Call] | list[Outcome]:
    """The calls to make next, or, when every call has its result, what happened for each intent."""
    intents = changes.merge_deletes(intents)
    state = State(turn, tools, {}, delete_requests=sum(intent.action == "delete" for intent in intents))
    if tools.has(LIST):
        lookups = (("lookup", {"status": "all"}, state.tasks, _needs_lookup),
                   ("trash", {"status": "trashed"}, state.trash, changes.needs_trash))  # fmt: skip
        for key, arguments, into, needed in lookups:
            if any(needed(intent, tools) for intent in intents):
                pending = read_all(state, f"{turn.key}_{key}", arguments, into)
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
        _count(state, calls)
        waiting = [call for call in calls if call.call_id not in turn.results]
        if waiting:
            batch.extend(waiting)
            batch_open = batch_open and independent
            in_flight.update(call.arguments.get("task_id", 0) for call in waiting)
        _apply(state, outcome)
    return batch or state.outcomes


def _needs_lookup(intent: Intent, tools: Toolbox) -> bool:
    ref = intent.ref
    if ref is None or not ref.needs_lookup or intent.action in ("list", "restore"):
        return False
    # A scope ("delete everything") goes to the bulk tool as a filter: its preview is the lookup.
    return not (ref.scope is not None and changes.bulk_tool(intent, tools) is not None)


def _independent(intent: Intent, in_flight: set[int]) -> bool:
    """True when the intent can run alongside calls still in flight: an add, or an action by new ids."""
    if intent.action == "add":
        return True
    ref = intent.ref
    if intent.action in ("list", "undo", "confirm") or ref is None or not ref.ids:
        return False
    if ref.needs_lookup or ref.pronoun or (intent.action == "delete" and len(ref.ids) > 1):
        return False
    return not in_flight.intersection(ref.ids)


def _count(state: State, calls: list[Call]) -> None:
    """Keep the per-message limits' tally of the calls planned so far, answered or not."""
    for call in calls:
        task_id = call.arguments.get("task_id")
        if call.name == UNDO:
            state.changed.add(call.call_id)
        elif call.name in _CHANGE_TOOLS and isinstance(task_id, int) and task_id not in state.created:
            state.changed.add(task_id)
            if call.name == DELETE:
                state.deleted.add(task_id)


def _outcome(index: int, intent: Intent, state: State) -> tuple[Outcome, list[Call]]:
    outcome = Outcome(intent)
    if intent.action == "add" and not intent.title:
        outcome.problem = "no_title"
        return outcome, []
    if intent.action == "add":
        values: dict[str, Any] = {"title": intent.title, "description": intent.description}
        values.update(_extras(state.tools, ADD, intent))
        call = make_call(state, ADD, f"{index}_0", values)
        if call is None:
            outcome.problem = "unsupported"
            return outcome, []
        return outcome, record(state, outcome, [call], [None])
    if intent.action == "list":
        return outcome, _list_calls(index, intent, state, outcome)
    if intent.action == "confirm":
        return outcome, changes.confirm_calls(index, intent, state, outcome)
    if intent.action == "undo":
        return outcome, changes.undo_calls(index, intent, state, outcome)
    if intent.action not in ("complete", "reopen", "delete", "update", "restore"):
        return outcome, []
    bulk = changes.bulk_tool(intent, state.tools)
    if bulk is not None and intent.ref is not None and intent.ref.scope is not None:
        return outcome, changes.preview_calls(index, state, outcome, bulk, None)
    targets = _targets(intent, state, outcome)
    if not targets:
        return outcome, []
    if intent.action == "restore":
        return outcome, changes.restore_calls(index, state, outcome, targets)
    existing = {t.id for t in targets} - state.created
    if changes.over_limit(intent.action, existing, state):
        if bulk is None:
            outcome.problem = "too_many"
            return outcome, []
        return outcome, changes.preview_calls(index, state, outcome, bulk, targets)
    calls: list[Call] = []
    for n, target in enumerate(targets):
        call = _action_call(state, intent, target.id, f"{index}_{n}")
        if call is None:
            outcome.problem = "unsupported"
            return outcome, []
        calls.append(call)
    return outcome, record(
        state, outcome, calls, [state.tasks.get(t.id, t if t.title else None) for t in targets]
    )


def _action_call(state: State, intent: Intent, task_id: int, suffix: str) -> Call | None:
    if intent.action == "complete":
        if state.tools.has(COMPLETE):
            return make_call(state, COMPLETE, suffix, {"task_id": task_id})
        return make_call(state, UPDATE, suffix, {"task_id": task_id, "completed": True})
    if intent.action == "reopen":
        if not state.tools.accepts(UPDATE, "completed"):
            return None
        return make_call(state, UPDATE, suffix, {"task_id": task_id, "completed": False})
    if intent.action == "delete":
        return make_call(state, DELETE, suffix, {"task_id": task_id})
    values: dict[str, Any] = {"task_id": task_id, "title": intent.title, "description": intent.description}
    values.update(_extras(state.tools, UPDATE, intent))
    call = make_call(state, UPDATE, suffix, values)
    # An update that lost every change to the schema (say, a priority the server cannot store) is no update.
    return call if call is not None and len(call.arguments) > 1 else None


def _extras(tools: Toolbox, tool: str, intent: Intent) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for kind, value in intent.extras:
        name = tools.extra_argument(tool, kind)
        if name is None:
            continue
        if isinstance(value, SpokenDate):
            # Only a `due` that takes text gets the words (the contract's: the server reads them in the
            # user's zone); `due_date`, `deadline` or a `format: date` get an ISO date.
            field = tools.field(tool, name)
            iso = name != "due" or (field is not None and field.format in ("date", "date-time"))
            resolved = value.iso_date() if iso else value.phrase
            if resolved is not None:
                values[name] = resolved
            continue
        values[name] = list(value) if isinstance(value, tuple) else value
    return values


def _list_calls(index: int, intent: Intent, state: State, outcome: Outcome) -> list[Call]:
    search = state.tools.search() if intent.query else None
    status_field = state.tools.field(LIST, "status")
    server_status = (
        intent.status if status_field is None or intent.status in (status_field.enum or ()) else "all"
    )
    tool, values = LIST, dict[str, Any](status=server_status)
    # Date and tag filters go to the server when list_tasks takes them (it reads the days in the user's zone).
    values.update({name: value for name, value in intent.filters if state.tools.accepts(LIST, name)})
    if search is not None:
        tool = search[0]
        values = {**values, search[1]: intent.query} if tool == LIST else {search[1]: intent.query}
    calls: list[Call] = []
    cursor: str | None = None
    tasks: list[TaskInfo] = []
    for page in range(MAX_PAGES):
        call = make_call(
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


def _targets(intent: Intent, state: State, outcome: Outcome) -> list[TaskInfo]:
    ref = intent.ref
    if ref is None:
        outcome.problem = "no_reference"
        return []
    # "Restore" looks in the trash; everything else on the list.
    pool = state.trash if intent.action == "restore" else state.tasks
    if ref.ids:
        return [pool.get(i) or _known(state, i) or TaskInfo(i, "") for i in ref.ids]
    if ref.pronoun is not None:
        return _pronoun_targets(ref, state, outcome)
    if state.lookup_error:
        outcome.problem, outcome.error = "lookup_failed", state.lookup_error
        return []
    if ref.ordinal is not None:
        # With nothing shown before, "the first task" counts through the whole list, oldest first.
        ordered = sorted(pool.values(), key=lambda task: task.id)
        index = ref.ordinal - 1 if ref.ordinal > 0 else len(ordered) - 1
        if 0 <= index < len(ordered):
            return [ordered[index]]
        outcome.problem = "no_reference"
        return []
    found = resolve(ref, list(pool.values()), intent.action)
    outcome.candidates, outcome.missing = found.candidates, found.missing
    targets = list(found.tasks)
    if ref.scope is not None and intent.action in ("complete", "reopen"):
        # "complete all" means the pending ones; a finished task needs no second completion.
        targets = [t for t in targets if t.completed is not (intent.action == "complete")]
    if ref.scope is not None and not targets:
        outcome.problem = "nothing"
    return [] if found.candidates else targets


def _pronoun_targets(ref: Ref, state: State, outcome: Outcome) -> list[TaskInfo]:
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


def _known(state: State, task_id: int) -> TaskInfo | None:
    """The title an earlier turn showed for this id; its done state may be stale, so it is dropped."""
    known = next((t for t in state.turn.history.touched if t.id == task_id), None)
    return TaskInfo(known.id, known.title) if known is not None else None


def _apply(state: State, outcome: Outcome) -> None:
    """Keep the looked-up list current with this turn's results, for references that come after."""
    for step in outcome.steps:
        task = step.result.task()
        if task is None:
            continue
        if step.call.name == ADD:
            state.created.add(task.id)
        if step.call.name == DELETE:
            state.tasks.pop(task.id, None)
        elif step.call.name != LIST:
            state.tasks[task.id] = task
