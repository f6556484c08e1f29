"""Planning the changes that need more than one plain call: bulk previews, confirmations, undo, restore.

Bulk: a message that would trash two tasks or more, change more than three, or act on a scope ("all",
"everything", "all completed") calls `delete_tasks` / `complete_tasks` without a token. That only
previews; the reply asks, and the change happens in the next turn, when a plain yes sends back the
token of that preview and nothing else (see confirmation.py). The model has no other way to act on
many tasks: the single-task calls of one message stay within the limits in steps.py.

Undo: "undo" calls `undo()`; "restore what I deleted" finds the latest deletion still in effect in the
activity log and undoes that change (a bulk deletion comes back whole); "undo task 3" undoes the latest
change of that task. Restore: a task named by id, title words or "it" is taken out of the trash with
`restore_task`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .intents import Intent, Ref
from .references import TaskInfo, resolve
from .steps import MAX_CHANGES, MAX_DELETES, Call, Outcome, State, Step, make_call, record
from .toolbox import ACTIVITY, BULK_TOOLS, RESTORE, UNDO, Toolbox

_ACTIVITY_PAGE = 100
# More tasks than this named by "them" come back through the undo of their deletion, in one step.
_MAX_RESTORES = 3


def merge_deletes(intents: Sequence[Intent]) -> list[Intent]:
    """ "Delete task 1 and delete task 2", "delete the milk one and remove the eggs one": one deletion of
    both, so one preview and one yes (and one undo) cover them. Mixed references stay apart."""
    deletes = [i for i in intents if i.action == "delete" and i.ref is not None and _plain(i.ref)]
    if len(deletes) < 2:
        return list(intents)
    refs = [d.ref for d in deletes if d.ref is not None]
    if all(ref.ids for ref in refs):
        ref = Ref(ids=tuple(dict.fromkeys(i for r in refs for i in r.ids)))
    elif all(ref.words is not None and not ref.ids for ref in refs):
        parts = tuple(p for r in refs for p in (r.parts or (r.words or "",)))
        ref = Ref(words=" and ".join(r.words or "" for r in refs), parts=parts)
    else:
        return list(intents)
    first = deletes[0]
    merged = [replace(first, ref=ref) if i is first else i for i in intents]
    return [i for i in merged if not any(i is d for d in deletes[1:])]


def _plain(ref: Ref) -> bool:
    return ref.pronoun is None and ref.scope is None and ref.ordinal is None


def bulk_tool(intent: Intent, tools: Toolbox) -> str | None:
    """The bulk tool for the intent's action, if it has one and the server offers it."""
    tool = BULK_TOOLS.get(intent.action)
    return tool if tool is not None and tools.has(tool) else None


def needs_trash(intent: Intent, tools: Toolbox) -> bool:
    """True when the intent names a task by its words that may be in the trash."""
    ref = intent.ref
    if ref is None or ref.scope is not None or not ref.needs_lookup:
        return False
    return intent.action == "restore" or intent.action == "undo"


def over_limit(action: str, task_ids: set[int], state: State) -> bool:
    """True when acting on `task_ids` one by one would pass what one message may do unconfirmed."""
    if action == "delete" and (state.delete_requests > 1 or len(task_ids | state.deleted) > MAX_DELETES):
        # "Delete task 1 and delete task 2" is two tasks: both wait for the yes, not just the second.
        return True
    return len(task_ids | state.changed) > MAX_CHANGES


def preview_calls(
    index: int, state: State, outcome: Outcome, tool: str, targets: Sequence[TaskInfo] | None
) -> list[Call]:
    """The bulk tool without a token: a preview of the set (by status filter, or by ids)."""
    ref = outcome.intent.ref
    values: dict[str, Any]
    if targets is None:
        values = {"status": ref.scope if ref is not None and ref.scope else "all"}
    else:
        values = {"task_ids": list(dict.fromkeys(t.id for t in targets))}
    call = make_call(state, tool, f"{index}_0", values)
    if call is None:
        outcome.problem = "unsupported"
        return []
    return record(state, outcome, [call], [None])


def confirm_calls(index: int, intent: Intent, state: State, outcome: Outcome) -> list[Call]:
    """The previewed bulk call again with only its token; if that fails, the preview again."""
    preview = intent.preview
    if preview is None:
        outcome.problem = "nothing_pending"
        return []
    call = make_call(state, preview.tool, f"{index}_0", {"confirmation_token": preview.token})
    if call is None:
        outcome.problem = "unsupported"
        return []
    calls = record(state, outcome, [call], [None])
    if not outcome.steps or outcome.steps[0].result.ok:
        return calls
    # The set changed, or the token expired: nothing was done, so show the set as it is now.
    again = make_call(state, preview.tool, f"{index}_1", json.loads(preview.arguments))
    return calls + (record(state, outcome, [again], [None]) if again is not None else [])


def undo_calls(index: int, intent: Intent, state: State, outcome: Outcome) -> list[Call]:
    if intent.ref is None and not intent.deleted:
        return _undo(index, state, outcome, None)
    if not state.tools.has(ACTIVITY):
        # Without the log, undo still reverts the latest change, which is the best it can do.
        return _undo(index, state, outcome, None) if intent.deleted else _unsupported(outcome)
    task_id: int | None = None
    if intent.ref is not None:
        task = _one_task(intent, state, outcome)
        if task is None:
            return []
        task_id = task.id
    values: dict[str, Any] = {"limit": _ACTIVITY_PAGE, "task_id": task_id}
    lookup = make_call(state, ACTIVITY, f"{index}_a", values)
    if lookup is None:
        return _unsupported(outcome)
    result = state.turn.results.get(lookup.call_id)
    if result is None:
        return [lookup]
    if not result.ok:
        outcome.problem, outcome.error = "lookup_failed", result.error
        return [lookup]
    found = _latest_in_effect(result.data.get("changes"), deleted=intent.deleted)
    if found is None:
        outcome.problem = "nothing_deleted" if intent.deleted else "nothing_changed"
        return [lookup]
    return [lookup, *_undo(index, state, outcome, found)]


def restore_calls(index: int, state: State, outcome: Outcome, targets: Sequence[TaskInfo]) -> list[Call]:
    if len(targets) > _MAX_RESTORES:
        # "Bring them back" after a bulk deletion: its undo restores the whole set in one step.
        return undo_calls(index, Intent("undo", deleted=True, text=outcome.intent.text), state, outcome)
    calls: list[Call] = []
    for n, target in enumerate(targets):
        call = make_call(state, RESTORE, f"{index}_{n}", {"task_id": target.id})
        if call is None:
            return _unsupported(outcome)
        calls.append(call)
    return record(state, outcome, calls, [target if target.title else None for target in targets])


def _undo(index: int, state: State, outcome: Outcome, change_id: int | None) -> list[Call]:
    call = make_call(state, UNDO, f"{index}_0", {"change_id": change_id})
    if call is None:
        return _unsupported(outcome)
    result = state.turn.results.get(call.call_id)
    if result is not None:
        outcome.steps.append(Step(call, result))
    return [call]


def _unsupported(outcome: Outcome) -> list[Call]:
    outcome.problem = "unsupported"
    return []


def _one_task(intent: Intent, state: State, outcome: Outcome) -> TaskInfo | None:
    """The one task "undo task 3" or "undo the milk one" names, on the list or in the trash."""
    ref = intent.ref
    assert ref is not None
    if ref.ids:
        if len(ref.ids) > 1:
            outcome.candidates = tuple(TaskInfo(i, "") for i in ref.ids)
            return None
        return TaskInfo(ref.ids[0], "")
    if state.lookup_error:
        outcome.problem, outcome.error = "lookup_failed", state.lookup_error
        return None
    found = resolve(ref, [*state.tasks.values(), *state.trash.values()], "update")
    outcome.candidates, outcome.missing = found.candidates, found.missing
    if len(found.tasks) == 1 and not found.candidates:
        return found.tasks[0]
    if len(found.tasks) > 1:
        outcome.candidates = found.tasks
    return None


def _latest_in_effect(changes: Any, *, deleted: bool) -> int | None:
    """The newest change not undone and not overtaken (for `deleted`, the newest deletion)."""
    if not isinstance(changes, list):
        return None
    later: set[Any] = set()
    for change in changes:
        if not isinstance(change, Mapping):
            continue
        kind, task_id = change.get("kind"), change.get("task_id")
        wanted = kind == "delete" if deleted else kind != "undo"
        if wanted and not change.get("undone") and task_id not in later and isinstance(change.get("id"), int):
            return int(change["id"])
        if deleted:
            # A task restored (or changed) after its deletion is no longer deleted.
            later.add(task_id)
    return None
