"""Reading the activity log, and undo.

Undo semantics (also what the `undo` tool tells a model):
- Without a change id, undo reverts the caller's newest change still in effect. Undos are skipped, so
  "undo" twice goes back two steps; an undo's own id given to `undo` redoes what it reverted.
- A change made by a bulk call reverts together with the rest of its batch, in one step.
- Before reverting, every field the change set must still hold the value the change gave it (and a task
  the change did not trash must not be in the trash). Otherwise a later change overtook it: `conflict`,
  naming what is in the way, and nothing is reverted (never a partial undo).
- An undo is itself a change: logged (kind `undo`, `reverts` = the change), with its own version bump.
- Undo never trashes several tasks at once (that would be redoing a bulk delete): it answers
  `confirmation_required` and points at delete_tasks, whose preview the user confirms. Only the bulk
  tools destroy in bulk, so a model cannot get around the confirmation through undo.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from shared.schemas import ActivityPage, ChangeOut, TaskOut, UndoResult

from .. import cursors
from ..context import Origin
from ..errors import ConfirmationRequired, Conflict, InvalidArgument, NotFound
from ..models import Task, TaskChange
from ..tasks.repository import Changed, TaskRepository
from .repository import ActivityRepository

_LISTED = 10


def change_out(change: TaskChange) -> ChangeOut:
    return ChangeOut(
        id=change.id,
        task_id=change.task_id,
        title=change.title,
        kind=change.kind,
        before=change.before,
        after=change.after,
        batch=str(change.batch_id) if change.batch_id else None,
        reverts=change.reverts,
        undone=change.undone_by is not None,
        client=change.client,
        request_id=change.request_id,
        at=change.created_at,
    )


def _state(task: Task) -> dict[str, Any]:
    return {
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "trashed": task.trashed_at is not None,
        "priority": task.priority,
        "tags": list(task.tags or []),
        "due_date": task.due_date,
        "due_datetime": task.due_datetime,
        "due_timezone": task.due_timezone,
        "due_string": task.due_string,
        "due_recurrence": task.due_recurrence,
    }


def _comparable(field: str, value: Any) -> Any:
    """The log holds JSON (dates as text); the task holds dates: compare them as dates."""
    if isinstance(value, str) and field == "due_date":
        return date.fromisoformat(value)
    if isinstance(value, str) and field == "due_datetime":
        return datetime.fromisoformat(value)
    return value


def _plan(change: TaskChange) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the change left, what reverting it sets). Reverting a create trashes the task."""
    if change.kind == "create" or change.before is None:
        return {"trashed": False}, {"trashed": True}
    return dict(change.after or {}), dict(change.before)


class ActivityService:
    def __init__(
        self, activity: ActivityRepository, tasks: TaskRepository, user_id: str, origin: Origin
    ) -> None:
        self.activity = activity
        self.tasks = tasks
        self.user_id = user_id
        self.origin = origin

    async def page(self, task_id: int | None, limit: int, cursor: str | None) -> ActivityPage:
        before_id = None
        if cursor is not None:
            payload = cursors.decode(cursor, "activity")
            if payload.get("t") != task_id:
                raise InvalidArgument("The cursor belongs to another task's history; call without it.")
            before_id = cursors.int_field(payload, "before")
        rows = list(await self.activity.page(self.user_id, task_id, before_id, limit + 1))
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = cursors.encode({"k": "activity", "t": task_id, "before": rows[-1].id})
        return ActivityPage(changes=[change_out(row) for row in rows], next_cursor=next_cursor)

    async def undo(self, change_id: int | None) -> UndoResult:
        target = await (
            self.activity.get(self.user_id, change_id)
            if change_id is not None
            else self.activity.latest_in_effect(self.user_id)
        )
        if target is None:
            if change_id is None:
                raise NotFound("There is nothing to undo.")
            raise NotFound(f"Change {change_id} was not found. Call list_activity to see the changes.")
        if target.undone_by is not None:
            raise Conflict(f"Change {target.id} was already undone (by change {target.undone_by}).")
        entries = [target]
        if target.batch_id is not None:
            entries = [e for e in await self.activity.batch(self.user_id, target.batch_id) if not e.undone_by]
        trashing = [e for e in entries if _plan(e)[1].get("trashed") is True]
        if len(trashing) > 1:
            raise ConfirmationRequired(
                f"Undoing change {target.id} would move {len(trashing)} tasks to the trash. To delete "
                "several tasks, call delete_tasks with their ids: it shows a preview and asks the user "
                "first. Nothing was changed."
            )
        current = await self.tasks.lock(self.user_id, [e.task_id for e in entries])
        problems = [problem for e in entries if (problem := _in_the_way(e, current.get(e.task_id)))]
        if problems:
            shown = "; ".join(problems[:_LISTED]) + (" and more" if len(problems) > _LISTED else "")
            tasks = [TaskOut.model_validate(current[e.task_id]).model_dump(mode="json")
                     for e in entries if e.task_id in current]  # fmt: skip
            raise Conflict(
                f"Cannot undo change {target.id}: a later change is in the way ({shown}). Nothing was "
                "changed.",
                details={"tasks": tasks},
            )
        done = await self._revert(entries)
        by_task = {c.row.id: c.change_id for c in done}
        undone: dict[int, int | None] = {e.id: by_task[e.task_id] for e in entries}
        # Redoing: what the reverted undo had reverted is in effect again.
        undone.update({e.reverts: None for e in entries if e.kind == "undo" and e.reverts is not None})
        await self.activity.set_undone(self.user_id, undone)
        return UndoResult(
            change_id=min(by_task.values()),
            reverted=[e.id for e in entries],
            tasks=[TaskOut.model_validate(c.row) for c in done],
            summary=_summary(entries, done),
        )

    async def _revert(self, entries: list[TaskChange]) -> list[Changed]:
        batch = uuid.uuid4() if len(entries) > 1 else None
        groups: dict[str, list[TaskChange]] = defaultdict(list)
        for entry in entries:
            groups[json.dumps(_plan(entry)[1], sort_keys=True)].append(entry)
        done: list[Changed] = []
        for values, group in groups.items():
            changed = await self.tasks.change(
                self.user_id,
                [e.task_id for e in group],
                json.loads(values),
                "undo",
                self.origin,
                batch_id=batch,
                reverts={e.task_id: e.id for e in group},
            )
            if len(changed) != len(group):
                raise Conflict("The tasks changed while undoing. Nothing was changed; try again.")
            done.extend(changed)
        return done


def _in_the_way(change: TaskChange, task: Task | None) -> str:
    """Why the change cannot be reverted now, or "" when it can."""
    if task is None:
        return f"task {change.task_id} ('{change.title}') was purged from the trash"
    name = f"'{task.title}' (task {task.id})"
    state = _state(task)
    left, _ = _plan(change)
    for field, value in left.items():
        if _comparable(field, state.get(field)) != _comparable(field, value):
            return f"{name}: {_drift(field, state.get(field))}"
    if "trashed" not in left and state["trashed"]:
        return f"{name} is in the trash; restore it first"
    return ""


def _drift(field: str, now: Any) -> str:
    if field == "trashed":
        return "it is in the trash now" if now else "it was restored since"
    if field == "completed":
        return "it was completed since" if now else "it was reopened since"
    if field == "title":
        return f"it was renamed since (the title is now '{now}')"
    if field == "description":
        return "its description was changed since"
    if field.startswith("due_"):
        return "its due date was changed since"
    return f"its {field} was changed since"


def _summary(entries: list[TaskChange], done: list[Changed]) -> str:
    tasks = {c.row.id: c.row for c in done}
    groups: dict[str, list[Any]] = defaultdict(list)
    for entry in entries:
        groups[json.dumps(_plan(entry)[1], sort_keys=True)].append(tasks[entry.task_id])
    return " ".join(_sentence(json.loads(values), rows) for values, rows in groups.items())


def _sentence(values: dict[str, Any], rows: list[Any]) -> str:
    names = [f"'{row.title}' (task {row.id})" for row in rows[:_LISTED]]
    listed = _join(names) + (f" and {len(rows) - _LISTED} more" if len(rows) > _LISTED else "")
    subject = listed if len(rows) == 1 else f"{len(rows)} tasks: {listed}"
    if values.get("trashed") is False:
        return f"Restored {subject} from the trash."
    if values.get("trashed") is True:
        return f"Moved {subject} back to the trash."
    if set(values) == {"completed"}:
        return f"Reopened {subject}." if not values["completed"] else f"Marked {subject} as done again."
    parts = []
    row = rows[0]
    if "title" in values:
        parts.append(f"Renamed task {row.id} back to '{row.title}'.")
    if "description" in values:
        parts.append(
            f"Put back the description of '{row.title}' (task {row.id})."
            if values["description"]
            else f"Cleared the description of '{row.title}' (task {row.id}) again."
        )
    if "completed" in values:
        parts.append(
            f"Marked '{row.title}' (task {row.id}) as {'done' if values['completed'] else 'pending'}."
        )
    if "due_date" in values:
        parts.append(
            f"Put the due date of '{row.title}' (task {row.id}) back to {values['due_date']}."
            if values["due_date"]
            else f"Removed the due date of '{row.title}' (task {row.id}) again."
        )
    if "priority" in values or "tags" in values:
        parts.append(f"Put back the priority and tags of '{row.title}' (task {row.id}).")
    return " ".join(parts)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
