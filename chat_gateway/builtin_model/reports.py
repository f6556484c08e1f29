"""The words for bulk previews, confirmed bulk changes, undo and restore.

A preview names the count and the tasks and asks; a confirmed change says what moved and that "undo"
brings it back; an undo repeats the task server's own summary of what it reverted. As everywhere, a
sentence claims only what a result says happened.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .references import TaskInfo
from .steps import Outcome, Step
from .toolbox import BULK_TOOLS, RESTORE, UNDO

_MAX_NAMED = 10
_ASK = {
    "delete": 'This will move {n} to the trash: {names}. Reply "yes" to go ahead or "no" to keep {them}.',
    "complete": (
        'This will mark {n} as done: {names}. Reply "yes" to go ahead or "no" to leave {them} as {they_are}.'
    ),
}
# Several previews in one reply are answered by one yes, so only the last one asks.
ASK_AGAIN = re.compile(r' Reply "yes" to go ahead or "no" to [^.]+\.$')
UNDO_HINT = re.compile(r' Say "undo" to [^.]+\.$')
_DONE = {
    "delete": 'Moved {n} to the trash: {names}. Say "undo" to bring {them} back.',
    "complete": 'Marked {n} as done: {names}. Say "undo" to reopen {them}.',
}
_VERB = {"delete": "delete", "complete": "complete"}


def sentences(outcome: Outcome) -> list[str] | None:
    """The reply for an outcome of bulk calls, undo or restore; None for any other outcome."""
    steps = [s for s in outcome.steps if s.call.name in (*BULK_TOOLS.values(), UNDO, RESTORE)]
    if not steps:
        return None
    if steps[0].call.name == UNDO:
        return [_undone(steps[-1])]
    if steps[0].call.name == RESTORE:
        return _restored(steps)
    lines: list[str] = []
    for index, step in enumerate(steps):
        if step.result.ok:
            lines.append(_bulk(step, again=index > 0))
        else:
            lines.append(_bulk_failure(step))
    return lines


def problem(outcome: Outcome) -> str | None:
    kind = outcome.problem
    if kind == "too_many":
        return (
            f"I can't {outcome.intent.action} that many tasks in one go: one message may change at most 3 "
            "tasks without asking first. Name fewer tasks, or do them in steps."
        )
    if kind == "nothing_pending":
        return "There's nothing waiting for a yes right now. What would you like to do with your list?"
    if kind == "nothing_deleted":
        return "I couldn't find anything you deleted that is still in the trash, so nothing changed."
    if kind == "nothing_changed":
        return "I couldn't find a change to that task that I can undo, so nothing changed."
    return None


def named(task: TaskInfo) -> str:
    return f"'{task.title}' (task {task.id})" if task.title else f"task {task.id}"


def join_names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _listed(tasks: Sequence[TaskInfo]) -> str:
    names = [named(task) for task in tasks[:_MAX_NAMED]]
    more = len(tasks) - len(names)
    return join_names(names) if not more else ", ".join(names) + f" and {more} more"


def _bulk(step: Step, *, again: bool) -> str:
    data = step.result.data
    action = str(data.get("action", "delete"))
    tasks = step.result.tasks()
    count = data.get("count")
    n = count if isinstance(count, int) else len(tasks)
    status = data.get("status")
    if status == "nothing_to_do":
        return _nothing_to_do(step, action)
    words = {
        "n": f"{n} task{'' if n == 1 else 's'}",
        "names": _listed(tasks),
        "them": "it" if n == 1 else "them",
        "they_are": "it is" if n == 1 else "they are",
    }
    if status == "confirmation_required":
        text = _ASK.get(action, _ASK["delete"]).format(**words)
        return f"Here is the set as it is now. {text}" if again else text
    return _DONE.get(action, _DONE["delete"]).format(**words)


def _nothing_to_do(step: Step, action: str) -> str:
    status = step.call.arguments.get("status")
    if status is None:
        return "Those tasks are already done, so there is nothing to change."
    kind = {"completed": "completed ", "pending": "pending "}.get(str(status), "")
    if action == "complete":
        return (
            "There are no pending tasks to mark as done."
            if kind != "completed "
            else ("Completed tasks are already done, so there is nothing to change.")
        )
    return f"There are no {kind}tasks to delete."


def _bulk_failure(step: Step) -> str:
    verb = "delete" if step.call.name == BULK_TOOLS["delete"] else "complete"
    what = "them" if "confirmation_token" in step.call.arguments else _ids(step)
    return f"I couldn't {verb} {what}: {_reason(step.result.error)} Nothing was changed."


def _ids(step: Step) -> str:
    ids = step.call.arguments.get("task_ids")
    if isinstance(ids, list) and ids:
        return "tasks " + join_names([str(i) for i in ids])
    return "those tasks"


def _undone(step: Step) -> str:
    if not step.result.ok:
        return f"I couldn't undo that: {_reason(step.result.error)}"
    summary = str(step.result.data.get("summary") or "").strip()
    if summary:
        return f"Undone: {summary}"
    return f"Undone: {_listed(step.result.tasks())} are back as they were."


def _restored(steps: list[Step]) -> list[str]:
    done = [s for s in steps if s.result.ok]
    lines = []
    if done:
        tasks = [s.result.task() or TaskInfo(int(s.call.arguments.get("task_id", 0)), "") for s in done]
        back = "it's" if len(tasks) == 1 else "they're"
        lines.append(
            f"Restored {join_names([named(t) for t in tasks])} from the trash; {back} back on your list."
        )
    for step in steps:
        if not step.result.ok:
            task_id = step.call.arguments.get("task_id")
            what = named(step.before) if step.before is not None else f"task {task_id}"
            lines.append(f"I couldn't restore {what}: {_reason(step.result.error)}")
    return lines


def _reason(error: str) -> str:
    """The tool's reason, first sentence only: the rest of a bulk error speaks to a model, not a person."""
    text = error.split("Error:", 1)[-1].strip() if "Error:" in error else error.strip()
    first = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)[0].strip() or "the task server reported an error."
    return first if first.endswith((".", "!", "?")) else first + "."
